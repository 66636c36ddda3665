//! The `pointshare` binary against real servers: MongoDB-protocol (SecantusDB)
//! and Redis from `scripts/with-servers`, and the provider simulator on its
//! own port. Members sign up, an operator makes one an admin from the command
//! line, points are granted and shared, history read; then the server
//! restarts and everything, sessions too, is still there. Two replicas on
//! one Redis: a transfer one finishes reaches a member's stream on the other.
//! With Redis or the store cut off, members are served degraded or told to
//! come back (503 with `Retry-After`), never answered 500.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use pointshare_server::Settings;
use pointshare_server::settings::{MongoSettings, ProviderChoice, RedisSettings, StoreChoice};

#[path = "api/client.rs"]
#[allow(dead_code, reason = "shared with the API tests, which use all of it")]
mod client;
#[path = "api/sse.rs"]
#[allow(dead_code, reason = "shared with the API tests, which use all of it")]
mod sse;

use client::{Answer, Api, MEMBER_PASSWORD};
use pointshare_testkit::test_server as required;

/// The bootstrap admin's password (members have the client's `MEMBER_PASSWORD`).
const BOSS_PASSWORD: &str = "correct horse battery";

/// The binary, running, and a client to it (`Api`'s requests, through `Deref`).
struct Server {
    child: Child,
    api: Api,
}

impl std::ops::Deref for Server {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A provider simulator of this test's own, and the settings of a server on
/// it and on a fresh database of the test MongoDB, its cache in memory by
/// name, with the bootstrap admin boss@example.com.
async fn real_backends(database: &str) -> (pointshare_provider_sim::RunningSim, Vec<(&'static str, String)>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let config = pointshare_provider_sim::SimConfig::default();
    let api_key = config.api_key.clone();
    let sim = pointshare_provider_sim::start(listener, config).await.expect("starts");
    let env = vec![
        ("POINTSHARE_MONGODB_URI", required("POINTSHARE_TEST_MONGODB_URI")),
        ("POINTSHARE_MONGODB_DATABASE", pointshare_testkit::unique(database)),
        ("POINTSHARE_PROVIDER_URL", sim.base_url()),
        ("POINTSHARE_PROVIDER_API_KEY", api_key),
        ("POINTSHARE_JWT_SECRET", pointshare_testkit::random_secret()),
        ("POINTSHARE_CACHE", "memory".into()),
        ("POINTSHARE_SMTP_URL", required("POINTSHARE_TEST_SMTP_URL")),
        ("POINTSHARE_REQUIRE_VERIFIED_EMAIL", "false".into()),
        ("POINTSHARE_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com".into()),
        ("POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD", BOSS_PASSWORD.into()),
    ];
    let (status, said) = migrate(&env);
    assert_eq!(status, Some(0), "pointshare migrate: {said}");
    (sim, env)
}

/// Runs `pointshare migrate` as an operator would before a release's replicas:
/// its exit status and what it printed.
fn migrate(env: &[(&str, String)]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .arg("migrate")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the binary runs");
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), said)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port()
}

