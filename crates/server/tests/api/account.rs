//! A member's own account, as a frontend uses it (signing up logs in), with mail read from the
//! real SMTP server the test server sends through: a password changed ends
//! every other session at once and a mail says so; a forgotten one is reset
//! through the link the mail carries, once, and asking says nothing about
//! who is a member. On the in-memory store and on MongoDB.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use pointshare_testkit::Inbox;

use crate::helpers::{Answer, BOSS, BOSS_PASSWORD, Store, TestApp, spawn_on};
use crate::sse::EventStream;

on_each_store!(
    sharing_waits_for_the_email_to_be_verified_through_the_link_in_the_mail,
    a_new_password_ends_every_other_session_at_once_and_a_mail_says_so,
    a_forgotten_password_is_reset_through_the_link_in_the_mail_once,
    a_member_sees_their_devices_and_signs_one_or_every_other_out,
    an_email_moves_through_the_link_mailed_to_the_new_address_and_the_old_one_is_told,
    a_member_downloads_everything_kept_about_them,
    an_account_closes_once_its_points_are_shared_and_stays_closed,
    a_closing_member_forfeits_what_is_left_to_the_house_account
);

const PATIENCE: Duration = Duration::from_secs(10);

// Handles unique to the test: the SMTP server's inbox is shared.
use pointshare_testkit::unique;

async fn sessions_of(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let answer = app.login(email, password).await;
    assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
    let token = |name: &str| answer.body[name].as_str().expect("a token").to_owned();
    (token("access_token"), token("refresh_token"))
}

async fn a_new_password_ends_every_other_session_at_once_and_a_mail_says_so(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let handle = unique("ada");
    let signed_up = app.signup(&handle).await;
    assert_eq!((signed_up.status, &signed_up.body["handle"]), (StatusCode::CREATED, &json!(handle)));
    let first = signed_up.body["session"]["access_token"].as_str().expect("signup logs in");
    assert_eq!(app.get("/v1/me", Some(first)).await.status, StatusCode::OK);
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

    let mail = Inbox::from_env().wait_for_subject(&email, "Your pointshare password was changed", PATIENCE).await;
    assert!(mail.text.contains(&format!("Hello {handle},")), "{}", mail.text);
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
    let mail = inbox.wait_for_subject(&email, "Reset your pointshare password", PATIENCE).await;
    let token = mail.link_parameter("http://127.0.0.1:5173/reset-password", "token").expect("a link with its token");
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
    inbox.wait_for_subject(&email, "Your pointshare password was changed", PATIENCE).await;
    assert!(inbox.to(&nobody).is_empty(), "nothing went to an address no member has");

    // Asked for too often, for one address: refused whether a member has it or not.
    for _ in 0..4 {
        app.post("/v1/auth/password-reset", None, json!({"email": nobody})).await;
    }
    app.post("/v1/auth/password-reset", None, json!({"email": nobody})).await.problem(429, "rate_limited");
}

