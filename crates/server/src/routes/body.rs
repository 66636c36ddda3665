//! Request bodies: JSON checked against the schema the OpenAPI document
//! gives its type and against its fields' own rules (`FieldRules`), so a
//! client learns every invalid field at once (missing, unknown, of the wrong
//! type, out of range, a control character in a memo) in the problem's
//! `errors`, each with a JSON Pointer; then deserialized. Handlers take `Body<T>` where
//! they would take `web::Json<T>`; not JSON, too large or of another content
//! type is answered by the JSON extractor's own handler (`problem::json_error`),
//! and a body that does not arrive within `POINTSHARE_BODY_TIMEOUT` by 408,
//! so a client trickling bytes cannot hold a connection and a worker's
//! attention for ever.

use std::collections::HashMap;
use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;
use jsonschema::error::ValidationErrorKind;
use jsonschema::{ValidationError, Validator};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa::openapi::OpenApi;

use pointshare_domain::{InvalidValue, Reason};

use crate::problem::{ApiError, FieldError, FieldErrorCode, FieldParams};
use crate::wiring::AppState;

/// A request body of type `T`, valid against `T`'s schema and rules.
#[derive(Debug)]
pub struct Body<T>(pub T);

/// A field's rule beyond the schema: why its text is not valid, if it is not.
pub type Rule = fn(&str) -> Option<InvalidValue>;

/// The `reason` every privileged act gives.
pub const REASON: (&str, Rule) = ("/reason", |text| Reason::parse(text).err());

/// What a body's fields must be beyond their schema: each rule is the
/// domain type's own parse (a memo's characters, a password's variety). They
/// run on every field the schema let through, also when another field
/// failed it, so one answer names every invalid field.
pub trait FieldRules {
    /// Each checked field's JSON Pointer and its rule.
    const RULES: &'static [(&'static str, Rule)] = &[];
}

impl<T> Body<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + ToSchema + FieldRules + 'static> FromRequest for Body<T> {
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self, Self::Error>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let schemas = request.app_data::<web::Data<Schemas>>().expect("the body schemas are registered").clone();
        let state = request.app_data::<web::Data<Arc<AppState>>>().expect("AppState is registered");
        let timeout = state.settings.http.body_timeout;
        let json = web::Json::<Value>::from_request(request, payload);
        Box::pin(async move {
            let json = tokio::time::timeout(timeout, json).await.map_err(|_| ApiError::body_timed_out(timeout))??;
            Ok(Body(schemas.parse::<T>(json.into_inner())?))
        })
    }
}

/// One validator per schema of the API document, compiled once at start (a
/// schema that does not compile stops the server there, not at a request).
pub struct Schemas(HashMap<String, Validator>);

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.0.keys()).finish()
    }
}

impl Schemas {
    pub fn of(document: &OpenApi) -> anyhow::Result<Schemas> {
        let document = serde_json::to_value(document)?;
        let schemas = &document["components"]["schemas"];
        let components = json!({"schemas": schemas.clone()});
        let names = schemas.as_object().map(|schemas| schemas.keys().cloned().collect::<Vec<_>>());
        let validators = names.unwrap_or_default().into_iter().map(|name| {
            let schema = json!({"$ref": format!("#/components/schemas/{name}"), "components": components});
            let validator = jsonschema::validator_for(&schema)
                .map_err(|error| anyhow::anyhow!("the API document's schema {name}: {error}"))?;
            Ok((name, validator))
        });
        Ok(Schemas(validators.collect::<anyhow::Result<_>>()?))
    }

