//! The route tables (the public API, and the internal listener's) and the
//! OpenAPI document generated from the handlers' annotations, plus what every
//! handler shares: its deadline, the client's address and the rate limiter.

mod events;
mod health;
mod members;
mod sessions;
mod transfers;
pub mod views;

use actix_web::http::StatusCode;
use actix_web::web;
use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::header::Header;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use pointshare_domain::ports::{Deadline, RateDecision, RateRule};

pub use events::StreamSlots;

use crate::problem::{self, ApiError};
use crate::telemetry;
use crate::wiring::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "pointshare", description = "Members see their points and share them. Errors are RFC 9457 problem+json with a stable `code`."),
    paths(
        members::signup, sessions::login, sessions::refresh, sessions::logout,
        members::me, members::rename, members::my_balance, events::stream_my_events, members::lookup,
        transfers::share, transfers::one, transfers::history, transfers::grant, transfers::grants,
        health::healthz, health::readyz,
    ),
    components(schemas(problem::Problem)),
    modifiers(&BearerAuth, &Problems),
)]
pub struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
    }
}

const PROBLEM_JSON: &str = "application/problem+json";

/// Error answers as the server really sends them: `application/problem+json`,
/// with `Retry-After` where it applies, plus the failures every endpoint of a
/// kind can give (bad token, bad body, our fault), so the document lists each
/// status a client must handle without every handler repeating them.
struct Problems;

impl utoipa::Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for (path, item) in openapi.paths.paths.iter_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let responses = &mut operation.responses.responses;
                if path.starts_with("/v1/") {
                    let mut add = |status: &str, description: &str| {
                        responses.entry(status.to_owned()).or_insert_with(|| problem_response(description).into());
                    };
                    if operation.security.is_some() {
                        add("401", "unauthenticated: no token, or a bad or expired one");
                    }
                    if operation.request_body.is_some() {
                        add("400", "malformed_json: the body is not JSON");
                        add("413", "payload_too_large");
                        add("415", "unsupported_media_type: the body must be application/json");
                        add("422", "validation_failed: `field` names the field at fault");
                    }
                    add("500", "internal: the details are in the server log under the response's X-Request-Id");
                }
                for (status, response) in responses.iter_mut() {
                    if let RefOr::T(response) = response {
                        as_problem(status, response);
                    }
                }
            }
        }
    }
}

fn problem_response(description: &str) -> Response {
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build())
        .build()
}

/// A JSON answer whose schema is `Problem` is served as problem+json.
fn as_problem(status: &str, response: &mut Response) {
    let is_problem = |content: &Content| matches!(&content.schema, Some(RefOr::Ref(reference)) if reference.ref_location.ends_with("/Problem"));
    if let Some(content) = response.content.shift_remove("application/json") {
        let media_type = if is_problem(&content) { PROBLEM_JSON } else { "application/json" };
        response.content.insert(media_type.to_owned(), content);
    }
    if matches!(status, "429" | "503") && response.content.contains_key(PROBLEM_JSON) {
        let mut seconds = Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)));
        seconds.description = Some("Seconds to wait before retrying".to_owned());
        response.headers.insert("Retry-After".to_owned(), seconds);
    }
}

pub fn configure(config: &mut web::ServiceConfig) {
    config
        .service(members::signup)
        .service(sessions::login)
        .service(sessions::refresh)
        .service(sessions::logout)
        .service(members::me)
        .service(members::rename)
        .service(members::my_balance)
        .service(events::stream_my_events)
        .service(members::lookup)
        .service(transfers::share)
        .service(transfers::history)
        .service(transfers::one)
        .service(transfers::grant)
        .service(transfers::grants)
        .service(health::healthz)
        .service(health::readyz);
}

/// The internal listener's routes: for Prometheus and the operator's probes.
pub fn configure_internal(config: &mut web::ServiceConfig) {
    config.service(health::healthz).service(health::readyz_detailed).service(health::metrics);
}

/// The client's address for per-address limits (see `client`).
fn client_address(state: &AppState, request: &actix_web::HttpRequest) -> String {
    state.proxies.client_of(request).map_or_else(|| "unknown".to_owned(), |address| address.to_string())
}

fn per_minute(limit: u32) -> RateRule {
    RateRule { limit, window: std::time::Duration::from_secs(60) }
}

fn per_hour(limit: u32) -> RateRule {
    RateRule { limit, window: std::time::Duration::from_secs(3600) }
}

/// When this request's work must be done by.
fn deadline(state: &AppState) -> Deadline {
    Deadline::after(state.settings.request_deadline)
}

/// Counts a request against `key`'s allowance. A limiter that cannot answer
/// lets the request through, or refuses it, as `rate_limit_fail_open` says.
async fn limit(state: &AppState, key: &str, rule: RateRule) -> Result<(), ApiError> {
    match state.limiter.acquire(key, rule).await {
        Ok(RateDecision::Allowed { .. }) => Ok(()),
        Ok(RateDecision::Limited { retry_after }) => {
            Err(ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", "Too many requests; slow down")
                .retry_after(retry_after))
        }
        Err(error) if state.settings.rate_limit_fail_open => {
            telemetry::rate_limiter_failed();
            tracing::warn!(%error, key, "rate limiter unavailable; letting the request through");
            Ok(())
        }
        Err(error) => {
            telemetry::rate_limiter_failed();
            tracing::warn!(%error, key, "rate limiter unavailable; refusing the request");
            Err(ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "rate_limiter_unavailable", "Try again shortly")
                .retry_after(std::time::Duration::from_secs(1)))
        }
    }
}
