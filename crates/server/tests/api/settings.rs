//! Start-up with bad settings stops, naming the setting; `--help` lists them.

use std::process::Command;

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use pointshare_server::settings::{SETTINGS, markdown};
use pointshare_testkit::random_secret;

fn pointshare() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pointshare"))
}

/// Runs the binary, which must refuse to start; returns what it said.
fn refused(command: &mut Command) -> String {
    let output = command.output().expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(output.status.code(), Some(2), "should stop start-up: {stderr}");
    stderr
}

#[test]
fn a_bad_setting_stops_start_up_and_is_named() {
    let cases = [
        ("POINTSHARE_REQUEST_DEADLINE", "soon"),
        ("POINTSHARE_JWT_SECRET", "short"),
        ("POINTSHARE_BIND", "not an address"),
        ("POINTSHARE_MAX_POINTS_PER_TRANSFER", "0"),
        ("POINTSHARE_TRUSTED_PROXIES", "proxy.local"),
        ("POINTSHARE_CORS_ORIGINS", "https://app.example/path"),
        ("POINTSHARE_BOOTSTRAP_ADMIN_EMAIL", "root"),
        ("POINTSHARE_JWT_PREVIOUS_SECRET", "x"),
        ("POINTSHARE_RECOVERY_LEASE", "1s"),
        ("POINTSHARE_CLOCK_SKEW", "1h"),
        ("POINTSHARE_PROVIDER_IN_FLIGHT_WINDOW", "30s"),
        ("POINTSHARE_RECOVERY_MAX_ATTEMPTS", "0"),
        ("POINTSHARE_BODY_LIMIT", "-3"),
        ("POINTSHARE_RATE_LIMIT_FAIL_OPEN", "maybe"),
        ("POINTSHARE_SHUTDOWN_GRACE", "100ms"),
        ("POINTSHARE_PROVIDER_BREAKER_FAILURES", "0"),
        ("POINTSHARE_PROVIDER_API_KEY", ""),
        ("POINTSHARE_HOUSE_HANDLE", "the house"),
        ("POINTSHARE_REFRESH_HANDOVER", "2m"),
        ("POINTSHARE_ADMISSION_STORE_BOUND", "0"),
    ];
    for (variable, value) in cases {
        let mut command = pointshare();
        command.env(variable, value);
        if variable == "POINTSHARE_PROVIDER_API_KEY" {
            command.env("POINTSHARE_PROVIDER_URL", "http://127.0.0.1:9");
        }
        let stderr = refused(&mut command);
        assert!(stderr.contains(&format!("invalid setting {variable}")), "{variable}={value}: {stderr}");
    }
    let stderr =
        refused(pointshare().env("POINTSHARE_PROVIDER_URL", "ftp://127.0.0.1").env("POINTSHARE_PROVIDER_API_KEY", "k"));
    assert!(stderr.contains("POINTSHARE_PROVIDER_URL") && stderr.contains("http"), "{stderr}");
}

/// The value the Kubernetes files ship for `POINTSHARE_JWT_SECRET`.
fn shipped_placeholder() -> String {
    let file = include_str!("../../../../deploy/k8s/secret.yaml");
    let line = file.lines().find(|line| line.contains("POINTSHARE_JWT_SECRET")).expect("the secret is set");
    line.split_once(':').expect("key: value").1.trim().trim_matches('"').to_owned()
}

#[test]
fn with_any_real_backend_the_signing_secret_must_be_given_and_strong() {
    let backends = [
        ("POINTSHARE_PROVIDER_URL", "http://127.0.0.1:9"),
        ("POINTSHARE_MONGODB_URI", "mongodb://127.0.0.1:9"),
        ("POINTSHARE_REDIS_URL", "redis://127.0.0.1:9"),
    ];
    for (backend, url) in backends {
        let with_backend = || {
            let mut command = pointshare();
            command.env(backend, url).env("POINTSHARE_PROVIDER_API_KEY", "k");
            command
        };
        let stderr = refused(&mut with_backend());
        assert!(stderr.contains("invalid setting POINTSHARE_JWT_SECRET") && stderr.contains(backend), "{stderr}");
        for (weak, why) in [
            (shipped_placeholder(), "placeholder"),
            ("x".repeat(40), "predictable"),
            ("chaos-secret-chaos-secret-chaos-secret".to_owned(), "predictable"),
            ("qwertyuiopasdfghjklzxcvbnm123456".to_owned(), "predictable"),
            ("abcdefghijklmnopqrstuvwxyz012345".to_owned(), "predictable"),
            ("0123456789abcdef0123456789abcdef".to_owned(), "predictable"),
            ("a test secret of at least thirty-two bytes".to_owned(), "published"),
        ] {
            let stderr = refused(with_backend().env("POINTSHARE_JWT_SECRET", &weak));
            assert!(stderr.contains("invalid setting POINTSHARE_JWT_SECRET") && stderr.contains(why), "{stderr}");
        }
    }
}

