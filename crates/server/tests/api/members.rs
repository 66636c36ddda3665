//! Signing up, one's own profile and balance, finding another member.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

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
    let short = json!({"email": "e@example.com", "password": "short", "handle": "erin", "display_name": "E"});
    let answer = app.post("/v1/auth/signup", None, short).await;
    answer.problem(422, "validation_failed");
    assert!(answer.body["detail"].as_str().expect("a detail").contains("password"));
}

#[tokio::test]
async fn me_shows_profile_and_balance_and_renames() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    let me = app.get("/v1/me", Some(&token)).await;
    assert_eq!(me.body["balance"]["balance"], 10_000);
    assert!(["cache", "provider"].contains(&me.body["balance"]["source"].as_str().expect("a source")));
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
