//! Which browser pages may call the API (CORS): the exact origins of
//! `POINTSHARE_CORS_ORIGINS`, with the methods and request headers the API
//! uses and the response headers a client reads. A request from any other
//! origin is served as if it came from no browser at all, without CORS
//! headers, so the browser keeps the answer from the page.

use actix_cors::{Cors, CorsError};
use actix_web::ResponseError;
use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::{StatusCode, header};
use actix_web::middleware::Next;
use serde::{Deserialize, Serialize};

use crate::headers::{
    IDEMPOTENCY_KEY, IDEMPOTENT_REPLAYED, LAST_EVENT_ID, PREFER, PREFERENCE_APPLIED, REQUEST_ID, TRACEPARENT,
    TRACESTATE,
};
use crate::problem::{ApiError, ProblemCode};
use crate::rate_limits::{RATELIMIT, RATELIMIT_POLICY};

/// How long a browser may reuse a preflight's answer.
const PREFLIGHT_MAX_AGE_SECONDS: usize = 3600;

/// `POINTSHARE_CORS_ORIGINS`: read from the settings as a comma-separated
/// list, each entry exactly `scheme://host[:port]`, and valid once read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CorsOrigins(Vec<String>);

impl CorsOrigins {
    /// Errors say which entry is not an origin.
    pub fn parse(list: &str) -> Result<Self, String> {
        let origins = list.split(',').map(str::trim).filter(|entry| !entry.is_empty()).map(exact_origin);
        Ok(CorsOrigins(origins.collect::<Result<_, _>>()?))
    }
}

impl TryFrom<String> for CorsOrigins {
    type Error = String;

    fn try_from(list: String) -> Result<Self, String> {
        CorsOrigins::parse(&list)
    }
}

impl From<CorsOrigins> for String {
    fn from(origins: CorsOrigins) -> String {
        origins.0.join(",")
    }
}

/// `entry` if it is an origin as browsers send it: http or https, a host,
/// maybe a port, nothing else (no path, no trailing slash).
fn exact_origin(entry: &str) -> Result<String, String> {
    let not = |why: &str| format!("{entry:?} is not an origin ({why}); write scheme://host[:port]");
    let url = url::Url::parse(entry).map_err(|error| not(&error.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(not("only http and https"));
    }
    let origin = url.origin().ascii_serialization();
    if origin != entry {
        return Err(not("it has more than the origin"));
    }
    Ok(origin)
}

pub fn policy(origins: &CorsOrigins) -> Cors {
    let cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            IDEMPOTENCY_KEY,
            LAST_EVENT_ID,
            // The request id the docs invite a client to send, and a browser's trace context.
            REQUEST_ID,
            TRACEPARENT,
            TRACESTATE,
            PREFER,
            header::IF_NONE_MATCH,
        ])
        .expose_headers([
            header::LOCATION,
            header::RETRY_AFTER,
            REQUEST_ID,
            IDEMPOTENT_REPLAYED,
            // Says whether a 401 means "refresh" or "log in again".
            header::WWW_AUTHENTICATE,
            PREFERENCE_APPLIED,
            header::ETAG,
            RATELIMIT_POLICY,
            RATELIMIT,
        ])
        .max_age(PREFLIGHT_MAX_AGE_SECONDS)
        .block_on_origin_mismatch(false);
    origins.0.iter().fold(cors, |cors, origin| cors.allowed_origin(origin))
}

/// A preflight the policy refuses is answered as every other refusal,
/// problem+json with a stable code and what was refused, not the CORS
/// layer's plain text.
pub async fn refusals_as_problems(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let response = next.call(request).await?;
    let Some(refusal) = response.response().error().and_then(|error| error.as_error::<CorsError>()) else {
        return Ok(response.map_into_left_body());
    };
    let problem =
        ApiError::new(StatusCode::BAD_REQUEST, ProblemCode::CorsRefused, "The cross-origin request is refused")
            .detail(refusal.to_string());
    let (request, _) = response.into_parts();
    Ok(ServiceResponse::new(request, problem.error_response()).map_into_right_body())
}
