//! Mail: the `MailOutbox` that keeps every mail until it is sent, and the
//! `Mailer` that hands one to a mail server.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use thiserror::Error;

use super::StoreError;
use crate::model::{LeaseOwner, MailId, MailMessage, OutboxMail};

#[async_trait]
pub trait MailOutbox: Send + Sync + std::fmt::Debug {
    /// Records `mail` unless a mail with its intent is recorded already;
    /// `false` then, and nothing is added.
    async fn enqueue(&self, mail: &OutboxMail) -> Result<bool, StoreError>;

    /// Leases up to `limit` pending mails due at `now` (next attempt reached,
    /// no lease running) to `owner` until `until`, oldest first, and counts
    /// the attempt. Two callers never get the same mail while its lease runs.
    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError>;

    /// Marks mail `id`, leased to `owner`, sent at `at`, and forgets the
    /// token it carried. `false` if `owner` no longer holds it.
    async fn sent(&self, id: MailId, owner: &LeaseOwner, at: DateTime<Utc>) -> Result<bool, StoreError>;

    /// Records a failed attempt of mail `id`, leased to `owner`: tried again
    /// from `retry_at`, or abandoned (its token forgotten) when `None`.
    async fn failed(
        &self,
        id: MailId,
        owner: &LeaseOwner,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<bool, StoreError>;

    /// How many mails wait to be sent, and when the oldest of them was recorded.
    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError>;
}

#[derive(Debug, Error)]
pub enum MailError {
    /// The server could not take it now (unreachable, busy, 4xx): try again later.
    #[error("the mail server could not take the mail now: {0}")]
    Transient(String),
    /// The server refused it for good (5xx: no such mailbox, rejected).
    #[error("the mail server refused the mail: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait Mailer: Send + Sync + std::fmt::Debug {
    /// Hands `message` to a mail server. `id` names it there (its
    /// Message-ID), so a mail sent twice after a crash reads as one.
    async fn send(&self, id: MailId, message: &MailMessage) -> Result<(), MailError>;
}
