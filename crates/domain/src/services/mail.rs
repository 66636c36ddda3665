//! Mail to members through the outbox: a request queues a mail (recorded
//! before it answers, once per intent), and a worker on every replica sends
//! what is due, leasing each mail so two replicas never send one together,
//! trying again later with a growing pause when the mail server cannot take
//! it, and giving up on one it refuses for good or after its last attempt.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use futures::StreamExt;

use super::time::to_delta;
use crate::model::{LeaseOwner, MailIntent, MailMessage, OutboxMail};
use crate::ports::{Clock, MailError, MailOutbox, Mailer, StoreError};

#[derive(Debug, Clone)]
pub struct MailSettings {
    /// Names this process in lease owners.
    pub replica: String,
    /// Mails claimed per pass.
    pub batch: usize,
    /// How long a claim lasts: longer than one send may take.
    pub lease_for: Duration,
    /// Attempts before a mail is abandoned.
    pub max_attempts: u32,
    /// The pause after the first failed attempt; it doubles with each.
    pub first_retry: Duration,
    /// The longest pause between attempts.
    pub longest_retry: Duration,
}

impl Default for MailSettings {
    fn default() -> Self {
        MailSettings {
            replica: "pointshare".into(),
            batch: 50,
            lease_for: Duration::from_secs(60),
            max_attempts: 12,
            first_retry: Duration::from_secs(5),
            longest_retry: Duration::from_secs(30 * 60),
        }
    }
}

impl MailSettings {
    /// When a mail that failed its `attempts`th attempt is tried again: a
    /// pause that doubles each time, up to the longest.
    fn retry_after(&self, attempts: u32) -> Duration {
        let doubled = self.first_retry.saturating_mul(1 << attempts.saturating_sub(1).min(20));
        doubled.min(self.longest_retry)
    }
}

/// What one delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct MailReport {
    pub claimed: usize,
    pub sent: usize,
    /// Failed now, tried again later.
    pub retried: usize,
    /// Refused for good, or out of attempts.
    pub abandoned: usize,
    /// Mails still waiting after the pass.
    pub backlog: u64,
    /// When the oldest of them was recorded.
    pub oldest: Option<DateTime<Utc>>,
}

#[derive(Debug)]
pub struct MailService {
    outbox: Arc<dyn MailOutbox>,
    mailer: Arc<dyn Mailer>,
    clock: Arc<dyn Clock>,
    settings: MailSettings,
}

/// Mails sent at once by one pass.
const SENDING_AT_ONCE: usize = 4;

impl MailService {
    pub fn new(
        outbox: Arc<dyn MailOutbox>,
        mailer: Arc<dyn Mailer>,
        clock: Arc<dyn Clock>,
        settings: MailSettings,
    ) -> Self {
        MailService { outbox, mailer, clock, settings }
    }

    /// Records `message` to be sent, once for `intent` however often asked.
    pub async fn queue(&self, intent: MailIntent, message: MailMessage) -> Result<(), StoreError> {
        let queued = self.outbox.enqueue(&OutboxMail::new(intent.clone(), message, self.clock.now())).await?;
        if queued {
            tracing::info!(intent = %intent, "mail queued");
        }
        Ok(())
    }

    /// Sends what is due, a batch at most.
    pub async fn deliver_once(&self) -> Result<MailReport, StoreError> {
        let owner = LeaseOwner::unique(&format!("mail@{}", self.settings.replica));
        let now = self.clock.now();
        let until = now + to_delta(self.settings.lease_for);
        let due = self.outbox.claim_due(&owner, now, until, self.settings.batch).await?;
        let mut report = MailReport { claimed: due.len(), ..MailReport::default() };
        let mut sending =
            futures::stream::iter(due).map(|mail| self.deliver(mail, &owner)).buffer_unordered(SENDING_AT_ONCE);
        while let Some(outcome) = sending.next().await {
            match outcome {
                Ok(Delivery::Sent) => report.sent += 1,
                Ok(Delivery::Retried) => report.retried += 1,
                Ok(Delivery::Abandoned) => report.abandoned += 1,
                Err(error) => {
                    tracing::warn!(%error, "could not record a mail's attempt; its lease ends and it is tried again")
                }
            }
        }
        (report.backlog, report.oldest) = self.outbox.backlog().await?;
        if report.claimed > 0 {
            tracing::info!(?report, "mail pass");
        }
        Ok(report)
    }

    async fn deliver(&self, mail: OutboxMail, owner: &LeaseOwner) -> Result<Delivery, StoreError> {
        let kind = mail.message.kind.as_str();
        match self.mailer.send(mail.id, &mail.message).await {
            Ok(()) => {
                self.outbox.sent(mail.id, owner, self.clock.now()).await?;
                tracing::info!(mail = %mail.id, kind, "mail sent");
                Ok(Delivery::Sent)
            }
            Err(MailError::Transient(error)) if mail.attempts < self.settings.max_attempts => {
                let retry_at = self.clock.now() + to_delta(self.settings.retry_after(mail.attempts));
                tracing::warn!(mail = %mail.id, kind, attempts = mail.attempts, %error, %retry_at, "mail not sent; trying again later");
                self.outbox.failed(mail.id, owner, Some(retry_at), &error).await?;
                Ok(Delivery::Retried)
            }
            Err(error) => {
                tracing::error!(mail = %mail.id, kind, attempts = mail.attempts, %error, "mail abandoned");
                self.outbox.failed(mail.id, owner, None, &error.to_string()).await?;
                Ok(Delivery::Abandoned)
            }
        }
    }
}

enum Delivery {
    Sent,
    Retried,
    Abandoned,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pause_between_attempts_doubles_up_to_the_longest() {
        let settings = MailSettings {
            first_retry: Duration::from_secs(5),
            longest_retry: Duration::from_secs(60),
            ..MailSettings::default()
        };
        let pauses: Vec<u64> = (1..=6).map(|n| settings.retry_after(n).as_secs()).collect();
        assert_eq!(pauses, [5, 10, 20, 40, 60, 60]);
        assert_eq!(settings.retry_after(u32::MAX).as_secs(), 60);
    }
}
