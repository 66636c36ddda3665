//! The support desk over REST: members searched, read, suspended and
//! promoted; the review queue worked through; every privileged act in the
//! audit log, listed and exported. Each test runs on the in-memory store
//! and on MongoDB.

use reqwest::StatusCode;
use serde_json::{Value, json};

use pointshare_testkit::{Fault, Operation};

use crate::helpers::{Answer, BOSS, BOSS_PASSWORD, Store, TestApp, spawn_on};

async fn id_of(app: &TestApp, token: &str) -> String {
    app.get("/v1/me", Some(token)).await.body["id"].as_str().expect("an id").to_owned()
}

fn handles(page: &Value) -> Vec<&str> {
    page["items"].as_array().expect("items").iter().map(|m| m["handle"].as_str().expect("a handle")).collect()
}

on_each_store!(
    admins_find_members_read_their_day_and_list_their_transfers,
    admins_suspend_and_promote_with_a_reason_never_themselves_and_the_audit_log_says_so,
    the_audit_log_names_the_request_pages_filters_and_exports_as_csv,
    admins_work_the_review_queue_and_a_decision_moves_points_once
);

/// The support desk's server on `store`, its admin (`admin`, the bootstrap
/// admin) and members alice and bob, alice granted 10,000 points.
async fn desk(store: Store) -> (TestApp, pointshare_provider_sim::RunningSim, String, String, String) {
    let (app, provider) = spawn_on(store, |_| {}).await;
    let admin = app.token(BOSS, BOSS_PASSWORD).await;
    let (alice, bob) = (app.member("alice").await, app.member("bob").await);
    let granted = app.grant(&admin, "start", json!({"to_handle": "alice", "amount": 10_000, "reason": "start"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    (app, provider, admin, alice, bob)
}

async fn admins_find_members_read_their_day_and_list_their_transfers(store: Store) {
    let (app, _provider, admin, alice, _bob) = desk(store).await;
    app.member("alicia").await;
    let shared = app.share(&alice, "for-bob", json!({"to_handle": "bob", "amount": 25})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);

    let found = app.get("/v1/admin/members?query=ALI", Some(&admin)).await;
    assert_eq!(handles(&found.body), ["alice", "alicia"], "by handle, letter case aside");
    let first = app.get("/v1/admin/members?limit=1", Some(&admin)).await;
    assert_eq!((handles(&first.body), &first.body["has_more"]), (vec!["admin"], &json!(true)));
    let cursor = first.body["next_cursor"].as_str().expect("a cursor");
    let next = app.get(&format!("/v1/admin/members?limit=1&cursor={cursor}"), Some(&admin)).await;
    assert_eq!(handles(&next.body), ["alice"]);
    let admins = app.get("/v1/admin/members?role=admin", Some(&admin)).await;
    assert_eq!(handles(&admins.body), ["admin"]);

    let alice_id = id_of(&app, &alice).await;
    let detail = app.get(&format!("/v1/admin/members/{alice_id}"), Some(&admin)).await;
    assert_eq!(detail.status, StatusCode::OK, "{:?}", detail.body);
    assert_eq!(
        (&detail.body["handle"], &detail.body["status"], &detail.body["role"], &detail.body["shared_today"]),
        (&json!("alice"), &json!("active"), &json!("member"), &json!(25))
    );
    assert_eq!(detail.body["balance"]["balance"], 9_975);
    let transfers = app.get(&format!("/v1/admin/members/{alice_id}/transfers?direction=sent"), Some(&admin)).await;
    let items = transfers.body["items"].as_array().expect("items");
    assert_eq!(
        items.iter().map(|t| (&t["to_handle"], &t["amount"])).collect::<Vec<_>>(),
        [(&json!("bob"), &json!(25))]
    );

    app.get("/v1/admin/members?query=ali", Some(&alice)).await.problem(403, "forbidden");
    app.get("/v1/admin/members/not-a-member", Some(&admin)).await.problem(404, "member_not_found");
    app.get("/v1/admin/members?limit=0", Some(&admin)).await.problem(400, "invalid_query");
    app.get("/v1/admin/members?cursor=!!", Some(&admin)).await.problem(400, "invalid_cursor");
}

async fn admins_suspend_and_promote_with_a_reason_never_themselves_and_the_audit_log_says_so(store: Store) {
    let (app, _provider, admin, alice, bob) = desk(store).await;
    let granted = app.grant(&admin, "bob", json!({"to_handle": "bob", "amount": 10_000, "reason": "start"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    let (admin_id, bob_id) = (id_of(&app, &admin).await, id_of(&app, &bob).await);
    let status = |id: &str| format!("/v1/admin/members/{id}/status");
    let role = |id: &str| format!("/v1/admin/members/{id}/role");

    let suspended =
        app.put(&status(&bob_id), &admin, json!({"status": "suspended", "reason": "reported stolen"})).await;
    assert_eq!((suspended.status, &suspended.body["status"]), (StatusCode::OK, &json!("suspended")));
    app.get("/v1/me", Some(&bob)).await.problem(401, "unauthenticated");
    let back = app.put(&status(&bob_id), &admin, json!({"status": "active", "reason": "the owner is back"})).await;
    assert_eq!(back.body["status"], "active");
    assert_eq!(app.get("/v1/me", Some(&bob)).await.status, StatusCode::OK);

    app.put(&status(&admin_id), &admin, json!({"status": "suspended", "reason": "x"}))
        .await
        .problem(409, "own_account");
    app.put(&role(&admin_id), &admin, json!({"role": "member", "reason": "x"})).await.problem(409, "own_account");
    let promoted = app.put(&role(&bob_id), &admin, json!({"role": "admin", "reason": "joins support"})).await;
    assert_eq!(promoted.body["role"], "admin");
    app.put(&role(&bob_id), &bob, json!({"role": "member", "reason": "x"})).await.problem(409, "own_account");
    let blank = app.put(&role(&bob_id), &admin, json!({"role": "member", "reason": "   "})).await;
    blank.problem(422, "validation_failed");
    app.put(&role(&bob_id), &bob, json!({"role": "admin"})).await.problem(422, "validation_failed");
    app.put(&status(&bob_id), &alice, json!({"status": "suspended", "reason": "x"})).await.problem(403, "forbidden");

    let log = app.get(&format!("/v1/admin/audit?target=member:{bob_id}"), Some(&admin)).await;
    let records = log.body["items"].as_array().expect("items");
    let seen: Vec<_> =
        records.iter().map(|r| (r["action"].as_str(), r["before"].as_str(), r["after"].as_str())).collect();
    assert_eq!(
        seen,
        [
            (Some("role_change"), Some("member"), Some("admin")),
            (Some("status_change"), Some("suspended"), Some("active")),
            (Some("status_change"), Some("active"), Some("suspended")),
            (Some("grant"), None, Some("10000 points")),
        ],
        "newest first (the starting grant to bob first of all), refused acts nowhere"
    );
    assert!(records[..3].iter().all(|r| r["actor"] == format!("member:{admin_id}") && r["client"] == "127.0.0.1"));
    assert_eq!(records[2]["reason"], "reported stolen");
}

async fn the_audit_log_names_the_request_pages_filters_and_exports_as_csv(store: Store) {
    let (app, _provider, admin, _alice, bob) = desk(store).await;
    for n in 0..3 {
        let grant = app
            .client
            .post(app.url("/v1/admin/grants"))
            .bearer_auth(&admin)
            .header("Idempotency-Key", format!("audited-{n}"))
            .header("X-Request-Id", format!("support-ticket-{n}"))
            .json(&json!({"to_handle": "bob", "amount": 10 + n, "reason": "=HYPERLINK(\"x\") goodwill"}));
        assert_eq!(Answer::of(grant.send().await.expect("answers")).await.status, StatusCode::CREATED);
    }
    let grants = app.get("/v1/admin/audit?action=grant&limit=2", Some(&admin)).await;
    assert_eq!(grants.status, StatusCode::OK, "{:?}", grants.body);
    let first = grants.body["items"].as_array().expect("items");
    assert_eq!(first.len(), 2);
    assert_eq!((&first[0]["request_id"], &first[0]["after"]), (&json!("support-ticket-2"), &json!("12 points")));
    assert!(first[0]["caused"].as_str().is_some_and(|id| !id.is_empty()), "the transfer it made");
    assert_eq!(first[0]["previous"], first[1]["hash"], "each record holds the hash of the one before");
    let cursor = grants.body["next_cursor"].as_str().expect("more");
    let rest = app.get(&format!("/v1/admin/audit?action=grant&limit=2&cursor={cursor}"), Some(&admin)).await;
    let rest = rest.body["items"].as_array().expect("items").clone();
    // The starting grant came first: every grant, each once.
    assert!(rest.iter().all(|r| r["action"] == "grant") && !rest.is_empty());

    let export = app.client.get(app.url("/v1/admin/audit/export?action=grant")).bearer_auth(&admin).send().await;
    let export = export.expect("answers");
    assert_eq!(export.status(), StatusCode::OK);
    assert!(export.headers()["content-type"].to_str().expect("text").starts_with("text/csv"));
    let csv = export.text().await.expect("text");
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "seq,at,actor,action,target,before,after,reason,request_id,client,caused,previous,hash");
    let ours: Vec<&&str> = lines.iter().filter(|line| line.contains("support-ticket")).collect();
    assert_eq!(ours.len(), 3, "{csv}");
    assert!(ours[0].contains("support-ticket-0") && ours[2].contains("support-ticket-2"), "oldest first");
    assert!(ours[0].contains("\"'=HYPERLINK(\"\"x\"\") goodwill\""), "quoted, and inert in a spreadsheet: {}", ours[0]);

    app.get("/v1/admin/audit?actor=root", Some(&admin)).await.problem(400, "invalid_query");
    app.get("/v1/admin/audit?cursor=x", Some(&admin)).await.problem(400, "invalid_cursor");
    let since = "2026-12-01T00:00:00Z";
    app.get(&format!("/v1/admin/audit?since={since}&until={since}"), Some(&admin)).await.problem(400, "invalid_query");
    app.get("/v1/admin/audit", Some(&bob)).await.problem(403, "forbidden");
}

async fn admins_work_the_review_queue_and_a_decision_moves_points_once(store: Store) {
    let (app, provider) = spawn_on(store, |_| {}).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let (alice, bob) = (app.member("alice").await, app.member("bob").await);
    let granted = app.grant(&boss, "start", json!({"to_handle": "alice", "amount": 100, "reason": "start"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    // The provider refuses the credit with a 401: no repeat fixes that.
    provider.faults().fail_next(Operation::Credit, 1, Fault::Unauthorized);
    let parked = app.share(&alice, "parked", json!({"to_handle": "bob", "amount": 30})).await;
    assert_eq!(
        (parked.status, &parked.body["state"]),
        (StatusCode::ACCEPTED, &json!("needs_review")),
        "{:?}",
        parked.body
    );
    let id = parked.body["id"].as_str().expect("an id").to_owned();

    let queue = app.get("/v1/admin/reviews", Some(&boss)).await;
    let items = queue.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{:?}", queue.body);
    assert_eq!(
        (&items[0]["transfer"]["id"], &items[0]["transfer"]["review_reason"]),
        (&json!(id), &json!("provider_refused"))
    );
    let references = items[0]["references"].as_array().expect("references");
    assert_eq!(references[0]["reference"], format!("{id}:debit"));
    assert_eq!(
        (&references[0]["movement"]["kind"], &references[0]["movement"]["amount"]),
        (&json!("debit"), &json!(30))
    );
    assert_eq!(
        (&references[1]["reference"], &references[1]["movement"]),
        (&json!(format!("{id}:credit")), &Value::Null)
    );

    let resolution = format!("/v1/admin/transfers/{id}/resolution");
    let decide = json!({"decision": "refund", "reason": "bob's account was misconfigured"});
    for _ in 0..2 {
        let resolved = app.post(&resolution, Some(&boss), decide.clone()).await;
        assert_eq!(
            (resolved.status, &resolved.body["state"]),
            (StatusCode::OK, &json!("reversed")),
            "{:?}",
            resolved.body
        );
    }
    assert_eq!((app.balance(&alice).await, app.balance(&bob).await), (100, 0), "refunded once");
    assert!(app.get("/v1/admin/reviews", Some(&boss)).await.body["items"].as_array().expect("items").is_empty());
    let completed =
        app.post(&resolution, Some(&boss), json!({"decision": "complete", "reason": "changed my mind"})).await;
    completed.problem(409, "not_in_review");
    let other = app.grant(&boss, "other", json!({"to_handle": "bob", "amount": 1, "reason": "r"})).await;
    let other = format!("/v1/admin/transfers/{}/resolution", other.body["id"].as_str().expect("an id"));
    app.post(&other, Some(&boss), decide.clone()).await.problem(409, "not_in_review");
    app.post("/v1/admin/transfers/nope/resolution", Some(&boss), decide.clone())
        .await
        .problem(404, "transfer_not_found");
    app.post(&resolution, Some(&alice), decide).await.problem(403, "forbidden");

    let log = app.get(&format!("/v1/admin/audit?target=transfer:{id}"), Some(&boss)).await;
    let records = log.body["items"].as_array().expect("items");
    assert_eq!(records.len(), 1, "one decision, one record: {:?}", log.body);
    assert_eq!(
        (&records[0]["action"], &records[0]["before"], &records[0]["after"], &records[0]["reason"]),
        (&json!("resolution"), &json!("needs_review"), &json!("reversed"), &json!("bob's account was misconfigured"))
    );
    let boot = app.get("/v1/admin/audit?action=bootstrap_admin", Some(&boss)).await;
    assert_eq!(boot.body["items"][0]["actor"], "operator:bootstrap", "{:?}", boot.body);
}
