//! Admission control as a client meets it in a spike: past a replica's
//! bound for work that waits on the provider, a share is refused at once
//! with 503 `overloaded` and `Retry-After`, while what waits on something
//! else (history, health, event streams) is still served.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app_with;
use crate::sse::EventStream;

#[tokio::test]
async fn past_its_bound_a_replica_refuses_provider_work_at_once_and_keeps_serving_the_rest() {
    let app = spawn_app_with(|s| {
        s.admission.provider_bound = 1;
        // A share's two provider calls hold the one place for about three seconds.
        s.embedded.provider_latency = Duration::from_millis(1500);
    })
    .await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let slow = app.share(&alice, "holds-the-place", json!({"to_handle": "bob", "amount": 1}));
    let meanwhile = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let refused = app.share(&bob, "refused", json!({"to_handle": "alice", "amount": 1})).await;
        refused.problem(503, "overloaded");
        assert_eq!(refused.headers["retry-after"], "1");
        app.get("/v1/me/balance", Some(&bob)).await.problem(503, "overloaded");
        assert_eq!(app.get("/v1/transfers", Some(&bob)).await.status, StatusCode::OK, "history waits on the store");
        assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK);
        let mut stream = EventStream::open(&app.url("/v1/me/events"), &bob, None).await.expect("a stream");
        assert_eq!(stream.next(Duration::from_secs(5)).await.expect("an event").name, "ready");
    };
    let (slow, ()) = tokio::join!(slow, meanwhile);
    assert_eq!(slow.status, StatusCode::CREATED, "the admitted share completes: {:?}", slow.body);

    let after = app.share(&bob, "after", json!({"to_handle": "alice", "amount": 1})).await;
    assert_eq!(after.status, StatusCode::CREATED, "the place is free again: {:?}", after.body);
    let metrics = app.internal_text("/metrics").await;
    let refused =
        metrics.lines().find(|line| line.starts_with(r#"pointshare_admission_refused_total{class="provider"}"#));
    let refused: f64 = refused.and_then(|line| line.rsplit(' ').next()?.parse().ok()).expect("the series is exported");
    assert!(refused >= 2.0, "operators see the refusals: {refused}");
}
