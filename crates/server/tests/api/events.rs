//! Members' events over Server-Sent Events: a share reaches the recipient's
//! open stream as it happens, a reconnect resumes without a gap, an old
//! `Last-Event-ID` gets a `reset`, streams are bounded, kept alive and end
//! with their access token; and a
//! 202's transfer is driven on in the background, so its event comes as soon
//! as the provider answers, with no recovery pass.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::helpers::{spawn_app, spawn_app_with};
use super::sse::{Event, EventStream};

const PATIENCE: Duration = Duration::from_secs(10);

fn share_to(handle: &str, amount: u64) -> Value {
    json!({"to_handle": handle, "amount": amount})
}

/// Events up to a `transfer` event of `id` in `state` and a `balance` event of
/// `balance`, in the order they came.
async fn until_settled(stream: &mut EventStream, id: &Value, state: &str, balance: u64) -> Vec<Event> {
    let (mut seen, mut settled, mut balanced) = (Vec::new(), false, false);
    while !(settled && balanced) {
        let event = stream.next(PATIENCE).await.expect("the stream goes on");
        settled |= event.name == "transfer" && &event.data["id"] == id && event.data["state"] == state;
        balanced |= event.name == "balance" && event.data["balance"] == balance;
        seen.push(event);
    }
    seen
}

#[tokio::test]
async fn a_recipient_sees_an_incoming_share_and_their_balance_live_and_a_reconnect_resumes_without_a_gap() {
    let app = spawn_app().await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let url = app.url("/v1/me/events");
    let mut stream = EventStream::open(&url, &bob, None).await.expect("a stream");
    assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");

    let shared = app.share(&alice, "live", share_to("bob", 25)).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    let seen = until_settled(&mut stream, &shared.body["id"], "completed", 10_025).await;
    let completed = seen.iter().find(|event| event.name == "transfer" && event.data["state"] == "completed");
    let path = format!("/v1/transfers/{}", shared.body["id"].as_str().expect("an id"));
    assert_eq!(completed.expect("completed").data, app.get(&path, Some(&bob)).await.body, "as GET shows it");
    assert!(seen.iter().all(|event| event.id.is_some()), "every event has an id: {seen:?}");

    // Dropped after the first event: a reconnect from it gets the rest again.
    drop(stream);
    let first = seen[0].id.clone().expect("an id");
    let mut resumed = EventStream::open(&url, &bob, Some(&first)).await.expect("a stream");
    assert_eq!(resumed.next(PATIENCE).await.expect("an event").name, "ready");
    let again = until_settled(&mut resumed, &shared.body["id"], "completed", 10_025).await;
    let ids = |events: &[Event]| events.iter().map(|event| event.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&again), ids(&seen[1..]), "the same events, none missed, none repeated");

    // The sender hears of it too, with her balance.
    let mut hers = EventStream::open(&url, &alice, Some(&first)).await.expect("a stream");
    until_settled(&mut hers, &shared.body["id"], "completed", 9_975).await;
}

#[tokio::test]
async fn a_last_event_id_past_the_retention_window_gets_a_reset_then_live_events() {
    let app = spawn_app().await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let url = app.url("/v1/me/events");
    let mut stream = EventStream::open(&url, &bob, Some("1-0")).await.expect("a stream");
    assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");
    let reset = stream.next(PATIENCE).await.expect("an event");
    assert_eq!(reset.name, "reset", "{reset:?}");
    assert!(reset.id.is_some(), "a reconnect resumes from the reset");
    let shared = app.share(&alice, "after-reset", share_to("bob", 5)).await;
    until_settled(&mut stream, &shared.body["id"], "completed", 10_005).await;

    let (status, problem) = EventStream::open(&url, &bob, Some("not-an-id")).await.expect_err("refused");
    assert_eq!((status.as_u16(), problem["code"].as_str()), (400, Some("invalid_last_event_id")));
    let (status, problem) = EventStream::open(&url, "not-a-token", None).await.expect_err("refused");
    assert_eq!((status.as_u16(), problem["code"].as_str()), (401, Some("unauthenticated")));
}

#[tokio::test]
async fn a_stream_ends_when_its_access_token_expires_and_a_fresh_token_opens_another() {
    // Long enough to log in and open the stream on a busy machine.
    let app = spawn_app_with(|s| s.auth.token_ttl = Duration::from_secs(4)).await;
    let bob = app.demo("bob").await;
    let url = app.url("/v1/me/events");
    let mut stream = EventStream::open(&url, &bob, None).await.expect("a stream");
    assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");
    assert!(stream.next(PATIENCE).await.is_none(), "the stream ends with its token");
    let (status, problem) = EventStream::open(&url, &bob, None).await.expect_err("the token has expired");
    assert_eq!((status.as_u16(), problem["code"].as_str()), (401, Some("token_expired")));
    let fresh = app.demo("bob").await;
    let mut again = EventStream::open(&url, &fresh, None).await.expect("a stream");
    assert_eq!(again.next(PATIENCE).await.expect("an event").name, "ready");
}

