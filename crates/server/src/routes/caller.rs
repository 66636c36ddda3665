//! The `Caller` and `Admin` extractors: a handler that takes one runs only
//! for a valid bearer token whose member the store says may act so.

use std::sync::Arc;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::future::LocalBoxFuture;

use pointshare_domain::{Member, MemberId, Role};

use crate::auth::Bearer;
use crate::problem::ApiError;
use crate::wiring::AppState;

/// An active member, named by a valid bearer token of an open session.
#[derive(Debug, Clone)]
pub struct Caller {
    pub member: MemberId,
    /// The token as verified: its member and session, checked again by a
    /// request that lasts (an event stream).
    pub bearer: Bearer,
    /// The member's record as the check saw it, at most the access cache's
    /// freshness old: good for what does not change (handle, account), not
    /// for what an operator or the member may just have changed.
    pub record: Member,
}

/// An active admin, by the store's record.
#[derive(Debug, Clone)]
pub struct Admin(pub Caller);

fn bearer(request: &HttpRequest) -> Result<String, ApiError> {
    let missing = ApiError::no_token;
    let header = request.headers().get(actix_web::http::header::AUTHORIZATION).ok_or_else(missing)?;
    let (scheme, token) = header.to_str().ok().and_then(|value| value.split_once(' ')).ok_or_else(missing)?;
    // The scheme is case-insensitive (RFC 9110, 11.1).
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    Ok(token.trim().to_owned())
}

fn authorize(request: &HttpRequest, needed: Role) -> LocalBoxFuture<'static, Result<Caller, ApiError>> {
    let state = request.app_data::<web::Data<Arc<AppState>>>().expect("AppState is registered").clone();
    let token = bearer(request);
    Box::pin(async move {
        let bearer = state.tokens.verify(&token?)?;
        let record = state.access.check(&bearer, needed).await?;
        Ok(Caller { member: bearer.member, bearer, record })
    })
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Caller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        authorize(request, Role::Member)
    }
}

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Admin, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let caller = authorize(request, Role::Admin);
        Box::pin(async move { caller.await.map(Admin) })
    }
}
