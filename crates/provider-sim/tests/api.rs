//! The simulator as a provider client sees it on the wire: the status codes,
//! error codes and bodies of provider-api.md, the sandbox extensions, the
//! configured faults, and the command line.

use std::num::NonZeroU32;
use std::time::Duration;

use pointshare_provider_sim::{RunningSim, SimConfig};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};

const KEY: &str = "test-key";

struct Wire {
    sim: RunningSim,
    client: Client,
}

impl Wire {
    async fn start(config: SimConfig) -> Wire {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free loopback port");
        let sim = pointshare_provider_sim::start(listener, SimConfig { api_key: KEY.into(), ..config })
            .await
            .expect("the simulator starts");
        Wire { sim, client: Client::new() }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut request = self.client.request(method, format!("{}{path}", self.sim.base_url())).bearer_auth(KEY);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("the simulator answers");
        let status = response.status();
        let text = response.text().await.expect("a body");
        (status, serde_json::from_str(&text).unwrap_or_else(|_| panic!("a JSON body, got {text:?}")))
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn open(&self, holder: &str, balance: u64) -> String {
        let (status, account) =
            self.post("/v1/accounts", json!({"holder_ref": holder, "initial_balance": balance})).await;
        assert_eq!(status, StatusCode::CREATED, "{account}");
        account["account_id"].as_str().expect("an account id").to_owned()
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_else(|| panic!("an error envelope, got {body}"))
}

#[tokio::test]
async fn accounts_open_once_per_holder_and_read_back() {
    let wire = Wire::start(SimConfig::default()).await;
    let (status, first) = wire.post("/v1/accounts", json!({"holder_ref": "member-1"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!((first["balance"].as_u64(), first["status"].as_str()), (Some(0), Some("active")));
    assert!(first["updated_at"].as_str().expect("a timestamp").ends_with('Z'));
    let (status, again) = wire.post("/v1/accounts", json!({"holder_ref": "member-1"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(again["account_id"], first["account_id"]);
    let (status, read) = wire.get(&format!("/v1/accounts/{}", first["account_id"].as_str().expect("id"))).await;
    assert_eq!((status, read), (StatusCode::OK, first));
    let (status, missing) = wire.get("/v1/accounts/acc_none").await;
    assert_eq!((status, error_code(&missing)), (StatusCode::NOT_FOUND, "account_not_found"));
}

#[tokio::test]
async fn debits_and_credits_answer_as_the_contract_says() {
    let wire = Wire::start(SimConfig::default()).await;
    let account = wire.open("h", 100).await;
    let debits = format!("/v1/accounts/{account}/debits");
    let (status, debit) = wire.post(&debits, json!({"reference": "t1:debit", "amount": 30, "memo": "lunch"})).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(debit["kind"], "debit");
    assert_eq!((debit["amount"].as_u64(), debit["balance_after"].as_u64()), (Some(30), Some(70)));
    assert_eq!((debit["reference"].as_str(), debit["account_id"].as_str()), (Some("t1:debit"), Some(account.as_str())));

    let (status, replay) = wire.post(&debits, json!({"reference": "t1:debit", "amount": 30})).await;
    assert_eq!((status, &replay), (StatusCode::OK, &debit), "a replay answers 200 with the original");

    let (status, conflict) = wire.post(&debits, json!({"reference": "t1:debit", "amount": 31})).await;
    assert_eq!((status, error_code(&conflict)), (StatusCode::CONFLICT, "reference_conflict"));
    let (status, short) = wire.post(&debits, json!({"reference": "t2:debit", "amount": 71})).await;
    assert_eq!((status, error_code(&short)), (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds"));

    let (status, credit) =
        wire.post(&format!("/v1/accounts/{account}/credits"), json!({"reference": "c1", "amount": 5})).await;
    assert_eq!((status, credit["balance_after"].as_u64()), (StatusCode::CREATED, Some(75)));

    let (status, found) = wire.get("/v1/transactions/t1:debit").await;
    assert_eq!((status, found), (StatusCode::OK, debit));
    let (status, missing) = wire.get("/v1/transactions/t2:debit").await;
    assert_eq!((status, error_code(&missing)), (StatusCode::NOT_FOUND, "transaction_not_found"));
    let (status, nowhere) = wire.post("/v1/accounts/acc_none/credits", json!({"reference": "c2", "amount": 5})).await;
    assert_eq!((status, error_code(&nowhere)), (StatusCode::NOT_FOUND, "account_not_found"));
}

#[tokio::test]
async fn bad_requests_are_invalid_and_apply_nothing() {
    let wire = Wire::start(SimConfig::default()).await;
    let account = wire.open("h", 100).await;
    let debits = format!("/v1/accounts/{account}/debits");
    let bodies = [
        json!({"reference": "r", "amount": 0}),
        json!({"reference": "r", "amount": 1_000_000_000_001u64}),
        json!({"reference": "r", "amount": -5}),
        json!({"reference": "r", "amount": "5"}),
        json!({"reference": "has space", "amount": 5}),
        json!({"reference": "r".repeat(129), "amount": 5}),
        json!({"reference": "r", "amount": 5, "memo": "m".repeat(141)}),
        json!({"amount": 5}),
    ];
    for body in bodies {
        let (status, answer) = wire.post(&debits, body.clone()).await;
        assert_eq!((status, error_code(&answer)), (StatusCode::BAD_REQUEST, "invalid_request"), "{body}");
    }
    let raw = wire.client.post(format!("{}{debits}", wire.sim.base_url())).bearer_auth(KEY);
    let not_json = raw.header("content-type", "application/json").body("{nope").send().await.expect("answers");
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let (status, bad_reference) = wire.get("/v1/transactions/not%20valid").await;
    assert_eq!((status, error_code(&bad_reference)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (status, holder) = wire.post("/v1/accounts", json!({"holder_ref": ""})).await;
    assert_eq!((status, error_code(&holder)), (StatusCode::BAD_REQUEST, "invalid_request"));
    assert_eq!(wire.sim.ledger().summary().transactions, 0);
    assert_eq!(wire.sim.ledger().account(&account.parse().expect("id")).expect("exists").balance, 100);
}

#[tokio::test]
async fn every_call_needs_the_api_key() {
    let wire = Wire::start(SimConfig::default()).await;
    let url = format!("{}/v1/_sandbox/ledger", wire.sim.base_url());
    for request in [wire.client.get(&url), wire.client.get(&url).bearer_auth("wrong")] {
        let response = request.send().await.expect("answers");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        let body: Value = response.json().await.expect("a JSON body");
        assert_eq!(error_code(&body), "unauthorized");
    }
}

#[tokio::test]
async fn sandbox_extensions_freeze_accounts_and_total_the_ledger() {
    let wire = Wire::start(SimConfig::default()).await;
    let account = wire.open("h", 40).await;
    wire.open("h2", 2).await;
    let (status, frozen) =
        wire.call(Method::PATCH, &format!("/v1/accounts/{account}"), Some(json!({"status": "frozen"}))).await;
    assert_eq!((status, frozen["status"].as_str()), (StatusCode::OK, Some("frozen")));
    let (status, inactive) =
        wire.post(&format!("/v1/accounts/{account}/debits"), json!({"reference": "r", "amount": 1})).await;
    assert_eq!((status, error_code(&inactive)), (StatusCode::UNPROCESSABLE_ENTITY, "account_inactive"));
    let (status, bad) =
        wire.call(Method::PATCH, &format!("/v1/accounts/{account}"), Some(json!({"status": "gone"}))).await;
    assert_eq!((status, error_code(&bad)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (status, summary) = wire.get("/v1/_sandbox/ledger").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(summary, json!({"accounts": 2, "total_balance": 42, "transactions": 0}));
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_envelope() {
    let wire = Wire::start(SimConfig::default()).await;
    let (status, body) = wire.get("/v1/nothing-here").await;
    assert_eq!((status, error_code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    let (status, body) = wire.call(Method::DELETE, "/v1/accounts", None).await;
    assert_eq!((status, error_code(&body)), (StatusCode::METHOD_NOT_ALLOWED, "invalid_request"));
}

#[tokio::test]
async fn demo_accounts_have_predictable_ids() {
    let wire = Wire::start(SimConfig { accounts: 3, initial_balance: 500, ..SimConfig::default() }).await;
    let ids: Vec<_> = wire.sim.demo_accounts().iter().map(|a| a.account_id.to_string()).collect();
    assert_eq!(ids, ["acc_1", "acc_2", "acc_3"]);
    let (_, account) = wire.get("/v1/accounts/acc_2").await;
    assert_eq!(account["balance"].as_u64(), Some(500));
    let (status, again) = wire.post("/v1/accounts", json!({"holder_ref": "demo-2"})).await;
    assert_eq!((status, again["account_id"].as_str()), (StatusCode::OK, Some("acc_2")));
}

#[tokio::test]
async fn a_thousand_concurrent_debits_of_one_account_lose_no_update() {
    let wire = Wire::start(SimConfig::default()).await;
    let account = wire.open("busy", 1_000).await;
    let path = format!("/v1/accounts/{account}/debits");
    let debits = (0..1_000).map(|n| wire.post(&path, json!({"reference": format!("d{n}"), "amount": 1})));
    let answers = futures::future::join_all(debits).await;
    assert!(answers.iter().all(|(status, _)| *status == StatusCode::CREATED));
    let mut balances_after: Vec<u64> =
        answers.iter().map(|(_, t)| t["balance_after"].as_u64().expect("a balance")).collect();
    balances_after.sort_unstable();
    assert_eq!(balances_after, (0..1_000).collect::<Vec<u64>>(), "each debit saw its own balance");
    let (_, read) = wire.get(&format!("/v1/accounts/{account}")).await;
    assert_eq!(read["balance"].as_u64(), Some(0));
}

#[tokio::test]
async fn an_error_rate_of_one_answers_503_and_applies_nothing() {
    let wire = Wire::start(SimConfig { error_rate: 1.0, seed: Some(7), ..SimConfig::default() }).await;
    let account = wire.sim.ledger().open_account(&"h".parse().expect("holder"), 10).0.account_id;
    let (status, body) =
        wire.post(&format!("/v1/accounts/{account}/debits"), json!({"reference": "r", "amount": 1})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert_eq!(wire.sim.ledger().summary().transactions, 0);
    // The sandbox ledger is outside the faults, so a checker can always read it.
    assert_eq!(wire.get("/v1/_sandbox/ledger").await.0, StatusCode::OK);
}

#[tokio::test]
async fn a_timeout_rate_of_one_applies_and_then_answers_too_late() {
    let config = SimConfig { timeout_rate: 1.0, hang: Duration::from_millis(200), ..SimConfig::default() };
    let wire = Wire::start(config).await;
    let account = wire.sim.ledger().open_account(&"h".parse().expect("holder"), 10).0.account_id;
    let (status, body) =
        wire.post(&format!("/v1/accounts/{account}/debits"), json!({"reference": "r", "amount": 1})).await;
    assert_eq!((status, error_code(&body)), (StatusCode::GATEWAY_TIMEOUT, "unavailable"));
    assert_eq!(wire.sim.ledger().account(&account).expect("exists").balance, 9, "applied before the late answer");
}

#[tokio::test]
async fn the_same_seed_draws_the_same_faults() {
    let outcomes = |seed| async move {
        let wire = Wire::start(SimConfig { error_rate: 0.5, seed: Some(seed), ..SimConfig::default() }).await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(wire.get("/v1/accounts/acc_none").await.0);
        }
        statuses
    };
    let first = outcomes(42).await;
    assert_eq!(first, outcomes(42).await);
    assert!(first.contains(&StatusCode::SERVICE_UNAVAILABLE) && first.contains(&StatusCode::NOT_FOUND));
}

#[tokio::test]
async fn past_the_rate_limit_calls_get_429_with_retry_after() {
    let wire = Wire::start(SimConfig { rate_limit: NonZeroU32::new(5), ..SimConfig::default() }).await;
    let url = format!("{}/v1/accounts/acc_none", wire.sim.base_url());
    let mut limited = None;
    for _ in 0..20 {
        let response = wire.client.get(&url).bearer_auth(KEY).send().await.expect("answers");
        if response.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(response);
            break;
        }
    }
    let response = limited.expect("a burst past 5 per second is limited");
    let retry_after: u64 = response.headers()["retry-after"].to_str().expect("ascii").parse().expect("whole seconds");
    assert!(retry_after >= 1);
    let body: Value = response.json().await.expect("a JSON body");
    assert_eq!(error_code(&body), "rate_limited");
}

#[tokio::test]
async fn shutdown_answers_held_calls_and_stops_serving() {
    let config = SimConfig { timeout_rate: 1.0, hang: Duration::from_secs(600), ..SimConfig::default() };
    let wire = Wire::start(config).await;
    let base = wire.sim.base_url();
    let held = tokio::spawn({
        let client = wire.client.clone();
        let url = format!("{base}/v1/accounts/acc_none");
        async move { client.get(url).bearer_auth(KEY).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    wire.sim.shutdown().await.expect("stops cleanly");
    assert_eq!(held.await.expect("joins").expect("answered"), StatusCode::GATEWAY_TIMEOUT);
    assert!(wire.client.get(format!("{base}/v1/_sandbox/ledger")).send().await.is_err(), "no longer serving");
}

#[test]
fn the_command_line_explains_every_flag_and_refuses_bad_values() {
    let bin = env!("CARGO_BIN_EXE_pointshare-provider-sim");
    let help = std::process::Command::new(bin).arg("--help").output().expect("runs");
    let help = String::from_utf8(help.stdout).expect("utf-8");
    for flag in [
        "--bind",
        "--api-key",
        "--latency-ms",
        "--latency-jitter-ms",
        "--error-rate",
        "--timeout-rate",
        "--rate-limit",
        "--seed",
        "--accounts",
        "--initial-balance",
        "PROVIDER_SIM_BIND",
    ] {
        assert!(help.contains(flag), "--help does not mention {flag}:\n{help}");
    }
    let refused =
        std::process::Command::new(bin).args(["--bind", "127.0.0.1:0", "--error-rate", "1.5"]).output().expect("runs");
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("--error-rate"), "the error names the setting: {stderr}");
    let refused = std::process::Command::new(bin).env("PROVIDER_SIM_LATENCY_MS", "soon").output().expect("runs");
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--latency-ms"));
}
