//! What goes wrong on a real wire, and what the adapter makes of it: 5xx and
//! 429 retried, unknown outcomes resolved by replay, malformed answers and
//! refused connections reported, the retry budget and the breaker holding.

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use pointshare_domain::ports::{Deadline, Movement, PointsProvider, ProviderError, Rejection};
use pointshare_domain::{HolderRef, Points, ProviderAccountId, ProviderReference};
use pointshare_provider_http::{BreakerState, HttpProvider, HttpProviderSettings};
use pointshare_provider_sim::SimConfig;
use pointshare_testkit::{Fault, Operation};
use tokio::time::Instant;

use crate::{SimProvider, sim_provider, sim_provider_with};

fn deadline() -> Deadline {
    Deadline::after(Duration::from_secs(10))
}

fn funded(subject: &SimProvider, balance: u64) -> ProviderAccountId {
    let holder = HolderRef::parse(format!("h-{}", rand::random::<u64>())).expect("valid holder");
    subject.sim.ledger().open_account(&holder, balance).0.account_id
}

fn debit_of(account: &ProviderAccountId, amount: u64) -> Movement {
    Movement {
        account: account.clone(),
        reference: ProviderReference::parse(format!("t-{}:debit", rand::random::<u64>())).expect("valid reference"),
        amount: Points::new(amount).expect("valid amount"),
        memo: None,
    }
}

fn balance(subject: &SimProvider, account: &ProviderAccountId) -> u64 {
    subject.sim.ledger().account(account).expect("exists").balance
}

#[tokio::test]
async fn server_errors_are_retried_until_the_provider_answers() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Debit, 2, Fault::Transient);
    let transaction = subject.http.debit(&debit_of(&account, 4), deadline()).await.expect("the third attempt applies");
    assert_eq!(transaction.balance_after, 6);
    assert_eq!(subject.sim.faults().calls(Operation::Debit), 3);
    assert_eq!(balance(&subject, &account), 6);
}

#[tokio::test]
async fn a_429_is_retried_no_sooner_than_retry_after() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Account, 1, Fault::RateLimited(Duration::from_secs(1)));
    let started = Instant::now();
    subject.http.account(&account, deadline()).await.expect("answers after waiting");
    assert!(started.elapsed() >= Duration::from_secs(1), "waited {:?}", started.elapsed());
    assert_eq!(subject.sim.faults().calls(Operation::Account), 2);
}

#[tokio::test]
async fn a_retry_after_beyond_the_deadline_gives_up_at_once() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Account, 1, Fault::RateLimited(Duration::from_secs(30)));
    let answer = subject.http.account(&account, Deadline::after(Duration::from_secs(2))).await;
    let Err(ProviderError::Transient { retry_after, .. }) = answer else {
        panic!("expected transient, got {answer:?}")
    };
    assert_eq!(retry_after, Some(Duration::from_secs(30)));
    assert_eq!(subject.sim.faults().calls(Operation::Account), 1);
}

#[tokio::test]
async fn an_applied_but_unanswered_debit_is_retried_to_its_replay_and_applied_once() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Debit, 1, Fault::ApplyThenTimeout);
    let debit = debit_of(&account, 4);
    let transaction = subject.http.debit(&debit, deadline()).await.expect("the retry gets the replay");
    assert_eq!(transaction.balance_after, 6);
    assert_eq!(subject.sim.faults().calls(Operation::Debit), 2);
    assert_eq!(balance(&subject, &account), 6);
    let applied = subject.sim.ledger().transactions().into_iter().filter(|t| t.reference == debit.reference).count();
    assert_eq!(applied, 1);
}

#[tokio::test]
async fn a_debit_past_the_deadline_is_reported_unknown_in_time() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Debit, 10, Fault::ApplyThenTimeout);
    let started = Instant::now();
    let answer = subject.http.debit(&debit_of(&account, 4), Deadline::after(Duration::from_millis(500))).await;
    assert!(matches!(answer, Err(ProviderError::OutcomeUnknown(_))), "{answer:?}");
    assert!(started.elapsed() < Duration::from_secs(2), "outlived its deadline: {:?}", started.elapsed());
    assert_eq!(balance(&subject, &account), 6, "applied once however many attempts timed out");
}

