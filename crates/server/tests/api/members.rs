//! Signing up, one's own profile and balance, finding another member.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Answer, behind_a_loopback_proxy, spawn_app, spawn_app_with};

#[tokio::test]
async fn signup_creates_a_member_with_a_provider_account() {
    let app = spawn_app().await;
    let answer = app.signup("carol").await;
    assert_eq!(answer.status, StatusCode::CREATED);
    assert_eq!(answer.body["handle"], "carol");
    assert_eq!(answer.body["email"], "carol@example.com");
    assert_eq!(answer.body["role"], "member");
    assert!(answer.body.get("password").is_none() && answer.body.get("password_hash").is_none());
    let token = app.token("carol@example.com", "a good password").await;
    assert_eq!(app.balance(&token).await, 0, "the account is open at the provider, empty");
}

#[tokio::test]
async fn emails_and_handles_are_unique_whatever_their_case() {
    let app = spawn_app().await;
    app.signup("dave").await;
    let same_email =
        json!({"email": "DAVE@example.com", "password": "a good password", "handle": "dave2", "display_name": "D"});
    app.post("/v1/auth/signup", None, same_email).await.problem(409, "email_taken");
    let same_handle =
        json!({"email": "d@example.com", "password": "a good password", "handle": "DAVE", "display_name": "D"});
    app.post("/v1/auth/signup", None, same_handle).await.problem(409, "handle_taken");
}

#[tokio::test]
async fn invalid_signups_name_the_field() {
    let app = spawn_app().await;
    let cases = [
        (
            json!({"email": "not-an-email", "password": "a good password", "handle": "erin", "display_name": "E"}),
            "email",
        ),
        (
            json!({"email": "e@example.com", "password": "a good password", "handle": "x", "display_name": "E"}),
            "handle",
        ),
        (
            json!({"email": "e@example.com", "password": "a good password", "handle": "erin!", "display_name": "E"}),
            "handle",
        ),
        (
            json!({"email": "e@example.com", "password": "a good password", "handle": "erin", "display_name": ""}),
            "display_name",
        ),
    ];
    for (body, field) in cases {
        let answer = app.post("/v1/auth/signup", None, body).await;
        answer.problem(422, "validation_failed");
        assert_eq!(answer.body["field"], field, "{:?}", answer.body);
    }
    for password in ["short", "aaaaaaaaaaaa"] {
        let weak = json!({"email": "e@example.com", "password": password, "handle": "erin", "display_name": "E"});
        let answer = app.post("/v1/auth/signup", None, weak).await;
        answer.problem(422, "validation_failed");
        assert_eq!(answer.body["field"], "password", "{:?}", answer.body);
    }
}

#[tokio::test]
async fn names_that_hide_or_reorder_text_are_refused_and_names_are_nfc() {
    let app = spawn_app().await;
    for spoof in ["Bob\u{202e}txt.exe", "Bo\u{200b}b", "\u{2067}Bob", "Bob\u{feff}"] {
        let body =
            json!({"email": "s@example.com", "password": "a good password", "handle": "spoof", "display_name": spoof});
        let answer = app.post("/v1/auth/signup", None, body).await;
        answer.problem(422, "validation_failed");
        assert_eq!(answer.body["field"], "display_name", "{spoof:?}");
    }
    let token = app.member("zoe").await;
    let renamed = app.patch("/v1/me", &token, json!({"display_name": "Bob\u{202e}txt.exe"})).await;
    renamed.problem(422, "validation_failed");
    let nfc = app.patch("/v1/me", &token, json!({"display_name": "Zoe\u{308}"})).await;
    assert_eq!(nfc.body["display_name"], "Zo\u{eb}", "{:?}", nfc.body);
}

