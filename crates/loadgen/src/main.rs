//! `pointshare-loadgen`: the load generator on the command line.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pointshare_loadgen::mix::Mix;
use pointshare_loadgen::setup::SetupSettings;
use pointshare_loadgen::{RunSettings, run};

#[derive(Debug, Parser)]
#[command(version, about = "Open-model load on the pointshare API: a fixed arrival rate, HDR latency percentiles.")]
struct Args {
    /// The server's base URL.
    #[arg(long, env = "POINTSHARE_LOADGEN_TARGET", default_value = "http://127.0.0.1:8080")]
    target: String,
    /// Requests started per second, whether or not earlier ones have returned.
    #[arg(long, default_value_t = 20.0)]
    rate: f64,
    /// How long to keep starting requests (e.g. 30s, 2m).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    duration: Duration,
    /// view, share, history, mix (60% view, 30% share, 10% history), or weights like view=50,share=50.
    #[arg(long, default_value = "mix")]
    scenario: String,
    /// Members the load acts as; created (or logged in) and funded before the run.
    #[arg(long, default_value_t = 50)]
    members: usize,
    /// The most requests out at once; starts beyond it are skipped and reported.
    #[arg(long, default_value_t = 100_000)]
    max_in_flight: u64,
    /// A request without an answer after this long counts as a timeout.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    request_timeout: Duration,
    /// Writes the report as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Writes a chart of latency percentiles over time here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// An admin who funds the members with grants.
    #[arg(long, env = "POINTSHARE_LOADGEN_ADMIN_EMAIL", default_value = "admin@pointshare.test")]
    admin_email: String,
    #[arg(long, env = "POINTSHARE_LOADGEN_ADMIN_PASSWORD", default_value = "pointshare-demo")]
    admin_password: String,
    /// The members' password.
    #[arg(long, default_value = "loadgen-password")]
    member_password: String,
    /// Points granted to a member whose balance is below half of it (grants
    /// are bounded per grant and per admin day: see POINTSHARE_MAX_POINTS_PER_GRANT).
    #[arg(long, default_value_t = 50_000)]
    funding: u64,
    /// Keeps the set-up members and tokens here: reused when the file exists.
    #[arg(long)]
    members_file: Option<PathBuf>,
    /// No progress bar (it is drawn only on a terminal anyway).
    #[arg(long)]
    quiet: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mix: Mix = args.scenario.parse().map_err(|e: String| anyhow::anyhow!("--scenario: {e}"))?;
    // Every request in flight holds a socket.
    rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit")?;
    let settings = RunSettings {
        target: args.target,
        rate: args.rate,
        duration: args.duration,
        mix,
        mix_name: args.scenario,
        max_in_flight: args.max_in_flight,
        request_timeout: args.request_timeout,
        setup: SetupSettings {
            members: args.members,
            password: args.member_password,
            admin_email: args.admin_email,
            admin_password: args.admin_password,
            funding: args.funding,
            members_file: args.members_file,
        },
        progress: !args.quiet,
    };
    let report = run(&settings).await?;
    println!("{}", report.table());
    if let Some(path) = &args.json {
        report.write_json(path)?;
    }
    if let Some(path) = &args.svg {
        report.write_svg(path)?;
    }
    Ok(())
}