#[tokio::test]
async fn a_refusal_after_an_attempt_that_may_still_land_is_reported_unknown() {
    let subject = sim_provider().await;
    let account = funded(&subject, 10);
    // The first attempt goes unanswered; the retry is refused. The refusal
    // says nothing of the first attempt, which the provider may yet apply.
    subject.sim.faults().fail_next(Operation::Debit, 1, Fault::TimeoutWithoutApply);
    subject.sim.faults().fail_next(Operation::Debit, 1, Fault::Reject(Rejection::InsufficientFunds));
    let answer = subject.http.debit(&debit_of(&account, 4), deadline()).await;
    assert!(
        matches!(answer, Err(ProviderError::OutcomeUnknown(ref why)) if why.contains("may still land")),
        "{answer:?}"
    );
    assert_eq!(subject.sim.faults().calls(Operation::Debit), 2);

    // A refusal after a 429 (never taken up) is a refusal.
    subject.sim.faults().fail_next(Operation::Debit, 1, Fault::RateLimited(Duration::from_secs(1)));
    subject.sim.faults().fail_next(Operation::Debit, 1, Fault::Reject(Rejection::InsufficientFunds));
    let answer = subject.http.debit(&debit_of(&account, 4), deadline()).await;
    assert!(matches!(answer, Err(ProviderError::Rejected(Rejection::InsufficientFunds))), "{answer:?}");
}

#[tokio::test]
async fn a_refused_connection_is_transient_not_unknown() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = listener.local_addr().expect("bound");
    drop(listener);
    let settings = HttpProviderSettings::new(format!("http://{addr}").parse().expect("valid url"), "key");
    let http = HttpProvider::new(settings).expect("valid settings");
    let account = ProviderAccountId::parse("acc_1").expect("valid id");
    let answer = http.debit(&debit_of(&account, 1), Deadline::after(Duration::from_millis(300))).await;
    let Err(ProviderError::Transient { message, .. }) = answer else { panic!("expected transient, got {answer:?}") };
    assert!(message.contains("cannot connect"), "{message}");
}

/// A provider that answers with whatever body `route` gives, to see the adapter meet nonsense.
async fn misbehaving_provider(router: Router) -> HttpProvider {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let url = format!("http://{}", listener.local_addr().expect("bound"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    HttpProvider::new(HttpProviderSettings::new(url.parse().expect("valid url"), "key")).expect("valid settings")
}

#[tokio::test]
async fn malformed_answers_are_unexpected_errors_with_context() {
    let other = r#"{"transaction_id":"txn_1","reference":"someone-else","account_id":"acc_1","kind":"debit",
        "amount":1,"balance_after":0,"created_at":"2026-11-24T10:00:00Z"}"#;
    let http = misbehaving_provider(
        Router::new()
            .route("/v1/accounts/{id}", get(|| async { "this is not json" }))
            .route(
                "/v1/accounts/{id}/debits",
                post(move || async move { ([("content-type", "application/json")], other) }),
            )
            .route("/v1/accounts/{id}/credits", post(|| async { (axum::http::StatusCode::IM_A_TEAPOT, "{}") })),
    )
    .await;
    let account = ProviderAccountId::parse("acc_1").expect("valid id");
    let cases = [
        (http.account(&account, deadline()).await.map(|_| ()), "malformed 200 OK answer to account"),
        (http.debit(&debit_of(&account, 1), deadline()).await.map(|_| ()), "another movement"),
        (http.credit(&debit_of(&account, 1), deadline()).await.map(|_| ()), "418"),
    ];
    for (answer, context) in cases {
        let Err(ProviderError::Unexpected(error)) = answer else { panic!("expected unexpected, got {answer:?}") };
        assert!(format!("{error:#}").contains(context), "{error:#} should mention {context}");
    }
}

#[tokio::test]
async fn a_wrong_api_key_is_unexpected_and_not_retried() {
    let subject =
        sim_provider_with(SimConfig { api_key: "the-right-key".into(), ..SimConfig::default() }, |_| {}).await;
    let account = funded(&subject, 10);
    let answer = subject.http.account(&account, deadline()).await;
    let Err(ProviderError::Unexpected(error)) = answer else { panic!("expected unexpected, got {answer:?}") };
    assert!(error.to_string().contains("401"), "{error}");
}

#[tokio::test]
async fn the_retry_budget_stops_a_retry_storm() {
    let subject = sim_provider_with(SimConfig::default(), |settings| {
        settings.calls.retry.budget_ratio = 0.0;
        settings.calls.retry.budget_min_per_second = 1;
        settings.calls.retry.budget_window = Duration::from_secs(1);
    })
    .await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Debit, 100, Fault::Transient);
    let answer = subject.http.debit(&debit_of(&account, 1), deadline()).await;
    assert!(matches!(answer, Err(ProviderError::Transient { .. })), "{answer:?}");
    assert_eq!(subject.sim.faults().calls(Operation::Debit), 2, "one attempt and the one retry the budget holds");
}

