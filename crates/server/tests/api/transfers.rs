//! Sharing and granting points, and reading transfers back.

use std::collections::HashSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use pointshare_domain::Points;

use crate::helpers::{spawn_app, spawn_app_with};

fn share_to(handle: &str, amount: u64) -> Value {
    json!({"to_handle": handle, "amount": amount, "memo": "thanks"})
}

#[tokio::test]
async fn a_share_moves_points_and_answers_201_completed() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let bob = app.demo("bob").await;
    let answer = app.share(&alice, "k-1", share_to("bob", 250)).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert_eq!(answer.body["state"], "completed");
    assert_eq!((answer.body["from_handle"].as_str(), answer.body["to_handle"].as_str()), (Some("alice"), Some("bob")));
    assert_eq!((answer.body["amount"].as_u64(), answer.body["memo"].as_str()), (Some(250), Some("thanks")));
    let id = answer.body["id"].as_str().expect("an id");
    assert_eq!(answer.headers["location"], format!("/v1/transfers/{id}").as_str());
    assert_eq!((app.balance(&alice).await, app.balance(&bob).await), (9_750, 10_250));
    let seen_by_bob = app.get(&format!("/v1/transfers/{id}"), Some(&bob)).await;
    assert_eq!(seen_by_bob.body, answer.body);
}

#[tokio::test]
async fn a_repeated_request_answers_with_the_first_transfer_and_moves_nothing_more() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let first = app.share(&alice, "same-key", share_to("bob", 100)).await;
    let again = app.share(&alice, "same-key", share_to("bob", 100)).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.body["id"], first.body["id"]);
    assert_eq!(app.balance(&alice).await, 9_900);
    app.share(&alice, "same-key", share_to("bob", 101)).await.problem(409, "idempotency_key_reused");
}

#[tokio::test]
async fn refusals_are_problems_the_frontend_can_act_on() {
    let app = spawn_app_with(|s| {
        s.limits.max_per_transfer = Points::new(5_000).expect("valid");
        s.limits.max_per_day = 6_000;
    })
    .await;
    let alice = app.demo("alice").await;
    app.share(&alice, "a", share_to("alice", 1)).await.problem(422, "self_transfer");
    app.share(&alice, "b", share_to("nobody_here", 1)).await.problem(422, "recipient_not_found");
    app.share(&alice, "c", share_to("bob", 5_001)).await.problem(422, "limit_exceeded");
    let zero = app.share(&alice, "d", share_to("bob", 0)).await;
    zero.problem(422, "validation_failed");
    assert_eq!(zero.body["field"], "amount");
    let no_key = app
        .client
        .post(app.url("/v1/transfers"))
        .bearer_auth(&alice)
        .json(&share_to("bob", 1))
        .send()
        .await
        .expect("answers");
    crate::helpers::Answer::of(no_key).await.problem(400, "idempotency_key_required");

    assert_eq!(app.share(&alice, "e", share_to("bob", 5_000)).await.status, StatusCode::CREATED);
    let over_day = app.share(&alice, "f", share_to("bob", 1_500)).await;
    over_day.problem(422, "limit_exceeded");
    assert!(over_day.body["transfer_id"].is_string());
    assert_eq!(over_day.body["limit"], 6_000, "the daily limit, as a number");

    let carol = app.member("carol").await;
    let broke = app.share(&carol, "g", share_to("bob", 1)).await;
    broke.problem(422, "insufficient_funds");
    let declined =
        app.get(&format!("/v1/transfers/{}", broke.body["transfer_id"].as_str().expect("id")), Some(&carol)).await;
    assert_eq!(
        (declined.body["state"].as_str(), declined.body["decline_reason"].as_str()),
        (Some("rejected"), Some("insufficient_funds"))
    );
}

#[tokio::test]
async fn past_the_deadline_a_share_answers_202_and_recovery_completes_it() {
    let app = spawn_app_with(|s| {
        s.embedded.provider_latency = Duration::from_millis(700);
        s.http.request_deadline = Duration::from_millis(500);
        s.recovery.interval = Duration::from_millis(200);
        // Recovery alone: the safety net behind follow-ups.
        s.saga.followup_limit = 0;
    })
    .await;
    let alice = app.demo("alice").await;
    let answer = app.share(&alice, "slow", share_to("bob", 10)).await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{:?}", answer.body);
    assert_eq!(answer.body["state"], "processing");
    assert_eq!(answer.headers.get("retry-after").and_then(|v| v.to_str().ok()), Some("1"), "when to look again");
    let location = answer.headers.get("location").and_then(|v| v.to_str().ok()).expect("where to look");
    assert_eq!(location, format!("/v1/transfers/{}", answer.body["id"].as_str().expect("an id")));
    let path = format!("/v1/transfers/{}", answer.body["id"].as_str().expect("an id"));
    assert_eq!(app.settled_state(&path, &alice).await, "completed");
}

