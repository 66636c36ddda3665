//! The opaque tokens: refresh tokens (`<session id>.<random>`, stored as the
//! SHA-256 of the random part, each successor sealed for the token it
//! replaces) and the one-use tokens mailed to members.

use argon2::password_hash::rand_core::{OsRng, RngCore};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use pointshare_domain::services::{MailedToken, NextToken};
use pointshare_domain::{MailToken, SessionId, TokenHash};

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

pub(super) fn hash_secret(secret: &str) -> TokenHash {
    TokenHash::parse(hex::encode(Sha256::digest(secret.as_bytes()))).expect("a SHA-256 is 64 hex digits")
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
