//! What every handler shares before it calls a service: its deadline, the
//! client's address (which the throttle counts per address), the device a
//! session is started on, and where an act comes from (which its audit
//! record keeps).

use std::time::Duration;

use actix_web::HttpMessage;
use pointshare_domain::ports::Deadline;
use pointshare_domain::services::Device;
use pointshare_domain::{Actor, Authority, Origin, Reason};

use super::caller::Admin;
use crate::headers::PREFER;
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

/// A query's `limit`: `default` when absent, else 1 to `most`.
pub(super) fn limit_within(limit: Option<usize>, default: usize, most: usize) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(default);
    if !(1..=most).contains(&limit) {
        let refused = ApiError::new(
            actix_web::http::StatusCode::BAD_REQUEST,
            crate::problem::ProblemCode::InvalidQuery,
            &format!("limit must be between 1 and {most}"),
        );
        return Err(refused.parameter("limit"));
    }
    Ok(limit)
}

/// When this request's work must be done by.
pub(super) fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.http.request_deadline)
}

/// The `Prefer` header of the operations that may answer 202, as the API
/// document shows it; `patience` reads the header itself.
#[derive(utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub(super) struct PreferParam {
    /// `respond-async`: answer 202 as soon as the transfer is recorded;
    /// `wait=N`: wait at most N seconds (when that is less than the server's
    /// deadline) before answering 202. The transfer goes on either way; its
    /// event says when it settles. The answer's `Preference-Applied` names
    /// the preference it followed.
    #[param(rename = "Prefer", example = "respond-async")]
    #[allow(dead_code)] // Only its schema is read.
    prefer: Option<String>,
}

/// How long a request that may answer 202 waits for its transfer to settle,
/// and the preference that shortened it, for `Preference-Applied`.
pub(super) struct Patience {
    pub deadline: Deadline,
    pub applied: Option<String>,
}

/// The request's deadline, or sooner as its `Prefer` header asks (RFC 7240):
/// `respond-async` answers once the transfer is recorded, `wait=N` waits at
/// most N seconds. Either way the transfer goes on being driven (a
/// follow-up, then recovery) and its event tells when it settles. A
/// preference the API does not know, or a longer wait, is ignored.
pub(super) fn patience(state: &AppState, request: &actix_web::HttpRequest) -> Patience {
    let longest = state.settings.http.request_deadline;
    let preferences = request.headers().get_all(PREFER).filter_map(|value| value.to_str().ok());
    let mut patience = Patience { deadline: Deadline::after(longest), applied: None };
    for preference in preferences.flat_map(|value| value.split(',')).map(str::trim) {
        let (name, value) = preference.split_once('=').map_or((preference, None), |(name, value)| (name, Some(value)));
        let wait = match (name.trim().to_ascii_lowercase().as_str(), value.map(str::trim)) {
            ("respond-async", None) => Duration::ZERO,
            ("wait", Some(seconds)) => match seconds.parse::<u64>() {
                Ok(seconds) => Duration::from_secs(seconds),
                Err(_) => continue,
            },
            _ => continue,
        };
        if wait < patience.deadline.remaining() {
            patience = Patience { deadline: Deadline::after(wait), applied: Some(preference.to_owned()) };
        }
    }
    patience
}