#[tokio::test]
async fn a_client_that_prefers_not_to_wait_gets_202_at_once_and_the_share_still_completes() {
    let app = spawn_app_with(|s| s.embedded.provider_latency = Duration::from_millis(300)).await;
    let alice = app.demo("alice").await;
    let prefer = |key: &str, preference: &str| {
        let request = app.client.post(app.url("/v1/transfers")).bearer_auth(&alice).header("Idempotency-Key", key);
        request.header("Prefer", preference).json(&share_to("bob", 10)).send()
    };
    for (key, preference, applied) in [("async", "respond-async", "respond-async"), ("briefly", "wait=0", "wait=0")] {
        let answer = crate::helpers::Answer::of(prefer(key, preference).await.expect("answers")).await;
        assert_eq!((answer.status, answer.body["state"].as_str()), (StatusCode::ACCEPTED, Some("processing")));
        let followed = answer.headers.get("preference-applied").and_then(|v| v.to_str().ok());
        assert_eq!(followed, Some(applied), "says which preference it followed");
        let path = format!("/v1/transfers/{}", answer.body["id"].as_str().expect("an id"));
        assert_eq!(app.settled_state(&path, &alice).await, "completed", "driven on after the answer ({preference})");
    }
    // A wait longer than the server's deadline, or a preference it does not know, changes nothing.
    let answer =
        crate::helpers::Answer::of(prefer("patient", "wait=3600, handling=lenient").await.expect("answers")).await;
    assert_eq!((answer.status, answer.body["state"].as_str()), (StatusCode::CREATED, Some("completed")));
    assert_eq!(answer.headers.get("preference-applied"), None);
    assert_eq!(app.balance(&alice).await, 10_000 - 30);
}

#[tokio::test]
async fn only_the_sender_and_recipient_see_a_transfer() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let id = app.share(&alice, "k", share_to("bob", 1)).await.body["id"].as_str().expect("an id").to_owned();
    let stranger = app.member("mallory").await;
    app.get(&format!("/v1/transfers/{id}"), Some(&stranger)).await.problem(404, "transfer_not_found");
    app.get("/v1/transfers/not-an-id", Some(&alice)).await.problem(404, "transfer_not_found");
    let page = app.get("/v1/transfers", Some(&stranger)).await;
    assert_eq!(page.body["items"], json!([]));
}

#[tokio::test]
async fn history_pages_run_newest_first_without_gap_or_repeat() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    for n in 0..5 {
        assert_eq!(app.share(&alice, &format!("h{n}"), share_to("bob", n + 1)).await.status, StatusCode::CREATED);
    }
    let (mut seen, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v1/transfers?limit=2&cursor={cursor}"),
            None => "/v1/transfers?limit=2".to_owned(),
        };
        let page = app.get(&path, Some(&alice)).await;
        assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
        pages += 1;
        for item in page.body["items"].as_array().expect("items") {
            seen.push((
                item["created_at"].as_str().expect("a time").to_owned(),
                item["id"].as_str().expect("an id").to_owned(),
            ));
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "five shares and the demo grant");
    assert_eq!(seen.iter().map(|(_, id)| id).collect::<HashSet<_>>().len(), 6);
    assert!(seen.windows(2).all(|w| w[0] >= w[1]), "newest first: {seen:?}");
    assert_eq!(pages, 3);
    app.get("/v1/transfers?cursor=garbage", Some(&alice)).await.problem(400, "invalid_cursor");
    app.get("/v1/transfers?limit=0", Some(&alice)).await.problem(400, "invalid_query");
    app.get("/v1/transfers?limit=many", Some(&alice)).await.problem(400, "invalid_query");
}

#[tokio::test]
async fn admins_grant_points_and_members_cannot() {
    let app = spawn_app().await;
    let admin = app.demo("admin").await;
    let alice = app.demo("alice").await;
    let grant = json!({"to_handle": "alice", "amount": 500, "reason": "welcome bonus"});
    let answer = app.grant(&admin, "g-1", grant.clone()).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
    assert_eq!((answer.body["kind"].as_str(), answer.body["from_handle"].as_str()), (Some("grant"), Some("admin")));
    assert_eq!(app.grant(&admin, "g-1", grant.clone()).await.body["id"], answer.body["id"]);
    assert_eq!(app.balance(&alice).await, 10_500);
    app.grant(&alice, "g-2", grant).await.problem(403, "forbidden");
}

