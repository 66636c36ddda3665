//! Start-up with bad settings stops, naming the setting; `--help` lists them.

use std::process::Command;

fn pointshare() -> Command {
    Command::new(env!("CARGO_BIN_EXE_pointshare"))
}

#[test]
fn a_bad_setting_stops_start_up_and_is_named() {
    let cases = [
        ("POINTSHARE_REQUEST_DEADLINE", "soon", "request_deadline"),
        ("POINTSHARE_JWT_SECRET", "short", "POINTSHARE_JWT_SECRET"),
        ("POINTSHARE_BIND", "not an address", "bind"),
        ("POINTSHARE_MAX_POINTS_PER_TRANSFER", "0", "POINTSHARE_MAX_POINTS_PER_TRANSFER"),
        ("POINTSHARE_ADMIN_EMAILS", "root", "POINTSHARE_ADMIN_EMAILS"),
    ];
    for (variable, value, named) in cases {
        let output = pointshare().env(variable, value).output().expect("runs");
        assert!(!output.status.success(), "{variable}={value} should stop start-up");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let named_in = stderr.to_lowercase().contains(&named.to_lowercase());
        assert!(named_in, "{variable}={value}: the error should name {named}: {stderr}");
    }
    let output = pointshare().args(["--config", "/no/such/file.toml"]).output().expect("runs");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("POINTSHARE_CONFIG"));
}

#[test]
fn help_lists_subcommands_and_settings() {
    let output = pointshare().arg("--help").output().expect("runs");
    let help = String::from_utf8_lossy(&output.stdout);
    for word in [
        "serve",
        "--config",
        "POINTSHARE_BIND",
        "POINTSHARE_MONGODB_URI",
        "POINTSHARE_JWT_SECRET",
        "POINTSHARE_ADMIN_EMAILS",
    ] {
        assert!(help.contains(word), "--help lacks {word}:\n{help}");
    }
}
