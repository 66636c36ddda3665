//! The `MailOutbox` contract: a mail is recorded once per intent; a due mail
//! goes to one claimant at a time, oldest first, its attempts counted; the
//! claimant alone records how it went; a sent or abandoned mail forgets its
//! token and is never claimed again; a retried one waits for its time; the
//! backlog counts what waits. Run it with
//! `outbox_contract!(async { <a fresh, empty MailOutbox> })`.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, DurationRound, Utc};
use futures::future::join_all;

use pointshare_domain::ports::MailOutbox;
use pointshare_domain::{
    DisplayName, Email, LeaseOwner, MailId, MailIntent, MailKind, MailMessage, MailToken, OutboxMail,
};

/// Expands to one `#[tokio::test]` per contract case, each on a fresh outbox from `$setup`.
#[macro_export]
macro_rules! outbox_contract {
    ($setup:expr) => {
        $crate::outbox_contract!(@cases $setup;
            a_mail_is_recorded_once_per_intent,
            due_mails_go_to_one_claimant_at_a_time_oldest_first,
            only_the_claimant_records_an_attempt_and_a_sent_mail_is_done,
            a_retried_mail_waits_for_its_time_and_an_abandoned_one_for_nothing,
            a_claim_that_ran_out_is_claimed_again,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let outbox: std::sync::Arc<dyn pointshare_domain::ports::MailOutbox> = $setup.await;
                $crate::contract::outbox::$case(outbox).await;
            }
        )+
    };
}

/// Now, to the millisecond a store keeps.
fn now() -> chrono::DateTime<Utc> {
    Utc::now().duration_trunc(Duration::milliseconds(1)).expect("in range")
}

fn mail(intent: &str, at: chrono::DateTime<Utc>) -> OutboxMail {
    let message = MailMessage {
        to: Email::parse("ada@example.com").expect("valid"),
        name: DisplayName::parse("Ada").expect("valid"),
        kind: MailKind::PasswordReset,
        token: Some(MailToken::new("a-one-use-token")),
        detail: None,
    };
    // Intents are unique across the store: each case's own.
    let intent = MailIntent::parse(format!("{intent}:{}", MailId::new())).expect("valid");
    OutboxMail::new(intent, message, at)
}

pub async fn a_mail_is_recorded_once_per_intent(outbox: Arc<dyn MailOutbox>) {
    let first = mail("reset", now());
    let again = OutboxMail { id: MailId::new(), ..first.clone() };
    let racers = (0..8).map(|_| {
        let (outbox, again) = (outbox.clone(), again.clone());
        async move { outbox.enqueue(&again).await.expect("up") }
    });
    assert!(outbox.enqueue(&first).await.expect("up"));
    assert!(join_all(racers).await.iter().all(|queued| !queued), "the same intent again queues nothing");
    let owner = LeaseOwner::unique("contract");
    let claimed = outbox.claim_due(&owner, now(), now() + Duration::seconds(30), 100).await.expect("up");
    assert_eq!(claimed.iter().filter(|m| m.intent == first.intent).count(), 1);
    let ours = claimed.iter().find(|m| m.intent == first.intent).expect("claimed");
    assert_eq!((ours.id, &ours.message, ours.attempts), (first.id, &first.message, 1), "read back as stored");
}

pub async fn due_mails_go_to_one_claimant_at_a_time_oldest_first(outbox: Arc<dyn MailOutbox>) {
    let start = now() - Duration::seconds(10);
    let mut ours = Vec::new();
    for n in 0..6 {
        let queued = mail("due", start + Duration::milliseconds(n));
        outbox.enqueue(&queued).await.expect("up");
        ours.push(queued.id);
    }
    let later = mail("later", now());
    let later = OutboxMail { next_attempt_at: now() + Duration::minutes(5), ..later };
    outbox.enqueue(&later).await.expect("up");
    // Racing claimants that lose every candidate they found get none this
    // round, as a replica's worker would; rounds go on until one claims nothing.
    let mut claims = Vec::new();
    for _round in 0..10 {
        let claimants = (0..4).map(|n| {
            let outbox = outbox.clone();
            async move {
                let owner = LeaseOwner::unique(&format!("claimant-{n}"));
                outbox.claim_due(&owner, now(), now() + Duration::seconds(30), 3).await.expect("up")
            }
        });
        let round = join_all(claimants).await;
        if round.iter().all(Vec::is_empty) {
            break;
        }
        claims.extend(round);
    }
    let claimed: Vec<_> = claims.iter().flatten().map(|m| m.id).collect();
    let distinct: BTreeSet<_> = claimed.iter().collect();
    assert_eq!(claimed.len(), distinct.len(), "no mail goes to two claimants");
    assert!(ours.iter().all(|id| distinct.contains(id)), "every due mail claimed");
    assert!(!distinct.contains(&later.id), "a mail waits for its next attempt");
    let first_claim: Vec<_> = claims.iter().find(|c| c.iter().any(|m| ours.contains(&m.id))).expect("one").clone();
    assert!(first_claim.windows(2).all(|w| (w[0].created_at, w[0].id) <= (w[1].created_at, w[1].id)), "oldest first");
}

