//! `pointshare`: serves the API. With no configuration it runs the whole
//! product in one process (in-memory stores, an in-process provider
//! simulator, demo members) and prints where to go.

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use pointshare_server::{Application, Settings, telemetry};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "The pointshare REST API server.",
    after_help = "Settings (defaults, then --config file, then environment):\n  \
        POINTSHARE_BIND (127.0.0.1:8080), POINTSHARE_MONGODB_URI, POINTSHARE_REDIS_URL,\n  \
        POINTSHARE_PROVIDER_URL, POINTSHARE_PROVIDER_API_KEY, POINTSHARE_JWT_SECRET (>= 32 bytes),\n  \
        POINTSHARE_TOKEN_TTL (1h), POINTSHARE_ADMIN_EMAILS (comma-separated), POINTSHARE_REQUEST_DEADLINE (8s),\n  \
        POINTSHARE_BALANCE_TTL (5s), POINTSHARE_MAX_POINTS_PER_TRANSFER (1000000), POINTSHARE_MAX_POINTS_PER_DAY (10000000),\n  \
        POINTSHARE_TRANSFER_RATE_LIMIT (600/min), POINTSHARE_LOGIN_RATE_LIMIT (30/min), POINTSHARE_BODY_LIMIT (16384),\n  \
        POINTSHARE_SHUTDOWN_GRACE (20s), POINTSHARE_RECOVERY_INTERVAL (5s), POINTSHARE_RECOVERY_BATCH (100),\n  \
        POINTSHARE_RECOVERY_LEASE (60s), POINTSHARE_EMBEDDED_PROVIDER_LATENCY (0s), POINTSHARE_DEMO_PASSWORD,\n  \
        POINTSHARE_LOG / RUST_LOG (info)"
)]
struct Cli {
    /// A TOML file of settings (keys as the variables above, lower-case, without the prefix).
    #[arg(long, env = "POINTSHARE_CONFIG", global = true)]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    telemetry::init_logs();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("pointshare: {error}");
            std::process::exit(2);
        }
    };
    // Each request in flight holds a socket, and each provider call another.
    if let Err(error) = rlimit::increase_nofile_limit(u64::MAX) {
        tracing::warn!(%error, "could not raise the open-files limit");
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => actix_web::rt::System::new().block_on(serve(settings)),
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let application = Application::build(settings).await?;
    let url = format!("http://127.0.0.1:{}", application.port());
    tracing::info!(%url, "pointshare serving");
    println!("pointshare is serving at {url}  (API docs: {url}/docs/, metrics: {url}/metrics)");
    if let Some(provider) = application.embedded_provider_url() {
        println!("embedded provider simulator at {provider}");
    }
    for member in application.demo_members() {
        let role = if member.admin { "admin " } else { "member" };
        println!("demo {role} {:<24} password {:<16} handle {}", member.email, member.password, member.handle);
    }
    application.run_until_stopped().await
}
