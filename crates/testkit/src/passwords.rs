//! `FakePasswords`: a password hasher without the cost, for tests of what
//! the services do with a hash; a switch makes it refuse work as a full
//! queue of the real one does.

use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use pointshare_domain::ports::{HashError, PasswordHasher};
use pointshare_domain::{Password, PasswordHash};

const PREFIX: &str = "$fake$";

#[derive(Debug, Default)]
pub struct FakePasswords {
    busy: AtomicBool,
}

impl FakePasswords {
    /// While `busy`, every call is refused with `HashError::Busy`.
    pub fn set_busy(&self, busy: bool) {
        self.busy.store(busy, Ordering::SeqCst);
    }

    fn check_free(&self) -> Result<(), HashError> {
        if self.busy.load(Ordering::SeqCst) { Err(HashError::Busy) } else { Ok(()) }
    }
}

#[async_trait]
impl PasswordHasher for FakePasswords {
    async fn hash(&self, password: &Password) -> Result<PasswordHash, HashError> {
        self.check_free()?;
        Ok(PasswordHash::parse(format!("{PREFIX}{}", password.as_str())).map_err(anyhow::Error::from)?)
    }

    async fn verify(&self, password: &str, hash: Option<&PasswordHash>) -> Result<bool, HashError> {
        self.check_free()?;
        Ok(hash.is_some_and(|hash| hash.as_str().strip_prefix(PREFIX) == Some(password)))
    }
}