pub async fn only_the_claimant_records_an_attempt_and_a_sent_mail_is_done(outbox: Arc<dyn MailOutbox>) {
    let queued = mail("sent", now() - Duration::seconds(1));
    outbox.enqueue(&queued).await.expect("up");
    let owner = LeaseOwner::unique("sender");
    let claimed = outbox.claim_due(&owner, now(), now() + Duration::seconds(30), 1000).await.expect("up");
    assert!(claimed.iter().any(|m| m.id == queued.id));
    let stranger = LeaseOwner::unique("stranger");
    assert!(!outbox.sent(queued.id, &stranger, now()).await.expect("up"), "not the stranger's to record");
    assert!(!outbox.failed(queued.id, &stranger, None, "x").await.expect("up"));
    assert!(outbox.sent(queued.id, &owner, now()).await.expect("up"));
    assert!(!outbox.sent(queued.id, &owner, now()).await.expect("up"), "recorded once");
    let later = now() + Duration::hours(1);
    let again = outbox.claim_due(&owner, later, later + Duration::seconds(30), 1000).await.expect("up");
    assert!(again.iter().all(|m| m.id != queued.id), "a sent mail is never claimed again");
}

pub async fn a_retried_mail_waits_for_its_time_and_an_abandoned_one_for_nothing(outbox: Arc<dyn MailOutbox>) {
    let retried = mail("retried", now() - Duration::seconds(2));
    let abandoned = mail("abandoned", now() - Duration::seconds(1));
    for queued in [&retried, &abandoned] {
        outbox.enqueue(queued).await.expect("up");
    }
    let owner = LeaseOwner::unique("sender");
    let claimed = outbox.claim_due(&owner, now(), now() + Duration::seconds(30), 1000).await.expect("up");
    assert!([retried.id, abandoned.id].iter().all(|id| claimed.iter().any(|m| m.id == *id)));
    let retry_at = now() + Duration::minutes(1);
    assert!(outbox.failed(retried.id, &owner, Some(retry_at), "421 busy").await.expect("up"));
    assert!(outbox.failed(abandoned.id, &owner, None, "550 no such mailbox").await.expect("up"));
    let (waiting, oldest) = outbox.backlog().await.expect("up");
    assert!(waiting >= 1 && oldest.is_some_and(|at| at <= retried.created_at), "the retried one waits");

    let soon = outbox.claim_due(&owner, now(), now() + Duration::seconds(30), 1000).await.expect("up");
    assert!(soon.iter().all(|m| m.id != retried.id && m.id != abandoned.id), "not before its time");
    let then = retry_at + Duration::seconds(1);
    let later = outbox.claim_due(&owner, then, then + Duration::seconds(30), 1000).await.expect("up");
    let again = later.iter().find(|m| m.id == retried.id).expect("claimed again at its time");
    assert_eq!((again.attempts, again.last_error.as_deref()), (2, Some("421 busy")));
    assert!(again.message.token.is_some(), "a mail still to send keeps its token");
    assert!(later.iter().all(|m| m.id != abandoned.id), "an abandoned mail is never claimed again");
    assert!(outbox.sent(retried.id, &owner, then).await.expect("up"));
}

pub async fn a_claim_that_ran_out_is_claimed_again(outbox: Arc<dyn MailOutbox>) {
    let queued = mail("lapsed", now() - Duration::seconds(1));
    outbox.enqueue(&queued).await.expect("up");
    let crashed = LeaseOwner::unique("crashed");
    let until = now() + Duration::seconds(30);
    let first = outbox.claim_due(&crashed, now(), until, 1000).await.expect("up");
    assert!(first.iter().any(|m| m.id == queued.id));
    let other = LeaseOwner::unique("other");
    let during = outbox.claim_due(&other, now(), now() + Duration::seconds(30), 1000).await.expect("up");
    assert!(during.iter().all(|m| m.id != queued.id), "not while the lease runs");
    let after = until + Duration::seconds(1);
    let taken = outbox.claim_due(&other, after, after + Duration::seconds(30), 1000).await.expect("up");
    let taken = taken.iter().find(|m| m.id == queued.id).expect("claimed once the lease ended");
    assert_eq!(taken.attempts, 2);
    assert!(!outbox.sent(queued.id, &crashed, after).await.expect("up"), "the old claimant holds it no more");
    assert!(outbox.sent(queued.id, &other, after).await.expect("up"));
}
