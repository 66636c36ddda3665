//! `Inbox`: the mail a real SMTP server delivered, as tests read it.
//! `scripts/with-servers` runs aiosmtpd, which writes each message it takes
//! to a Maildir (`POINTSHARE_TEST_MAILDIR`); a test waits for the mail to
//! an address of its own and reads what a member would: the subject, both
//! bodies, and the link. Tests read tokens from here, never from the store.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use mailparse::{MailHeaderMap, ParsedMail};

/// One delivered mail, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveredMail {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub message_id: String,
    pub text: String,
    pub html: String,
}

impl DeliveredMail {
    /// The first link in the plain-text body that starts with `prefix`.
    pub fn link(&self, prefix: &str) -> Option<String> {
        let start = self.text.find(prefix)?;
        let rest = &self.text[start..];
        Some(rest.split_whitespace().next().unwrap_or(rest).to_owned())
    }

    /// The value of `name` in the query of the first link starting with `prefix`.
    pub fn link_parameter(&self, prefix: &str, name: &str) -> Option<String> {
        let link = self.link(prefix)?;
        let (_, query) = link.split_once('?')?;
        query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}=")).map(str::to_owned))
    }
}

#[derive(Debug, Clone)]
pub struct Inbox {
    maildir: PathBuf,
}

impl Inbox {
    /// The Maildir `scripts/with-servers` delivers into; a test run without it fails.
    pub fn from_env() -> Inbox {
        Inbox { maildir: PathBuf::from(crate::test_server("POINTSHARE_TEST_MAILDIR")) }
    }

    /// The SMTP server's URL, from the same environment.
    pub fn smtp_url() -> String {
        crate::test_server("POINTSHARE_TEST_SMTP_URL")
    }

    /// Every mail delivered to `to` so far, in no set order.
    pub fn to(&self, to: &str) -> Vec<DeliveredMail> {
        let Ok(entries) = std::fs::read_dir(self.maildir.join("new")) else { return Vec::new() };
        entries
            .filter_map(|entry| std::fs::read(entry.ok()?.path()).ok())
            .filter_map(|raw| decode(&raw))
            .filter(|mail| mail.to.contains(to))
            .collect()
    }

    /// Waits up to `patience` for a mail to `to` with this subject; panics,
    /// saying what came, if none does.
    pub async fn wait_for_subject(&self, to: &str, subject: &str, patience: Duration) -> DeliveredMail {
        let until = Instant::now() + patience;
        loop {
            let mails = self.to(to);
            if let Some(mail) = mails.iter().find(|mail| mail.subject == subject) {
                return mail.clone();
            }
            assert!(Instant::now() < until, "waited {patience:?} for {subject:?} to {to}; got {mails:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits up to `patience` for `count` mails to `to`; panics, saying
    /// what came, if they do not.
    pub async fn wait_for(&self, to: &str, count: usize, patience: Duration) -> Vec<DeliveredMail> {
        let until = Instant::now() + patience;
        loop {
            let mails = self.to(to);
            if mails.len() >= count {
                return mails;
            }
            assert!(Instant::now() < until, "waited {patience:?} for {count} mail(s) to {to}; got {mails:#?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn decode(raw: &[u8]) -> Option<DeliveredMail> {
    let parsed = mailparse::parse_mail(raw).ok()?;
    let header = |name: &str| parsed.headers.get_first_value(name).unwrap_or_default();
    let body = |mime: &str| part(&parsed, mime).unwrap_or_default();
    Some(DeliveredMail {
        to: header("To"),
        from: header("From"),
        subject: header("Subject"),
        message_id: header("Message-ID"),
        text: body("text/plain"),
        html: body("text/html"),
    })
}

fn part(mail: &ParsedMail<'_>, mime: &str) -> Option<String> {
    if mail.ctype.mimetype == mime {
        return mail.get_body().ok();
    }
    mail.subparts.iter().find_map(|sub| part(sub, mime))
}
