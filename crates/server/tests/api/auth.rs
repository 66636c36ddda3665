//! Logging in, sessions, and what a token does and does not let a caller do.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::StatusCode;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use std::time::Duration;

use crate::helpers::{Answer, DEMO_PASSWORD, TestApp, behind_a_loopback_proxy, spawn_app, spawn_app_with};
use crate::sse::EventStream;

/// What an attacker holding the signing secret could mint: a token with any
/// claims, signed with the right key and key id.
fn forge(secret: &str, claims: &Value) -> String {
    let kid = hex::encode(&Sha256::digest(secret.as_bytes())[..8]);
    let header = jsonwebtoken::Header { kid: Some(kid), ..jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256) };
    jsonwebtoken::encode(&header, claims, &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes())).expect("encodes")
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// What an access token claims, read without checking it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("a payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// `pointshare_auth_events_total` for `event`, as operators see it (counted
/// since the process started, across this binary's tests).
async fn auth_events(app: &TestApp, event: &str) -> f64 {
    let series = format!(r#"pointshare_auth_events_total{{event="{event}"}} "#);
    let metrics = app.internal_text("/metrics").await;
    let line = metrics.lines().find(|line| line.starts_with(&series));
    line.and_then(|line| line.rsplit(' ').next()?.parse().ok()).expect("the series is exported")
}

#[tokio::test]
async fn operators_see_every_login_by_its_outcome() {
    let app = spawn_app().await;
    let (succeeded, failed) = (auth_events(&app, "login_succeeded").await, auth_events(&app, "login_failed").await);
    app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    app.login("alice@pointshare.test", "not her password").await.problem(401, "invalid_credentials");
    app.login("nobody@pointshare.test", DEMO_PASSWORD).await.problem(401, "invalid_credentials");
    assert!(auth_events(&app, "login_succeeded").await >= succeeded + 1.0);
    assert!(auth_events(&app, "login_failed").await >= failed + 2.0);
}

#[tokio::test]
async fn login_gives_a_bearer_token_that_opens_me() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(login.status, StatusCode::OK);
    assert_eq!(login.body["token_type"], "Bearer");
    assert_eq!(login.body["expires_in"], 15 * 60, "access tokens are short-lived");
    assert!(login.body["refresh_token"].as_str().is_some_and(|token| token.len() > 40));
    assert!(login.body["refresh_expires_in"].as_u64().is_some_and(|s| s > 29 * 24 * 3600));
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

    let other = spawn_app_with(|s| s.auth.jwt_secret = Some(pointshare_testkit::random_secret().into())).await;
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
async fn a_member_cannot_become_someone_else_by_editing_their_token() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    let bob = app.demo("bob").await;
    let bob_id = app.get("/v1/me", Some(&bob)).await.body["id"].clone();
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    let mut claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).expect("base64")).expect("json");
    assert!(claims.get("role").is_none(), "tokens carry no role to edit");
    claims["sub"] = bob_id;
    claims["role"] = json!("admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let tampered = parts.join(".");
    app.get("/v1/me", Some(&tampered)).await.problem(401, "unauthenticated");
    let grant = json!({"to_handle": "alice", "amount": 1, "reason": "self-service"});
    app.grant(&tampered, "tampered", grant).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn a_role_claim_in_a_validly_signed_token_grants_nothing() {
    // The attack: the secret leaked (or was a shipped placeholder), and the
    // attacker signs `role: admin` for their own member, or for nobody.
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let alice_id = app.get("/v1/me", Some(&alice)).await.body["id"].as_str().expect("an id").to_owned();
    let grant = json!({"to_handle": "alice", "amount": 1_000_000, "reason": "minted"});
    let (iat, exp) = (now(), now() + 600);
    let sid = claims_of(&alice)["sid"].clone();
    let signed = |claims: Value| forge(&app.secret, &claims);
    let as_alice = signed(json!({"sub": alice_id, "sid": sid, "role": "admin", "iat": iat, "nbf": iat, "exp": exp}));
    app.grant(&as_alice, "forged-1", grant.clone()).await.problem(403, "forbidden");
    let nobody = "01a21033-602d-74f9-80dd-bb5f13f8762b";
    let as_nobody = signed(json!({"sub": nobody, "sid": sid, "role": "admin", "iat": iat, "nbf": iat, "exp": exp}));
    app.grant(&as_nobody, "forged-2", grant.clone()).await.problem(401, "unauthenticated");
    app.get("/v1/me", Some(&as_nobody)).await.problem(401, "unauthenticated");
    let future = signed(json!({"sub": alice_id, "sid": sid, "iat": iat, "nbf": iat + 3600, "exp": exp + 3600}));
    app.get("/v1/me", Some(&future)).await.problem(401, "unauthenticated");
    assert_eq!(app.balance(&alice).await, 10_000, "nothing was granted");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive() {
    let app = spawn_app().await;
    let token = app.demo("alice").await;
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let request = app.client.get(app.url("/v1/me")).header("authorization", format!("{scheme} {token}"));
        let answer = Answer::of(request.send().await.expect("answers")).await;
        assert_eq!(answer.status, StatusCode::OK, "{scheme}");
    }
    let basic = app.client.get(app.url("/v1/me")).header("authorization", format!("Basic {token}"));
    Answer::of(basic.send().await.expect("answers")).await.problem(401, "unauthenticated");
}

async fn refresh(app: &TestApp, token: &str) -> Answer {
    app.post("/v1/auth/refresh", None, json!({"refresh_token": token})).await
}

#[tokio::test]
async fn a_refresh_gives_a_new_pair_and_retires_the_token_it_used() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let first = login.body["refresh_token"].as_str().expect("a refresh token");
    let next = refresh(&app, first).await;
    assert_eq!(next.status, StatusCode::OK, "{:?}", next.body);
    let second = next.body["refresh_token"].as_str().expect("a new refresh token");
    assert_ne!(first, second);
    let me = app.get("/v1/me", next.body["access_token"].as_str()).await;
    assert_eq!(me.body["handle"], "alice");
    let third = refresh(&app, second).await;
    assert_eq!(third.status, StatusCode::OK, "the new one works once");
}

