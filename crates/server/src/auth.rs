//! Who is calling. Access tokens are HS256 JWTs naming a member and the
//! session (login) they belong to, with `iat`, `nbf` and `exp` checked and a
//! key id, so the secret can be rotated (the current and the previous secret
//! verify). They carry no role: `Access` loads the member and the session as
//! the store has them (a few seconds' cache) and applies the domain's access
//! rule, so a suspension, a logout or a session ended for token reuse stops
//! its tokens on every replica within seconds (the handlers' `Caller` and
//! `Admin` extractors are in `routes::caller`). Refresh tokens
//! are opaque: `<session id>.<random>`, stored as the SHA-256 of the random
//! part. Passwords are hashed with argon2id, one hash per core at a time and
//! a bounded queue in front.

use std::sync::Arc;
use std::time::Duration;

use actix_web::web;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use async_trait::async_trait;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::sync::Semaphore;

use pointshare_domain::ports::{HashError, PasswordHasher, StoreError};
use pointshare_domain::services::{MailedToken, MemberService, NextToken, SessionService};
use pointshare_domain::{
    AccessDenied, MailToken, Member, MemberId, Password, PasswordHash, Role, SessionId, TokenHash,
};

use crate::problem::ApiError;
use crate::telemetry::{self, AuthEvent};

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    /// The session: a token without one is refused.
    sid: String,
    iat: i64,
    nbf: i64,
    exp: i64,
}

struct SigningKey {
    id: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl SigningKey {
    fn new(secret: &[u8]) -> Self {
        // The id names the key without revealing it: a prefix of its hash.
        let id = hex::encode(&Sha256::digest(secret)[..8]);
        SigningKey { id, encoding: EncodingKey::from_secret(secret), decoding: DecodingKey::from_secret(secret) }
    }
}

/// Issues and checks access tokens.
pub struct Tokens {
    /// The current key first; the previous one, if any, only verifies.
    keys: Vec<SigningKey>,
    validation: Validation,
    ttl: Duration,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ids: Vec<&str> = self.keys.iter().map(|key| key.id.as_str()).collect();
        f.debug_struct("Tokens").field("key_ids", &ids).field("ttl", &self.ttl).finish()
    }
}

impl Tokens {
    pub fn new(current: &[u8], previous: Option<&[u8]>, ttl: Duration) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 0;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "sub"]);
        let keys = std::iter::once(current).chain(previous).map(SigningKey::new).collect();
        Tokens { keys, validation, ttl }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn issue(&self, member: MemberId, session: SessionId) -> anyhow::Result<String> {
        let now = chrono::Utc::now().timestamp();
        let exp = now + i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX / 2);
        let claims = Claims { sub: member.to_string(), sid: session.to_string(), iat: now, nbf: now, exp };
        let key = &self.keys[0];
        let header = Header { kid: Some(key.id.clone()), ..Header::new(Algorithm::HS256) };
        Ok(jsonwebtoken::encode(&header, &claims, &key.encoding)?)
    }

    /// The member a token names, if one of our keys signed it and it is in date.
    pub fn verify(&self, token: &str) -> Result<Bearer, ApiError> {
        let invalid = || ApiError::unauthenticated("the access token is not valid");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let key = self.keys.iter().find(|key| header.kid.as_deref() == Some(key.id.as_str())).ok_or_else(invalid)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(|error| {
                match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => ApiError::token_expired(),
                    _ => invalid(),
                }
            })?;
        let member = data.claims.sub.parse().map_err(|_| invalid())?;
        let session = data.claims.sid.parse().map_err(|_| invalid())?;
        // jsonwebtoken accepts a token through the whole second of its `exp`.
        let expires = chrono::DateTime::from_timestamp(data.claims.exp.saturating_add(1), 0).ok_or_else(invalid)?;
        Ok(Bearer { member, session, expires })
    }
}

/// What a verified access token says: whose it is, of which session, and
/// from when it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub member: MemberId,
    pub session: SessionId,
    pub expires: chrono::DateTime<chrono::Utc>,
}

/// A refresh token as the client holds it: `<session id>.<secret>`.
#[derive(Debug)]
pub struct RefreshToken {
    pub session: SessionId,
    secret: String,
}