#[tokio::test]
async fn a_signup_never_gets_a_role_and_the_bootstrap_admin_email_cannot_be_taken() {
    // The attack: sign up the configured admin address before the operator.
    let app = spawn_app_with(|s| {
        s.bootstrap_admin.email = Some("boss@example.com".into());
        s.bootstrap_admin.password = Some("the operator's password".into());
        s.bootstrap_admin.handle = "boss".into();
    })
    .await;
    let squat =
        json!({"email": "boss@example.com", "password": "a good password", "handle": "boss", "display_name": "B"});
    app.post("/v1/auth/signup", None, squat).await.problem(409, "email_taken");
    let boss = app.token("boss@example.com", "the operator's password").await;
    assert_eq!(app.get("/v1/me", Some(&boss)).await.body["role"], "admin");
    let grant = json!({"to_handle": "alice", "amount": 5, "reason": "welcome"});
    assert_eq!(app.grant(&boss, "boss-1", grant.clone()).await.status, StatusCode::CREATED);

    let member = app.member("mallory").await;
    assert_eq!(app.get("/v1/me", Some(&member)).await.body["role"], "member");
    app.grant(&member, "mallory-1", grant).await.problem(403, "forbidden");
}

#[tokio::test]
async fn signups_are_limited_per_address_and_in_total() {
    let app = spawn_app_with(|s| s.rate_limits.signups_per_hour_per_address = 2).await;
    for n in 0..2 {
        assert_eq!(app.signup(&format!("early{n}")).await.status, StatusCode::CREATED);
    }
    let limited = app.signup("late").await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));

    let app = spawn_app_with(|s| {
        s.rate_limits.signups_per_minute = 2;
        behind_a_loopback_proxy(s);
    })
    .await;
    for n in 0..3 {
        let body = json!({"email": format!("far{n}@example.com"), "password": "a good password", "handle": format!("far{n}"), "display_name": "F"});
        let request = app.client.post(app.url("/v1/auth/signup")).header("x-forwarded-for", format!("203.0.113.{n}"));
        let answer = Answer::of(request.json(&body).send().await.expect("answers")).await;
        if n < 2 {
            assert_eq!(answer.status, StatusCode::CREATED, "{:?}", answer.body);
        } else {
            answer.problem(429, "rate_limited");
        }
    }
}

#[tokio::test]
async fn a_flood_of_signups_is_refused_with_503_not_queued_without_bound() {
    let app = spawn_app_with(|s| s.auth.password_hash_queue = 1).await;
    let signups = (0..16).map(|n| app.signup_as(format!("flood{n}")));
    let answers = futures::future::join_all(signups).await;
    let busy: Vec<&Answer> = answers.iter().filter(|answer| answer.status == StatusCode::SERVICE_UNAVAILABLE).collect();
    assert!(!busy.is_empty(), "some were refused: {:?}", answers.iter().map(|a| a.status).collect::<Vec<_>>());
    for answer in &busy {
        answer.problem(503, "busy");
        assert!(answer.headers.contains_key("retry-after"));
    }
    assert!(answers.iter().any(|answer| answer.status == StatusCode::CREATED), "the queue still serves");
}

#[tokio::test]
async fn me_shows_profile_and_balance_and_renames() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    let me = app.get("/v1/me", Some(&token)).await;
    assert_eq!(me.body["handle"], "alice");
    assert_eq!(me.body.get("balance"), None, "the balance has its own operation");
    let balance = app.get("/v1/me/balance", Some(&token)).await;
    assert_eq!(balance.body["balance"], 10_000);
    assert!(["cache", "provider"].contains(&balance.body["source"].as_str().expect("a source")));
    let renamed = app
        .client
        .patch(app.url("/v1/me"))
        .bearer_auth(&token)
        .json(&json!({"display_name": "Alice A."}))
        .send()
        .await
        .expect("answers");
    assert_eq!(renamed.status(), StatusCode::OK);
    assert_eq!(app.get("/v1/me", Some(&token)).await.body["display_name"], "Alice A.");
}