#[test]
fn the_bootstrap_admin_is_held_to_the_member_rules() {
    let stderr = refused(pointshare().env("POINTSHARE_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com"));
    assert!(stderr.contains("invalid setting POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD"), "{stderr}");
    let stderr = refused(
        pointshare()
            .env("POINTSHARE_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com")
            .env("POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD", "short"),
    );
    assert!(stderr.contains("invalid setting POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD: too short"), "{stderr}");
    let stderr = refused(
        pointshare()
            .env("POINTSHARE_BOOTSTRAP_ADMIN_EMAIL", "boss@example.com")
            .env("POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD_FILE", "/no/such/secret"),
    );
    assert!(stderr.contains("invalid setting POINTSHARE_BOOTSTRAP_ADMIN_PASSWORD_FILE"), "{stderr}");
}

#[test]
fn the_config_file_is_read_and_held_to_the_same_rules() {
    let stderr = refused(pointshare().args(["--config", "/no/such/file.toml"]));
    assert!(stderr.contains("POINTSHARE_CONFIG"), "{stderr}");

    let dir = std::env::temp_dir().join(format!("pointshare-settings-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let misspelt = dir.join("misspelt.toml");
    for (text, key) in [
        ("[http]\nrequest_deadlin = \"3s\"\n", "http.request_deadlin"),
        ("request_deadline = \"3s\"\n", "request_deadline"),
        ("[provider.retry]\nfirst_dealy = \"1s\"\n", "provider.retry.first_dealy"),
        ("[provider]\nretry = 3\n", "provider.retry"),
    ] {
        std::fs::write(&misspelt, text).expect("written");
        let stderr = refused(pointshare().arg("--config").arg(&misspelt));
        assert!(stderr.contains(&format!("unknown setting {key:?}")) && stderr.contains("misspelt.toml"), "{stderr}");
    }

    let mistyped = dir.join("mistyped.toml");
    std::fs::write(&mistyped, "[http]\nbind = 8080\n").expect("written");
    let stderr = refused(pointshare().env("POINTSHARE_CONFIG", &mistyped));
    assert!(stderr.contains("invalid setting POINTSHARE_BIND") && stderr.contains("mistyped.toml"), "{stderr}");

    // A section's rules hold in the file, named by the variable.
    let zero = dir.join("zero.toml");
    std::fs::write(&zero, "[provider.breaker]\nconsecutive_failures = 0\n").expect("written");
    let stderr = refused(pointshare().arg("--config").arg(&zero));
    assert!(stderr.contains("invalid setting POINTSHARE_PROVIDER_BREAKER_FAILURES"), "{stderr}");

    // A backend's tuning without where it is names what is missing.
    let stderr = refused(pointshare().env("POINTSHARE_REDIS_POOL_SIZE", "8"));
    assert!(stderr.contains("invalid setting POINTSHARE_REDIS_URL: is required"), "{stderr}");

    // The environment wins over the file.
    let fine = dir.join("fine.toml");
    std::fs::write(&fine, "[http]\nrequest_deadline = \"3s\"\n").expect("written");
    let stderr = refused(pointshare().arg("--config").arg(&fine).env("POINTSHARE_REQUEST_DEADLINE", "0s"));
    assert!(stderr.contains("invalid setting POINTSHARE_REQUEST_DEADLINE"), "{stderr}");
    std::fs::remove_dir_all(dir).expect("cleans up");
}

#[test]
fn help_lists_the_subcommand_and_every_setting_with_its_default() {
    let output = pointshare().arg("--help").output().expect("runs");
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    assert!(help.contains("serve") && help.contains("--config"), "{help}");
    for setting in SETTINGS {
        let variable = format!("POINTSHARE_{}", setting.variable);
        assert!(help.contains(&variable) && help.contains(setting.key), "--help lacks {variable}:\n{help}");
    }
    assert!(help.contains("POINTSHARE_BIND                          [127.0.0.1:8080]  (http.bind)"), "{help}");
    assert!(help.contains("POINTSHARE_MONGODB_POOL_SIZE             [100]  (store.pool_size)"), "{help}");
    assert!(help.contains("POINTSHARE_LOG"), "{help}");
}

/// The guide's table is `markdown()` of the settings table; with
/// `POINTSHARE_UPDATE_DOCS=1` this test writes it there instead of failing.
#[test]
fn the_operations_guide_lists_every_setting_as_the_code_does() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md");
    let guide = std::fs::read_to_string(path).expect("docs/operations.md exists");
    let start = guide.find("| variable | file key |").expect("the guide has the settings table");
    let end = guide[start..].find("\n\n").map_or(guide.len(), |end| start + end + 1);
    let table = markdown();
    if guide[start..end] == table {
        return;
    }
    if std::env::var_os("POINTSHARE_UPDATE_DOCS").is_some() {
        std::fs::write(path, format!("{}{table}{}", &guide[..start], &guide[end..])).expect("writes the guide");
        return;
    }
    panic!("docs/operations.md's settings table differs from the code's; run this test with POINTSHARE_UPDATE_DOCS=1");
}

#[test]
fn the_file_and_the_environment_set_the_same_settings() {
    let dir = std::env::temp_dir().join(format!("pointshare-sections-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a directory");
    let file = dir.join("sections.toml");
    std::fs::write(
        &file,
        "[store]\nuri = \"mongodb://127.0.0.1:9\"\npool_size = 0\n[provider.retry]\nbudget_window = \"2m\"\n",
    )
    .expect("written");
    // The file's store pool is refused by the store adapter's own rule...
    let stderr = refused(pointshare().arg("--config").arg(&file).env("POINTSHARE_JWT_SECRET", random_secret()));
    assert!(stderr.contains("invalid setting POINTSHARE_MONGODB_POOL_SIZE: must be at least 1"), "{stderr}");
    // ...and once the environment mends it, the provider adapter's rule on the retry window speaks.
    let stderr = refused(
        pointshare()
            .arg("--config")
            .arg(&file)
            .env("POINTSHARE_JWT_SECRET", random_secret())
            .env("POINTSHARE_MONGODB_POOL_SIZE", "5"),
    );
    assert!(stderr.contains("invalid setting POINTSHARE_PROVIDER_RETRY_BUDGET_WINDOW"), "{stderr}");
    std::fs::remove_dir_all(dir).expect("cleans up");
}

/// The binary with a real provider (unreachable: nothing calls it at start)
/// and a strong secret.
fn with_a_real_provider() -> Command {
    let mut command = pointshare();
    command
        .env("POINTSHARE_PROVIDER_URL", "http://127.0.0.1:9")
        .env("POINTSHARE_PROVIDER_API_KEY", "k")
        .env("POINTSHARE_JWT_SECRET", random_secret());
    command
}

#[test]
fn with_a_real_provider_a_missing_store_cache_or_smtp_url_stops_start_up_unless_memory_or_log_is_named() {
    // A Secret missing one key: every replica would keep its own members and transfers.
    let stderr = refused(&mut with_a_real_provider());
    assert!(
        stderr.contains("invalid setting POINTSHARE_MONGODB_URI: is unset while POINTSHARE_PROVIDER_URL is set"),
        "{stderr}"
    );
    assert!(stderr.contains("POINTSHARE_STORE=memory"), "says how to ask for memory: {stderr}");
    let stderr = refused(with_a_real_provider().env("POINTSHARE_STORE", "memory"));
    assert!(
        stderr.contains("invalid setting POINTSHARE_REDIS_URL") && stderr.contains("POINTSHARE_CACHE=memory"),
        "{stderr}"
    );
    let both = refused(
        with_a_real_provider()
            .env("POINTSHARE_STORE", "memory")
            .env("POINTSHARE_CACHE", "memory")
            .env("POINTSHARE_MONGODB_URI", "mongodb://127.0.0.1:9"),
    );
    assert!(both.contains("invalid setting POINTSHARE_STORE: is memory while POINTSHARE_MONGODB_URI is set"), "{both}");
    let real_without_url =
        refused(with_a_real_provider().env("POINTSHARE_STORE", "mongodb").env("POINTSHARE_CACHE", "memory"));
    assert!(real_without_url.contains("invalid setting POINTSHARE_MONGODB_URI: is required"), "{real_without_url}");
    // Mail written to the log instead of sent: no member would get a reset link.
    let unsent = refused(with_a_real_provider().env("POINTSHARE_STORE", "memory").env("POINTSHARE_CACHE", "memory"));
    assert!(
        unsent.contains("invalid setting POINTSHARE_SMTP_URL: is unset while POINTSHARE_PROVIDER_URL is set")
            && unsent.contains("POINTSHARE_MAIL=log"),
        "{unsent}"
    );
    let bad_smtp = refused(
        with_a_real_provider()
            .env("POINTSHARE_STORE", "memory")
            .env("POINTSHARE_CACHE", "memory")
            .env("POINTSHARE_SMTP_URL", "http://mail.example.com"),
    );
    assert!(bad_smtp.contains("invalid setting POINTSHARE_SMTP_URL: must start with smtp://"), "{bad_smtp}");
    let unknown = refused(with_a_real_provider().env("POINTSHARE_STORE", "disk"));
    assert!(unknown.contains("invalid setting POINTSHARE_STORE"), "{unknown}");
    // A real store with no provider URL would keep the points in a simulator.
    let simulated = refused(
        pointshare()
            .env("POINTSHARE_MONGODB_URI", "mongodb://127.0.0.1:9")
            .env("POINTSHARE_CACHE", "memory")
            .env("POINTSHARE_JWT_SECRET", random_secret()),
    );
    assert!(
        simulated.contains("invalid setting POINTSHARE_PROVIDER_URL")
            && simulated.contains("POINTSHARE_PROVIDER=simulator"),
        "{simulated}"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("bound").port()
}

#[tokio::test]
async fn a_replica_exports_its_build_and_which_backend_serves_each_port_and_logs_no_provider_credentials() {
    let (port, internal) = (free_port(), free_port());
    let mut child = with_a_real_provider()
        .env("POINTSHARE_PROVIDER_URL", "http://operator:hunter2-do-not-print@127.0.0.1:9")
        .env("POINTSHARE_STORE", "memory")
        .env("POINTSHARE_CACHE", "memory")
        .env("POINTSHARE_MAIL", "log")
        .env("POINTSHARE_BIND", format!("127.0.0.1:{port}"))
        .env("POINTSHARE_INTERNAL_BIND", format!("127.0.0.1:{internal}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starts");
    let metrics = format!("http://127.0.0.1:{internal}/metrics");
    let mut scraped = None;
    for _ in 0..100 {
        if let Ok(answer) = reqwest::get(&metrics).await {
            scraped = Some(answer.text().await.expect("text"));
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An API request's log line names its client, as the per-address limits count it.
    let api = reqwest::get(format!("http://127.0.0.1:{port}/healthz")).await.expect("answers");
    assert!(api.status().is_success());
    let _ = child.kill();
    let mut log = String::new();
    child.stderr.take().expect("piped").read_to_string(&mut log).expect("reads the log");
    let answered = log.lines().find(|line| line.contains("\"answered\"")).expect("the request's log line");
    assert!(answered.contains("\"client\":\"127.0.0.1\""), "{answered}");
    let _ = child.wait();
    let scraped = scraped.expect("the replica served /metrics");
    let mut serving: Vec<&str> =
        scraped.lines().filter(|line| line.starts_with("pointshare_backend_info{") && line.ends_with(" 1")).collect();
    serving.sort_unstable();
    assert_eq!(serving.len(), 4, "{scraped}");
    for (port, backend) in [("cache", "memory"), ("provider", "http"), ("store", "memory"), ("mail", "log")] {
        assert!(
            serving
                .iter()
                .any(|line| line.contains(&format!("port=\"{port}\""))
                    && line.contains(&format!("backend=\"{backend}\""))),
            "{port} on {backend}: {serving:?}"
        );
    }
    assert!(log.contains("127.0.0.1:9") && !log.contains("hunter2"), "{log}");
    let build = scraped.lines().find(|line| line.starts_with("pointshare_build_info{")).expect("build info");
    let version = format!("version=\"{}\"", env!("CARGO_PKG_VERSION"));
    assert!(build.contains(&version) && build.contains("git_sha=\"") && build.ends_with(" 1"), "{build}");
}

#[test]
fn the_operator_s_commands_need_no_signing_secret() {
    let output = pointshare()
        .args(["admin", "promote", "boss@example.com"])
        .env("POINTSHARE_MONGODB_URI", "mongodb://127.0.0.1:9")
        .env("POINTSHARE_MONGODB_CONNECT_TIMEOUT", "300ms")
        .output()
        .expect("runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "no store to reach: {stderr}");
    assert!(!stderr.contains("JWT_SECRET") && stderr.contains("POINTSHARE_MONGODB_URI"), "{stderr}");
}
