//! What every handler shares before it calls a service: its deadline, the
//! client's address (which the throttle counts per address), and where an
//! act comes from (which its audit record keeps).

use actix_web::HttpMessage;
use pointshare_domain::ports::Deadline;
use pointshare_domain::{Actor, Authority, Origin, Reason};

use super::caller::Admin;
use crate::problem::{ApiError, FieldError, FieldErrorCode};
use crate::telemetry::RequestId;
use crate::wiring::AppState;

/// The client's address (an IPv6 client's network) for per-address limits (see `client`).
pub(super) fn client_address(state: &AppState, request: &actix_web::HttpRequest) -> String {
    state.clients.client_of(request).unwrap_or_else(|| "unknown".to_owned())
}

/// The request, as an audit record names where an act came from.
pub(super) fn origin(state: &AppState, request: &actix_web::HttpRequest) -> Origin {
    let request_id = request.extensions().get::<RequestId>().map(|id| id.0.clone());
    Origin { request_id, client: Some(client_address(state, request)) }
}

/// An admin's authority for a privileged act: who, where from, and why,
/// the reason held to the rules (a `/reason` field error otherwise).
pub(super) fn admin_authority(
    state: &AppState,
    request: &actix_web::HttpRequest,
    admin: &Admin,
    reason: String,
) -> Result<Authority, ApiError> {
    let reason = Reason::parse(reason).map_err(|error| {
        ApiError::invalid_fields(vec![FieldError::new("/reason".into(), FieldErrorCode::Invalid, error.reason)])
    })?;
    Ok(Authority { actor: Actor::Member(admin.0.member), reason: Some(reason), origin: origin(state, request) })
}

/// When this request's work must be done by.
pub(super) fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.http.request_deadline)
}
