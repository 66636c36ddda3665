//! The HTTP headers of pointshare's own API, named once: the handlers, the
//! error responses, telemetry and the CORS policy all read them from here.

use actix_web::http::header::HeaderName;

/// Sent with a share or grant; repeating it makes the retry safe.
pub const IDEMPOTENCY_KEY: HeaderName = HeaderName::from_static("idempotency-key");
/// Sent by a reconnecting event stream: resume after this event.
pub const LAST_EVENT_ID: HeaderName = HeaderName::from_static("last-event-id");
/// The request's id, taken from the client or made up, on every answer.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// On an answer to a request whose `Idempotency-Key` an earlier one used.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");
/// W3C trace context a browser's tracing adds to its calls: allowed, so that
/// such a page's preflight passes.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// A client's preferences (RFC 7240): how long a share may wait before 202.
pub const PREFER: HeaderName = HeaderName::from_static("prefer");
/// Which of them the answer followed.
pub const PREFERENCE_APPLIED: HeaderName = HeaderName::from_static("preference-applied");
