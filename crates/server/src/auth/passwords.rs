//! Passwords hashed with argon2id, one hash per core at a time and a bounded
//! queue in front (the domain's `PasswordHasher` port).

use actix_web::web;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Argon2, PasswordHash as ParsedHash};
use async_trait::async_trait;
use tokio::sync::Semaphore;

use pointshare_domain::ports::{HashError, PasswordHasher};
use pointshare_domain::{Password, PasswordHash};

use crate::telemetry::{self, AuthEvent};

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
pub(super) fn hash_now(password: &str) -> anyhow::Result<PasswordHash> {
    let salt = SaltString::generate(&mut OsRng);
    let hash = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|error| anyhow::anyhow!("hashing a password: {error}"))?;
    Ok(PasswordHash::parse(hash.to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let hash = hash_now("correct horse").expect("hashes");
        assert!(hash.as_str().starts_with("$argon2id$"));
        let parsed = ParsedHash::new(hash.as_str()).expect("parses");
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
        assert!(Argon2::default().verify_password(b"wrong", &parsed).is_err());
    }
}
