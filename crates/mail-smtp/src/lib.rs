//! `SmtpMailer`: pointshare's `Mailer` over SMTP with lettre. Each kind of
//! mail has one template file (`templates/<kind>.jinja`) holding its subject,
//! its plain-text body and its HTML body as blocks; a message carries both
//! bodies, and a Message-ID made from the outbox's id, so a mail sent twice
//! after a crash reads as one to the receiving side. The URL says how to
//! connect: `smtps://` (TLS from the start), `smtp://...?tls=required`
//! (STARTTLS), plain `smtp://` (loopback and tests); `user:password@` logs in.
//! SMTP errors become the port's: 4xx and connection failures are transient,
//! 5xx permanent.
//!
//! Depends on the domain, lettre and minijinja only.

use std::time::Duration;

use anyhow::Context;
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart, header};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use minijinja::Environment;
use serde::{Deserialize, Serialize};

use pointshare_domain::ports::{MailError, Mailer};
use pointshare_domain::settings::InvalidSetting;
use pointshare_domain::{MailId, MailKind, MailMessage};
use secrecy::{ExposeSecret, SecretString};

/// Where and how mail is sent.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// `smtp://`, `smtp://...?tls=required` or `smtps://`, with `user:password@` to log in.
    #[serde(skip_serializing)]
    pub url: SecretString,
    /// The sender, as `Name <address>` or a bare address.
    #[serde(default = "from")]
    pub from: String,
    /// The longest one mail may take to hand over.
    #[serde(default = "timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

fn from() -> String {
    "pointshare <no-reply@pointshare.invalid>".into()
}

fn timeout() -> Duration {
    Duration::from_secs(20)
}

impl SmtpSettings {
    pub fn new(url: impl Into<SecretString>) -> Self {
        SmtpSettings { url: url.into(), from: from(), timeout: timeout() }
    }

    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let url = self.url.expose_secret();
        if !(url.starts_with("smtp://") || url.starts_with("smtps://")) {
            return Err(InvalidSetting::new("url", "must start with smtp:// or smtps://"));
        }
        AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| InvalidSetting::new("url", format!("is not an SMTP URL: {error}")))?;
        self.from
            .parse::<Mailbox>()
            .map_err(|error| InvalidSetting::new("from", format!("is not a mailbox: {error}")))?;
        InvalidSetting::first_zero(&[("timeout", self.timeout)])
    }
}

#[derive(Debug)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    templates: Templates,
}

impl SmtpMailer {
    /// A mailer sending as `settings` say, its links to the frontend's pages at `public_url`.
    pub fn new(settings: &SmtpSettings, public_url: &str) -> anyhow::Result<Self> {
        settings.validate()?;
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(settings.url.expose_secret())
            .context("reading the SMTP URL")?
            .timeout(Some(settings.timeout))
            .build();
        Ok(SmtpMailer {
            transport,
            from: settings.from.parse().context("reading the sender")?,
            public_url: public_url.to_owned(),
            templates: Templates::new()?,
        })
    }

    /// Whether the server answers, for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        let answered = self.transport.test_connection().await.context("reaching the SMTP server")?;
        anyhow::ensure!(answered, "the SMTP server did not answer NOOP");
        Ok(())
    }

    fn compose(&self, id: MailId, message: &MailMessage) -> anyhow::Result<Message> {
        let rendered = self.templates.render(message, &self.public_url)?;
        let domain = self.from.email.domain();
        Ok(Message::builder()
            .from(self.from.clone())
            .to(Mailbox::new(Some(message.name.to_string()), message.to.as_str().parse()?))
            .subject(rendered.subject)
            .message_id(Some(format!("<{id}@{domain}>")))
            .header(header::MIME_VERSION_1_0)
            .multipart(MultiPart::alternative_plain_html(rendered.text, rendered.html))?)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, id: MailId, message: &MailMessage) -> Result<(), MailError> {
        let composed = self.compose(id, message).map_err(|error| MailError::Permanent(format!("{error:#}")))?;
        match self.transport.send(composed).await {
            Ok(_) => Ok(()),
            Err(error) if error.is_permanent() => Err(MailError::Permanent(error.to_string())),
            Err(error) => Err(MailError::Transient(error.to_string())),
        }
    }
}