/// A server that hands no exchanged token over: a copy replayed at once is
/// caught at once (the handover is tested on its own).
async fn without_handover() -> TestApp {
    spawn_app_with(|settings| settings.auth.refresh_handover = Duration::ZERO).await
}

#[tokio::test]
async fn two_tabs_refreshing_one_token_at_once_both_keep_the_session() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let shared = login.body["refresh_token"].as_str().expect("a refresh token");
    let (first, second) = tokio::join!(refresh(&app, shared), refresh(&app, shared));
    assert_eq!((first.status, second.status), (StatusCode::OK, StatusCode::OK), "{:?} {:?}", first.body, second.body);
    assert_eq!(first.body["refresh_token"], second.body["refresh_token"], "one successor, handed to both");
    for tab in [&first, &second] {
        assert_eq!(app.balance(tab.body["access_token"].as_str().expect("a token")).await, 10_000);
    }
    let next = first.body["refresh_token"].as_str().expect("a refresh token");
    assert_eq!(refresh(&app, next).await.status, StatusCode::OK, "the session goes on");
    assert!(auth_events(&app, "refresh_handed_over").await >= 1.0, "operators see handovers");
}

#[tokio::test]
async fn a_copy_replayed_after_the_handover_still_ends_the_session() {
    let app = spawn_app_with(|settings| settings.auth.refresh_handover = Duration::from_millis(500)).await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let stolen = login.body["refresh_token"].as_str().expect("a refresh token").to_owned();
    let owner = refresh(&app, &stolen).await;
    let owners = owner.body["refresh_token"].as_str().expect("a refresh token").to_owned();
    tokio::time::sleep(Duration::from_millis(600)).await;
    refresh(&app, &stolen).await.problem(401, "invalid_refresh_token");
    refresh(&app, &owners).await.problem(401, "invalid_refresh_token");
}

