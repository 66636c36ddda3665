//! `pointshare-provider-sim`: the provider simulator on the command line.
//! Every flag can also be set by its `PROVIDER_SIM_*` environment variable.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use pointshare_provider_sim::SimConfig;

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Serves the points provider's HTTP API (provider-api.md) with latency, rate limits and faults."
)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "PROVIDER_SIM_BIND", default_value = "127.0.0.1:9100")]
    bind: SocketAddr,
    /// The bearer key every request must carry (`Authorization: Bearer <key>`).
    #[arg(long, env = "PROVIDER_SIM_API_KEY", default_value = "sandbox-key")]
    api_key: String,
    /// Mean latency added to every call, in milliseconds.
    #[arg(long, env = "PROVIDER_SIM_LATENCY_MS", default_value_t = 0)]
    latency_ms: u64,
    /// Each call's latency is drawn uniformly within latency ± this many milliseconds.
    #[arg(long, env = "PROVIDER_SIM_LATENCY_JITTER_MS", default_value_t = 0)]
    latency_jitter_ms: u64,
    /// Fraction of calls (0..=1) answered 503 without applying anything.
    #[arg(long, env = "PROVIDER_SIM_ERROR_RATE", default_value_t = 0.0, value_parser = fraction)]
    error_rate: f64,
    /// Fraction of calls (0..=1) applied and then not answered in time (unknown outcomes).
    #[arg(long, env = "PROVIDER_SIM_TIMEOUT_RATE", default_value_t = 0.0, value_parser = fraction)]
    timeout_rate: f64,
    /// How long, in milliseconds, a "timed out" call is held before it is answered 504.
    #[arg(long, env = "PROVIDER_SIM_HANG_MS", default_value_t = 30_000)]
    hang_ms: u64,
    /// Requests per second served before answering 429 with Retry-After (no limit when unset).
    #[arg(long, env = "PROVIDER_SIM_RATE_LIMIT")]
    rate_limit: Option<NonZeroU32>,
    /// Seed for fault and latency draws, to repeat a run exactly (random when unset; printed at start).
    #[arg(long, env = "PROVIDER_SIM_SEED")]
    seed: Option<u64>,
    /// Demo accounts to open at start, for holders demo-1 ..= demo-N (ids acc_1 ..= acc_N).
    #[arg(long, env = "PROVIDER_SIM_ACCOUNTS", default_value_t = 0)]
    accounts: u32,
    /// The balance each demo account starts with.
    #[arg(long, env = "PROVIDER_SIM_INITIAL_BALANCE", default_value_t = 1_000)]
    initial_balance: u64,
}

fn fraction(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(rate) if (0.0..=1.0).contains(&rate) => Ok(rate),
        _ => Err(format!("{value:?} is not a fraction between 0 and 1")),
    }
}

impl Args {
    fn config(&self) -> SimConfig {
        SimConfig {
            api_key: self.api_key.clone(),
            latency: Duration::from_millis(self.latency_ms),
            latency_jitter: Duration::from_millis(self.latency_jitter_ms),
            error_rate: self.error_rate,
            timeout_rate: self.timeout_rate,
            hang: Duration::from_millis(self.hang_ms),
            rate_limit: self.rate_limit,
            seed: self.seed,
            accounts: self.accounts,
            initial_balance: self.initial_balance,
        }
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let args = Args::parse();
    let config = args.config();
    config.validate().context("invalid simulator settings")?;
    // Each call in flight holds a socket; the default soft limit (often 1024) would cap them.
    let files = rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit")?;
    let listener = listen(args.bind).with_context(|| format!("binding --bind {}", args.bind))?;
    let sim = pointshare_provider_sim::start(listener, config).await?;
    tracing::info!(
        url = %sim.base_url(),
        seed = sim.seed(),
        open_files = files,
        latency_ms = args.latency_ms,
        error_rate = args.error_rate,
        timeout_rate = args.timeout_rate,
        "provider simulator serving"
    );
    for account in sim.demo_accounts() {
        println!("demo account {} balance {}", account.account_id, account.balance);
    }
    shutdown_signal().await?;
    tracing::info!("shutting down");
    sim.shutdown().await
}

/// A listener with a deep accept queue: thousands of callers connecting in
/// the same instant would otherwise overflow the default one and wait out
/// SYN retransmits, which looks like provider latency but is not.
fn listen(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() { tokio::net::TcpSocket::new_v4()? } else { tokio::net::TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(8192)
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).context("listening for SIGTERM")?;
    tokio::select! {
        interrupted = tokio::signal::ctrl_c() => interrupted.context("listening for SIGINT"),
        _ = terminate.recv() => Ok(()),
    }
}
