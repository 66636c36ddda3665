//! The body of an error answer (RFC 9457 problem+json) and its field
//! errors, as the OpenAPI document describes them.

use serde::Serialize;
use utoipa::ToSchema;

use super::ProblemCode;

/// The body of every error answer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:pointshare:problem:validation_failed", "title": "Some fields are not valid", "status": 422,
    "code": "validation_failed", "field": "amount",
    "errors": [{"pointer": "/amount", "code": "out_of_range", "detail": "0 is less than the minimum of 1"}]
}))]
pub struct Problem {
    /// `urn:pointshare:problem:<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong with this request, for people.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// Stable, machine-readable: switch on this.
    pub code: ProblemCode,
    /// The request field at fault (the first, for validation problems, whose
    /// `errors` list all): a body field, or the query parameter of an `invalid_query`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The body field at fault as a JSON Pointer, on every problem about one
    /// field (`self_transfer`, `email_taken`, ... and the first of `errors`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "/to_handle")]
    pub pointer: Option<String>,
    /// The limit a `limit_exceeded`, `grant_limit_exceeded` or `grant_budget_exceeded` passed, in points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// Every invalid field of a `validation_failed` request.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The transfer a declined share created.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = Uuid)]
    pub transfer_id: Option<String>,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the field in the request body.
    #[schema(example = "/amount")]
    pub pointer: String,
    pub code: FieldErrorCode,
    /// What is wrong with it, for people.
    pub detail: String,
    /// The rule it broke, for a UI to say in its own words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<FieldParams>,
}

/// The bounds or form a field must keep, as numbers and names: each set
/// only when it is the rule the field broke.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldParams {
    /// The least a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min: Option<u64>,
    /// The most a number may be.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u64>,
    /// The fewest characters a string may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_length: Option<u64>,
    /// The most characters a string may have.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_length: Option<u64>,
    /// The form it must have, by name: `handle` (3 to 32 of letters, digits, underscore), `email`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "handle")]
    pub pattern: Option<String>,
    /// The values it may take.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<Vec<String>>,
}

/// What is wrong with a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldErrorCode {
    /// Missing.
    Required,
    /// Not a field of this request (a typo?).
    UnknownField,
    /// A string where a number belongs, or the like.
    WrongType,
    /// Too small, too large, too short or too long.
    OutOfRange,
    /// Does not have the form it must (pattern, format, one of a set).
    InvalidFormat,
    /// Breaks a rule of its own (a control character in a name, say).
    Invalid,
}

impl FieldError {
    pub fn new(pointer: String, code: FieldErrorCode, detail: impl Into<String>) -> Self {
        FieldError { pointer, code, detail: detail.into(), params: None }
    }

    pub fn with(mut self, params: FieldParams) -> Self {
        self.params = Some(params);
        self
    }
}