/// A fresh secret of 32 random bytes (base64url) and its hash: what a
/// client is given, and what the store keeps.
fn random_secret() -> (String, TokenHash) {
    let mut bytes = [0u8; 32];
    OsRng.fill_bytes(&mut bytes);
    let secret = URL_SAFE_NO_PAD.encode(bytes);
    let hash = hash_secret(&secret);
    (secret, hash)
}

/// Whether `text` has the shape of a secret this server gives.
fn is_secret(text: &str) -> bool {
    (20..=64).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A one-use token for a mail (a reset or verification link).
pub fn mailed_token() -> MailedToken {
    let (secret, hash) = random_secret();
    MailedToken { token: MailToken::new(secret), hash }
}

/// The hash of a one-use token a client presents; `None` for what no
/// mail of this server carried.
pub fn presented_token(text: &str) -> Option<TokenHash> {
    is_secret(text).then(|| hash_secret(text))
}

impl RefreshToken {
    /// A fresh random secret and its hash, before the session exists.
    pub fn secret() -> (String, TokenHash) {
        random_secret()
    }

    pub fn text(session: SessionId, secret: &str) -> String {
        format!("{session}.{secret}")
    }

    pub fn parse(text: &str) -> Option<RefreshToken> {
        let (session, secret) = text.split_once('.')?;
        is_secret(secret).then_some(RefreshToken { session: session.parse().ok()?, secret: secret.to_owned() })
    }

    pub fn hash(&self) -> TokenHash {
        hash_secret(&self.secret)
    }

    /// The refresh token to offer in exchange for this one: its secret, and
    /// what the store may keep of it, the secret sealed with this one's (see
    /// `Handover`).
    pub fn next(&self) -> (String, NextToken) {
        let (secret, hash) = random_secret();
        let raw = URL_SAFE_NO_PAD.decode(&secret).expect("a secret this server made");
        let sealed = hex::encode(self.pad(&raw));
        (secret, NextToken { hash, sealed })
    }

    /// The successor `next` sealed, opened with this token's secret; `None`
    /// when it was not sealed with it.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let raw = hex::decode(sealed).ok().filter(|raw| raw.len() == 32)?;
        Some(URL_SAFE_NO_PAD.encode(self.pad(&raw)))
    }

    /// `bytes` XOR a key only this token's secret gives: a one-time pad, as
    /// each secret seals one successor. The key is not the stored hash.
    fn pad(&self, bytes: &[u8]) -> Vec<u8> {
        let key = Sha256::new().chain_update(b"pointshare refresh handover\0").chain_update(&self.secret).finalize();
        bytes.iter().zip(key).map(|(byte, key)| byte ^ key).collect()
    }
}

fn hash_secret(secret: &str) -> TokenHash {
    TokenHash::parse(hex::encode(Sha256::digest(secret.as_bytes()))).expect("a SHA-256 is 64 hex digits")
}

/// Hashes and checks passwords. Argon2 costs tens of milliseconds of CPU and
/// ~19 MiB per hash by design: more at once than there are cores only adds
/// memory, and an unbounded queue is a way to exhaust it, so hashes wait for
/// a core in a queue of bounded length and past that are refused.
pub struct Passwords {
    admitted: Semaphore,
    cores: Semaphore,
    /// Checked when the email is unknown, so a failed login takes as long
    /// whether or not the email exists.
    decoy: PasswordHash,
}

impl std::fmt::Debug for Passwords {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Passwords").field("free", &self.admitted.available_permits()).finish_non_exhaustive()
    }
}

impl Passwords {
    pub fn new(queue: usize) -> anyhow::Result<Self> {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        Ok(Passwords {
            admitted: Semaphore::new(cores + queue),
            cores: Semaphore::new(cores),
            decoy: hash_now("decoy password, never a member's")?,
        })
    }

    async fn on_a_core<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> Result<T, HashError> {
        let _admitted = self.admitted.try_acquire().map_err(|_| {
            telemetry::auth_event(AuthEvent::PasswordQueueFull);
            HashError::Busy
        })?;
        let _core = self.cores.acquire().await.map_err(anyhow::Error::from)?;
        Ok(web::block(work).await.map_err(anyhow::Error::from)?)
    }
}

#[async_trait]
impl PasswordHasher for Passwords {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        let password = password.as_str().to_owned();
        Ok(self.on_a_core(move || hash_now(&password)).await??)
    }

    /// An unknown email (`None`) is checked against a decoy, so the answer
    /// takes just as long.
    async fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool, HashError> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.decoy).clone();
        let password = password.to_owned();
        let matches = self
            .on_a_core(move || {
                ParsedHash::new(hash.as_str())
                    .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
            })
            .await?;
        Ok(known && matches)
    }
}

