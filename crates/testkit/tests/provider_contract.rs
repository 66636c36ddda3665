//! The conformance kit and the white-box `PointsProvider` contract, held
//! against the in-process fake.

use std::sync::Arc;

use pointshare_domain::ports::SystemClock;
use pointshare_testkit::FakeProvider;

pointshare_testkit::provider_kit!(async { Arc::new(FakeProvider::new(Arc::new(SystemClock))) });
pointshare_testkit::provider_contract!(async { Arc::new(FakeProvider::new(Arc::new(SystemClock))) });