#[tokio::test]
async fn the_breaker_opens_after_sustained_failures_and_closes_when_the_provider_recovers() {
    let subject = sim_provider_with(SimConfig::default(), |settings| {
        settings.calls.breaker.consecutive_failures = 3;
        settings.calls.breaker.cool_down = Duration::from_millis(300);
    })
    .await;
    let account = funded(&subject, 10);
    assert_eq!(subject.http.breaker_state(), BreakerState::Closed);
    subject.sim.faults().fail_next(Operation::Account, 3, Fault::Transient);

    let answer = subject.http.account(&account, deadline()).await;
    let Err(ProviderError::Transient { message, .. }) = answer else { panic!("expected transient, got {answer:?}") };
    assert!(message.contains("circuit breaker open"), "{message}");
    assert_eq!(subject.http.breaker_state(), BreakerState::Open);
    assert_eq!(subject.sim.faults().calls(Operation::Account), 3);

    // Open: calls fail fast without reaching the provider.
    assert!(subject.http.account(&account, deadline()).await.is_err());
    assert_eq!(subject.sim.faults().calls(Operation::Account), 3);

    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(subject.http.breaker_state(), BreakerState::HalfOpen);
    subject.http.account(&account, deadline()).await.expect("the probe reaches the recovered provider");
    assert_eq!(subject.http.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn a_failed_probe_opens_the_breaker_again() {
    let subject = sim_provider_with(SimConfig::default(), |settings| {
        settings.calls.breaker.consecutive_failures = 1;
        settings.calls.breaker.cool_down = Duration::from_millis(200);
        settings.calls.retry.budget_ratio = 0.0;
        settings.calls.retry.budget_min_per_second = 0;
    })
    .await;
    let account = funded(&subject, 10);
    subject.sim.faults().fail_next(Operation::Account, 2, Fault::Transient);
    assert!(subject.http.account(&account, deadline()).await.is_err());
    assert_eq!(subject.http.breaker_state(), BreakerState::Open);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(subject.http.account(&account, deadline()).await.is_err(), "the probe meets the second fault");
    assert_eq!(subject.http.breaker_state(), BreakerState::Open);
}

#[test]
fn attempts_retries_and_breaker_state_are_measured() {
    use metrics_util::debugging::{DebugValue, DebuggingRecorder};

    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a runtime");
        runtime.block_on(async {
            let subject = sim_provider().await;
            let account = funded(&subject, 10);
            subject.sim.faults().fail_next(Operation::Debit, 2, Fault::Transient);
            subject.http.debit(&debit_of(&account, 1), deadline()).await.expect("applies");
        });
    });
    let metrics: Vec<_> = snapshotter.snapshot().into_vec();
    let find = |name: &str, labels: &[(&str, &str)]| {
        metrics.iter().find(|(key, _, _, _)| {
            key.key().name() == name
                && labels.iter().all(|(k, v)| key.key().labels().any(|l| l.key() == *k && l.value() == *v))
        })
    };
    let counter = |name: &str, labels: &[(&str, &str)]| match find(name, labels) {
        Some((_, _, _, DebugValue::Counter(value))) => *value,
        other => panic!("no counter {name} {labels:?}: {other:?}"),
    };
    let debit = ("operation", "debit");
    assert_eq!(counter("pointshare_provider_calls_total", &[debit, ("outcome", "transient")]), 2);
    assert_eq!(counter("pointshare_provider_calls_total", &[debit, ("outcome", "ok")]), 1);
    assert_eq!(counter("pointshare_provider_retries_total", &[debit]), 2);
    match find("pointshare_provider_call_duration_seconds", &[debit]) {
        Some((_, _, _, DebugValue::Histogram(samples))) => assert_eq!(samples.len(), 3),
        other => panic!("no latency histogram: {other:?}"),
    }
    match find("pointshare_provider_breaker_state", &[]) {
        Some((_, _, _, DebugValue::Gauge(state))) => assert_eq!(state.into_inner(), 0.0),
        other => panic!("no breaker gauge: {other:?}"),
    }
}

#[test]
fn invalid_settings_are_refused_naming_the_setting() {
    let mut settings = HttpProviderSettings::new("http://127.0.0.1:9100".parse().expect("valid url"), "key");
    settings.calls.call_timeout = Duration::ZERO;
    let error = HttpProvider::new(settings).expect_err("a zero timeout is refused");
    assert!(error.to_string().contains("call_timeout"), "{error}");
    let settings = HttpProviderSettings::new("ftp://example.invalid/".parse().expect("valid url"), "key");
    let error = HttpProvider::new(settings).expect_err("ftp is refused");
    assert!(error.to_string().contains("setting url"), "{error}");
    let settings = HttpProviderSettings::new("http://127.0.0.1:9100".parse().expect("valid url"), "two words");
    let error = HttpProvider::new(settings).expect_err("a key with a space is refused");
    assert!(error.to_string().contains("api_key"), "{error}");
}