async fn sharing_waits_for_the_email_to_be_verified_through_the_link_in_the_mail(store: Store) {
    let (app, _provider) = spawn_on(store, |s| s.accounts.require_verified_email = Some(true)).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let handle = unique("cy");
    let signed_up = app.signup(&handle).await;
    assert_eq!((signed_up.status, &signed_up.body["email_verified"]), (StatusCode::CREATED, &json!(false)));
    let cy = signed_up.body["session"]["access_token"].as_str().expect("a token").to_owned();
    let email = format!("{handle}@example.com");
    let granted = app.grant(&boss, &unique("g"), json!({"to_handle": handle, "amount": 50, "reason": "welcome"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "an unverified member receives: {:?}", granted.body);
    app.share(&cy, "early", json!({"to_handle": "admin", "amount": 5})).await.problem(422, "email_unverified");

    let inbox = Inbox::from_env();
    let mail = inbox.wait_for_subject(&email, "Confirm your email for pointshare", PATIENCE).await;
    let token = mail.link_parameter("http://127.0.0.1:5173/verify-email", "token").expect("a link with its token");
    let verified = app.post("/v1/auth/verify-email", None, json!({"token": token})).await;
    assert_eq!(verified.status, StatusCode::NO_CONTENT, "{:?}", verified.body);
    app.post("/v1/auth/verify-email", None, json!({"token": token})).await.problem(400, "invalid_token");
    assert_eq!(app.get("/v1/me", Some(&cy)).await.body["email_verified"], true);
    let shared = app.share(&cy, "after", json!({"to_handle": "admin", "amount": 5})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    let again = app.post("/v1/me/verification-email", Some(&cy), json!({})).await;
    assert_eq!(again.status, StatusCode::ACCEPTED);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(inbox.to(&email).len(), 1, "nothing more to verify, nothing more mailed");
}

async fn a_member_sees_their_devices_and_signs_one_or_every_other_out(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let handle = unique("cy");
    let signed_up = app.signup(&handle).await;
    let first = signed_up.body["session"]["access_token"].as_str().expect("signup logs in").to_owned();
    let email = format!("{handle}@example.com");
    let login_on = |agent: &'static str| {
        let body = json!({"email": email, "password": "a good password"});
        app.client.post(app.url("/v1/auth/login")).header("User-Agent", agent).json(&body).send()
    };
    let laptop = Answer::of(login_on("Firefox on a laptop").await.expect("answers")).await;
    let phone = Answer::of(login_on("Safari on a phone").await.expect("answers")).await;
    let token = |answer: &Answer, name: &str| answer.body[name].as_str().expect("a token").to_owned();
    let (laptop, phone_access, phone_refresh) =
        (token(&laptop, "access_token"), token(&phone, "access_token"), token(&phone, "refresh_token"));
    let phone_id = phone_refresh.split_once('.').expect("<session>.<secret>").0.to_owned();

    let listed = app.get("/v1/me/sessions", Some(&laptop)).await;
    assert_eq!(listed.status, StatusCode::OK, "{:?}", listed.body);
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!(items.len(), 3, "signup, laptop and phone: {items:?}");
    let current: Vec<_> = items.iter().filter(|item| item["current"] == json!(true)).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Firefox on a laptop");
    let on_phone = items.iter().find(|item| item["id"] == json!(phone_id)).expect("the phone's session");
    assert_eq!((&on_phone["user_agent"], &on_phone["address"]), (&json!("Safari on a phone"), &json!("127.0.0.1")));
    assert!(on_phone["last_used_at"].is_string() && on_phone["expires_at"].is_string(), "{on_phone:?}");

    let others = app.signup(&unique("dee")).await;
    let others_refresh = others.body["session"]["refresh_token"].as_str().expect("a token");
    let others_id = others_refresh.split_once('.').expect("<session>.<secret>").0;
    app.delete(&format!("/v1/me/sessions/{others_id}"), &laptop).await.problem(404, "not_found");
    app.delete("/v1/me/sessions/not-a-session", &laptop).await.problem(404, "not_found");
    let others_access = others.body["session"]["access_token"].as_str().expect("a token");
    assert_eq!(app.get("/v1/me", Some(others_access)).await.status, StatusCode::OK, "another member's goes on");

    assert_eq!(app.delete(&format!("/v1/me/sessions/{phone_id}"), &laptop).await.status, StatusCode::NO_CONTENT);
    app.get("/v1/me", Some(&phone_access)).await.problem(401, "unauthenticated");
    app.post("/v1/auth/refresh", None, json!({"refresh_token": phone_refresh}))
        .await
        .problem(401, "invalid_refresh_token");
    assert_eq!(app.delete(&format!("/v1/me/sessions/{phone_id}"), &laptop).await.status, StatusCode::NO_CONTENT);
    let listed = app.get("/v1/me/sessions", Some(&laptop)).await;
    assert_eq!(listed.body["items"].as_array().expect("items").len(), 2);

    assert_eq!(app.delete("/v1/me/sessions", &laptop).await.status, StatusCode::NO_CONTENT);
    app.get("/v1/me", Some(&first)).await.problem(401, "unauthenticated");
    let listed = app.get("/v1/me/sessions", Some(&laptop)).await;
    let items = listed.body["items"].as_array().expect("items");
    assert_eq!((items.len(), &items[0]["current"]), (1, &json!(true)), "this one stays: {items:?}");
}

async fn an_email_moves_through_the_link_mailed_to_the_new_address_and_the_old_one_is_told(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let (handle, other) = (unique("eve"), unique("fay"));
    let token = app.member(&handle).await;
    app.member(&other).await;
    let (old, new) = (format!("{handle}@example.com"), format!("{handle}.moved@example.com"));
    let change = |email: &str, password: &str| json!({"email": email, "password": password});

    app.patch("/v1/me", &token, change(&new, "not it")).await.problem(403, "wrong_password");
    let taken = app.patch("/v1/me", &token, change(&format!("{other}@example.com"), "a good password"));
    taken.await.problem(409, "email_taken");
    let same = app.patch("/v1/me", &token, change(&old.to_uppercase(), "a good password")).await;
    assert_eq!(same.problem(422, "validation_failed").body["errors"][0]["pointer"], "/email");
    let no_password = app.patch("/v1/me", &token, json!({"email": new})).await;
    assert_eq!(no_password.problem(422, "validation_failed").body["errors"][0]["pointer"], "/password");
    app.patch("/v1/me", &token, json!({})).await.problem(422, "validation_failed");
    app.patch("/v1/me", &token, change("no at sign", "a good password")).await.problem(422, "validation_failed");

    let asked = app
        .patch("/v1/me", &token, json!({"email": new, "password": "a good password", "display_name": "Eve E."}))
        .await;
    assert_eq!(asked.status, StatusCode::OK, "{:?}", asked.body);
    let shown = (&asked.body["email"], &asked.body["display_name"]);
    assert_eq!(shown, (&json!(old), &json!("Eve E.")), "renamed at once, moved once the link is followed");
    let inbox = Inbox::from_env();
    let notice = inbox.wait_for_subject(&old, "Your pointshare email is changing", PATIENCE).await;
    assert!(notice.text.contains(&new), "the old address learns the new one: {}", notice.text);
    let link = inbox.wait_for_subject(&new, "Confirm your email for pointshare", PATIENCE).await;
    let proof = link.link_parameter("http://127.0.0.1:5173/verify-email", "token").expect("a link with its token");
    assert_eq!(app.get("/v1/me", Some(&token)).await.body["email"], json!(old), "nothing moves before the link");
    app.login(&new, "a good password").await.problem(401, "invalid_credentials");

    let moved = app.post("/v1/auth/verify-email", None, json!({"token": proof})).await;
    assert_eq!(moved.status, StatusCode::NO_CONTENT, "{:?}", moved.body);
    let me = app.get("/v1/me", Some(&token)).await;
    assert_eq!((&me.body["email"], &me.body["email_verified"]), (&json!(new), &json!(true)));
    app.post("/v1/auth/verify-email", None, json!({"token": proof})).await.problem(400, "invalid_token");
    sessions_of(&app, &new, "a good password").await;
    app.login(&old, "a good password").await.problem(401, "invalid_credentials");
}

async fn a_member_downloads_everything_kept_about_them(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let (handle, friend) = (unique("gus"), unique("hal"));
    let token = app.member(&handle).await;
    let friends = app.member(&friend).await;
    let granted = app.grant(&boss, &unique("g"), json!({"to_handle": handle, "amount": 50, "reason": "welcome"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    let shared = app.share(&token, &unique("s"), json!({"to_handle": friend, "amount": 20, "memo": "lunch"})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    let back = app.share(&friends, &unique("s"), json!({"to_handle": handle, "amount": 5})).await;
    assert_eq!(back.status, StatusCode::CREATED, "{:?}", back.body);

    let response = app.client.get(app.url("/v1/me/export")).bearer_auth(&token).send().await.expect("answers");
    let disposition = response.headers()["content-disposition"].to_str().expect("ASCII").to_owned();
    assert_eq!(disposition, format!("attachment; filename=\"pointshare-{handle}.json\""));
    let export = Answer::of(response).await;
    assert_eq!(export.status, StatusCode::OK, "{:?}", export.body);
    assert_eq!(
        (&export.body["member"]["handle"], &export.body["member"]["email"]),
        (&json!(handle), &json!(format!("{handle}@example.com")))
    );
    let sessions = export.body["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 2, "signup's and the login's: {sessions:?}");
    assert_eq!(sessions.iter().filter(|s| s["current"] == json!(true)).count(), 1);
    let transfers: Vec<(&Value, &Value, &Value)> = export.body["transfers"]
        .as_array()
        .expect("transfers")
        .iter()
        .map(|t| (&t["kind"], &t["amount"], &t["to_handle"]))
        .collect();
    assert_eq!(
        transfers,
        [
            (&json!("share"), &json!(5), &json!(handle)),
            (&json!("share"), &json!(20), &json!(friend)),
            (&json!("grant"), &json!(50), &json!(handle))
        ],
        "every transfer, newest first"
    );
    app.get("/v1/me/export", None).await.problem(401, "unauthenticated");
}

async fn an_account_closes_once_its_points_are_shared_and_stays_closed(store: Store) {
    let (app, _provider) = spawn_on(store, |_| {}).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let (handle, friend) = (unique("ivy"), unique("jon"));
    let email = format!("{handle}@example.com");
    let token = app.member(&handle).await;
    let friends = app.member(&friend).await;
    let granted = app.grant(&boss, &unique("g"), json!({"to_handle": handle, "amount": 30, "reason": "welcome"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    let close = |password: &str| {
        let request = app.client.delete(app.url("/v1/me")).bearer_auth(&token).json(&json!({"password": password}));
        async move { Answer::of(request.send().await.expect("answers")).await }
    };

    close("not it").await.problem(403, "wrong_password");
    let forfeit = json!({"password": "a good password", "forfeit": true});
    let request = app.client.delete(app.url("/v1/me")).bearer_auth(&token).json(&forfeit);
    Answer::of(request.send().await.expect("answers")).await.problem(409, "forfeit_unavailable");
    let left = close("a good password").await;
    left.problem(409, "points_left");
    assert!(left.body["detail"].as_str().expect("a detail").contains("30 points"), "{:?}", left.body);
    assert_eq!(app.balance(&token).await, 30, "still open, nothing moved");
    let shared = app.share(&token, &unique("s"), json!({"to_handle": friend, "amount": 30})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);

    let closed = close("a good password").await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{:?}", closed.body);
    app.get("/v1/me", Some(&token)).await.problem(401, "unauthenticated");
    app.login(&email, "a good password").await.problem(401, "invalid_credentials");
    let mail = Inbox::from_env().wait_for_subject(&email, "Your pointshare account is closed", PATIENCE).await;
    assert!(mail.text.contains(&format!("Hello {handle},")), "{}", mail.text);
    let to_closed = app.share(&friends, &unique("s"), json!({"to_handle": handle, "amount": 1})).await;
    to_closed.problem(422, "recipient_inactive");
    let history = app.get("/v1/transfers", Some(&friends)).await;
    let received = &history.body["items"][0];
    let seen = (&received["from_handle"], &received["from_closed"], &received["to_closed"]);
    assert_eq!(seen, (&json!(handle), &json!(true), &json!(false)), "the friend's history shows the leaver closed");

    let found = app.get(&format!("/v1/admin/members?query={handle}"), Some(&boss)).await;
    let listed = &found.body["items"][0];
    assert_eq!(
        (&listed["handle"], &listed["status"], &listed["display_name"]),
        (&json!(handle), &json!("closed"), &json!("Closed account"))
    );
    assert!(listed["email"].as_str().expect("an email").ends_with("@closed.invalid"), "{listed:?}");
    let id = listed["id"].as_str().expect("an id");
    let reopen = json!({"status": "active", "reason": "asked by phone"});
    app.put(&format!("/v1/admin/members/{id}/status"), &boss, reopen).await.problem(409, "account_closed");
    let close_by_admin = json!({"status": "closed", "reason": "no"});
    app.put(&format!("/v1/admin/members/{id}/status"), &boss, close_by_admin).await.problem(422, "validation_failed");

    let same_handle = app.signup(&handle).await;
    same_handle.problem(409, "handle_taken");
    let body = json!({"email": email, "password": "a good password", "handle": unique("kit"), "display_name": "Kit"});
    let same_email = app.post("/v1/auth/signup", None, body).await;
    assert_eq!(same_email.status, StatusCode::CREATED, "the address is free again: {:?}", same_email.body);
}

async fn a_closing_member_forfeits_what_is_left_to_the_house_account(store: Store) {
    let house = unique("house");
    let house_handle = house.clone();
    let (app, _provider) = spawn_on(store, move |s| s.accounts.house_handle = Some(house_handle)).await;
    let boss = app.token(BOSS, BOSS_PASSWORD).await;
    let handle = unique("lea");
    let token = app.member(&handle).await;
    let house_token = app.member(&house).await;
    let granted = app.grant(&boss, &unique("g"), json!({"to_handle": handle, "amount": 70, "reason": "welcome"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);

    let body = json!({"password": "a good password", "forfeit": true});
    let request = app.client.delete(app.url("/v1/me")).bearer_auth(&token).json(&body);
    let closed = Answer::of(request.send().await.expect("answers")).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{:?}", closed.body);
    assert_eq!(app.balance(&house_token).await, 70, "the house received what was left");
    let history = app.get("/v1/transfers", Some(&house_token)).await;
    let forfeit = &history.body["items"][0];
    let seen = (&forfeit["kind"], &forfeit["state"], &forfeit["amount"], &forfeit["from_handle"]);
    assert_eq!(seen, (&json!("forfeit"), &json!("completed"), &json!(70), &json!(handle)));
    app.get("/v1/me", Some(&token)).await.problem(401, "unauthenticated");
}
