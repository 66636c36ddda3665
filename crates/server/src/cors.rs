//! Which browser pages may call the API (CORS): the exact origins of
//! `POINTSHARE_CORS_ORIGINS`, with the methods and request headers the API
//! uses and the response headers a client reads. A request from any other
//! origin is served as if it came from no browser at all, without CORS
//! headers, so the browser keeps the answer from the page.

use actix_cors::Cors;
use actix_web::http::header;

use crate::headers::{IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, LAST_EVENT_ID, REQUEST_ID};

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: usize = 3600;

pub fn policy(origins: &[String]) -> Cors {
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, IDEMPOTENCY_KEY, LAST_EVENT_ID])
        .expose_headers([header::LOCATION, header::RETRY_AFTER, REQUEST_ID, IDEMPOTENT_REPLAYED])
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
        .block_on_origin_mismatch(false);
    origins.iter().fold(cors, |cors, origin| cors.allowed_origin(origin))
}
