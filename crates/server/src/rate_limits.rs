//! The IETF RateLimit headers (draft-ietf-httpapi-ratelimit-headers):
//! every limited operation tells the client its allowances as they stand
//! after the request, `RateLimit-Policy: "transfers";q=600;w=60` and
//! `RateLimit: "transfers";r=599;t=42`, so a UI can slow down before a 429,
//! and a 429 says which allowance ran out. Handlers record the quotas the
//! throttle counted (`record`); `headers` writes them on the way out.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, HttpRequest};
use pointshare_domain::services::{Quota, Throttled};

pub const RATELIMIT_POLICY: HeaderName = HeaderName::from_static("ratelimit-policy");
pub const RATELIMIT: HeaderName = HeaderName::from_static("ratelimit");

/// The quotas a request was counted against, kept for its answer.
#[derive(Debug, Clone, Default)]
struct Counted(Vec<Quota>);

/// Keeps what the throttle said of `request` for its answer's headers; a
/// refusal is passed on (its problem carries its own).
pub fn record(request: &HttpRequest, counted: Result<Vec<Quota>, Throttled>) -> Result<(), Throttled> {
    request.extensions_mut().insert(Counted(counted?));
    Ok(())
}

/// The two headers for `quotas`, or none when there are none.
pub fn header_values(quotas: &[Quota]) -> Option<[(HeaderName, HeaderValue); 2]> {
    if quotas.is_empty() {
        return None;
    }
    let list = |item: &dyn Fn(&Quota) -> String| quotas.iter().map(item).collect::<Vec<_>>().join(", ");
    let policy = list(&|quota| format!("\"{}\";q={};w={}", quota.name, quota.limit, quota.window.as_secs()));
    // Seconds until the window restarts, rounded up: never sooner than it does.
    let now = list(&|quota| {
        format!("\"{}\";r={};t={}", quota.name, quota.remaining, quota.reset_after.as_millis().div_ceil(1000))
    });
    let value = |text: String| HeaderValue::from_str(&text).expect("names and numbers are header-safe");
    Some([(RATELIMIT_POLICY, value(policy)), (RATELIMIT, value(now))])
}

/// Writes the recorded quotas on the answer.
pub async fn headers(
    request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let mut response = next.call(request).await?;
    let counted = response.request().extensions_mut().remove::<Counted>();
    if let Some([policy, now]) = counted.and_then(|Counted(quotas)| header_values(&quotas)) {
        let headers = response.headers_mut();
        headers.insert(policy.0, policy.1);
        headers.insert(now.0, now.1);
    }
    Ok(response)
}