#[tokio::test]
async fn streams_per_member_are_bounded_and_idle_ones_send_heartbeats() {
    let app = spawn_app_with(|s| {
        s.events.streams_per_member = 1;
        s.events.heartbeat = Duration::from_millis(100);
    })
    .await;
    let bob = app.demo("bob").await;
    let url = app.url("/v1/me/events");
    let mut first = EventStream::open(&url, &bob, None).await.expect("a stream");
    assert_eq!(first.next(PATIENCE).await.expect("an event").name, "ready");
    let (status, problem) = EventStream::open(&url, &bob, None).await.expect_err("one per member here");
    assert_eq!((status.as_u16(), problem["code"].as_str()), (429, Some("too_many_streams")));
    let alice = app.demo("alice").await;
    EventStream::open(&url, &alice, None).await.expect("others have their own");

    first.idle(Duration::from_millis(550)).await;
    assert!(first.comments >= 3, "heartbeats while idle: {}", first.comments);
    drop(first);
    // The server notices the closed stream at its next heartbeat.
    let mut reopened = false;
    for _ in 0..50 {
        if EventStream::open(&url, &bob, None).await.is_ok() {
            reopened = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reopened, "a closed stream gives its slot back");
}

#[tokio::test]
async fn a_stream_the_client_closes_gives_its_slot_back_at_once_not_at_the_next_heartbeat() {
    let app = spawn_app_with(|s| s.events.streams_per_member = 1).await;
    let bob = app.demo("bob").await;
    let url = app.url("/v1/me/events");
    // The one slot, within 2 s: the default heartbeat is 15 s away.
    let open = || async {
        let started = std::time::Instant::now();
        loop {
            match EventStream::open(&url, &bob, None).await {
                Ok(stream) => return stream,
                Err(refused) if started.elapsed() < Duration::from_secs(2) => {
                    assert_eq!(refused.0, StatusCode::TOO_MANY_REQUESTS);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(refused) => panic!("the closed stream still holds the slot: {refused:?}"),
            }
        }
    };
    for _ in 0..3 {
        let mut stream = open().await;
        assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");
        drop(stream);
    }
}

#[tokio::test]
async fn a_share_answered_202_completes_as_soon_as_the_provider_answers_without_recovery() {
    let app = spawn_app_with(|s| {
        // A share takes two calls, 1.4 s: past the deadline, and past what
        // the request's lease leaves for calls (2 s less the 1 s clock skew),
        // so the follow-up renews the lease to make the credit.
        s.embedded.provider_latency = Duration::from_millis(700);
        s.http.request_deadline = Duration::from_secs(1);
        // No recovery pass: only the follow-up can finish the transfer.
        s.recovery.interval = Duration::ZERO;
    })
    .await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let mut stream = EventStream::open(&app.url("/v1/me/events"), &bob, None).await.expect("a stream");
    assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");
    let shared = app.share(&alice, "slow", share_to("bob", 10)).await;
    assert_eq!(shared.status, StatusCode::ACCEPTED, "{:?}", shared.body);
    assert_eq!(shared.body["state"], "processing");
    until_settled(&mut stream, &shared.body["id"], "completed", 10_010).await;
    let path = format!("/v1/transfers/{}", shared.body["id"].as_str().expect("an id"));
    assert_eq!(app.get(&path, Some(&alice)).await.body["state"], "completed");
}

#[tokio::test]
async fn without_follow_ups_a_202_waits_for_recovery() {
    let app = spawn_app_with(|s| {
        s.embedded.provider_latency = Duration::from_millis(700);
        s.http.request_deadline = Duration::from_secs(1);
        s.saga.clock_skew = Duration::from_millis(100);
        s.recovery.interval = Duration::ZERO;
        s.saga.followup_limit = 0;
    })
    .await;
    let alice = app.demo("alice").await;
    let shared = app.share(&alice, "slow", share_to("bob", 10)).await;
    assert_eq!(shared.status, StatusCode::ACCEPTED, "{:?}", shared.body);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let path = format!("/v1/transfers/{}", shared.body["id"].as_str().expect("an id"));
    assert_eq!(app.get(&path, Some(&alice)).await.body["state"], "processing", "nobody drove it on");
}

#[tokio::test]
async fn with_events_turned_off_shares_still_complete_and_the_stream_says_why_it_is_refused() {
    let app = spawn_app_with(|s| s.events.publish = false).await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let shared = app.share(&alice, "unannounced", share_to("bob", 5)).await;
    assert_eq!((shared.status, shared.body["state"].as_str()), (StatusCode::CREATED, Some("completed")));
    let (status, problem) = EventStream::open(&app.url("/v1/me/events"), &bob, None).await.expect_err("refused");
    assert_eq!((status.as_u16(), problem["code"].as_str()), (404, Some("events_disabled")), "{problem}");
    assert_eq!(app.get("/v1/me/balance", Some(&bob)).await.body["balance"], 10_005, "read instead");
}
