//! What every handler shares before it calls a service: its deadline, the
//! client's address (which the throttle counts per address), the device a
//! session is started on, and where an act comes from (which its audit
//! record keeps).

use actix_web::HttpMessage;
use pointshare_domain::ports::Deadline;
use pointshare_domain::services::Device;
use pointshare_domain::{Actor, Authority, Origin, Reason};

use super::caller::Admin;
use crate::problem::{ApiError, FieldError, FieldErrorCode};
use crate::telemetry::RequestId;
use crate::wiring::AppState;

/// The client's address (an IPv6 client's network) for per-address limits (see `client`).
pub(super) fn client_address(state: &AppState, request: &actix_web::HttpRequest) -> String {
    state.clients.client_of(request).unwrap_or_else(|| "unknown".to_owned())
}

/// The device a login or signup comes from, as the member's list of
/// sessions shows it.
pub(super) fn device(state: &AppState, request: &actix_web::HttpRequest) -> Device {
    let user_agent = request.headers().get(actix_web::http::header::USER_AGENT).and_then(|agent| agent.to_str().ok());
    Device { client: client_address(state, request), user_agent: user_agent.map(str::to_owned) }
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