#[tokio::test]
async fn a_stolen_refresh_token_used_after_its_owner_ends_the_whole_session() {
    let app = without_handover().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let stolen = login.body["refresh_token"].as_str().expect("a refresh token").to_owned();
    // The owner refreshes first; the thief then replays the copy.
    let owner = refresh(&app, &stolen).await;
    let owners = owner.body["refresh_token"].as_str().expect("a refresh token").to_owned();
    let thief = refresh(&app, &stolen).await;
    thief.problem(401, "invalid_refresh_token");
    // Reuse revoked the family: the owner's current token is dead too.
    refresh(&app, &owners).await.problem(401, "invalid_refresh_token");
    assert!(auth_events(&app, "refresh_reused").await >= 1.0, "operators see the reuse");
    // Another login of the same member is another session, untouched.
    let other = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(refresh(&app, other.body["refresh_token"].as_str().expect("a token")).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logout_ends_the_session() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let token = login.body["refresh_token"].as_str().expect("a refresh token");
    let out = app.post("/v1/auth/logout", None, json!({"refresh_token": token})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    refresh(&app, token).await.problem(401, "invalid_refresh_token");
    let again = app.post("/v1/auth/logout", None, json!({"refresh_token": token})).await;
    assert_eq!(again.status, StatusCode::NO_CONTENT, "logging out twice is fine");
    for junk in ["", "garbage", "01a21033-602d-74f9-80dd-bb5f13f8762b.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"] {
        refresh(&app, junk).await.problem(401, "invalid_refresh_token");
        app.post("/v1/auth/logout", None, json!({"refresh_token": junk})).await.problem(401, "invalid_refresh_token");
    }
}

#[tokio::test]
async fn logout_ends_the_session_s_access_tokens_and_event_streams_at_once() {
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let (access, refresh_token) = (login.body["access_token"].as_str().expect("a token"), &login.body["refresh_token"]);
    let other_device = app.demo("alice").await;
    assert_eq!(app.balance(access).await, 10_000);
    let mut stream = EventStream::open(&app.url("/v1/me/events"), access, None).await.expect("a stream");
    assert_eq!(stream.next(Duration::from_secs(5)).await.expect("an event").name, "ready");

    let out = app.post("/v1/auth/logout", None, json!({"refresh_token": refresh_token})).await;
    assert_eq!(out.status, StatusCode::NO_CONTENT);
    let after = app.get("/v1/me/balance", Some(access)).await;
    after.problem(401, "unauthenticated");
    assert!(after.body["detail"].as_str().expect("a detail").contains("session"), "{:?}", after.body);
    app.share(access, "after-logout", json!({"to_handle": "bob", "amount": 1})).await.problem(401, "unauthenticated");
    assert_eq!(stream.next(Duration::from_secs(10)).await, None, "the open stream ends within seconds");
    assert_eq!(app.balance(&other_device).await, 10_000, "another login of hers goes on");
}

#[tokio::test]
async fn refresh_token_reuse_ends_the_session_s_access_tokens_too() {
    let app = without_handover().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let stolen = login.body["refresh_token"].as_str().expect("a refresh token").to_owned();
    let owner = refresh(&app, &stolen).await;
    let owners_access = owner.body["access_token"].as_str().expect("a token").to_owned();
    let thiefs_access = login.body["access_token"].as_str().expect("a token");
    refresh(&app, &stolen).await.problem(401, "invalid_refresh_token");
    app.get("/v1/me", Some(thiefs_access)).await.problem(401, "unauthenticated");
    app.get("/v1/me", Some(&owners_access)).await.problem(401, "unauthenticated");
}

#[tokio::test]
async fn knowing_a_session_s_id_ends_nothing() {
    // Session ids show in logs and in the refresh token's first half.
    let app = spawn_app().await;
    let login = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    let token = login.body["refresh_token"].as_str().expect("a refresh token");
    let access = login.body["access_token"].as_str().expect("a token");
    let (session, _) = token.split_once('.').expect("<session>.<secret>");
    let guess = format!("{session}.{}", "A".repeat(43));
    refresh(&app, &guess).await.problem(401, "invalid_refresh_token");
    app.post("/v1/auth/logout", None, json!({"refresh_token": guess})).await.problem(401, "invalid_refresh_token");
    assert_eq!(app.balance(access).await, 10_000, "the session goes on");
    assert_eq!(refresh(&app, token).await.status, StatusCode::OK, "and its token still works");
}

#[tokio::test]
async fn an_expired_token_is_told_apart_from_a_bad_one_so_a_client_knows_to_refresh() {
    let app = spawn_app_with(|s| s.auth.token_ttl = std::time::Duration::from_secs(1)).await;
    let token = app.demo("alice").await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let expired = app.get("/v1/me", Some(&token)).await;
    expired.problem(401, "token_expired");
    let challenge = |answer: &crate::helpers::Answer| {
        answer.headers.get("www-authenticate").and_then(|value| value.to_str().ok()).unwrap_or_default().to_owned()
    };
    assert!(challenge(&expired).starts_with(r#"Bearer error="invalid_token""#), "{}", challenge(&expired));

    let forged = app.get("/v1/me", Some("not-a-jwt")).await;
    forged.problem(401, "unauthenticated");
    assert!(challenge(&forged).starts_with(r#"Bearer error="invalid_token""#), "{}", challenge(&forged));
    let missing = app.get("/v1/me", None).await;
    missing.problem(401, "unauthenticated");
    assert_eq!(challenge(&missing), "Bearer", "no token: no error code (RFC 6750)");
}

#[tokio::test]
async fn one_address_guessing_one_accounts_password_is_stopped() {
    let app = spawn_app_with(|s| s.rate_limits.logins_per_minute_per_address_and_account = 3).await;
    for _ in 0..3 {
        app.login("alice@pointshare.test", "wrong password").await.problem(401, "invalid_credentials");
    }
    let limited = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    limited.problem(429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    // The same address may still log in to another account.
    assert_eq!(app.login("bob@pointshare.test", DEMO_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn logins_are_rate_limited_per_address_whatever_it_claims_to_forward() {
    let app = spawn_app_with(|s| s.rate_limits.logins_per_minute_per_address = 3).await;
    let login = |n: u32| {
        let body = json!({"email": format!("guess{n}@pointshare.test"), "password": "guess"});
        let request = app.client.post(app.url("/v1/auth/login")).header("x-forwarded-for", format!("10.0.0.{n}"));
        async move { Answer::of(request.json(&body).send().await.expect("answers")).await }
    };
    for n in 0..3 {
        login(n).await.problem(401, "invalid_credentials");
    }
    login(3).await.problem(429, "rate_limited");
}

/// A login from `client` as the trusted proxy in front reports it.
async fn login_via_proxy(app: &TestApp, client: &str, email: &str, password: &str) -> Answer {
    let body = json!({"email": email, "password": password});
    let request = app.client.post(app.url("/v1/auth/login")).header("x-forwarded-for", client).json(&body);
    Answer::of(request.send().await.expect("answers")).await
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_has_its_own_allowance() {
    // Through the shipped nginx every request comes from the proxy's address:
    // without trusted proxies, 3 failures from anyone would lock out everyone.
    let app = spawn_app_with(|s| {
        s.rate_limits.logins_per_minute_per_address = 3;
        behind_a_loopback_proxy(s);
    })
    .await;
    for n in 0..3 {
        let guess = login_via_proxy(&app, "203.0.113.66", &format!("guess{n}@pointshare.test"), "guess").await;
        guess.problem(401, "invalid_credentials");
    }
    login_via_proxy(&app, "203.0.113.66", "x@pointshare.test", "guess").await.problem(429, "rate_limited");
    let alice = login_via_proxy(&app, "198.51.100.7", "alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(alice.status, StatusCode::OK, "another client is not locked out: {:?}", alice.body);
    // A client claiming another address to the proxy is still itself.
    let spoofed = login_via_proxy(&app, "198.51.100.7, 203.0.113.66", "x@pointshare.test", "guess").await;
    spoofed.problem(429, "rate_limited");
}

#[tokio::test]
async fn a_client_s_own_forwarded_header_or_fresh_ipv6_address_buys_no_new_allowance() {
    // The proxy appends the client's address to X-Forwarded-For; a Forwarded
    // header (or any other) can only be the client's own words.
    let app = spawn_app_with(|s| {
        s.rate_limits.logins_per_minute_per_address = 3;
        behind_a_loopback_proxy(s);
    })
    .await;
    let login = |forwarded: String, client: String| {
        let body = json!({"email": "guess@pointshare.test", "password": "guess"});
        let request = app.client.post(app.url("/v1/auth/login")).header("forwarded", forwarded);
        let request = request.header("x-forwarded-for", client).json(&body);
        async move { Answer::of(request.send().await.expect("answers")).await }
    };
    for n in 0..3 {
        login(format!("for=198.51.100.{n}"), "203.0.113.66".into()).await.problem(401, "invalid_credentials");
    }
    login("for=198.51.100.99".into(), "203.0.113.66".into()).await.problem(429, "rate_limited");
    // One IPv6 subscriber holds a whole /64: each of its addresses is the same client.
    for n in 1..=3 {
        login(String::new(), format!("2001:db8:7:7::{n}")).await.problem(401, "invalid_credentials");
    }
    login(String::new(), "2001:db8:7:7:ffff::1".into()).await.problem(429, "rate_limited");
    login(String::new(), "2001:db8:7:8::1".into()).await.problem(401, "invalid_credentials");
}

#[tokio::test]
async fn guesses_at_an_account_from_many_addresses_never_lock_its_owner_out() {
    let app = spawn_app_with(|s| {
        s.rate_limits.logins_per_minute_per_address_and_account = 2;
        s.rate_limits.failed_logins_before_slow_down = 10;
        behind_a_loopback_proxy(s);
    })
    .await;
    for attacker in 0..6 {
        let address = format!("203.0.113.{attacker}");
        for _ in 0..2 {
            let guess = login_via_proxy(&app, &address, "alice@pointshare.test", "not her password").await;
            guess.problem(401, "invalid_credentials");
        }
        let blocked = login_via_proxy(&app, &address, "alice@pointshare.test", "not her password").await;
        blocked.problem(429, "rate_limited");
    }
    let owner = login_via_proxy(&app, "198.51.100.7", "alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(owner.status, StatusCode::OK, "slowed down, never locked out: {:?}", owner.body);
}

#[tokio::test]
async fn a_login_says_how_many_tries_its_address_and_account_have_left() {
    let app = spawn_app().await;
    app.demo("alice").await;
    let again = app.login("alice@pointshare.test", DEMO_PASSWORD).await;
    assert_eq!(again.status, StatusCode::OK);
    let header = |name: &str| again.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    let policy = header("ratelimit-policy");
    assert!(policy.contains(r#""logins";q="#) && policy.contains(r#""logins-per-account";q="#), "{policy}");
    assert!(header("ratelimit").contains(r#""logins-per-account";r="#), "{}", header("ratelimit"));
}
