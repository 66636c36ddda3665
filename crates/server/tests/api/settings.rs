//! Start-up with bad settings stops, naming the setting; `--help` lists them.

use std::process::Command;

use pointshare_server::settings::{DESCRIPTIONS, variable};

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
            ("x".repeat(40), "one character"),
            ("chaos-secret-chaos-secret-chaos-secret".to_owned(), "predictable"),
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
    std::fs::write(&misspelt, "request_deadlin = \"3s\"\n").expect("written");
    let stderr = refused(pointshare().arg("--config").arg(&misspelt));
    assert!(stderr.contains("unknown setting \"request_deadlin\"") && stderr.contains("misspelt.toml"), "{stderr}");

    let mistyped = dir.join("mistyped.toml");
    std::fs::write(&mistyped, "bind = 8080\n").expect("written");
    let stderr = refused(pointshare().env("POINTSHARE_CONFIG", &mistyped));
    assert!(stderr.contains("invalid setting POINTSHARE_BIND") && stderr.contains("mistyped.toml"), "{stderr}");

    // The environment wins over the file.
    let fine = dir.join("fine.toml");
    std::fs::write(&fine, "request_deadline = \"3s\"\n").expect("written");
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
    for (key, _) in DESCRIPTIONS {
        assert!(help.contains(&variable(key)), "--help lacks {}:\n{help}", variable(key));
    }
    assert!(help.contains("POINTSHARE_BIND                          [127.0.0.1:8080]"), "{help}");
    assert!(help.contains("POINTSHARE_LOG"), "{help}");
}

#[test]
fn the_operations_guide_describes_every_setting() {
    let guide = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md"))
        .expect("docs/operations.md exists");
    for (key, description) in DESCRIPTIONS {
        let row = format!("| `{}` |", variable(key));
        let line = guide.lines().find(|line| line.starts_with(&row));
        assert!(
            line.is_some_and(|line| line.contains(description)),
            "docs/operations.md lacks the row of {} with its meaning, as `pointshare --help` says it",
            variable(key)
        );
    }
}