    fn parse<T: DeserializeOwned + ToSchema + FieldRules>(&self, value: Value) -> Result<T, ApiError> {
        let name = T::name();
        let validator = self.0.get(name.as_ref()).unwrap_or_else(|| panic!("{name} is not in the API document"));
        let mut faults: Vec<FieldError> = validator.iter_errors(&value).flat_map(|error| fault(&error)).collect();
        for (pointer, rule) in T::RULES {
            if faults.iter().any(|fault| fault.pointer == *pointer) {
                continue;
            }
            if let Some(broken) = value.pointer(pointer).and_then(Value::as_str).and_then(rule) {
                faults.push(FieldError::new((*pointer).to_owned(), FieldErrorCode::Invalid, broken.to_string()));
            }
        }
        if !faults.is_empty() {
            return Err(ApiError::invalid_fields(faults));
        }
        // Valid against the schema: a failure here is a schema that says less than the type.
        serde_json::from_value(value).map_err(|error| {
            ApiError::invalid_fields(vec![FieldError::new(String::new(), FieldErrorCode::Invalid, error.to_string())])
        })
    }
}

/// The fields one schema violation is about.
fn fault(error: &ValidationError<'_>) -> Vec<FieldError> {
    let at = error.instance_path().as_str().to_owned();
    let member = |name: &str| format!("{at}/{}", name.replace('~', "~0").replace('/', "~1"));
    let code = match error.kind() {
        ValidationErrorKind::Required { property } => {
            let name = property.as_str().unwrap_or_default();
            return vec![FieldError::new(member(name), FieldErrorCode::Required, format!("{name} is required"))];
        }
        ValidationErrorKind::AdditionalProperties { unexpected } => {
            let unknown = |name: &String| {
                FieldError::new(
                    member(name),
                    FieldErrorCode::UnknownField,
                    format!("{name} is not a field of this request"),
                )
            };
            return unexpected.iter().map(unknown).collect();
        }
        ValidationErrorKind::Type { .. } => FieldErrorCode::WrongType,
        ValidationErrorKind::Minimum { .. }
        | ValidationErrorKind::Maximum { .. }
        | ValidationErrorKind::ExclusiveMinimum { .. }
        | ValidationErrorKind::ExclusiveMaximum { .. }
        | ValidationErrorKind::MinLength { .. }
        | ValidationErrorKind::MaxLength { .. } => FieldErrorCode::OutOfRange,
        ValidationErrorKind::Pattern { .. } | ValidationErrorKind::Format { .. } | ValidationErrorKind::Enum { .. } => {
            FieldErrorCode::InvalidFormat
        }
        _ => FieldErrorCode::Invalid,
    };
    let fault = FieldError::new(at, code, error.to_string());
    vec![match params(error.kind()) {
        Some(params) => fault.with(params),
        None => fault,
    }]
}

/// The schema's patterns by the names a client is told (a UI says "a
/// handle", not the regular expression).
const PATTERNS: &[(&str, &str)] = &[("^[A-Za-z0-9_]{3,32}$", "handle")];

/// The rule a violation broke, as numbers and names.
fn params(kind: &ValidationErrorKind) -> Option<FieldParams> {
    let number = |limit: &Value| limit.as_u64();
    Some(match kind {
        ValidationErrorKind::Minimum { limit } => FieldParams { min: number(limit), ..FieldParams::default() },
        ValidationErrorKind::Maximum { limit } => FieldParams { max: number(limit), ..FieldParams::default() },
        ValidationErrorKind::MinLength { limit } => FieldParams { min_length: Some(*limit), ..FieldParams::default() },
        ValidationErrorKind::MaxLength { limit } => FieldParams { max_length: Some(*limit), ..FieldParams::default() },
        ValidationErrorKind::Pattern { pattern } => {
            let name = PATTERNS.iter().find(|(regex, _)| regex == pattern).map_or("other", |(_, name)| name);
            FieldParams { pattern: Some(name.to_owned()), ..FieldParams::default() }
        }
        ValidationErrorKind::Format { format } => {
            FieldParams { pattern: Some(format.clone()), ..FieldParams::default() }
        }
        ValidationErrorKind::Enum { options } => {
            let allowed =
                options.as_array().map(|values| values.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect());
            FieldParams { allowed, ..FieldParams::default() }
        }
        _ => return None,
    })
}
