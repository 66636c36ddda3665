//! The route tables: the public API's and the internal listener's. The
//! OpenAPI document is in `openapi`, what every handler shares (deadline,
//! client address) in `guard`, the `Caller` and `Admin` extractors in
//! `caller`, schema-checked bodies in `body`.

mod body;
mod caller;
mod events;
mod guard;
mod health;
mod members;
mod openapi;
mod sessions;
mod transfers;
pub mod views;

use actix_web::web;

pub use body::Schemas;
pub use openapi::ApiDoc;

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(members::signup)
        .service(sessions::login)
        .service(sessions::refresh_session)
        .service(sessions::logout)
        .service(members::get_me)
        .service(members::update_me)
        .service(members::get_my_balance)
        .service(events::stream_my_events)
        .service(members::get_member)
        .service(transfers::create_transfer)
        .service(transfers::list_transfers)
        .service(transfers::get_transfer)
        .service(transfers::create_grant)
        .service(transfers::list_grants)
        .service(health::healthz)
        .service(health::readyz);
}

/// The internal listener's routes: for Prometheus and the operator's probes.
pub fn configure_internal(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz_detailed).service(health::metrics);
}
