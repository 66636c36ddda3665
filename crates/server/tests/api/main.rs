//! The API as the frontend uses it: each test starts a real server (the
//! embedded default, on a free port) and talks to it over HTTP.

#[allow(dead_code, reason = "shared with the end-to-end tests, which create with keys of their own")]
mod client;
#[macro_use]
mod helpers;
mod sse;

mod account;
mod admin;
mod auth;
mod contract;
mod corrections;
mod cors;
mod errors;
mod events;
mod members;
mod operations;
mod overload;
mod settings;
mod shutdown;
mod transfers;
