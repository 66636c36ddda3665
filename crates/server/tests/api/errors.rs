//! Every way a request can be malformed gets a problem+json answer.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Answer, spawn_app, spawn_app_with};

#[tokio::test]
async fn bodies_that_are_not_json_too_large_or_mistyped() {
    let app = spawn_app().await;
    let send = |body: String, content_type: &'static str| {
        let request = app.client.post(app.url("/v1/auth/login")).header("content-type", content_type).body(body);
        async move { Answer::of(request.send().await.expect("answers")).await }
    };
    send("{\"email\": ".into(), "application/json").await.problem(400, "malformed_json");
    send("email=a".into(), "application/x-www-form-urlencoded").await.problem(415, "unsupported_media_type");
    send(format!("{{\"email\": \"{}\", \"password\": \"x\"}}", "a".repeat(20_000)), "application/json")
        .await
        .problem(413, "payload_too_large");
    send("{\"email\": 5}".into(), "application/json").await.problem(422, "validation_failed");
}

#[tokio::test]
async fn a_body_trickled_in_is_cut_off_with_408_and_its_connection_closed() {
    let app = spawn_app_with(|s| s.http.body_timeout = Duration::from_secs(1)).await;
    let address = app.address.trim_start_matches("http://");
    let mut connection = tokio::net::TcpStream::connect(address).await.expect("connects");
    let head = "POST /v1/auth/login HTTP/1.1\r\nhost: pointshare\r\ncontent-type: application/json\r\ncontent-length: 60\r\n\r\n";
    connection.write_all(head.as_bytes()).await.expect("sends the head");
    let started = std::time::Instant::now();
    let trickle = async {
        for byte in b"{\"email\": \"a@example.com\"" {
            if connection.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(2), trickle).await;
    let mut answer = String::new();
    tokio::time::timeout(Duration::from_secs(5), connection.read_to_string(&mut answer))
        .await
        .expect("the server closes the connection")
        .expect("reads");
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = spawn_app().await;
    app.get("/v1/nothing", None).await.problem(404, "not_found");
    let put = app.client.put(app.url("/v1/me")).send().await.expect("answers");
    let answer = Answer::of(put).await;
    answer.problem(405, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "GET, PATCH, DELETE", "what /v1/me takes");
    let put =
        app.client.put(app.url("/v1/transfers/0190f3a0-b1c2-7c3d-8e9f-0a1b2c3d4e5f")).send().await.expect("answers");
    let answer = Answer::of(put).await;
    answer.problem(405, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "GET", "a templated path");
    let post = app.client.post(app.url("/openapi.json")).send().await.expect("answers");
    let answer = Answer::of(post).await;
    answer.problem(405, "method_not_allowed");
    assert_eq!(answer.headers["allow"], "GET", "a path outside the API's document");
}

#[tokio::test]
async fn every_answer_carries_a_request_id_and_echoes_the_callers() {
    let app = spawn_app().await;
    let generated = app.get("/healthz", None).await;
    assert_eq!(generated.status, StatusCode::OK);
    assert!(!generated.headers["x-request-id"].is_empty());
    let echoed =
        app.client.get(app.url("/v1/nothing")).header("x-request-id", "trace-42").send().await.expect("answers");
    assert_eq!(echoed.headers()["x-request-id"], "trace-42");
}

#[tokio::test]
async fn a_ui_renders_every_refusal_from_its_numbers_and_field_not_from_english() {
    let app =
        spawn_app_with(|s| s.limits.max_per_transfer = pointshare_domain::Points::new(500).expect("points")).await;
    let alice = app.demo("alice").await;
    let invalid = app.share(&alice, "bad", json!({"to_handle": "x", "amount": 0})).await;
    invalid.problem(422, "validation_failed");
    let params = |pointer: &str| -> Vec<Value> {
        let errors = invalid.body["errors"].as_array().expect("errors");
        errors.iter().filter(|e| e["pointer"] == pointer).map(|e| e["params"].clone()).collect()
    };
    assert!(params("/amount").contains(&json!({"min": 1})), "{}", invalid.body);
    assert!(params("/to_handle").contains(&json!({"min_length": 3})), "{}", invalid.body);
    assert!(params("/to_handle").contains(&json!({"pattern": "handle"})), "{}", invalid.body);
    assert_eq!(invalid.body["pointer"], invalid.body["errors"][0]["pointer"]);

    let to_self = app.share(&alice, "self", json!({"to_handle": "alice", "amount": 1})).await;
    assert_eq!(
        (to_self.body["code"].as_str(), to_self.body["pointer"].as_str()),
        (Some("self_transfer"), Some("/to_handle"))
    );
    let nobody = app.share(&alice, "nobody", json!({"to_handle": "nobody_here", "amount": 1})).await;
    assert_eq!(nobody.body["pointer"], "/to_handle", "{}", nobody.body);
    let above = app.share(&alice, "above", json!({"to_handle": "bob", "amount": 501})).await;
    above.problem(422, "limit_exceeded");
    assert_eq!((above.body["limit"].as_u64(), above.body["pointer"].as_str()), (Some(500), Some("/amount")));

    let taken = app.signup("alice").await;
    assert_eq!((taken.body["code"].as_str(), taken.body["pointer"].as_str()), (Some("handle_taken"), Some("/handle")));
    let query = app.get("/v1/transfers?limit=0", Some(&alice)).await;
    assert_eq!((query.body["code"].as_str(), query.body["field"].as_str()), (Some("invalid_query"), Some("limit")));
}

#[tokio::test]
async fn one_answer_names_every_invalid_field_schema_and_rules_together() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let body = json!({"to_handle": "x", "amount": "abc", "memo": "bad\u{0007}memo"});
    let answer = app.share(&alice, "one-phase", body).await;
    answer.problem(422, "validation_failed");
    let mut pointers: Vec<&str> =
        answer.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["pointer"].as_str()).collect();
    pointers.sort_unstable();
    pointers.dedup();
    assert_eq!(pointers, ["/amount", "/memo", "/to_handle"], "{}", answer.body);

    let signup = json!({"email": "not an email", "password": "aaaaaaaaaa", "handle": "ok_handle", "display_name": "Zoe\u{200b}"});
    let answer = app.post("/v1/auth/signup", None, signup).await;
    answer.problem(422, "validation_failed");
    let mut pointers: Vec<&str> =
        answer.body["errors"].as_array().expect("errors").iter().filter_map(|e| e["pointer"].as_str()).collect();
    pointers.sort_unstable();
    pointers.dedup();
    assert_eq!(pointers, ["/display_name", "/email", "/password"], "{}", answer.body);
}
