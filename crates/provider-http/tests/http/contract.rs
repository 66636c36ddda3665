//! The conformance kit and the white-box contract every `PointsProvider`
//! keeps, here over HTTP on the simulator.

pointshare_testkit::provider_kit!(crate::sim_provider());
pointshare_testkit::provider_contract!(crate::sim_provider());
