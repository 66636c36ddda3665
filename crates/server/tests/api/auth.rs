//! Logging in, and what a token does and does not let a caller do.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{DEMO_PASSWORD, spawn_app, spawn_app_with};

#[tokio::test]
async fn login_gives_a_bearer_token_that_opens_me() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 3600);
    let me = app.get("/v1/me", login.body["access_token"].as_str()).await;
    assert_eq!((me.status, me.body["handle"].as_str()), (StatusCode::OK, Some("alice")));
}

#[tokio::test]
async fn a_failed_login_does_not_say_whether_the_email_exists() {
    let app = spawn_app().await;
    let wrong_password = app.login("alice@pointshare.test", "not her password").await;
    let unknown_email = app.login("nobody@pointshare.test", DEMO_PASSWORD).await;
    let not_an_email = app.login("nobody", DEMO_PASSWORD).await;
    for answer in [&wrong_password, &unknown_email, &not_an_email] {
        answer.problem(401, "invalid_credentials");
    }
    assert_eq!(wrong_password.body, unknown_email.body);
}

#[tokio::test]
async fn protected_routes_need_a_valid_token() {
    let app = spawn_app().await;
    app.get("/v1/me", None).await.problem(401, "unauthenticated");
    app.get("/v1/me", Some("not-a-jwt")).await.problem(401, "unauthenticated");

    let other = spawn_app_with(|s| s.jwt_secret = Some("another secret of at least thirty-two bytes".into())).await;
    let foreign = other.demo("alice").await;
    app.get("/v1/me", Some(&foreign)).await.problem(401, "unauthenticated");

    let claims =
        json!({"sub": "01a21033-602d-74f9-80dd-bb5f13f8762b", "role": "admin", "iat": 0, "exp": 9_999_999_999u64});
    let unsigned = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(r#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    app.get("/v1/me", Some(&unsigned)).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_member_cannot_make_themselves_admin_by_editing_their_token() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: serde_json::Value =
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64")).expect("claims");
    assert_eq!(claims["role"], "member");
    claims["role"] = json!("admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    app.get("/v1/me", Some(&tampered)).await.problem(401, "unauthenticated");
    let grant = json!({"to_handle": "alice", "amount": 1, "reason": "self-service"});
    app.grant(&tampered, "tampered", grant).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn an_expired_token_is_refused() {
    let app = spawn_app_with(|s| s.token_ttl = std::time::Duration::from_secs(1)).await;
    let token = app.demo("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let answer = app.get("/v1/me", Some(&token)).await;
    answer.problem(401, "unauthenticated");
    assert!(answer.body["detail"].as_str().expect("a detail").contains("expired"));
}

#[tokio::test]
async fn logins_are_rate_limited_per_email() {
    let app = spawn_app_with(|s| s.login_rate_limit = 3).await;
    for _ in 0..3 {
        app.login("alice@pointshare.test", "wrong").await.problem(401, "invalid_credentials");
    }
    let limited = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn logins_are_rate_limited_per_address_whatever_it_claims_to_forward() {
    let app = spawn_app_with(|s| s.login_rate_limit = 3).await;
    let login = |n: u32| {
        let body = json!({"email": format!("guess{n}@pointshare.test"), "password": "guess"});
        let request = app.client.post(app.url("/v1/auth/login")).header("x-forwarded-for", format!("10.0.0.{n}"));
        async move { crate::helpers::Answer::of(request.json(&body).send().await.expect("answers")).await }
    };
    for n in 0..3 {
        login(n).await.problem(401, "invalid_credentials");
    }
    login(3).await.problem(429, "rate_limited");
}
