//! The `AuditLog` contract: records read back as stored, in chain order; one
//! record per place and per act, however many writers race; pages filter and
//! run newest first without gap or repeat. Run it with
//! `audit_contract!(async { <a fresh, empty AuditLog> })`.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{Duration, Utc};
use futures::future::join_all;

use pointshare_domain::ports::{AppendError, AuditFilter, AuditLog, SystemClock};
use pointshare_domain::services::AuditService;
use pointshare_domain::{
    Actor, AuditAction, AuditEntry, AuditRecord, AuditTarget, MemberId, OperatorName, Reason, TransferId,
};

/// Expands to one `#[tokio::test]` per contract case, each on a fresh log from `$setup`.
#[macro_export]
macro_rules! audit_contract {
    ($setup:expr) => {
        $crate::audit_contract!(@cases $setup;
            records_read_back_in_chain_order,
            a_place_in_the_chain_is_taken_once,
            an_act_is_recorded_once,
            racing_writers_make_one_unbroken_chain,
            pages_filter_and_run_newest_first_without_gap_or_repeat,
        );
    };
    (@cases $setup:expr; $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let log: std::sync::Arc<dyn pointshare_domain::ports::AuditLog> = $setup.await;
                $crate::contract::audit::$case(log).await;
            }
        )+
    };
}

fn operator() -> Actor {
    Actor::Operator(OperatorName::parse("ops").expect("valid"))
}

fn entry(actor: Actor, action: AuditAction, target: AuditTarget, act: &str) -> AuditEntry {
    AuditEntry {
        actor,
        action,
        target,
        before: Some("member".into()),
        after: Some("admin".into()),
        reason: Some(Reason::parse("the contract says so").expect("valid")),
        request_id: Some("req-1".into()),
        client: Some("192.0.2.1".into()),
        caused: None,
        act: act.to_owned(),
    }
}

fn role_change(act: &str) -> AuditEntry {
    entry(operator(), AuditAction::RoleChange, AuditTarget::Member(MemberId::new()), act)
}

pub async fn records_read_back_in_chain_order(log: Arc<dyn AuditLog>) {
    assert_eq!(log.last().await.expect("reads"), None);
    let first = AuditRecord::chain(role_change("a"), 1, Utc::now(), None);
    log.append(&first).await.expect("appends");
    let mut second = AuditRecord::chain(role_change("b"), 2, Utc::now(), Some(&first));
    second.entry.before = None;
    second.entry.reason = None;
    second.entry.request_id = None;
    second.entry.client = None;
    second.entry.caused = Some(TransferId::new().to_string());
    let second = AuditRecord::chain(second.entry, 2, second.at, Some(&first));
    log.append(&second).await.expect("appends");
    assert_eq!(log.last().await.expect("reads"), Some(second.clone()));
    assert_eq!(log.scan(0, 10).await.expect("reads"), vec![first.clone(), second.clone()], "as stored, fields and all");
    assert_eq!(log.scan(1, 10).await.expect("reads"), vec![second.clone()]);
    assert_eq!(log.scan(0, 1).await.expect("reads"), vec![first.clone()]);
    assert!(first.follows(None) && second.follows(Some(&first)), "what is read back still hashes the same");
}

pub async fn a_place_in_the_chain_is_taken_once(log: Arc<dyn AuditLog>) {
    let first = AuditRecord::chain(role_change("first"), 1, Utc::now(), None);
    log.append(&first).await.expect("appends");
    let rival = AuditRecord::chain(role_change("rival"), 1, Utc::now(), None);
    assert!(matches!(log.append(&rival).await, Err(AppendError::SeqTaken(1))));
    assert_eq!(log.scan(0, 10).await.expect("reads"), vec![first]);
}

pub async fn an_act_is_recorded_once(log: Arc<dyn AuditLog>) {
    let first = AuditRecord::chain(role_change("grant:once"), 1, Utc::now(), None);
    log.append(&first).await.expect("appends");
    let again = AuditRecord::chain(role_change("grant:once"), 2, Utc::now(), Some(&first));
    match log.append(&again).await {
        Err(AppendError::Recorded(held)) => assert_eq!(*held, first),
        other => panic!("the same act twice: {other:?}"),
    }
    assert_eq!(log.scan(0, 10).await.expect("reads").len(), 1);
}

pub async fn racing_writers_make_one_unbroken_chain(log: Arc<dyn AuditLog>) {
    let audit = Arc::new(AuditService::new(log.clone(), Arc::new(SystemClock)));
    let writers = (0..16).map(|n| {
        let audit = audit.clone();
        async move { audit.record(role_change(&format!("racer-{n}"))).await.expect("records") }
    });
    let recorded = join_all(writers).await;
    let seqs: BTreeSet<u64> = recorded.iter().map(|record| record.seq).collect();
    assert_eq!(seqs, (1..=16).collect(), "every writer got its own place, none left empty");
    let report = audit.verify(5).await.expect("walks the chain");
    assert_eq!((report.records, report.first_break), (16, None));
    // Recording an act again answers with its record.
    let again = audit.record(role_change("racer-3")).await.expect("records");
    assert_eq!(Some(&again), recorded.iter().find(|record| record.entry.act == "racer-3"));
    assert_eq!(audit.verify(100).await.expect("walks").records, 16);
}

pub async fn pages_filter_and_run_newest_first_without_gap_or_repeat(log: Arc<dyn AuditLog>) {
    let audit = AuditService::new(log, Arc::new(SystemClock));
    let admin = Actor::Member(MemberId::new());
    let alice = AuditTarget::Member(MemberId::new());
    for n in 0..7 {
        let (actor, action) =
            if n % 2 == 0 { (admin.clone(), AuditAction::StatusChange) } else { (operator(), AuditAction::RoleChange) };
        let target = if n < 3 { alice } else { AuditTarget::Member(MemberId::new()) };
        audit.record(entry(actor, action, target, &format!("page-{n}"))).await.expect("records");
    }
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = audit.page(&AuditFilter::default(), before, 3).await.expect("a page");
        seen.extend(page.items.iter().map(|record| record.seq));
        match page.next_before {
            Some(next) => before = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, vec![7, 6, 5, 4, 3, 2, 1], "newest first, each once");
    let seqs = |filter: AuditFilter| {
        let audit = &audit;
        async move {
            let page = audit.page(&filter, None, 100).await.expect("a page");
            page.items.iter().map(|record| record.seq).collect::<Vec<_>>()
        }
    };
    assert_eq!(seqs(AuditFilter { actor: Some(admin), ..AuditFilter::default() }).await, vec![7, 5, 3, 1]);
    assert_eq!(seqs(AuditFilter { target: Some(alice), ..AuditFilter::default() }).await, vec![3, 2, 1]);
    let roles = AuditFilter { action: Some(AuditAction::RoleChange), ..AuditFilter::default() };
    assert_eq!(seqs(roles).await, vec![6, 4, 2]);
    let later = AuditFilter { since: Some(Utc::now() + Duration::hours(1)), ..AuditFilter::default() };
    assert_eq!(seqs(later).await, Vec::<u64>::new());
    let earlier = AuditFilter { until: Some(Utc::now() + Duration::hours(1)), ..AuditFilter::default() };
    assert_eq!(seqs(earlier).await.len(), 7);
}
