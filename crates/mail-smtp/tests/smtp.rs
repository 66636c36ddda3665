//! The SMTP mailer against a real SMTP server (`scripts/with-servers` runs
//! aiosmtpd on loopback): a mail queued in the outbox is delivered once,
//! with both bodies and the link, however many delivery passes run; a
//! server that cannot be reached leaves it queued for later.

use std::sync::Arc;
use std::time::Duration;

use pointshare_domain::ports::{MailError, Mailer, SystemClock};
use pointshare_domain::services::{MailService, MailSettings};
use pointshare_domain::{DisplayName, Email, MailId, MailIntent, MailKind, MailMessage, MailToken};
use pointshare_embedded::InMemoryOutbox;
use pointshare_mail_smtp::{SmtpMailer, SmtpSettings};
use pointshare_testkit::Inbox;

fn message(to: &str, kind: MailKind) -> MailMessage {
    MailMessage {
        to: Email::parse(to).expect("valid"),
        name: DisplayName::parse("Ada Lovelace").expect("valid"),
        kind,
        token: Some(MailToken::new("a1b2c3")),
        detail: None,
    }
}

const PUBLIC_URL: &str = "https://app.pointshare.test";

/// An address unique to the test: the SMTP server's inbox is shared.
fn address(name: &str) -> String {
    format!("{}@example.com", pointshare_testkit::unique(name))
}

fn settings(url: String) -> SmtpSettings {
    SmtpSettings { from: "pointshare <no-reply@pointshare.test>".into(), ..SmtpSettings::new(url) }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queued_mail_is_delivered_once_with_both_bodies_and_its_link() {
    let mailer = Arc::new(SmtpMailer::new(&settings(Inbox::smtp_url()), PUBLIC_URL).expect("builds"));
    mailer.ping().await.expect("the server answers");
    let outbox = Arc::new(InMemoryOutbox::default());
    let service = MailService::new(outbox.clone(), mailer, Arc::new(SystemClock), MailSettings::default());
    let to = address("ada");
    let intent = MailIntent::parse(format!("reset:{to}")).expect("valid");
    for _ in 0..3 {
        service.queue(intent.clone(), message(&to, MailKind::PasswordReset)).await.expect("queued");
    }
    let passes = futures::future::join_all((0..3).map(|_| service.deliver_once())).await;
    let sent: usize = passes.iter().map(|pass| pass.as_ref().expect("runs").sent).sum();
    assert_eq!(sent, 1, "one intent, one mail, however many passes race");

    let mails = Inbox::from_env().wait_for(&to, 1, Duration::from_secs(10)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(Inbox::from_env().to(&to).len(), 1, "delivered once");
    let mail = &mails[0];
    assert_eq!(mail.subject, "Reset your pointshare password");
    assert!(mail.from.contains("no-reply@pointshare.test"), "{}", mail.from);
    assert!(mail.text.starts_with("Hello Ada Lovelace,"), "{}", mail.text);
    assert_eq!(mail.link_parameter("https://app.pointshare.test/reset-password", "token").as_deref(), Some("a1b2c3"));
    assert!(mail.html.contains("<a href="), "{}", mail.html);
    let id = outbox.all()[0].id;
    assert_eq!(mail.message_id, format!("<{id}@pointshare.test>"), "named by its outbox id");
    assert_eq!(outbox.all()[0].message.token, None, "the outbox forgets the token once sent");
}

#[tokio::test]
async fn an_unreachable_server_is_a_transient_failure() {
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("a port").local_addr().expect("bound").port();
    let settings = SmtpSettings { timeout: Duration::from_secs(2), ..settings(format!("smtp://127.0.0.1:{closed}")) };
    let mailer = SmtpMailer::new(&settings, PUBLIC_URL).expect("builds");
    let failed = mailer.send(MailId::new(), &message(&address("bob"), MailKind::PasswordChanged)).await;
    assert!(matches!(failed, Err(MailError::Transient(_))), "{failed:?}");
}