async fn start_server(env: &[(&str, String)]) -> Server {
    let (port, internal) = (free_port(), free_port());
    let child = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("POINTSHARE_BIND", format!("127.0.0.1:{port}"))
        .env("POINTSHARE_INTERNAL_BIND", format!("127.0.0.1:{internal}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let api = Api::new(format!("http://127.0.0.1:{port}"), format!("http://127.0.0.1:{internal}"));
    let server = Server { child, api };
    for _ in 0..100 {
        if reqwest::get(server.url("/healthz")).await.is_ok_and(|r| r.status().is_success()) {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("pointshare did not come up on port {port}");
}

/// `pointshare admin <args>` with these settings: exit status, stdout, stderr.
fn admin(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String, String) {
    operator(env, &["admin"], args)
}

/// `pointshare transfers resolve <args>` with these settings: exit status, stdout, stderr.
fn resolve(env: &[(&str, String)], args: &[&str]) -> (Option<i32>, String, String) {
    operator(env, &["transfers", "resolve"], args)
}

/// An operator's subcommand with these settings and nothing else.
fn operator(env: &[(&str, String)], command: &[&str], args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .args(command)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("the binary runs");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (output.status.code(), text(&output.stdout), text(&output.stderr))
}

/// Signs ada and ben up and has the operator make ada an admin.
async fn ada_admin_and_ben(server: &Server, env: &[(&str, String)]) {
    for handle in ["ada", "ben"] {
        let Answer { status, body: member, .. } = server.signup(handle).await;
        assert_eq!((status, member["role"].as_str()), (StatusCode::CREATED, Some("member")), "{member}");
    }
    let (code, out, err) = admin(env, &["promote", "ada@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ada@example.com") && out.contains("is now admin"), "{out}");
}

/// ada (an admin, granted 100 points by the bootstrap admin) and ben; ada's token.
async fn ada_with_100_and_ben(server: &Server, env: &[(&str, String)]) -> String {
    ada_admin_and_ben(server, env).await;
    let boss = server.token("boss@example.com", BOSS_PASSWORD).await;
    let grant = json!({"to_handle": "ada", "amount": 100, "reason": "welcome"});
    let Answer { status, body: granted, .. } = server.create("/v1/admin/grants", &boss, grant).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    server.token("ada@example.com", MEMBER_PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn signup_share_and_history_survive_a_restart_on_real_servers() {
    let (sim, mut env) = real_backends("e2e").await;
    env.retain(|(variable, _)| *variable != "POINTSHARE_CACHE");
    env.push(("POINTSHARE_REDIS_URL", required("POINTSHARE_TEST_REDIS_URL")));
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;
    let bens_session = server.session("ben@example.com", MEMBER_PASSWORD).await;
    let share = json!({"to_handle": "ben", "amount": 30, "memo": "lunch"});
    let Answer { status, body: shared, .. } = server.create("/v1/transfers", &ada, share).await;
    assert_eq!((status, shared["state"].as_str()), (StatusCode::CREATED, Some("completed")), "{shared}");
    let ready = server.internal_get("/readyz").await.body;
    assert_eq!(ready["status"], "ready", "{ready}");
    assert!(ready["store"].as_str().expect("a store").starts_with("mongodb: ok"), "{ready}");
    assert!(ready["cache"].as_str().expect("a cache").starts_with("redis: ok"), "{ready}");
    drop(server);

    let server = start_server(&env).await;
    // The session outlives the process: its refresh token is in the store.
    let body = json!({"refresh_token": bens_session["refresh_token"]});
    let Answer { status, body: refreshed, .. } = server.post("/v1/auth/refresh", None, body).await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");
    let ben = refreshed["access_token"].as_str().expect("a token").to_owned();
    let history = server.get("/v1/transfers", Some(&ben)).await.body;
    let items = history["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{history}");
    assert_eq!((items[0]["id"].clone(), items[0]["amount"].as_u64()), (shared["id"].clone(), Some(30)));
    let balance = server.get("/v1/me/balance", Some(&ben)).await.body;
    assert_eq!(balance["balance"], 30);
    let ada = server.token("ada@example.com", MEMBER_PASSWORD).await;
    let page = server.get("/v1/transfers", Some(&ada)).await.body;
    assert_eq!(page["items"].as_array().expect("items").len(), 2, "the grant and the share: {page}");
    assert_eq!(sim.ledger().summary().total_balance, 100, "the grant is the only points minted");
}

/// A Redis of this test's own, to stop in the middle of a run.
struct OwnRedis(Child, String);

impl OwnRedis {
    async fn start() -> OwnRedis {
        OwnRedis::on(free_port()).await
    }

    /// A Redis of the test's own on `port`.
    async fn on(port: u16) -> OwnRedis {
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

/// Waits for `happened` to hold, at most ten seconds.
async fn within_ten_seconds<F: Future<Output = bool>>(what: &str, mut happened: impl FnMut() -> F) {
    let started = std::time::Instant::now();
    while !happened().await {
        assert!(started.elapsed() < Duration::from_secs(10), "{what} took effect within 10 s");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Settings on free loopback ports, with a signing secret, the bootstrap
/// admin boss@example.com, and mail through the test SMTP server.
fn with_boss() -> Settings {
    let mut settings = Settings::default();
    settings.mail.smtp_url = Some(required("POINTSHARE_TEST_SMTP_URL").into());
    settings.accounts.require_verified_email = Some(false);
    settings.http.bind = "127.0.0.1:0".parse().expect("valid address");
    settings.http.internal_bind = "127.0.0.1:0".parse().expect("valid address");
    settings.auth.jwt_secret = Some(pointshare_testkit::random_secret().into());
    settings.bootstrap_admin.email = Some("boss@example.com".into());
    settings.bootstrap_admin.password = Some(BOSS_PASSWORD.into());
    settings
}

/// A server on `redis_url` (the rest embedded) with alice holding 100 points
/// granted by the bootstrap admin; a client to it, and alice's access token.
async fn alice_funded_on(redis_url: &str, rate_limit_fail_open: bool) -> (Api, String) {
    let mut settings = with_boss();
    settings.cache = Some(RedisSettings::new(redis_url));
    settings.backends.store = Some(StoreChoice::Memory);
    settings.backends.provider = Some(ProviderChoice::Simulator);
    settings.rate_limits.fail_open = rate_limit_fail_open;
    let api = Api::start(settings).await;
    let alice = alice_and_bob_on(&api).await;
    (api, alice)
}

/// Signs alice and bob up on the server `api` asks and has the bootstrap
/// admin grant alice 100 points; alice's access token.
async fn alice_and_bob_on(api: &Api) -> String {
    for handle in ["alice", "bob"] {
        let Answer { status, body: member, .. } = api.signup(handle).await;
        assert_eq!(status, StatusCode::CREATED, "{member}");
    }
    let boss = api.token("boss@example.com", BOSS_PASSWORD).await;
    let grant = json!({"to_handle": "alice", "amount": 100, "reason": "welcome"});
    let Answer { status, body: granted, .. } = api.create("/v1/admin/grants", &boss, grant).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");
    api.token("alice@example.com", MEMBER_PASSWORD).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_members_are_still_served_and_readyz_says_degraded() {
    let mut redis = OwnRedis::start().await;
    let (api, alice) = alice_funded_on(&redis.1, true).await;

    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");

    let Answer { status, body: balance, .. } = api.get("/v1/me/balance", Some(&alice)).await;
    assert_eq!((status, balance["source"].as_str()), (StatusCode::OK, Some("provider")), "{balance}");
    let share = json!({"to_handle": "bob", "amount": 5});
    let Answer { status, body: shared, .. } = api.create("/v1/transfers", &alice, share).await;
    assert_eq!(status, StatusCode::CREATED, "the limiter fails open by default: {shared}");
    let Answer { status, body: ready, .. } = api.get("/readyz", None).await;
    assert_eq!((status, ready), (StatusCode::OK, json!({"status": "degraded"})));
    let detailed = api.internal_get("/readyz").await.body;
    assert!(detailed["cache"].as_str().expect("a cache").starts_with("redis: "), "{detailed}");
    let metrics = api.internal_text("/metrics").await;
    assert!(metrics.contains("pointshare_cache_errors_total"), "cache failures are counted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_a_closed_limiter_refuses_shares_and_readyz_says_unready() {
    let mut redis = OwnRedis::start().await;
    let (api, alice) = alice_funded_on(&redis.1, false).await;
    redis.0.kill().expect("stops Redis");
    redis.0.wait().expect("Redis exits");
    let share = json!({"to_handle": "bob", "amount": 5});
    let Answer { status, body: refused, .. } = api.create("/v1/transfers", &alice, share).await;
    assert_eq!((status, refused["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("rate_limiter_unavailable")));
    // Without Redis this replica refuses whatever is limited: send traffic elsewhere.
    let Answer { status, body: ready, .. } = api.get("/readyz", None).await;
    assert_eq!((status, ready), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "unready"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_suspensions_change_only_from_the_operators_command_line_and_take_effect_within_seconds() {
    let (_sim, mut env) = real_backends("roles").await;
    // Open event streams check the member at each heartbeat.
    env.push(("POINTSHARE_EVENTS_HEARTBEAT", "1s".into()));
    let server = start_server(&env).await;
    ada_admin_and_ben(&server, &env).await;
    let ada = server.token("ada@example.com", MEMBER_PASSWORD).await;
    let grant = |n: u64| json!({"to_handle": "ben", "amount": n, "reason": "welcome"});
    let status = server.create("/v1/admin/grants", &ada, grant(1)).await.status;
    assert_eq!(status, StatusCode::CREATED);

    let (code, out, err) = admin(&env, &["promote", "ada@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("already admin"), "{out}");
    let (code, out, err) = admin(&env, &["demote", "ada@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("is now member"), "{out}");
    // Her token is still in date; her role is not. Replicas cache members for 5 s.
    within_ten_seconds("the demotion", || async {
        let status = server.create("/v1/admin/grants", &ada, grant(1)).await.status;
        status == StatusCode::FORBIDDEN
    })
    .await;

    let ben = server.session("ben@example.com", MEMBER_PASSWORD).await;
    let (ben_access, ben_refresh) = (ben["access_token"].as_str().expect("a token"), &ben["refresh_token"]);
    let mut events =
        server.client.get(server.url("/v1/me/events")).bearer_auth(ben_access).send().await.expect("the stream opens");
    assert_eq!(events.status(), StatusCode::OK);
    let (code, out, err) = admin(&env, &["suspend", "ben@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("is now suspended"), "{out}");
    within_ten_seconds("the suspension", || async {
        let status = server.get("/v1/me", Some(ben_access)).await.status;
        status == StatusCode::UNAUTHORIZED
    })
    .await;
    // His open event stream ends too, rather than go on telling him about transfers.
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while events.chunk().await.expect("the stream reads").is_some() {}
    });
    ended.await.expect("a suspended member's event stream ends within seconds");
    let body = json!({"refresh_token": ben_refresh});
    let status = server.post("/v1/auth/refresh", None, body).await.status;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "a suspended member's session cannot be refreshed");
    let (code, _, err) = admin(&env, &["reinstate", "ben@example.com"]);
    assert_eq!(code, Some(0), "{err}");
    server.session("ben@example.com", MEMBER_PASSWORD).await;

    let (code, _, err) = admin(&env, &["promote", "nobody@example.com"]);
    assert_eq!(code, Some(1), "an unknown email: {err}");
    assert!(err.contains("nobody@example.com"), "{err}");
    let mut unreachable = env.clone();
    unreachable[0].1 = "mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=500".into();
    let (code, _, err) = admin(&unreachable, &["promote", "ada@example.com"]);
    assert_eq!(code, Some(2), "no store: {err}");
    let in_memory: Vec<_> = env.iter().filter(|(key, _)| *key != "POINTSHARE_MONGODB_URI").cloned().collect();
    let (code, _, err) = admin(&in_memory, &["promote", "ada@example.com"]);
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("POINTSHARE_MONGODB_URI"), "{err}");
    let (code, _, err) = admin(&env, &["promote", "not an email"]);
    assert_eq!(code, Some(2), "{err}");
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
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;
    let share = |amount: u64| json!({"to_handle": "ben", "amount": amount});
    let Answer { status, body: done, .. } = server.create("/v1/transfers", &ada, share(10)).await;
    assert_eq!(status, StatusCode::CREATED, "{done}");
    // By default the transfers young enough to be in flight are the next run's.
    let (code, report) = reconcile(&env, &[]);
    assert_eq!((code, report["transfers"].as_u64()), (Some(0), Some(0)), "{report}");
    let (code, report) = reconcile(&env, &["--until", "now"]);
    assert_eq!((code, report["transfers"].as_u64(), report["granted_points"].as_u64()), (Some(0), Some(2), Some(100)));
    let (code, report) = reconcile(&env, &["--since", "2100-01-01", "--until", "now"]);
    assert_eq!((code, report["transfers"].as_u64()), (Some(0), Some(0)), "{report}");

    // The credit fails until the request's deadline: the debit is applied, the share is left processing.
    sim.faults().fail_next(Operation::Credit, 1_000, Fault::Transient);
    let Answer { status, body: left, .. } = server.create("/v1/transfers", &ada, share(20)).await;
    assert_eq!((status, left["state"].as_str()), (StatusCode::ACCEPTED, Some("processing")), "{left}");
    sim.faults().heal();
    // Unfinished, but in flight still: no finding yet.
    let (code, report) = reconcile(&env, &["--since", "1h"]);
    assert_eq!((code, report["unfinished"].clone()), (Some(0), json!([])), "{report}");
    let (code, report) = reconcile(&env, &["--since", "1h", "--until", "now"]);
    assert_eq!((code, report["unfinished"].clone()), (Some(1), json!([left["id"]])), "{report}");
    // The request holds its transfer for twice its deadline; then recovery may take it.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let (code, report) = reconcile(&env, &["--repair", "--repair-for", "30s", "--until", "now"]);
    assert_eq!((code, report["repaired"].as_u64()), (Some(0), Some(1)), "{report}");
    assert_eq!(report["by_state"], json!({"completed": 3}), "{report}");
    assert_eq!(sim.ledger().summary().total_balance, 100, "nothing minted or lost");

    // A share refused for want of points, whose debit lands at the provider
    // all the same (a late call): the records do not explain it.
    let Answer { status, body: refused, .. } = server.create("/v1/transfers", &ada, share(500)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{refused}");
    let history = server.get("/v1/transfers", Some(&ada)).await.body;
    let rejected = history["items"].as_array().expect("items").iter().find(|t| t["state"] == "rejected").expect("one");
    let debited = sim
        .ledger()
        .transaction(
            &ProviderReference::parse(format!("{}:debit", done["id"].as_str().expect("an id"))).expect("valid"),
        )
        .expect("the share's debit");
    let late = ProviderReference::parse(format!("{}:debit", rejected["id"].as_str().expect("an id"))).expect("valid");
    let movement = Movement {
        account: debited.account_id.clone(),
        reference: late.clone(),
        amount: Points::new(5).expect("valid"),
        memo: None,
    };
    sim.ledger().apply(MovementKind::Debit, &movement).expect("applies");
    let (code, report) = reconcile(&env, &["--repair", "--until", "now"]);
    assert_eq!(code, Some(1), "{report}");
    let mismatches = report["mismatches"].as_array().expect("mismatches");
    assert_eq!(mismatches.len(), 1, "{report}");
    assert_eq!(
        (&mismatches[0]["transfer"], mismatches[0]["reference"].as_str()),
        (&rejected["id"], Some(late.as_str()))
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_parked_for_review_shows_everywhere_and_an_operator_finishes_it_once() {
    use pointshare_testkit::{Fault, Operation};

    let (sim, env) = real_backends("review").await;
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;

    // The provider refuses the credit with a 401: no repeat fixes that.
    sim.faults().fail_next(Operation::Credit, 1, Fault::Unauthorized);
    let share = json!({"to_handle": "ben", "amount": 30});
    let Answer { status, body: parked, .. } = server.create("/v1/transfers", &ada, share).await;
    assert_eq!((status, parked["state"].as_str()), (StatusCode::ACCEPTED, Some("needs_review")), "{parked}");
    assert_eq!(parked["review_reason"], "provider_refused", "{parked}");
    let id = parked["id"].as_str().expect("an id");
    let (code, report) = reconcile(&env, &["--until", "now"]);
    assert_eq!((code, report["needing_review"].clone()), (Some(1), json!([id])), "{report}");

    let (code, out, err) = resolve(&env, &[id, "--refund", "--complete"]);
    assert_eq!(code, Some(2), "one decision at a time: {out}{err}");
    for _ in 0..2 {
        let (code, out, err) = resolve(&env, &[id, "--complete", "--operator", "alex"]);
        assert_eq!(code, Some(0), "{err}");
        assert!(out.contains("is completed (complete by operator:alex)"), "{out}");
    }
    let (code, _, err) = resolve(&env, &[id, "--refund", "--operator", "alex"]);
    assert_eq!(code, Some(1), "completed, not in review: {err}");
    let Answer { status, body: now, .. } = server.get(&format!("/v1/transfers/{id}"), Some(&ada)).await;
    assert_eq!(
        (status, now["state"].as_str(), now["review_reason"].as_str()),
        (StatusCode::OK, Some("completed"), Some("provider_refused"))
    );
    let (code, report) = reconcile(&env, &["--until", "now"]);
    assert_eq!((code, report["transfers"].as_u64()), (Some(0), Some(2)), "{report}");
    assert_eq!(sim.ledger().summary().total_balance, 100, "ben got 30 once, ada gave 30 once");
    let (code, _, err) = resolve(&env, &["not-an-id", "--refund"]);
    assert_eq!(code, Some(2), "{err}");
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

/// Two replicas on one MongoDB, Redis and (slow) provider: bob follows his
/// events on A, which never runs recovery; alice's share on B answers 202
/// and B's recovery finishes it (B drives nothing past a request). The
/// completed transfer and bob's new balance reach his stream on A.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transfer_finished_by_recovery_on_one_replica_reaches_a_stream_on_another() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    // A share is two calls of 0.7 s: past a 1 s deadline.
    let config = pointshare_provider_sim::SimConfig {
        latency: Duration::from_millis(700),
        ..pointshare_provider_sim::SimConfig::default()
    };
    let api_key = config.api_key.clone();
    let sim = pointshare_provider_sim::start(listener, config).await.expect("starts");
    let database = pointshare_testkit::unique("events");
    let replica = |recovery_interval: Duration, followup_limit: usize| {
        let mut settings = with_boss();
        settings.store = Some(MongoSettings {
            database: database.clone(),
            migrate_on_start: true,
            ..MongoSettings::new(required("POINTSHARE_TEST_MONGODB_URI"))
        });
        settings.cache = Some(RedisSettings::new(required("POINTSHARE_TEST_REDIS_URL")));
        settings.provider.url = Some(sim.base_url().parse().expect("a URL"));
        settings.provider.api_key = Some(api_key.clone().into());
        settings.http.request_deadline = Duration::from_secs(1);
        settings.saga.clock_skew = Duration::from_millis(100);
        settings.saga.followup_limit = followup_limit;
        settings.recovery.interval = recovery_interval;
        settings
    };
    let a = Api::start(replica(Duration::ZERO, 0)).await;
    let b = Api::start(replica(Duration::from_millis(200), 0)).await;

    for handle in ["alice", "bob"] {
        let Answer { status, body: member, .. } = a.signup(handle).await;
        assert_eq!(status, StatusCode::CREATED, "{member}");
    }
    let boss = a.token("boss@example.com", BOSS_PASSWORD).await;
    let grant = json!({"to_handle": "alice", "amount": 100, "reason": "welcome"});
    let Answer { status, body: granted, .. } = a.create("/v1/admin/grants", &boss, grant).await;
    assert_eq!(status, StatusCode::CREATED, "{granted}");

    let bob = a.token("bob@example.com", MEMBER_PASSWORD).await;
    let mut stream = sse::EventStream::open(&a.url("/v1/me/events"), &bob, None).await.expect("a stream");
    let patience = Duration::from_secs(15);
    assert_eq!(stream.next(patience).await.expect("an event").name, "ready");
    let alice = b.token("alice@example.com", MEMBER_PASSWORD).await;
    let share = json!({"to_handle": "bob", "amount": 10});
    let Answer { status, body: shared, .. } = b.create("/v1/transfers", &alice, share).await;
    assert_eq!((status, shared["state"].as_str()), (StatusCode::ACCEPTED, Some("processing")), "{shared}");

    let (mut completed, mut credited) = (false, false);
    while !(completed && credited) {
        let event = stream.next(patience).await.expect("the stream goes on");
        completed |= event.name == "transfer" && event.data["id"] == shared["id"] && event.data["state"] == "completed";
        credited |= event.name == "balance" && event.data["balance"] == 10;
    }
    drop(sim);
}

/// The audit log of a real store, from the command line: every privileged
/// act recorded, the chain verified, and a record altered in the database
/// found and named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_chain_is_verified_from_the_command_line_and_an_altered_record_is_named() {
    let (_sim, env) = real_backends("audit").await;
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;
    let (code, out, err) = operator(&env, &["audit", "verify"], &[]);
    assert_eq!(code, Some(0), "{out}{err}");
    // The bootstrap admin, ada's promotion, boss's grant.
    assert!(out.contains("holds: 3 records"), "{out}");
    let log = server.get("/v1/admin/audit", Some(&ada)).await.body;
    let actions: Vec<&str> =
        log["items"].as_array().expect("items").iter().filter_map(|r| r["action"].as_str()).collect();
    assert_eq!(actions, ["grant", "role_change", "bootstrap_admin"], "{log}");
    assert!(log["items"][1]["actor"].as_str().is_some_and(|actor| actor.starts_with("operator:")), "{log}");

    let uri = env.iter().find(|(key, _)| *key == "POINTSHARE_MONGODB_URI").expect("a store").1.clone();
    let database = env.iter().find(|(key, _)| *key == "POINTSHARE_MONGODB_DATABASE").expect("a database").1.clone();
    let mongo = mongodb::Client::with_uri_str(&uri).await.expect("a client");
    let records = mongo.database(&database).collection::<mongodb::bson::Document>("audit");
    let altered = records
        .update_one(mongodb::bson::doc! {"_id": 3_i64}, mongodb::bson::doc! {"$set": {"after": "1000000 points"}})
        .await
        .expect("updates");
    assert_eq!(altered.modified_count, 1);
    let (code, out, err) = operator(&env, &["audit", "verify"], &[]);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("breaks at record 3 of 3"), "{out}");

    let in_memory: Vec<_> = env.iter().filter(|(key, _)| *key != "POINTSHARE_MONGODB_URI").cloned().collect();
    let (code, _, err) = operator(&in_memory, &["audit", "verify"], &[]);
    assert_eq!(code, Some(2), "{err}");
}

/// The commands this server has sent MongoDB so far, by name, from its
/// metrics; not the `ping` each scrape of them sends.
async fn store_commands(server: &Server) -> std::collections::BTreeMap<String, u64> {
    let metrics = server.internal_text("/metrics").await;
    metrics
        .lines()
        .filter_map(|line| line.strip_prefix(r#"pointshare_store_commands_total{command=""#))
        .filter_map(|rest| {
            let (command, count) = rest.split_once(r#""} "#)?;
            (command != "ping").then_some(())?;
            Some((command.to_owned(), count.parse::<f64>().ok()? as u64))
        })
        .collect()
}

/// What `request` cost the store: the commands sent between before it and
/// once the count stopped moving (a share's saga may finish just after its
/// answer), by name.
async fn store_cost<F: Future<Output = ()>>(server: &Server, request: F) -> std::collections::BTreeMap<String, u64> {
    let before = store_commands(server).await;
    request.await;
    let mut after = store_commands(server).await;
    loop {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let again = store_commands(server).await;
        if again == after {
            break;
        }
        after = again;
    }
    after
        .into_iter()
        .map(|(command, count)| (command.clone(), count - before.get(&command).copied().unwrap_or(0)))
        .filter(|(_, count)| *count > 0)
        .collect()
}

/// The store round trips a share, a view of one transfer and a page of
/// history cost on MongoDB, counted by the driver (every command, those in
/// a transaction too) with the background workers idle: docs/architecture.md
/// lists them, and a change that adds one fails here.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_a_view_and_a_page_of_history_cost_the_store_what_the_docs_say() {
    let (_sim, mut env) = real_backends("round_trips").await;
    env.push(("POINTSHARE_RECOVERY_INTERVAL", "0s".into()));
    env.push(("POINTSHARE_MAIL_INTERVAL", "0s".into()));
    env.push(("POINTSHARE_MONGODB_COUNT_COMMANDS", "true".into()));
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;
    let share = || async {
        let body = json!({"to_handle": "ben", "amount": 1});
        let Answer { status, body: shared, .. } = server.create("/v1/transfers", &ada, body).await;
        assert_eq!((status, shared["state"].as_str()), (StatusCode::CREATED, Some("completed")), "{shared}");
        shared["id"].as_str().expect("an id").to_owned()
    };
    // The first share of the day creates its daily counter.
    let first = share().await;

    let shared = store_cost(&server, async {
        share().await;
    })
    .await;
    let viewed = store_cost(&server, async {
        let Answer { status, body: view, .. } = server.get(&format!("/v1/transfers/{first}"), Some(&ada)).await;
        assert_eq!(status, StatusCode::OK, "{view}");
    })
    .await;
    let paged = store_cost(&server, async {
        let Answer { status, body: page, .. } = server.get("/v1/transfers?limit=20", Some(&ada)).await;
        assert_eq!((status, page["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(3)), "{page}");
    })
    .await;
    let total = |cost: &std::collections::BTreeMap<String, u64>| cost.values().sum::<u64>();
    assert_eq!(
        (total(&shared), total(&viewed), total(&paged)),
        (4, 2, 3),
        "share {shared:?}, view {viewed:?}, page {paged:?}"
    );
    // Each repository call is timed, by operation (the store row of the dashboard).
    let metrics = server.internal_text("/metrics").await;
    for operation in ["transfers.insert", "transfers.history", "totals.reserve"] {
        let series = format!("pointshare_store_call_duration_seconds_count{{operation=\"{operation}\"}}");
        assert!(metrics.contains(&series), "{series} in /metrics");
    }
}

/// A TCP relay to the test MongoDB that a test can cut, as a network
/// partition or a dead store would: every open connection closes and new
/// ones are refused, until it is restored on the same port.
struct StoreLink {
    port: u16,
    upstream: String,
    relay: Option<(tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
}

impl StoreLink {
    async fn open() -> StoreLink {
        let uri = required("POINTSHARE_TEST_MONGODB_URI");
        let upstream = uri.trim_start_matches("mongodb://").split(['/', '?']).next().expect("a host").to_owned();
        let mut link = StoreLink { port: free_port(), upstream, relay: None };
        link.restore().await;
        link
    }

    /// The store through the link. A direct connection: otherwise the driver
    /// follows the hosts the server announces, around the link.
    fn uri(&self) -> String {
        let uri =
            required("POINTSHARE_TEST_MONGODB_URI").replacen(&self.upstream, &format!("127.0.0.1:{}", self.port), 1);
        let separator = if uri.contains('?') { '&' } else { '?' };
        let slash = if uri.trim_start_matches("mongodb://").contains('/') { "" } else { "/" };
        format!("{uri}{slash}{separator}directConnection=true")
    }

    async fn restore(&mut self) {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", self.port)).await.expect("the link's port");
        let upstream = self.upstream.clone();
        let (stop, mut stopped) = tokio::sync::oneshot::channel();
        let relay = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    Ok((mut client, _)) = listener.accept() => {
                        let upstream = upstream.clone();
                        connections.spawn(async move {
                            if let Ok(mut store) = tokio::net::TcpStream::connect(&upstream).await {
                                let _ = tokio::io::copy_bidirectional(&mut client, &mut store).await;
                            }
                        });
                    }
                }
            }
            // Every connection closed before the cut returns; the listener goes with this task.
            connections.shutdown().await;
        });
        self.relay = Some((stop, relay));
    }

    async fn cut(&mut self) {
        if let Some((stop, relay)) = self.relay.take() {
            let _ = stop.send(());
            relay.await.expect("the relay stops");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_store_unreachable_requests_answer_503_store_unavailable_and_a_repeated_share_happens_once_after() {
    let mut link = StoreLink::open().await;
    let mut settings = with_boss();
    settings.store = Some(MongoSettings {
        database: pointshare_testkit::unique("outage"),
        connect_timeout: Duration::from_secs(1),
        migrate_on_start: true,
        ..MongoSettings::new(link.uri())
    });
    settings.backends.cache = Some(pointshare_server::settings::CacheChoice::Memory);
    settings.backends.provider = Some(ProviderChoice::Simulator);
    let api = Api::start(settings).await;
    let alice = alice_and_bob_on(&api).await;

    let share = || api.share(&alice, "during-the-outage", json!({"to_handle": "bob", "amount": 30}));
    link.cut().await;
    for answer in [share().await, api.get("/v1/transfers", Some(&alice)).await] {
        answer.problem(503, "store_unavailable");
        assert!(answer.headers.contains_key("retry-after"), "says when to come back: {:?}", answer.body);
    }

    link.restore().await;
    let shared = share().await;
    assert_eq!(shared.status, StatusCode::CREATED);
    assert_eq!(shared.body["state"], "completed", "{:?}", shared.body);
    let again = share().await;
    assert_eq!(again.body["id"], shared.body["id"], "the same key is the same share");
    let balance = api.get("/v1/me/balance", Some(&alice)).await.body;
    assert_eq!(balance["balance"], 70, "moved once: {balance}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_starts_before_its_store_and_cache_and_serves_once_they_answer() {
    let mut link = StoreLink::open().await;
    link.cut().await;
    // Nothing listens on Redis's port yet either.
    let redis_port = free_port();
    let mut settings = with_boss();
    settings.store = Some(MongoSettings {
        database: pointshare_testkit::unique("late"),
        connect_timeout: Duration::from_secs(1),
        migrate_on_start: true,
        ..MongoSettings::new(link.uri())
    });
    settings.cache = Some(RedisSettings::new(format!("redis://127.0.0.1:{redis_port}")));
    settings.backends.provider = Some(ProviderChoice::Simulator);
    let api = Api::start(settings).await;
    let status = api.get("/healthz", None).await.status;
    assert_eq!(status, StatusCode::OK, "alive");
    let Answer { status, body: ready, .. } = api.get("/readyz", None).await;
    assert_eq!((status, ready), (StatusCode::SERVICE_UNAVAILABLE, json!({"status": "unready"})));

    link.restore().await;
    let redis = OwnRedis::on(redis_port).await;
    within_ten_seconds("the replica to be ready", || async {
        let status = api.get("/readyz", None).await.status;
        status == StatusCode::OK
    })
    .await;
    // The bootstrap admin was made once the store answered.
    within_ten_seconds("the bootstrap admin to log in", || async {
        let body = json!({"email": "boss@example.com", "password": BOSS_PASSWORD});
        let status = api.post("/v1/auth/login", None, body).await.status;
        status == StatusCode::OK
    })
    .await;
    drop(redis);
}

/// A release as an operator runs it: replicas of the new binary wait unready
/// on a store behind their schema until `pointshare migrate` has run (twice
/// is harmless), and a binary meeting a store newer than it can read stops
/// with exit status 2, naming both versions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_wait_for_migrate_and_refuse_a_store_newer_than_they_can_read() {
    let (_sim, env) = real_backends("migrate").await;
    let uri = env.iter().find(|(key, _)| *key == "POINTSHARE_MONGODB_URI").expect("a store").1.clone();
    let mut fresh = env.clone();
    let database = pointshare_testkit::unique("unmigrated");
    fresh.retain(|(key, _)| *key != "POINTSHARE_MONGODB_DATABASE");
    fresh.push(("POINTSHARE_MONGODB_DATABASE", database.clone()));

    let server = start_server(&fresh).await;
    let readyz = || async {
        let answer = server.internal_get("/readyz").await;
        (answer.status, answer.body)
    };
    let (status, body) = readyz().await;
    assert_eq!((status, &body["status"]), (StatusCode::SERVICE_UNAVAILABLE, &json!("unready")), "{body}");
    assert!(body["store"].as_str().is_some_and(|said| said.contains("schema")), "{body}");

    let (status, said) = migrate(&fresh);
    assert_eq!(status, Some(0), "{said}");
    assert!(said.contains("is at schema version") && said.contains("(was 0)"), "{said}");
    let (status, said) = migrate(&fresh);
    assert_eq!(status, Some(0), "{said}");
    assert!(said.contains("already at schema version"), "{said}");
    // The replica tries again at 1, 2, 4, 8 s...: ready within its next tries.
    let started = std::time::Instant::now();
    while readyz().await.0 != StatusCode::OK {
        assert!(started.elapsed() < Duration::from_secs(20), "ready after migrate");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    drop(server);

    // A later release migrated the store to a schema this binary cannot read.
    let store = mongodb::Client::with_uri_str(&uri).await.expect("a client").database(&database);
    store
        .collection::<mongodb::bson::Document>("schema")
        .update_one(
            mongodb::bson::doc! {"_id": "pointshare"},
            mongodb::bson::doc! {"$set": {"version": 90, "oldest_reader": 80}},
        )
        .await
        .expect("updates");
    let out = Command::new(env!("CARGO_BIN_EXE_pointshare"))
        .envs(fresh.iter().map(|(k, v)| (*k, v.as_str())))
        .env("POINTSHARE_BIND", "127.0.0.1:0")
        .env("POINTSHARE_INTERNAL_BIND", "127.0.0.1:0")
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    let schema = pointshare_store_mongo::SCHEMA_VERSION;
    for version in [90, 80, schema] {
        assert!(stderr.contains(&format!("version {version}")), "{stderr} names version {version}");
    }
    let (status, said) = migrate(&fresh);
    assert_eq!(status, Some(2), "migrate refuses it too: {said}");
}

/// A TCP relay in front of `upstream` that keeps a copy of every byte sent
/// to it: what the server tells the provider, as the provider hears it.
struct Overheard {
    port: u16,
    sent: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
}

impl Overheard {
    async fn relay_to(upstream: String) -> Overheard {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let port = listener.local_addr().expect("bound").port();
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let kept = sent.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (upstream, kept) = (upstream.clone(), kept.clone());
                tokio::spawn(async move {
                    let Ok(provider) = tokio::net::TcpStream::connect(&upstream).await else { return };
                    let ((mut from_client, mut to_client), (mut from_provider, mut to_provider)) =
                        (client.into_split(), provider.into_split());
                    let outbound = async {
                        let mut buffer = vec![0; 16 * 1024];
                        while let Ok(read @ 1..) = from_client.read(&mut buffer).await {
                            kept.lock().expect("not poisoned").extend_from_slice(&buffer[..read]);
                            if to_provider.write_all(&buffer[..read]).await.is_err() {
                                break;
                            }
                        }
                        let _ = to_provider.shutdown().await;
                    };
                    let inbound = tokio::io::copy(&mut from_provider, &mut to_client);
                    let _ = tokio::join!(outbound, inbound);
                });
            }
        });
        Overheard { port, sent }
    }

    fn heard(&self) -> String {
        String::from_utf8_lossy(&self.sent.lock().expect("not poisoned")).to_ascii_lowercase()
    }
}

/// One share, as a trace: a request arriving with a sampled `traceparent` is
/// one trace at the OTLP receiver (with sampling otherwise off), its span the
/// child of the caller's, with a span per store call and per provider
/// attempt beneath it; and the provider hears the trace and the request id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_share_is_one_trace_from_the_caller_through_the_store_to_the_provider() {
    let (sim, mut env) = real_backends("traces").await;
    let provider = sim.base_url().trim_start_matches("http://").trim_end_matches('/').to_owned();
    let overheard = Overheard::relay_to(provider).await;
    env.retain(|(key, _)| *key != "POINTSHARE_PROVIDER_URL");
    env.push(("POINTSHARE_PROVIDER_URL", format!("http://127.0.0.1:{}", overheard.port)));
    let receiver = required("POINTSHARE_TEST_OTLP_URL");
    env.push(("POINTSHARE_TRACING_ENDPOINT", receiver.clone()));
    env.push(("POINTSHARE_TRACING_SAMPLE_RATIO", "0".into()));
    let server = start_server(&env).await;
    let ada = ada_with_100_and_ben(&server, &env).await;

    let trace = format!("{:032x}", rand::random::<u128>());
    let caller = format!("{:016x}", rand::random::<u64>() | 1);
    let shared = server
        .client
        .post(server.url("/v1/transfers"))
        .bearer_auth(&ada)
        .header("Idempotency-Key", "traced-share")
        .header("traceparent", format!("00-{trace}-{caller}-01"))
        .header("X-Request-Id", "traced-share-request")
        .json(&json!({"to_handle": "ben", "amount": 5}))
        .send()
        .await
        .expect("answers");
    assert_eq!(shared.status(), StatusCode::CREATED);

    // The exporter sends in batches, every few seconds.
    let mut spans = Vec::new();
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_secs(20) {
        let all: Vec<Value> =
            reqwest::get(format!("{receiver}/spans")).await.expect("the receiver").json().await.expect("JSON");
        spans = all.into_iter().filter(|span| span["trace_id"] == trace.as_str()).collect();
        let providers = spans.iter().filter(|span| span["name"] == "provider").count();
        if providers >= 2 && spans.iter().any(|span| span["name"] == "request") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let request = spans.iter().find(|span| span["name"] == "request").unwrap_or_else(|| panic!("{spans:#?}"));
    assert_eq!(request["parent_span_id"], caller.as_str(), "the caller's span is the request's parent");
    assert_eq!(request["service"], "pointshare");
    assert_eq!(request["attributes"]["request_id"], "traced-share-request");
    // Every span of the trace hangs from the request's.
    let parent_of = |span: &Value| spans.iter().find(|other| other["span_id"] == span["parent_span_id"]);
    for span in spans.iter().filter(|span| span["name"] != "request") {
        let mut up = span;
        while up["name"] != "request" {
            up = parent_of(up).unwrap_or_else(|| panic!("{span} hangs from the request: {spans:#?}"));
        }
    }
    let operations = |name: &str| -> Vec<String> {
        spans
            .iter()
            .filter(|span| span["name"] == name)
            .map(|span| span["attributes"]["operation"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let store = operations("store");
    assert!(store.contains(&"transfers.insert".to_owned()), "{store:?}");
    let mut provider = operations("provider");
    provider.sort();
    assert_eq!(provider, ["credit", "debit"], "one attempt each");
    assert!(spans.iter().all(|span| span["name"] != "provider" || span["attributes"]["outcome"] == "ok"));

    let heard = overheard.heard();
    assert!(heard.contains(&format!("traceparent: 00-{trace}-")), "the provider hears the trace");
    assert!(heard.contains("x-request-id: traced-share-request"), "and the request id");
    drop(server);
}
