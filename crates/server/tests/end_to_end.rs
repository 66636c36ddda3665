//! The `pointshare` binary against real servers: MongoDB-protocol (SecantusDB)
//! and Redis from `scripts/with-servers`, and the provider simulator on its
//! own port. Members sign up, get points, share them, read their history;
//! then the server restarts and everything is still there.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

fn required(variable: &str) -> String {
    std::env::var(variable).unwrap_or_else(|_| {
        panic!("{variable} is unset: run the tests through scripts/with-servers (scripts/test does), which starts the servers")
    })
}

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider simulator of this test's own, and the settings of a server on
/// it and on a fresh database of the test MongoDB, with ada as admin.
async fn real_backends(database: &str) -> (pointshare_provider_sim::RunningSim, Vec<(&'static str, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let config = pointshare_provider_sim::SimConfig::default();
    let api_key = config.api_key.clone();
    let sim = pointshare_provider_sim::start(listener, config).await.expect("starts");
    let env = vec![
        ("POINTSHARE_MONGODB_URI", required("POINTSHARE_TEST_MONGODB_URI")),
        ("POINTSHARE_MONGODB_DATABASE", format!("{database}_{:016x}", rand::random::<u64>())),
        ("POINTSHARE_PROVIDER_URL", sim.base_url()),
        ("POINTSHARE_PROVIDER_API_KEY", api_key),
        ("POINTSHARE_JWT_SECRET", "an end-to-end secret of at least 32 bytes".into()),
        ("POINTSHARE_ADMIN_EMAILS", "ada@example.com".into()),
    ];
    (sim, env)
}

async fn start_server(env: &[(&str, String)]) -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port();
    let child = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("POINTSHARE_BIND", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let server = Server { child, base: format!("http://127.0.0.1:{port}") };
    for _ in 0..100 {
        if reqwest::get(format!("{}/healthz", server.base)).await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pointshare did not come up on port {port}");
}

async fn call(
    client: &Client,
    method: reqwest::Method,
    url: String,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = client.request(method, url);
    if let Some(token) = token {
        request = request.bearer_auth(token).header("Idempotency-Key", format!("k-{}", rand::random::<u64>()));
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("answers");
    let status = response.status();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn login(client: &Client, server: &Server, email: &str) -> String {
    let body = json!({"email": email, "password": "correct horse battery"});
    let (status, token) =
        call(client, reqwest::Method::POST, format!("{}/v1/auth/login", server.base), None, Some(body)).await;
    assert_eq!(status, StatusCode::OK, "{token}");
    token["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_share_and_history_survive_a_restart_on_real_servers() {
    let (sim, mut env) = real_backends("e2e").await;
    env.push(("POINTSHARE_REDIS_URL", required("POINTSHARE_TEST_REDIS_URL")));
    let client = Client::new();
    let server = start_server(&env).await;
    let post = reqwest::Method::POST;
    for handle in ["ada", "ben"] {
        let body = json!({"email": format!("{handle}@example.com"), "password": "correct horse battery", "handle": handle, "display_name": handle});
        let (status, member) =
            call(&client, post.clone(), format!("{}/v1/auth/signup", server.base), None, Some(body)).await;
        assert_eq!(status, StatusCode::CREATED, "{member}");
    }
    let ada = login(&client, &server, "ada@example.com").await;
    let grant = json!({"to_handle": "ada", "amount": 100, "reason": "welcome"});
    let (status, granted) =
        call(&client, post.clone(), format!("{}/v1/admin/grants", server.base), Some(&ada), Some(grant)).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    let share = json!({"to_handle": "ben", "amount": 30, "memo": "lunch"});
    let (status, shared) =
        call(&client, post.clone(), format!("{}/v1/transfers", server.base), Some(&ada), Some(share)).await;
    assert_eq!((status, shared["state"].as_str()), (StatusCode::CREATED, Some("completed")), "{shared}");
    let (_, ready) = call(&client, reqwest::Method::GET, format!("{}/readyz", server.base), None, None).await;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["store"].as_str().expect("a store").starts_with("mongodb: ok"), "{ready}");
    assert!(ready["cache"].as_str().expect("a cache").starts_with("redis: ok"), "{ready}");
    drop(server);

    let server = start_server(&env).await;
    let ben = login(&client, &server, "ben@example.com").await;
    let get = reqwest::Method::GET;
    let (_, history) = call(&client, get.clone(), format!("{}/v1/transfers", server.base), Some(&ben), None).await;
    let items = history["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{history}");
    assert_eq!((items[0]["id"].clone(), items[0]["amount"].as_u64()), (shared["id"].clone(), Some(30)));
    let (_, balance) = call(&client, get.clone(), format!("{}/v1/me/balance", server.base), Some(&ben), None).await;
    assert_eq!(balance["balance"], 30);
    let ada = login(&client, &server, "ada@example.com").await;
    let (_, page) = call(&client, get, format!("{}/v1/transfers", server.base), Some(&ada), None).await;
    assert_eq!(page["items"].as_array().expect("items").len(), 2, "the grant and the share: {page}");
    assert_eq!(sim.ledger().summary().total_balance, 100, "the grant is the only points minted");
}

/// A Redis of this test's own, to stop in the middle of a run.
struct OwnRedis(Child, String);

impl OwnRedis {
    async fn start() -> OwnRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port();
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server is installed (scripts/with-servers installs it)");
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        OwnRedis(child, format!("redis://127.0.0.1:{port}"))
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_members_are_still_served_and_readyz_says_degraded() {
    let mut redis = OwnRedis::start().await;
    let settings = pointshare_server::Settings {
        bind: "127.0.0.1:0".parse().expect("valid address"),
        redis_url: Some(redis.1.clone()),
        jwt_secret: Some("a test secret of at least thirty-two bytes".into()),
        ..pointshare_server::Settings::default()
    };
    let application = pointshare_server::Application::build(settings).await.expect("builds");
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = Client::new();
    let body = json!({"email": "alice@pointshare.test", "password": "pointshare-demo"});
    let (_, token) = call(&client, reqwest::Method::POST, format!("{}/v1/auth/login", base), None, Some(body)).await;
    let alice = token["access_token"].as_str().expect("a token").to_owned();

    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");

    let get = reqwest::Method::GET;
    let (status, balance) = call(&client, get.clone(), format!("{}/v1/me/balance", base), Some(&alice), None).await;
    assert_eq!((status, balance["source"].as_str()), (StatusCode::OK, Some("provider")), "{balance}");
    let share = json!({"to_handle": "bob", "amount": 5});
    let (status, shared) =
        call(&client, reqwest::Method::POST, format!("{}/v1/transfers", base), Some(&alice), Some(share)).await;
    assert_eq!(status, StatusCode::CREATED, "the limiter fails open by default: {shared}");
    let (status, ready) = call(&client, get, format!("{}/readyz", base), None, None).await;
    assert_eq!((status, ready["status"].as_str()), (StatusCode::OK, Some("degraded")), "{ready}");
    let metrics = client.get(format!("{}/metrics", base)).send().await.expect("answers").text().await.expect("text");
    assert!(metrics.contains("pointshare_cache_errors_total"), "cache failures are counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_a_closed_limiter_refuses_shares() {
    let mut redis = OwnRedis::start().await;
    let settings = pointshare_server::Settings {
        bind: "127.0.0.1:0".parse().expect("valid address"),
        redis_url: Some(redis.1.clone()),
        rate_limit_fail_open: false,
        jwt_secret: Some("a test secret of at least thirty-two bytes".into()),
        ..pointshare_server::Settings::default()
    };
    let application = pointshare_server::Application::build(settings).await.expect("builds");
    let base = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    let client = Client::new();
    let body = json!({"email": "alice@pointshare.test", "password": "pointshare-demo"});
    let (_, token) = call(&client, reqwest::Method::POST, format!("{base}/v1/auth/login"), None, Some(body)).await;
    let alice = token["access_token"].as_str().expect("a token").to_owned();
    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");
    let share = json!({"to_handle": "bob", "amount": 5});
    let (status, refused) =
        call(&client, reqwest::Method::POST, format!("{base}/v1/transfers"), Some(&alice), Some(share)).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("rate_limiter_unavailable")));
}

/// `pointshare reconcile` with these settings: its exit status and JSON report.
fn reconcile(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, Value) {
    let output = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .arg("reconcile")
        .arg("--json")
        .args(args)
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the binary runs");
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|_| panic!("a JSON report; stderr: {}", String::from_utf8_lossy(&output.stderr)));
    (output.status.code(), report)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconcile_reports_what_the_provider_disagrees_with_and_repair_finishes_what_was_left() {
    use pointshare_domain::ports::Movement;
    use pointshare_domain::{MovementKind, Points, ProviderReference};
    use pointshare_testkit::{Fault, Operation};

    let (sim, mut env) = real_backends("reconcile").await;
    env.push(("POINTSHARE_REQUEST_DEADLINE", "1s".into()));
    // Nothing finishes the unfinished transfer but `reconcile --repair`.
    env.push(("POINTSHARE_RECOVERY_INTERVAL", "0s".into()));
    let client = Client::new();
    let server = start_server(&env).await;
    let post = reqwest::Method::POST;
    for handle in ["ada", "ben"] {
        let body = json!({"email": format!("{handle}@example.com"), "password": "correct horse battery", "handle": handle, "display_name": handle});
        call(&client, post.clone(), format!("{}/v1/auth/signup", server.base), None, Some(body)).await;
    }
    let ada = login(&client, &server, "ada@example.com").await;
    let grant = json!({"to_handle": "ada", "amount": 100, "reason": "welcome"});
    call(&client, post.clone(), format!("{}/v1/admin/grants", server.base), Some(&ada), Some(grant)).await;
    let share = |amount: u64| json!({"to_handle": "ben", "amount": amount});
    let (status, done) =
        call(&client, post.clone(), format!("{}/v1/transfers", server.base), Some(&ada), Some(share(10))).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    let (code, report) = reconcile(&env, &[]);
    assert_eq!((code, report["transfers"].as_u64(), report["granted_points"].as_u64()), (Some(0), Some(2), Some(100)));

    // The credit fails until the request's deadline: the debit is applied, the share is left processing.
    sim.faults().fail_next(Operation::Credit, 1_000, Fault::Transient);
    let (status, left) =
        call(&client, post.clone(), format!("{}/v1/transfers", server.base), Some(&ada), Some(share(20))).await;
    assert_eq!((status, left["state"].as_str()), (StatusCode::ACCEPTED, Some("processing")), "{left}");
    sim.faults().heal();
    let (code, report) = reconcile(&env, &[]);
    assert_eq!((code, report["unfinished"].clone()), (Some(1), json!([left["id"]])), "{report}");
    // The request holds its transfer for twice its deadline; then recovery may take it.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (code, report) = reconcile(&env, &["--repair", "--repair-for", "30s"]);
    assert_eq!((code, report["repaired"].as_u64()), (Some(0), Some(1)), "{report}");
    assert_eq!(report["by_state"], json!({"completed": 3}), "{report}");
    assert_eq!(sim.ledger().summary().total_balance, 100, "nothing minted or lost");

    // Points moved at the provider under a reference the completed share must not have.
    let credited = sim
        .ledger()
        .transaction(
            &ProviderReference::parse(format!("{}:credit", done["id"].as_str().expect("an id"))).expect("valid"),
        )
        .expect("the share's credit");
    let stray = ProviderReference::parse(format!("{}:refund", done["id"].as_str().expect("an id"))).expect("valid");
    let movement = Movement {
        account: credited.account_id.clone(),
        reference: stray.clone(),
        amount: Points::new(5).expect("valid"),
        memo: None,
    };
    sim.ledger().apply(MovementKind::Credit, &movement).expect("applies");
    let (code, report) = reconcile(&env, &["--repair"]);
    assert_eq!(code, Some(1), "{report}");
    let mismatches = report["mismatches"].as_array().expect("mismatches");
    assert_eq!(mismatches.len(), 1, "{report}");
    assert_eq!((&mismatches[0]["transfer"], mismatches[0]["reference"].as_str()), (&done["id"], Some(stray.as_str())));
    drop(server);
}

#[test]
fn reconcile_needs_the_real_store_and_provider_and_says_so() {
    let output = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .arg("reconcile")
        .env_remove("POINTSHARE_MONGODB_URI")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("POINTSHARE_MONGODB_URI"), "{stderr}");
}