/// A mail as its template renders it.
#[derive(Debug, PartialEq, Eq)]
pub struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The mails' templates, one file per kind, read into the binary.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Templates {
    pub fn new() -> anyhow::Result<Self> {
        let mut env = Environment::new();
        for kind in MailKind::ALL {
            env.add_template(kind.as_str(), template(kind))?;
        }
        Ok(Templates { env })
    }

    pub fn render(&self, message: &MailMessage, public_url: &str) -> anyhow::Result<Rendered> {
        let kind = message.kind.as_str();
        let context = minijinja::context! {
            name => message.name.as_str(),
            link => message.link(public_url),
            detail => message.detail.as_deref(),
        };
        let mut captured = self.env.get_template(kind)?.render_captured(context)?;
        let mut block = |name: &str| {
            let rendered = captured.with_state_mut(|state| state.render_block(name));
            rendered.map(|text| text.trim().to_owned()).with_context(|| format!("the {name} of {kind}"))
        };
        Ok(Rendered { subject: block("subject")?, text: block("text")? + "\n", html: block("html")? })
    }
}

/// The template of a kind of mail.
fn template(kind: MailKind) -> &'static str {
    match kind {
        MailKind::VerifyEmail => include_str!("../templates/verify_email.jinja"),
        MailKind::PasswordReset => include_str!("../templates/password_reset.jinja"),
        MailKind::PasswordChanged => include_str!("../templates/password_changed.jinja"),
        MailKind::EmailChanged => include_str!("../templates/email_changed.jinja"),
        MailKind::AccountClosed => include_str!("../templates/account_closed.jinja"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use pointshare_domain::{DisplayName, Email, MailToken};

    fn message(kind: MailKind) -> MailMessage {
        MailMessage {
            to: Email::parse("ada@example.com").expect("valid"),
            name: DisplayName::parse("Ada <b>").expect("valid"),
            kind,
            token: Some(MailToken::new("tok3n")),
            detail: Some("new@example.com".into()),
        }
    }

    #[test]
    fn every_kind_renders_a_subject_a_text_and_an_html_body() {
        let templates = Templates::new().expect("the templates parse");
        for kind in MailKind::ALL {
            let rendered = templates.render(&message(kind), "https://app.example.com/").expect("renders");
            assert!(!rendered.subject.is_empty() && !rendered.subject.contains('\n'), "{kind:?}: {rendered:?}");
            assert!(rendered.text.starts_with("Hello Ada <b>,"), "{kind:?}: {}", rendered.text);
            assert!(rendered.html.contains("Ada &lt;b&gt;"), "the HTML escapes what members typed: {}", rendered.html);
        }
        let reset = templates.render(&message(MailKind::PasswordReset), "https://app.example.com/").expect("renders");
        assert!(reset.text.contains("https://app.example.com/reset-password?token=tok3n"), "{}", reset.text);
        // Escaped as HTML (`/` as `&#x2f;`), which a mail reader decodes.
        assert!(reset.html.contains("reset-password?token=tok3n\">"), "{}", reset.html);
        let changed = templates.render(&message(MailKind::EmailChanged), "https://app.example.com").expect("renders");
        assert!(changed.text.contains("new@example.com"));
    }

    #[test]
    fn settings_refuse_what_cannot_send() {
        let good = SmtpSettings::new("smtp://127.0.0.1:2525".to_owned());
        assert!(good.validate().is_ok());
        let named = |settings: SmtpSettings| settings.validate().expect_err("refused").setting;
        assert_eq!(named(SmtpSettings::new("http://mail.example.com".to_owned())), "url");
        assert_eq!(named(SmtpSettings { from: "not a mailbox".into(), ..good.clone() }), "from");
        assert_eq!(named(SmtpSettings { timeout: Duration::ZERO, ..good }), "timeout");
    }
}
