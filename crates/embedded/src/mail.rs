//! `InMemoryOutbox`: the outbox in a map, with the uniqueness of intents and
//! the leases a store would give. `LogMailer`: the embedded default's mail
//! server, which sends nothing and writes each mail's link to the log, so a
//! developer can follow a reset or verification link without an SMTP server.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use parking_lot::Mutex;

use pointshare_domain::ports::{MailError, MailOutbox, Mailer, StoreError};
use pointshare_domain::{Lease, LeaseOwner, MailId, MailMessage, MailState, OutboxMail};

#[derive(Debug, Default)]
pub struct InMemoryOutbox {
    mails: Mutex<HashMap<MailId, OutboxMail>>,
}

impl InMemoryOutbox {
    /// Every mail, oldest first: for tests.
    pub fn all(&self) -> Vec<OutboxMail> {
        let mut all: Vec<OutboxMail> = self.mails.lock().values().cloned().collect();
        all.sort_by_key(|mail| (mail.created_at, mail.id));
        all
    }

    /// Applies `change` to mail `id` if `owner` holds its lease.
    fn held(&self, id: MailId, owner: &LeaseOwner, change: impl FnOnce(&mut OutboxMail)) -> bool {
        let mut mails = self.mails.lock();
        match mails.get_mut(&id) {
            Some(mail) if mail.lease.as_ref().is_some_and(|lease| &lease.owner == owner) => {
                change(mail);
                mail.lease = None;
                true
            }
            _ => false,
        }
    }
}

#[async_trait]
impl MailOutbox for InMemoryOutbox {
    async fn enqueue(&self, mail: &OutboxMail) -> Result<bool, StoreError> {
        let mut mails = self.mails.lock();
        if mails.values().any(|held| held.intent == mail.intent) {
            return Ok(false);
        }
        mails.insert(mail.id, mail.clone());
        Ok(true)
    }

    async fn claim_due(
        &self,
        owner: &LeaseOwner,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<OutboxMail>, StoreError> {
        let mut mails = self.mails.lock();
        let mut due: Vec<&mut OutboxMail> = mails
            .values_mut()
            .filter(|mail| {
                mail.state == MailState::Pending
                    && mail.next_attempt_at <= now
                    && mail.lease.as_ref().is_none_or(|lease| lease.until < now)
            })
            .collect();
        due.sort_by_key(|mail| (mail.created_at, mail.id));
        Ok(due
            .into_iter()
            .take(limit)
            .map(|mail| {
                mail.lease = Some(Lease { owner: owner.clone(), until });
                mail.attempts += 1;
                mail.clone()
            })
            .collect())
    }

    async fn sent(&self, id: MailId, owner: &LeaseOwner, at: DateTime<Utc>) -> Result<bool, StoreError> {
        Ok(self.held(id, owner, |mail| {
            mail.state = MailState::Sent;
            mail.sent_at = Some(at);
            mail.message.token = None;
        }))
    }

    async fn failed(
        &self,
        id: MailId,
        owner: &LeaseOwner,
        retry_at: Option<DateTime<Utc>>,
        error: &str,
    ) -> Result<bool, StoreError> {
        Ok(self.held(id, owner, |mail| {
            mail.last_error = Some(error.to_owned());
            match retry_at {
                Some(at) => mail.next_attempt_at = at,
                None => {
                    mail.state = MailState::Abandoned;
                    mail.message.token = None;
                }
            }
        }))
    }

    async fn backlog(&self) -> Result<(u64, Option<DateTime<Utc>>), StoreError> {
        let mails = self.mails.lock();
        let pending = mails.values().filter(|mail| mail.state == MailState::Pending);
        let (count, oldest) = pending.fold((0, None), |(count, oldest): (u64, Option<DateTime<Utc>>), mail| {
            (count + 1, Some(oldest.map_or(mail.created_at, |at| at.min(mail.created_at))))
        });
        Ok((count, oldest))
    }
}

/// Writes each mail, its link included, to the log instead of sending it.
#[derive(Debug, Clone)]
pub struct LogMailer {
    /// Where the frontend's pages are, for the links.
    public_url: String,
}

impl LogMailer {
    pub fn new(public_url: impl Into<String>) -> Self {
        LogMailer { public_url: public_url.into() }
    }
}

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, id: MailId, message: &MailMessage) -> Result<(), MailError> {
        let link = message.link(&self.public_url).unwrap_or_default();
        tracing::info!(mail = %id, to = %message.to, kind = message.kind.as_str(), link, "mail kept in this process (no SMTP server configured)");
        Ok(())
    }
}
