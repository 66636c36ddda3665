//! Stopping the binary: SIGINT (Ctrl-C) and SIGTERM both stop new
//! connections, let the request in flight finish, and exit cleanly.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn answers(client: &Client, url: &str) -> bool {
    client.get(url).timeout(Duration::from_millis(500)).send().await.is_ok()
}

async fn a_share_in_flight_finishes_after(signal: &str) {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port();
    let base = format!("http://127.0.0.1:{port}");
    let mut server = Running(
        Command::new(env!("CARGO_BIN_EXE_pointshare"))
            .env("POINTSHARE_BIND", format!("127.0.0.1:{port}"))
            .env("POINTSHARE_INTERNAL_BIND", "127.0.0.1:0")
            .env("POINTSHARE_JWT_SECRET", pointshare_testkit::random_secret())
            .env("POINTSHARE_EMBEDDED_PROVIDER_LATENCY", "400ms")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts"),
    );
    // A fresh client per probe, so no pooled connection hides a closed listener.
    let health = format!("{base}/healthz");
    let started = Instant::now();
    while !answers(&Client::new(), &health).await {
        assert!(started.elapsed() < Duration::from_secs(30), "pointshare did not come up");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = Client::new();
    let login = json!({"email": "alice@pointshare.test", "password": "pointshare-demo"});
    let token: Value = client
        .post(format!("{base}/v1/auth/login"))
        .json(&login)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let token = token["access_token"].as_str().expect("a token").to_owned();

    // A debit and a credit of 400 ms each: the share is in flight for about 800 ms.
    let share = tokio::spawn(
        client
            .post(format!("{base}/v1/transfers"))
            .bearer_auth(token)
            .header("Idempotency-Key", format!("in-flight-{signal}"))
            .json(&json!({"to_handle": "bob", "amount": 5}))
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    let status = Command::new("kill").args(["-s", signal, &server.0.id().to_string()]).status().expect("kill runs");
    assert!(status.success());

    let signalled = Instant::now();
    while answers(&Client::new(), &health).await {
        assert!(signalled.elapsed() < Duration::from_secs(2), "{signal}: still taking new requests");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let answer = share.await.expect("joins").expect("the share in flight is answered");
    assert_eq!(answer.status(), StatusCode::CREATED, "{signal}");
    let body: Value = answer.json().await.expect("json");
    assert_eq!(body["state"], "completed", "{signal}");

    loop {
        if let Some(exit) = server.0.try_wait().expect("waits") {
            assert!(exit.success(), "{signal}: exited with {exit}");
            break;
        }
        assert!(signalled.elapsed() < Duration::from_secs(10), "{signal}: did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_drains_the_request_in_flight_then_exits() {
    a_share_in_flight_finishes_after("INT").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_the_request_in_flight_then_exits() {
    a_share_in_flight_finishes_after("TERM").await;
}