/// An argon2id hash with a fresh salt (the crate's default, OWASP-recommended parameters).
fn hash_now(password: &str) -> anyhow::Result<PasswordHash> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))?;
    Ok(PasswordHash::parse(hash.to_string())?)
}

/// How stale the member and session behind a token may be when a request is
/// authorized: a demotion, suspension or ended session takes effect on every
/// replica within this.
pub const ACCESS_FRESHNESS: Duration = Duration::from_secs(5);

/// The members and sessions behind tokens, as the store had them a few
/// seconds ago at most: every request is checked against the records without
/// a store read each, and a demotion, a suspension or an ended session
/// reaches every replica within `ttl` (this one at once, when it ended here).
pub struct Access {
    members: Arc<MemberService>,
    sessions: Arc<SessionService>,
    recent: moka::sync::Cache<MemberId, Member>,
    open_sessions: moka::sync::Cache<SessionId, bool>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access").field("cached", &self.recent.entry_count()).finish_non_exhaustive()
    }
}

impl Access {
    pub fn new(members: Arc<MemberService>, sessions: Arc<SessionService>, ttl: Duration) -> Self {
        Access {
            members,
            sessions,
            recent: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
            open_sessions: moka::sync::Cache::builder().max_capacity(100_000).time_to_live(ttl).build(),
        }
    }

    /// Session `id` just ended on this replica: its tokens stop here at once.
    pub fn session_ended(&self, id: SessionId) {
        self.open_sessions.insert(id, false);
    }

    /// Member `id`'s role or status just changed on this replica: the next
    /// request here reads the record afresh.
    pub fn member_changed(&self, id: MemberId) {
        self.recent.invalidate(&id);
    }

    async fn session_is_open(&self, id: SessionId) -> Result<bool, StoreError> {
        if let Some(open) = self.open_sessions.get(&id) {
            return Ok(open);
        }
        let open = self.sessions.is_open(id).await?;
        self.open_sessions.insert(id, open);
        Ok(open)
    }

    async fn member(&self, id: MemberId) -> Result<Option<Member>, StoreError> {
        if let Some(member) = self.recent.get(&id) {
            return Ok(Some(member));
        }
        let member = self.members.by_id(id).await?;
        if let Some(member) = &member {
            self.recent.insert(id, member.clone());
        }
        Ok(member)
    }

