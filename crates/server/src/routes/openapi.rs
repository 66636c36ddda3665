//! The OpenAPI document, generated from the handlers' annotations, and the
//! modifiers that state once what every operation shares: bearer security
//! (public operations say `security: []`) and the problem+json failures.

use utoipa::OpenApi;
use utoipa::openapi::RefOr;
use utoipa::openapi::content::{Content, ContentBuilder};
use utoipa::openapi::header::Header;
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::response::{Response, ResponseBuilder};
use utoipa::openapi::schema::{ObjectBuilder, Ref, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};

use super::{
    account, admin_members, audit, corrections, events, health, members, reviews, sessions, timeline, transfers, views,
};
use crate::problem;

#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "pointshare", version = "1", license(name = "Apache-2.0", identifier = "Apache-2.0"),
        description = "Members see their points and share them. Errors are RFC 9457 problem+json with a stable `code` (and, for invalid requests, `errors` naming each field by JSON Pointer). Authenticate with `Authorization: Bearer <access_token>` from `login`."),
    servers((url = "/", description = "this server")),
    paths(
        members::signup, sessions::login, sessions::refresh_session, sessions::logout, sessions::list_my_sessions,
        sessions::end_my_session, sessions::end_my_other_sessions,
        members::get_me, members::get_my_balance, account::change_my_password, account::update_me, account::export_my_data, account::close_my_account,
        account::request_password_reset, account::confirm_password_reset, account::verify_email,
        account::resend_verification_email, events::stream_my_events, members::get_member,
        members::search_recipients, members::list_my_recent_recipients,
        transfers::create_transfer, transfers::get_transfer, transfers::list_transfers, transfers::create_grant, transfers::list_grants,
        audit::list_audit_records, audit::export_audit_records,
        admin_members::search_members, admin_members::get_member_for_admin, admin_members::list_member_transfers,
        admin_members::set_member_status, admin_members::set_member_role,
        reviews::list_reviews, reviews::resolve_transfer, corrections::reverse_transfer, corrections::create_adjustment,
        corrections::list_approvals, corrections::decide_approval, timeline::get_transfer_timeline,
        health::healthz, health::readyz,
    ),
    components(schemas(problem::Problem, problem::ProblemCode, problem::FieldError, views::DirectionView)),
    modifiers(&BearerAuth, &Problems, &SuccessHeaders),
)]
pub struct ApiDoc;

struct BearerAuth;

/// Bearer tokens everywhere, but where an operation says otherwise; those
/// that need none (signing up, logging in, probes) say so with `security: []`.
impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).bearer_format("JWT").build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                operation.security.get_or_insert_with(Vec::new);
            }
        }
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
                    if operation.security.as_ref().is_some_and(|security| !security.is_empty()) {
                        add(
                            "401",
                            "token_expired: refresh the access token and send the request again; unauthenticated: no token, or one that is not good (log in again). `WWW-Authenticate` says `Bearer`, with `error=\"invalid_token\"` when a token came and was refused",
                        );
                    }
                    if operation.request_body.is_some() {
                        add("400", "malformed_json: the body is not JSON");
                        add("413", "payload_too_large");
                        add("415", "unsupported_media_type: the body must be application/json");
                        add("422", "validation_failed: `errors` names each invalid field by JSON Pointer");
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

/// The operations whose every answer says how their client's allowances
/// stand (`rate_limits::record`); any 429 says which one ran out.
const COUNTED: &[&str] =
    &["createTransfer", "signup", "login", "searchRecipients", "requestPasswordReset", "resendVerificationEmail"];

/// The headers success answers carry, stated once so generated clients and
/// mock servers know them: a create's `Location` and `Idempotent-Replayed`,
/// a 202's `Retry-After`, `Preference-Applied` where `Prefer` is taken, and
/// the RateLimit headers of counted operations (and every 429); and the
/// rule of the `Idempotency-Key` header itself.
struct SuccessHeaders;

impl utoipa::Modify for SuccessHeaders {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.patch, &mut item.put, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.iter_mut().flatten();
                let (mut keyed, mut prefers) = (false, false);
                for parameter in parameters.filter(|parameter| parameter.parameter_in == ParameterIn::Header) {
                    match parameter.name.as_str() {
                        "Idempotency-Key" => {
                            keyed = true;
                            parameter.schema = Some(idempotency_key_schema().into());
                        }
                        "Prefer" => prefers = true,
                        _ => {}
                    }
                }
                let counted = operation.operation_id.as_deref().is_some_and(|id| COUNTED.contains(&id));
                for (status, response) in operation.responses.responses.iter_mut() {
                    let RefOr::T(response) = response else { continue };
                    let mut add = |name: &str, header: Header| {
                        response.headers.entry(name.to_owned()).or_insert(header);
                    };
                    let created = matches!(status.as_str(), "201" | "202");
                    if keyed && created {
                        add("Location", text_header("The transfer's own URL: `GET` it to follow it"));
                        add(
                            "Idempotent-Replayed",
                            text_header(
                                "`true` when the answer repeats the one to an earlier request with the same `Idempotency-Key`",
                            ),
                        );
                    }
                    if keyed && status == "202" {
                        add("Retry-After", seconds_header("Seconds before the transfer is worth reading again"));
                    }
                    if prefers && created {
                        add(
                            "Preference-Applied",
                            text_header("The `Prefer` preference the answer followed (`respond-async`, `wait=N`)"),
                        );
                    }
                    if (counted && status.starts_with('2')) || status == "429" {
                        add(
                            "RateLimit-Policy",
                            text_header(
                                "Each allowance of the client's: `\"transfers\";q=600;w=60` (`q` requests per `w` seconds)",
                            ),
                        );
                        add(
                            "RateLimit",
                            text_header(
                                "How each stands after this request: `\"transfers\";r=599;t=42` (`r` left, the window restarts in `t` seconds)",
                            ),
                        );
                    }
                }
            }
        }
    }
}

fn text_header(description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::String));
    header.description = Some(description.to_owned());
    header
}

fn seconds_header(description: &str) -> Header {
    let mut header = Header::new(ObjectBuilder::new().schema_type(Type::Integer).minimum(Some(1)));
    header.description = Some(description.to_owned());
    header
}

/// `IdempotencyKey`'s rule: 1 to 64 printable ASCII characters.
fn idempotency_key_schema() -> utoipa::openapi::schema::Object {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .min_length(Some(1))
        .max_length(Some(64))
        .pattern(Some("^[ -~]+$"))
        .build()
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
        response.headers.insert("Retry-After".to_owned(), seconds_header("Seconds to wait before retrying"));
    }
}
