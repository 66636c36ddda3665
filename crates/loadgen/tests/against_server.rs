//! The load generator against a real pointshare server (the embedded
//! default on a free port): set-up creates and funds members, every scenario
//! of the mix runs, and the report adds up.

use std::time::Duration;

use pointshare_loadgen::api::Api;
use pointshare_loadgen::mix::Mix;
use pointshare_loadgen::setup::SetupSettings;
use pointshare_loadgen::{RunSettings, run};
use pointshare_server::{Application, Settings};

/// The embedded default on a free port; its address.
async fn spawn_server() -> String {
    spawn_server_at("127.0.0.1:0").await
}

/// The embedded default at `bind`; its address.
async fn spawn_server_at(bind: &str) -> String {
    let mut settings = Settings::default();
    settings.http.bind = bind.parse().expect("valid address");
    settings.http.internal_bind = "127.0.0.1:0".parse().expect("valid address");
    settings.auth.jwt_secret = Some(pointshare_testkit::random_secret().into());
    let application = Application::build(settings).await.expect("the server builds");
    let target = format!("http://127.0.0.1:{}", application.port());
    tokio::spawn(application.run_until_stopped());
    target
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_short_mixed_run_sets_up_members_and_reports_every_request() {
    let target = spawn_server().await;

    let run_settings = RunSettings {
        target: target.clone(),
        rate: 40.0,
        duration: Duration::from_secs(2),
        mix: "view=1,share=1,history=1".parse::<Mix>().expect("a valid mix"),
        mix_name: "view=1,share=1,history=1".into(),
        max_in_flight: 1_000,
        request_timeout: Duration::from_secs(10),
        setup: SetupSettings {
            members: 4,
            password: "loadgen-password".into(),
            admin_email: "admin@pointshare.test".into(),
            admin_password: "pointshare-demo".into(),
            funding: 1_000,
            members_file: None,
        },
        progress: false,
    };
    let report = run(&run_settings).await.expect("the run completes");
    assert_eq!((report.scheduled, report.started, report.skipped_at_cap), (80, 80, 0));
    assert_eq!(report.members, 4);
    let total: u64 = report.scenarios.iter().map(|s| s.count).sum();
    assert_eq!(total, 80, "every started request is in the report");
    assert_eq!(report.errors(), 0, "{}", report.table());
    let names: Vec<_> = report.scenarios.iter().map(|s| s.scenario.as_str()).collect();
    assert_eq!(names, ["view", "share", "history"]);

    // Again against the same server: the members log in instead of signing up;
    // with a members file, the run after that skips set-up altogether.
    let file = std::env::temp_dir().join(format!("loadgen-members-{}.json", uuid::Uuid::new_v4()));
    let mut again = RunSettings { duration: Duration::from_millis(500), ..run_settings };
    again.setup.members_file = Some(file.clone());
    assert_eq!(run(&again).await.expect("runs again").errors(), 0);
    let saved: Vec<serde_json::Value> =
        serde_json::from_str(&std::fs::read_to_string(&file).expect("written")).expect("json");
    assert_eq!(saved.len(), 4);
    let reused = run(&again).await.expect("runs from the file");
    assert_eq!(reused.errors(), 0, "{}", reused.table());
    std::fs::remove_file(file).expect("cleans up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signup_retried_after_it_succeeded_counts_as_done_and_other_failures_do_not() {
    let api = Api::new(reqwest::Client::new(), &spawn_server().await);
    api.signup("twice@loadgen.test", "loadgen-password", "twice").await.expect("signs up");
    // What a proxy's retry on another replica sees: the member exists.
    api.signup("twice@loadgen.test", "loadgen-password", "twice").await.expect("a 409 counts as done");
    assert!(api.login("twice@loadgen.test", "loadgen-password").await.expect("answers").is_some());

    let refused = api.signup("not an email", "loadgen-password", "bad_email").await;
    assert!(refused.expect_err("a 422 is an error").to_string().contains("422"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn set_up_waits_for_a_server_that_is_not_up_yet() {
    let port =
        std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("an address").port();
    let api = Api::new(reqwest::Client::new(), &format!("http://127.0.0.1:{port}"));
    let late = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(1)).await;
        spawn_server_at(&format!("127.0.0.1:{port}")).await
    });
    let token = api.login("admin@pointshare.test", "pointshare-demo").await.expect("logs in once the server is up");
    assert!(token.is_some());
    late.await.expect("the server started");
}
