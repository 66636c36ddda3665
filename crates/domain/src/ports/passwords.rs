//! `PasswordHasher`: turning a password into what the store keeps, and
//! checking one against it. Slow by design (that is what makes a stolen hash
//! expensive), so an adapter may refuse work when too much already waits.

use async_trait::async_trait;
use thiserror::Error;

use crate::model::{Password, PasswordHash};

#[derive(Debug, Error)]
pub enum HashError {
    /// Too many passwords are being hashed; try again shortly.
    #[error("too many passwords are being checked; try again shortly")]
    Busy,
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

#[async_trait]
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError>;

    /// Whether `password` (as typed, unchecked) matches `hash`. With `None`
    /// (no such member) it answers `false` after as long as a real check
    /// takes, so a login's timing does not tell whether an email exists.
    async fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool, HashError>;
}
