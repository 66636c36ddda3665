//! Every failure the API answers, as an RFC 9457 `application/problem+json`
//! body with a stable `code` the frontend can switch on. Domain errors are
//! turned into problems here and nowhere else (a `From` per operation's error,
//! so a handler writes `?`); an unexpected error is logged in full and
//! answered without its details.

//!
//! One job per file: the code catalogue (codes.rs), the body (body.rs), the
//! answer being built (answer.rs), domain errors mapped (from_domain.rs),
//! extractor refusals (extractors.rs).

mod answer;
mod body;
mod codes;
mod extractors;
mod from_domain;

pub use answer::{ApiError, Faults};
pub use body::{FieldError, FieldErrorCode, FieldParams, Problem};
pub use codes::ProblemCode;
pub use extractors::{json_error, method_not_allowed, path_error, query_error, unknown_route};
pub(crate) use from_domain::gone;
pub use from_domain::{
    invalid_refresh_token, invalid_token, member_not_found, recipient_not_found, transfer_not_found,
};
