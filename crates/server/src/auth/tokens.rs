//! Access tokens: HS256 JWTs naming a member and the session (login) they
//! belong to, with `iat`, `nbf` and `exp` checked and a key id, so the secret
//! can be rotated (the current and the previous secret verify).

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use pointshare_domain::{MemberId, SessionId};

#[derive(Debug, Serialize, Deserialize)]
pub(super) struct Claims {
    pub(super) sub: String,
    /// The session: a token without one is refused.
    pub(super) sid: String,
    pub(super) iat: i64,
    pub(super) nbf: i64,
    pub(super) exp: i64,
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
    pub fn verify(&self, token: &str) -> Result<Bearer, TokenRefused> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenRefused::Invalid)?;
        let key =
            self.keys.iter().find(|key| header.kid.as_deref() == Some(key.id.as_str())).ok_or(TokenRefused::Invalid)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, &key.decoding, &self.validation).map_err(|error| {
                match error.kind() {
                    jsonwebtoken::errors::ErrorKind::ExpiredSignature => TokenRefused::Expired,
                    _ => TokenRefused::Invalid,
                }
            })?;
        let member = data.claims.sub.parse().map_err(|_| TokenRefused::Invalid)?;
        let session = data.claims.sid.parse().map_err(|_| TokenRefused::Invalid)?;
        // jsonwebtoken accepts a token through the whole second of its `exp`.
        let expires =
            chrono::DateTime::from_timestamp(data.claims.exp.saturating_add(1), 0).ok_or(TokenRefused::Invalid)?;
        Ok(Bearer { member, session, expires })
    }
}

/// Why an access token was refused: the client refreshes an expired one, and
/// logs in again for any other (problem/ answers each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRefused {
    #[error("the access token has expired")]
    Expired,
    #[error("the access token is not valid")]
    Invalid,
}

/// What a verified access token says: whose it is, of which session, and
/// from when it is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bearer {
    pub member: MemberId,
    pub session: SessionId,
    pub expires: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::*;

    fn tokens() -> Tokens {
        Tokens::new(&[7; 32], None, Duration::from_secs(60))
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
        assert_eq!(tokens.verify(&forged).expect_err("refused"), TokenRefused::Invalid);
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
}
