//! Who is calling: argon2id password hashes, HS256 access tokens with the
//! algorithm pinned and `exp` checked, and the `Caller` / `Admin` extractors
//! that turn a bearer token into a member id and a role.

use std::future::{Ready, ready};
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::Payload;
use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, web};
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use pointshare_domain::{MemberId, PasswordHash};

use crate::problem::ApiError;

/// What a member may do beyond their own points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Member,
    Admin,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    role: Role,
    iat: i64,
    exp: i64,
}

/// Issues and checks access tokens; hashes and checks passwords.
pub struct Auth {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    token_ttl: Duration,
    /// Checked when the email is unknown, so a failed login takes as long
    /// whether or not the email exists.
    decoy: PasswordHash,
}

/// Password hashing is CPU-bound and takes ~19 MiB per hash (argon2's
/// recommended memory cost): more at once than there are cores only adds
/// memory, so hashes wait here for a core.
fn hashing_slots() -> &'static tokio::sync::Semaphore {
    static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();
    SLOTS.get_or_init(|| tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, usize::from)))
}

/// Runs one password hash or check off the async threads, one per core at most.
async fn on_a_core<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Result<T, ApiError> {
    let _slot = hashing_slots().acquire().await.map_err(ApiError::unexpected)?;
    web::block(work).await.map_err(ApiError::unexpected)
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").field("token_ttl", &self.token_ttl).finish_non_exhaustive()
    }
}

impl Auth {
    pub fn new(secret: &[u8], token_ttl: Duration) -> anyhow::Result<Self> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.set_required_spec_claims(&["exp", "sub"]);
        Ok(Auth {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
            token_ttl,
            decoy: hash_password("decoy password, never a member's")?,
        })
    }

    pub fn token_ttl(&self) -> Duration {
        self.token_ttl
    }

    pub fn issue(&self, member: MemberId, role: Role) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims { sub: member.to_string(), role, iat: now, exp: now + self.token_ttl.as_secs() as i64 };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?)
    }

    fn verify(&self, token: &str) -> Result<Caller, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation).map_err(|error| {
            use jsonwebtoken::errors::ErrorKind;
            match error.kind() {
                ErrorKind::ExpiredSignature => ApiError::unauthenticated("the access token has expired"),
                _ => ApiError::unauthenticated("the access token is not valid"),
            }
        })?;
        let member = data.claims.sub.parse().map_err(|_| ApiError::unauthenticated("the access token is not valid"))?;
        Ok(Caller { member, role: data.claims.role })
    }

    /// Whether `password` matches `hash`; for an unknown email pass `None`,
    /// which checks against a decoy so the answer takes just as long.
    pub async fn password_matches(&self, password: String, hash: Option<PasswordHash>) -> bool {
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.decoy.clone());
        let matches = on_a_core(move || {
            ParsedHash::new(hash.as_str())
                .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await
        .unwrap_or(false);
        known && matches
    }
}

/// An argon2id hash with a fresh salt (the crate's default, OWASP-recommended parameters).
pub fn hash_password(password: &str) -> anyhow::Result<PasswordHash> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))?;
    Ok(PasswordHash::parse(hash.to_string())?)
}

/// Off the async threads: hashing costs tens of milliseconds of CPU by design.
pub async fn hash_password_blocking(password: String) -> Result<PasswordHash, ApiError> {
    on_a_core(move || hash_password(&password)).await?.map_err(ApiError::unexpected)
}

/// The member a bearer token names.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub member: MemberId,
    pub role: Role,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(request))
    }
}

fn caller(request: &HttpRequest) -> Result<Caller, ApiError> {
    let auth = request.app_data::<web::Data<Arc<Auth>>>().expect("Auth is registered as app data");
    let header = request
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <access token>"))?;
    let token = header
        .to_str()
        .ok()
        .and_then(|value| value.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::unauthenticated("send Authorization: Bearer <access token>"))?;
    auth.verify(token.trim())
}

/// A caller with the admin role.
#[derive(Debug, Clone, Copy)]
pub struct Admin(pub Caller);

impl FromRequest for Admin {
    type Error = ApiError;
    type Future = Ready<Result<Admin, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(caller(request).and_then(|caller| match caller.role {
            Role::Admin => Ok(Admin(caller)),
            Role::Member => Err(ApiError::new(StatusCode::FORBIDDEN, "forbidden", "Admins only")),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> Auth {
        Auth::new(&[7; 32], Duration::from_secs(60)).expect("valid")
    }

    #[test]
    fn a_token_names_its_member_and_role() {
        let auth = auth();
        let member = MemberId::new();
        let caller = auth.verify(&auth.issue(member, Role::Admin).expect("issues")).expect("verifies");
        assert_eq!((caller.member, caller.role), (member, Role::Admin));
    }

    #[test]
    fn tokens_signed_otherwise_or_unsigned_are_refused() {
        let auth = auth();
        let other = Auth::new(&[8; 32], Duration::from_secs(60)).expect("valid");
        let forged = other.issue(MemberId::new(), Role::Admin).expect("issues");
        assert_eq!(auth.verify(&forged).expect_err("refused").code(), "unauthenticated");
        // alg "none": header {"alg":"none","typ":"JWT"}, no signature.
        let claims = format!(r#"{{"sub":"{}","role":"admin","iat":0,"exp":9999999999}}"#, MemberId::new());
        let b64 = |s: &str| base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, s);
        let unsigned = format!("{}.{}.", b64(r#"{"alg":"none","typ":"JWT"}"#), b64(&claims));
        assert!(auth.verify(&unsigned).is_err());
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_password("correct horse").expect("hashes");
        assert!(hash.as_str().starts_with("$argon2id$"));
        let parsed = ParsedHash::new(hash.as_str()).expect("parses");
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