#[tokio::test]
async fn a_member_is_found_by_handle_with_public_fields_only() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    let bob = app.get("/v1/members/BOB", Some(&token)).await;
    assert_eq!(bob.status, StatusCode::OK);
    assert_eq!(bob.body, json!({"handle": "bob", "display_name": "bob"}));
    app.get("/v1/members/nobody_here", Some(&token)).await.problem(404, "member_not_found");
    app.get("/v1/members/bob", None).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_view_the_client_holds_already_answers_304_with_no_body_until_it_changes() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let shared = app.share(&alice, "etag", json!({"to_handle": "bob", "amount": 5})).await;
    let transfer = format!("/v1/transfers/{}", shared.body["id"].as_str().expect("an id"));
    let conditional = |path: &str, tag: &str| {
        app.client.get(app.url(path)).bearer_auth(&alice).header("If-None-Match", tag.to_owned()).send()
    };
    for path in ["/v1/me", "/v1/me/balance", transfer.as_str()] {
        let first = app.get(path, Some(&alice)).await;
        let tag = first.headers.get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
        assert!(tag.starts_with("W/\""), "{path}: {tag}");
        let again = conditional(path, &tag).await.expect("answers");
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{path}");
        assert_eq!(again.headers().get("etag").and_then(|v| v.to_str().ok()), Some(tag.as_str()));
        assert!(again.bytes().await.expect("a body").is_empty(), "{path}: no body");
        let other = conditional(path, "W/\"something-else\", \"another\"").await.expect("answers");
        assert_eq!(other.status(), StatusCode::OK, "{path}: another tag gets the view");
    }

    let before = app.get("/v1/me", Some(&alice)).await;
    let tag = before.headers.get("etag").and_then(|v| v.to_str().ok()).expect("an ETag").to_owned();
    let renamed = app.client.patch(app.url("/v1/me")).bearer_auth(&alice).json(&json!({"display_name": "Alice B."}));
    assert!(renamed.send().await.expect("answers").status().is_success());
    let after = conditional("/v1/me", &tag).await.expect("answers");
    assert_eq!(after.status(), StatusCode::OK, "a changed profile is sent again");
    assert_ne!(after.headers().get("etag").and_then(|v| v.to_str().ok()), Some(tag.as_str()));
}

#[tokio::test]
async fn a_recipient_picker_finds_members_by_handle_prefix_and_lists_whom_i_shared_with_lately() {
    let app = spawn_app_with(|s| s.rate_limits.member_searches_per_minute = 2).await;
    let alice = app.demo("alice").await;
    let found = app.get("/v1/members?prefix=BO", Some(&alice)).await;
    assert_eq!(found.status, StatusCode::OK, "{:?}", found.body);
    assert_eq!(found.body, json!({"items": [{"handle": "bob", "display_name": "bob"}]}), "handle and name, no email");
    let mine = app.get("/v1/members?prefix=al", Some(&alice)).await;
    assert_eq!(mine.body["items"], json!([]), "never myself");
    for bad in ["/v1/members?prefix=b", "/v1/members?prefix=b%25", "/v1/members?prefix=bo&limit=21", "/v1/members"] {
        app.get(bad, Some(&alice)).await.problem(400, "invalid_query"); // Refused before counting.
    }
    let limited = app.get("/v1/members?prefix=bo", Some(&alice)).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));

    assert_eq!(app.get("/v1/me/recipients", Some(&alice)).await.body, json!({"items": []}));
    for key in ["first", "second"] {
        let shared = app.share(&alice, key, json!({"to_handle": "bob", "amount": 1})).await;
        assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    }
    let recent = app.get("/v1/me/recipients", Some(&alice)).await;
    let items = recent.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "each once: {items:?}");
    assert_eq!((items[0]["handle"].as_str(), items[0]["display_name"].as_str()), (Some("bob"), Some("bob")));
    assert!(items[0]["last_shared_at"].as_str().is_some(), "{items:?}");
}
