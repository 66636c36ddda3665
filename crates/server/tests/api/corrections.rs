//! The support desk corrects mistakes over REST: a share reversed in part
//! and in full, a grant taken back, members credited and debited, a large
//! correction run only once a second admin approves it, every one in both
//! members' histories, on its timeline and in the audit log. On the
//! in-memory store and on MongoDB.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Answer, BOSS, BOSS_PASSWORD, Store, TestApp, spawn_on};
use crate::sse::EventStream;

const PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

on_each_store!(
    a_share_sent_to_the_wrong_member_is_reversed_in_part_then_in_full_and_never_beyond,
    a_large_correction_runs_only_once_a_second_admin_approves_it,
    adjustments_credit_and_debit_a_member_within_the_admins_budget
);

/// The desk on `store`, corrections above 50 points waiting for approval:
/// admins boss and zed; alice granted 100, bob nothing.
async fn desk(store: Store) -> (TestApp, pointshare_provider_sim::RunningSim, [String; 4]) {
    let (app, provider) = spawn_on(store, |s| s.approvals.threshold = 50).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let (alice, bob, zed) = (app.member("alice").await, app.member("bob").await, app.member("zed").await);
    let zed_id = app.get("/v1/me", Some(&zed)).await.body["id"].as_str().expect("an id").to_owned();
    let promoted = app
        .put(
            &format!("/v1/admin/members/{zed_id}/role"),
            &boss,
            json!({"role": "admin", "reason": "second pair of eyes"}),
        )
        .await;
    assert_eq!(promoted.status, StatusCode::OK, "{:?}", promoted.body);
    let granted = app.grant(&boss, "start", json!({"to_handle": "alice", "amount": 100, "reason": "start"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    (app, provider, [boss, zed, alice, bob])
}

fn id(answer: &Answer) -> String {
    answer.body["id"].as_str().unwrap_or_else(|| panic!("an id in {:?}", answer.body)).to_owned()
}

async fn reverse(app: &TestApp, admin: &str, transfer: &str, key: &str, body: Value) -> Answer {
    app.post_once(&format!("/v1/admin/transfers/{transfer}/reversals"), admin, key, body).await
}

async fn adjust(app: &TestApp, admin: &str, key: &str, body: Value) -> Answer {
    app.post_once("/v1/admin/adjustments", admin, key, body).await
}

async fn audited(app: &TestApp, admin: &str, action: &str) -> Vec<Value> {
    let log = app.get(&format!("/v1/admin/audit?action={action}"), Some(admin)).await;
    log.body["items"].as_array().expect("items").clone()
}

async fn a_share_sent_to_the_wrong_member_is_reversed_in_part_then_in_full_and_never_beyond(store: Store) {
    let (app, _provider, [boss, _zed, alice, bob]) = desk(store).await;
    let shared = app.share(&alice, "oops", json!({"to_handle": "bob", "amount": 40})).await;
    let share = id(&shared);
    let mut streams = Vec::new();
    for member in [&alice, &bob] {
        let mut stream = EventStream::open(&app.url("/v1/me/events"), member, None).await.expect("a stream");
        assert_eq!(stream.next(PATIENCE).await.expect("an event").name, "ready");
        streams.push(stream);
    }

    let part = reverse(&app, &boss, &share, "r1", json!({"amount": 10, "reason": "meant for bea"})).await;
    assert_eq!(part.status, StatusCode::CREATED, "{:?}", part.body);
    assert_eq!(
        (
            &part.body["kind"],
            &part.body["state"],
            &part.body["reverses"],
            &part.body["from_handle"],
            &part.body["to_handle"]
        ),
        (&json!("reversal"), &json!("completed"), &json!(share), &json!("bob"), &json!("alice"))
    );
    assert_eq!(part.headers["location"], format!("/v1/admin/transfers/{}", id(&part)));
    for stream in &mut streams {
        let reversal = loop {
            let event = stream.next(PATIENCE).await.expect("the stream stays open");
            if event.name == "transfer" && event.data["id"] == id(&part) && event.data["state"] == "completed" {
                break event;
            }
        };
        assert_eq!(reversal.data["kind"], "reversal", "both members see it live");
    }
    let again = reverse(&app, &boss, &share, "r1", json!({"amount": 10, "reason": "meant for bea"})).await;
    assert_eq!(
        (again.status, id(&again), &again.headers["idempotent-replayed"]),
        (StatusCode::CREATED, id(&part), &reqwest::header::HeaderValue::from_static("true"))
    );
    let over = reverse(&app, &boss, &share, "r2", json!({"amount": 31, "reason": "too much"})).await;
    over.problem(422, "reversal_exceeds_transfer");
    assert!(over.body["detail"].as_str().is_some_and(|d| d.contains("30")), "{:?}", over.body);
    let rest = reverse(&app, &boss, &share, "r3", json!({"reason": "the rest of it"})).await;
    assert_eq!((rest.status, &rest.body["amount"]), (StatusCode::CREATED, &json!(30)), "{:?}", rest.body);
    assert_eq!((app.balance(&alice).await, app.balance(&bob).await), (100, 0));
    reverse(&app, &boss, &share, "r4", json!({"amount": 1, "reason": "once more"}))
        .await
        .problem(422, "reversal_exceeds_transfer");
    reverse(&app, &boss, &id(&rest), "r5", json!({"reason": "undo the undo"})).await.problem(409, "not_reversible");
    reverse(&app, &alice, &share, "r6", json!({"reason": "mine"})).await.problem(403, "forbidden");
    reverse(&app, &boss, "nope", "r7", json!({"reason": "x"})).await.problem(404, "transfer_not_found");
    let bad = reverse(&app, &boss, &share, "r8", json!({"amount": 0, "reason": ""})).await;
    let pointers: Vec<&Value> = bad.problem(422, "validation_failed").body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| &e["pointer"])
        .collect();
    assert_eq!(pointers, [&json!("/amount"), &json!("/reason")], "every invalid field at once");
    let unkeyed =
        app.post(&format!("/v1/admin/transfers/{share}/reversals"), Some(&boss), json!({"reason": "x"})).await;
    unkeyed.problem(400, "idempotency_key_required");

    // Both members see it in their history.
    for member in [&alice, &bob] {
        let history = app.get("/v1/transfers", Some(member)).await;
        let kinds: Vec<&Value> = history.body["items"].as_array().expect("items").iter().map(|t| &t["kind"]).collect();
        assert_eq!(kinds[..3], [&json!("reversal"), &json!("reversal"), &json!("share")], "{:?}", history.body);
    }
    let timeline = app.get(&format!("/v1/admin/transfers/{share}"), Some(&boss)).await;
    assert_eq!(timeline.status, StatusCode::OK, "{:?}", timeline.body);
    let changes: Vec<(&Value, &Value)> = timeline.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (&c["state"], &c["driver"]["kind"]))
        .collect();
    assert_eq!(
        changes,
        // The debit is recorded with the credit that followed it.
        [(&json!("accepted"), &json!("request")), (&json!("completed"), &json!("request"))]
    );
    assert!(timeline.body["changes"][0]["driver"]["replica"].as_str().is_some_and(|r| r.starts_with("pointshare-")));
    assert_eq!(timeline.body["transfer"]["reversed_amount"], 40);
    let reversals: Vec<String> = timeline.body["reversals"]
        .as_array()
        .expect("reversals")
        .iter()
        .map(|t| t["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(reversals, [id(&part), id(&rest)], "oldest first");
    let references: Vec<(&Value, &Value)> = timeline.body["references"]
        .as_array()
        .expect("references")
        .iter()
        .map(|r| (&r["movement"]["kind"], &r["movement"]["amount"]))
        .collect();
    assert_eq!(references, [(&json!("debit"), &json!(40)), (&json!("credit"), &json!(40))]);
    app.get(&format!("/v1/admin/transfers/{share}"), Some(&alice)).await.problem(403, "forbidden");

    let records = audited(&app, &boss, "reversal").await;
    assert_eq!(records.len(), 2, "the refused ones are not acts: {records:?}");
    assert!(records.iter().all(|r| r["target"] == format!("transfer:{share}")));
    assert_eq!(records[1]["reason"], "meant for bea");

    // A grant taken back is points given up, not moved.
    let granted = app.grant(&boss, "twice", json!({"to_handle": "bob", "amount": 30, "reason": "sent twice"})).await;
    let undone = reverse(&app, &boss, &id(&granted), "g1", json!({"reason": "the grant went out twice"})).await;
    assert_eq!(
        (undone.status, &undone.body["kind"], &undone.body["reverses"]),
        (StatusCode::CREATED, &json!("reversal"), &json!(id(&granted)))
    );
    assert_eq!(app.balance(&bob).await, 0);
}

async fn a_large_correction_runs_only_once_a_second_admin_approves_it(store: Store) {
    let (app, _provider, [boss, zed, alice, bob]) = desk(store).await;
    let shared = app.share(&alice, "big", json!({"to_handle": "bob", "amount": 80})).await;
    let share = id(&shared);
    let waiting = reverse(&app, &boss, &share, "r1", json!({"reason": "wrong member"})).await;
    assert_eq!((waiting.status, &waiting.body["state"]), (StatusCode::ACCEPTED, &json!("awaiting_approval")));
    assert_eq!((app.balance(&alice).await, app.balance(&bob).await), (20, 80), "nothing moved yet");
    let reversal = id(&waiting);

    let queue = app.get("/v1/admin/approvals", Some(&zed)).await;
    let items = queue.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{:?}", queue.body);
    assert_eq!((&items[0]["transfer"]["id"], &items[0]["requested_by"]), (&json!(reversal), &json!("admin")));
    assert!(items[0]["expires_at"].is_string());

    let approval = format!("/v1/admin/approvals/{reversal}");
    let approve = json!({"decision": "approve", "reason": "checked with alice"});
    app.post(&approval, Some(&boss), approve.clone()).await.problem(409, "own_request");
    app.post(&approval, Some(&alice), approve.clone()).await.problem(403, "forbidden");
    let approved = app.post(&approval, Some(&zed), approve.clone()).await;
    assert_eq!(
        (approved.status, &approved.body["state"]),
        (StatusCode::OK, &json!("completed")),
        "{:?}",
        approved.body
    );
    assert_eq!((app.balance(&alice).await, app.balance(&bob).await), (100, 0));
    let again = app.post(&approval, Some(&zed), approve.clone()).await;
    assert_eq!((again.status, &again.body["state"]), (StatusCode::OK, &json!("completed")), "asked twice, done once");
    app.post(&approval, Some(&zed), json!({"decision": "reject", "reason": "no"}))
        .await
        .problem(409, "not_awaiting_approval");
    app.post(&format!("/v1/admin/approvals/{share}"), Some(&zed), approve.clone())
        .await
        .problem(409, "not_awaiting_approval");
    assert!(app.get("/v1/admin/approvals", Some(&zed)).await.body["items"].as_array().expect("items").is_empty());

    let timeline = app.get(&format!("/v1/admin/transfers/{reversal}"), Some(&boss)).await;
    let drivers: Vec<(&Value, &Value, &Value)> = timeline.body["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .map(|c| (&c["state"], &c["driver"]["kind"], &c["driver"]["name"]))
        .collect();
    assert_eq!(drivers[0], (&json!("awaiting_approval"), &json!("request"), &Value::Null));
    assert_eq!(drivers[1], (&json!("accepted"), &json!("admin"), &json!("zed")), "{:?}", timeline.body);
    assert_eq!(timeline.body["approval"]["requested_by"], "admin");
    let decided = audited(&app, &boss, "approval").await;
    assert_eq!(decided.len(), 1, "{decided:?}");
    assert_eq!((&decided[0]["before"], &decided[0]["after"]), (&json!("awaiting_approval"), &json!("approved")));
}

async fn adjustments_credit_and_debit_a_member_within_the_admins_budget(store: Store) {
    let (app, _provider, [boss, zed, alice, _bob]) = desk(store).await;
    let debit =
        |amount: u64| json!({"to_handle": "alice", "amount": amount, "direction": "debit", "reason": "fraud clean-up"});
    let taken = adjust(&app, &boss, "d1", debit(20)).await;
    assert_eq!(
        (taken.status, &taken.body["kind"], &taken.body["state"], &taken.body["from_handle"]),
        (StatusCode::CREATED, &json!("adjustment"), &json!("completed"), &json!("alice")),
        "{:?}",
        taken.body
    );
    let credit = json!({"to_handle": "alice", "amount": 5, "direction": "credit", "reason": "goodwill"});
    let given = adjust(&app, &boss, "c1", credit).await;
    assert_eq!((given.status, &given.body["kind"]), (StatusCode::CREATED, &json!("grant")));
    assert_eq!(app.balance(&alice).await, 85);

    let large = adjust(&app, &boss, "d2", debit(60)).await;
    assert_eq!((large.status, &large.body["state"]), (StatusCode::ACCEPTED, &json!("awaiting_approval")));
    let rejected = app
        .post(
            &format!("/v1/admin/approvals/{}", id(&large)),
            Some(&zed),
            json!({"decision": "reject", "reason": "she disputes it"}),
        )
        .await;
    assert_eq!(
        (&rejected.body["state"], &rejected.body["decline_reason"]),
        (&json!("rejected"), &json!("approval_rejected")),
        "{:?}",
        rejected.body
    );
    adjust(&app, &boss, "d2", debit(60)).await.problem(422, "approval_rejected");
    assert_eq!(app.balance(&alice).await, 85, "nothing moved");
    let short = adjust(&app, &boss, "d3", debit(86)).await;
    let approve = json!({"decision": "approve", "reason": "confirmed fraud"});
    let approved = app.post(&format!("/v1/admin/approvals/{}", id(&short)), Some(&zed), approve).await;
    assert_eq!(
        (&approved.body["state"], &approved.body["decline_reason"]),
        (&json!("rejected"), &json!("insufficient_funds")),
        "approved, but she holds 85: {:?}",
        approved.body
    );
    adjust(&app, &boss, "d3", debit(86)).await.problem(422, "insufficient_funds");
    assert_eq!(app.balance(&alice).await, 85, "never below zero");
    adjust(&app, &boss, "self", json!({"to_handle": "admin", "amount": 1, "direction": "credit", "reason": "me"}))
        .await
        .problem(409, "own_account");
    adjust(&app, &boss, "nobody", json!({"to_handle": "nobody", "amount": 1, "direction": "debit", "reason": "x"}))
        .await
        .problem(422, "recipient_not_found");
    adjust(&app, &boss, "sideways", json!({"to_handle": "alice", "amount": 1, "direction": "sideways", "reason": "x"}))
        .await
        .problem(422, "validation_failed");
    adjust(&app, &alice, "mine", debit(1)).await.problem(403, "forbidden");

    let records = audited(&app, &boss, "adjustment").await;
    let seen: Vec<&Value> = records.iter().map(|r| &r["after"]).collect();
    assert_eq!(seen.len(), 4, "both ways, the one rejected and the one declined: {records:?}");
    let grants = audited(&app, &boss, "grant").await;
    assert_eq!(grants.len(), 1, "the credit is audited as an adjustment, not a grant: {grants:?}");
}
