//! The route tables: the public API's and the internal listener's. The
//! OpenAPI document is in `openapi`, what every handler shares (deadline,
//! client address) in `guard`, the `Caller` and `Admin` extractors in
//! `caller`, schema-checked bodies in `body`.

mod account;
mod admin_members;
mod audit;
mod body;
mod caller;
mod conditional;
mod corrections;
mod events;
mod guard;
mod health;
mod members;
mod openapi;
mod parties;
mod reviews;
mod sessions;
mod timeline;
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
        .service(sessions::list_my_sessions)
        .service(sessions::end_my_other_sessions)
        .service(sessions::end_my_session)
        .service(members::get_me)
        .service(account::update_me)
        .service(members::get_my_balance)
        .service(account::change_my_password)
        .service(account::export_my_data)
        .service(account::close_my_account)
        .service(account::request_password_reset)
        .service(account::confirm_password_reset)
        .service(account::verify_email)
        .service(account::resend_verification_email)
        .service(events::stream_my_events)
        .service(members::get_member)
        .service(members::search_recipients)
        .service(members::list_my_recent_recipients)
        .service(transfers::create_transfer)
        .service(transfers::list_transfers)
        .service(transfers::get_transfer)
        .service(transfers::create_grant)
        .service(transfers::list_grants)
        // Before the paths that would take `export` for an id.
        .service(audit::export_audit_records)
        .service(audit::list_audit_records)
        .service(admin_members::search_members)
        .service(admin_members::get_member_for_admin)
        .service(admin_members::list_member_transfers)
        .service(admin_members::set_member_status)
        .service(admin_members::set_member_role)
        .service(reviews::list_reviews)
        .service(reviews::resolve_transfer)
        .service(corrections::reverse_transfer)
        .service(corrections::create_adjustment)
        .service(corrections::list_approvals)
        .service(corrections::decide_approval)
        .service(timeline::get_transfer_timeline)
        .service(health::healthz)
        .service(health::readyz);
}

/// The internal listener's routes: for Prometheus and the operator's probes.
pub fn configure_internal(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz_detailed).service(health::metrics);
}