    /// The member a token names as checked, if its session is open and the
    /// member may act with `needed` by the domain's rule.
    pub async fn check(&self, bearer: &Bearer, needed: Role) -> Result<Member, ApiError> {
        let (member, open) = futures::try_join!(self.member(bearer.member), self.session_is_open(bearer.session))
            .map_err(ApiError::unexpected)?;
        if !open {
            return Err(ApiError::unauthenticated("the session of this access token has ended; log in again"));
        }
        let member = member.ok_or(AccessDenied::NotActive);
        let member = member.and_then(|member| member.may_act_as(needed).map(|()| member));
        member.map_err(ApiError::denied)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[7; 32], None, Duration::from_secs(60))
    }

    #[test]
    fn a_successor_sealed_for_a_refresh_token_opens_only_with_that_token() {
        let session = SessionId::new();
        let held = RefreshToken::parse(&RefreshToken::text(session, &RefreshToken::secret().0)).expect("parses");
        let (secret, next) = held.next();
        assert_eq!(next.hash, hash_secret(&secret));
        assert_eq!(held.open(&next.sealed), Some(secret.clone()));
        assert!(!next.sealed.contains(&secret) && next.sealed != next.hash.as_str(), "the store learns neither");
        let other = RefreshToken::parse(&RefreshToken::text(session, &RefreshToken::secret().0)).expect("parses");
        assert_ne!(other.open(&next.sealed), Some(secret));
        assert_eq!(held.open("not hex"), None);
    }

    #[test]
    fn a_token_names_its_member_and_carries_the_registered_claims() {
        let tokens = tokens();
        let (member, session) = (MemberId::new(), SessionId::new());
        let token = tokens.issue(member, session).expect("issues");
        let bearer = tokens.verify(&token).expect("verifies");
        assert_eq!((bearer.member, bearer.session), (member, session));
        let claims: serde_json::Value = serde_json::from_slice(
            &URL_SAFE_NO_PAD.decode(token.split('.').nth(1).expect("a payload")).expect("base64"),
        )
        .expect("json");
        for claim in ["iat", "nbf", "exp", "sub", "sid"] {
            assert!(claims[claim].is_number() || claims[claim].is_string(), "{claim} in {claims}");
        }
        assert!(claims.get("role").is_none(), "roles are read from the store, never from a token");
        assert!(jsonwebtoken::decode_header(&token).expect("a header").kid.is_some());
    }

    #[test]
    fn the_previous_secret_verifies_and_nothing_else_does() {
        let old = Tokens::new(&[1; 32], None, Duration::from_secs(60));
        let rotated = Tokens::new(&[2; 32], Some(&[1; 32]), Duration::from_secs(60));
        let member = MemberId::new();
        assert_eq!(
            rotated.verify(&old.issue(member, SessionId::new()).expect("issues")).expect("still valid").member,
            member
        );
        let after_next_rotation = Tokens::new(&[3; 32], Some(&[2; 32]), Duration::from_secs(60));
        assert!(after_next_rotation.verify(&old.issue(member, SessionId::new()).expect("issues")).is_err());
    }

    #[test]
    fn tokens_signed_otherwise_unsigned_or_not_yet_valid_are_refused() {
        let tokens = tokens();
        let other = Tokens::new(&[8; 32], None, Duration::from_secs(60));
        let forged = other.issue(MemberId::new(), SessionId::new()).expect("issues");
        assert_eq!(tokens.verify(&forged).expect_err("refused").code(), crate::problem::ProblemCode::Unauthenticated);
        let kid = &tokens.keys[0].id;
        let b64 = |s: &str| URL_SAFE_NO_PAD.encode(s);
        let now = chrono::Utc::now().timestamp();
        let claims = format!(
            r#"{{"sub":"{}","sid":"{}","iat":{now},"nbf":{now},"exp":{}}}"#,
            MemberId::new(),
            SessionId::new(),
            now + 60
        );
        let unsigned = format!("{}.{}.", b64(&format!(r#"{{"alg":"none","typ":"JWT","kid":"{kid}"}}"#)), b64(&claims));
        assert!(tokens.verify(&unsigned).is_err());
        // Signed with our key, but not valid for another hour.
        let sid = SessionId::new().to_string();
        let future =
            Claims { sub: MemberId::new().to_string(), sid: sid.clone(), iat: now, nbf: now + 3600, exp: now + 7200 };
        let header = Header { kid: Some(kid.clone()), ..Header::new(Algorithm::HS256) };
        let early = jsonwebtoken::encode(&header, &future, &tokens.keys[0].encoding).expect("encodes");
        assert!(tokens.verify(&early).is_err(), "nbf is checked");
        let signed = |claims: String| {
            let claims = serde_json::from_str::<serde_json::Value>(&claims).expect("json");
            jsonwebtoken::encode(&header, &claims, &tokens.keys[0].encoding).expect("encodes")
        };
        let no_nbf = format!(r#"{{"sub":"{}","sid":"{sid}","iat":{now},"exp":{}}}"#, MemberId::new(), now + 60);
        assert!(tokens.verify(&signed(no_nbf)).is_err(), "nbf is required");
        // A token of before sessions were named: nothing could end it but its expiry.
        let no_sid = format!(r#"{{"sub":"{}","iat":{now},"nbf":{now},"exp":{}}}"#, MemberId::new(), now + 60);
        assert!(tokens.verify(&signed(no_sid)).is_err(), "the session is required");
    }

    #[test]
    fn refresh_tokens_round_trip_and_hash_their_secret() {
        let (secret, hash) = RefreshToken::secret();
        let session = SessionId::new();
        let parsed = RefreshToken::parse(&RefreshToken::text(session, &secret)).expect("parses");
        assert_eq!((parsed.session, parsed.hash()), (session, hash.clone()));
        assert_ne!(hash.as_str(), secret);
        for bad in ["", "nodot", "not-a-uuid.abcdefghijklmnopqrstuvwxyz", &format!("{session}.short")] {
            assert!(RefreshToken::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_now("correct horse").expect("hashes");
        assert!(hash.as_str().starts_with("$argon2id$"));
        let parsed = ParsedHash::new(hash.as_str()).expect("parses");
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
