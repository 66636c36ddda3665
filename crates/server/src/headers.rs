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
