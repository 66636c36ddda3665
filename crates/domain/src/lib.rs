//! The points-sharing rules of pointshare.
//!
//! `model` holds the validated types, `ports` the traits the rules need from the
//! outside world (provider, stores, cache, clock), and `services` the operations
//! the API exposes; `settings` the error a policy or an adapter gives for a
//! setting it cannot work with. Nothing here performs I/O itself: adapters implement the ports.
//!
//! Depends on no adapter, driver, web or test crate: everything else depends on it.

pub mod model;
pub mod ports;
pub mod services;
pub mod settings;

pub use model::*;
