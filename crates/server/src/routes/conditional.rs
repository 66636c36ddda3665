//! Conditional reads (RFC 9110, 13.1.2): a view answered with a weak ETag of
//! its JSON, and 304 Not Modified when the client's `If-None-Match` names it
//! already, so a page polling a transfer, its profile or its balance moves
//! no body while nothing changed. Weak: the same view may travel compressed
//! or not.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::problem::ApiError;

/// `view` with its ETag, or 304 when `request` holds it already.
pub(super) fn tagged<T: Serialize>(request: &HttpRequest, view: &T) -> Result<HttpResponse, ApiError> {
    let body = serde_json::to_vec(view).map_err(ApiError::unexpected)?;
    let tag = format!("W/\"{}\"", hex::encode(&Sha256::digest(&body)[..16]));
    let held = request.headers().get_all(header::IF_NONE_MATCH).filter_map(|value| value.to_str().ok());
    let current = held.flat_map(|value| value.split(',')).map(str::trim).any(|candidate| {
        // Weak comparison, as If-None-Match asks for.
        candidate == "*" || candidate.trim_start_matches("W/") == tag.trim_start_matches("W/")
    });
    if current {
        return Ok(HttpResponse::NotModified().insert_header((header::ETAG, tag)).finish());
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, tag))
        .insert_header((header::CONTENT_TYPE, HeaderValue::from_static("application/json")))
        .body(body))
}
