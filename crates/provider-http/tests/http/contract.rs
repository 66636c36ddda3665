//! The contract every `PointsProvider` keeps, here over HTTP.

pointshare_testkit::provider_contract!(crate::sim_provider());
