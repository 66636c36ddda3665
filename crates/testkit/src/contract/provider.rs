//! The `PointsProvider` contract (provider-api.md), for the fake and the HTTP adapter.