#[tokio::test]
async fn an_admin_cannot_grant_points_to_themselves() {
    let app = spawn_app().await;
    let admin = app.demo("admin").await;
    let grant = json!({"to_handle": "admin", "amount": 1_000, "reason": "for me"});
    let refused = app.grant(&admin, "self", grant).await;
    refused.problem(422, "self_transfer");
    assert_eq!(app.balance(&admin).await, 0, "nothing was granted");
    let listed = app.get("/v1/admin/grants", Some(&admin)).await;
    assert!(
        listed.body["items"].as_array().expect("items").iter().all(|g| g["to_handle"] != "admin"),
        "{:?}",
        listed.body
    );
}

#[tokio::test]
async fn grants_are_bounded_per_grant_and_per_admin_day_and_listed_for_admins() {
    // The demo funding grants 2 × 10,000 at start, against the same budget.
    let app = spawn_app_with(|s| {
        s.limits.max_per_grant = Points::new(10_000).expect("valid");
        s.limits.grant_budget_per_day = 25_000;
    })
    .await;
    let admin = app.demo("admin").await;
    let alice = app.demo("alice").await;
    let grant = |amount: u64| json!({"to_handle": "alice", "amount": amount, "reason": "bonus"});
    app.grant(&admin, "big", grant(1_000_000_000)).await.problem(422, "grant_limit_exceeded");
    assert_eq!(app.grant(&admin, "g-1", grant(5_000)).await.status, StatusCode::CREATED);
    let over = app.grant(&admin, "g-2", grant(1)).await;
    over.problem(422, "grant_budget_exceeded");
    assert!(over.body["transfer_id"].is_string(), "the refused grant is on record");
    assert_eq!(app.balance(&alice).await, 15_000, "nothing past the budget was minted");

    let page = app.get("/v1/admin/grants?limit=2", Some(&admin)).await;
    assert_eq!(page.status, StatusCode::OK, "{:?}", page.body);
    let items = page.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 2);
    assert_eq!((items[0]["from_handle"].as_str(), items[0]["state"].as_str()), (Some("admin"), Some("rejected")));
    assert_eq!((items[1]["amount"].as_u64(), items[1]["memo"].as_str()), (Some(5_000), Some("bonus")));
    assert_eq!(items[1]["to_handle"], "alice");
    let cursor = page.body["next_cursor"].as_str().expect("more grants");
    let rest = app.get(&format!("/v1/admin/grants?limit=2&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(rest.body["items"].as_array().expect("items").len(), 2, "the demo funding");
    assert!(rest.body["next_cursor"].is_null());
    app.get("/v1/admin/grants", Some(&alice)).await.problem(403, "forbidden");
}

#[tokio::test]
async fn shares_are_rate_limited_per_member() {
    let app = spawn_app_with(|s| s.rate_limits.transfers_per_minute = 2).await;
    let alice = app.demo("alice").await;
    let bob = app.demo("bob").await;
    for n in 0..2 {
        assert_eq!(app.share(&alice, &format!("r{n}"), share_to("bob", 1)).await.status, StatusCode::CREATED);
    }
    let limited = app.share(&alice, "r2", share_to("bob", 1)).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(app.share(&bob, "r0", share_to("alice", 1)).await.status, StatusCode::CREATED, "others are not limited");
}

#[tokio::test]
async fn a_limited_operation_says_how_much_is_left_and_its_429_which_allowance_ran_out() {
    let app = spawn_app_with(|s| s.rate_limits.transfers_per_minute = 2).await;
    let alice = app.demo("alice").await;
    let header = |answer: &crate::helpers::Answer, name: &str| {
        answer.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned()
    };
    let first = app.share(&alice, "one", share_to("bob", 1)).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(header(&first, "ratelimit-policy"), r#""transfers";q=2;w=60"#);
    let now = header(&first, "ratelimit");
    assert!(now.starts_with(r#""transfers";r=1;t="#), "{now}");
    let seconds: u64 = now.rsplit("t=").next().and_then(|t| t.parse().ok()).expect("seconds");
    assert!((1..=60).contains(&seconds), "{now}");
    app.share(&alice, "two", share_to("bob", 1)).await;

    let refused = app.share(&alice, "three", share_to("bob", 1)).await;
    refused.problem(429, "rate_limited");
    assert_eq!(header(&refused, "ratelimit-policy"), r#""transfers";q=2;w=60"#);
    assert!(header(&refused, "ratelimit").starts_with(r#""transfers";r=0;t="#), "{}", header(&refused, "ratelimit"));
    assert!(refused.headers.contains_key("retry-after"));
    let unlimited = app.get("/v1/transfers", Some(&alice)).await;
    assert_eq!(unlimited.headers.get("ratelimit"), None, "only limited operations say so");
}
