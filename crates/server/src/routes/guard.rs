//! What every handler shares before it calls a service: its deadline and
//! the client's address (which the throttle counts per address).

use pointshare_domain::ports::Deadline;

use crate::wiring::AppState;

/// The client's address (an IPv6 client's network) for per-address limits (see `client`).
pub(super) fn client_address(state: &AppState, request: &actix_web::HttpRequest) -> String {
    state.clients.client_of(request).unwrap_or_else(|| "unknown".to_owned())
}

/// When this request's work must be done by.
pub(super) fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.http.request_deadline)
}
