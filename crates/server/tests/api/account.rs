//! A member's own account, as a frontend uses it, with mail read from the
//! real SMTP server the test server sends through: a password changed ends
//! every other session at once and a mail says so; a forgotten one is reset
//! through the link the mail carries, once, and asking says nothing about
//! who is a member. On the in-memory store and on MongoDB.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use pointshare_testkit::Inbox;

use crate::helpers::{Store, TestApp, spawn_on};
use crate::sse::EventStream;

on_each_store!(
    a_new_password_ends_every_other_session_at_once_and_a_mail_says_so,
    a_forgotten_password_is_reset_through_the_link_in_the_mail_once
);

const PATIENCE: Duration = Duration::from_secs(10);

/// A member of a handle unique to the test (the SMTP server's inbox is shared).
fn unique(name: &str) -> String {
    format!("{name}{}", &pointshare_domain::MailId::new().as_uuid().simple().to_string()[..12])
}

async fn sessions_of(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let answer = app.login(email, password).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let token = |name: &str| answer.body[name].as_str().expect("a token").to_owned();
    (token("access_token"), token("refresh_token"))
}

async fn a_new_password_ends_every_other_session_at_once_and_a_mail_says_so(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let handle = unique("ada");
    assert_eq!(app.signup(&handle).await.status, StatusCode::CREATED);
    let email = format!("{handle}@example.com");
    let (laptop, _) = sessions_of(&app, &email, "a good password").await;
    let (phone, phone_refresh) = sessions_of(&app, &email, "a good password").await;
    let mut phone_stream = EventStream::open(&app.url("/v1/me/events"), &phone, None).await.expect("a stream");
    assert_eq!(phone_stream.next(PATIENCE).await.expect("an event").name, "ready");

    let change = |current: &str| json!({"current_password": current, "new_password": "a brand new passphrase"});
    app.post("/v1/me/password", Some(&laptop), change("not it")).await.problem(403, "wrong_password");
    assert_eq!(app.get("/v1/me", Some(&phone)).await.status, StatusCode::OK, "nothing changed yet");
    let weak = app.post(
        "/v1/me/password",
        Some(&laptop),
        json!({"current_password": "a good password", "new_password": "aaaaaaaaaa"}),
    );
    weak.await.problem(422, "validation_failed");

    let changed = app.post("/v1/me/password", Some(&laptop), change("a good password")).await;
    assert_eq!(changed.status, StatusCode::NO_CONTENT, "{:?}", changed.body);
    app.get("/v1/me", Some(&phone)).await.problem(401, "unauthenticated");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": phone_refresh}))
        .await
        .problem(401, "invalid_refresh_token");
    let ended = tokio::time::timeout(PATIENCE, async { while phone_stream.next(PATIENCE).await.is_some() {} });
    ended.await.expect("the phone's event stream ends");
    assert_eq!(app.get("/v1/me", Some(&laptop)).await.status, StatusCode::OK, "this session stays");
    app.login(&email, "a good password").await.problem(401, "invalid_credentials");
    sessions_of(&app, &email, "a brand new passphrase").await;

    let mails = Inbox::from_env().wait_for(&email, 1, PATIENCE).await;
    assert_eq!(mails[0].subject, "Your pointshare password was changed");
    assert!(mails[0].text.contains(&format!("Hello {handle},")), "{}", mails[0].text);
}

async fn a_forgotten_password_is_reset_through_the_link_in_the_mail_once(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let handle = unique("bea");
    assert_eq!(app.signup(&handle).await.status, StatusCode::CREATED);
    let email = format!("{handle}@example.com");
    let (before, _) = sessions_of(&app, &email, "a good password").await;

    let asked = app.post("/v1/auth/password-reset", None, json!({"email": email.to_uppercase()})).await;
    assert_eq!(asked.status, StatusCode::ACCEPTED, "{:?}", asked.body);
    let nobody = format!("{}@example.com", unique("nobody"));
    let unknown = app.post("/v1/auth/password-reset", None, json!({"email": nobody})).await;
    assert_eq!((unknown.status, &unknown.body), (asked.status, &asked.body), "the same answer for nobody");

    let inbox = Inbox::from_env();
    let mails = inbox.wait_for(&email, 1, PATIENCE).await;
    assert_eq!(mails[0].subject, "Reset your pointshare password");
    let token =
        mails[0].link_parameter("http://127.0.0.1:5173/reset-password", "token").expect("a link with its token");
    let confirm = |token: &str, password: &str| json!({"token": token, "new_password": password});
    app.post("/v1/auth/password-reset/confirm", None, confirm("not-a-token-this-server-gave", "a new passphrase"))
        .await
        .problem(400, "invalid_token");
    app.post("/v1/auth/password-reset/confirm", None, confirm(&token, "short")).await.problem(422, "validation_failed");
    let reset = app.post("/v1/auth/password-reset/confirm", None, confirm(&token, "a new passphrase")).await;
    assert_eq!(reset.status, StatusCode::NO_CONTENT, "{:?}", reset.body);
    app.get("/v1/me", Some(&before)).await.problem(401, "unauthenticated");
    app.post("/v1/auth/password-reset/confirm", None, confirm(&token, "another passphrase"))
        .await
        .problem(400, "invalid_token");
    app.login(&email, "a good password").await.problem(401, "invalid_credentials");
    sessions_of(&app, &email, "a new passphrase").await;
    let told = inbox.wait_for(&email, 2, PATIENCE).await;
    assert!(told.iter().any(|mail| mail.subject == "Your pointshare password was changed"), "{told:#?}");
    assert!(inbox.to(&nobody).is_empty(), "nothing went to an address no member has");

    // Asked for too often, for one address: refused whether a member has it or not.
    for _ in 0..4 {
        app.post("/v1/auth/password-reset", None, json!({"email": nobody})).await;
    }
    app.post("/v1/auth/password-reset", None, json!({"email": nobody})).await.problem(429, "rate_limited");
}
