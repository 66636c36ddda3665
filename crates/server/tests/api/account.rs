//! A member's own account, as a frontend uses it, with mail read from the
//! real SMTP server the test server sends through: a password changed ends
//! every other session at once and a mail says so. On the in-memory store
//! and on MongoDB.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use pointshare_testkit::Inbox;

use crate::helpers::{Store, TestApp, spawn_on};
use crate::sse::EventStream;

on_each_store!(a_new_password_ends_every_other_session_at_once_and_a_mail_says_so);

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
