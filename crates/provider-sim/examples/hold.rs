//! Holds N calls in flight against a running simulator at once and reports
//! how long they took: the measurement behind docs/provider-sim.md.
//!
//!     pointshare-provider-sim --latency-ms 1000 --accounts 1 &
//!     cargo run --release -p pointshare-provider-sim --example hold -- --concurrency 10000
//!
//! Every call gets its own connection (they all start together), so the
//! simulator holds N sockets and N sleeping requests at the same moment.

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use hdrhistogram::Histogram;
use tokio::time::Instant;

#[derive(Debug, Parser)]
struct Args {
    /// The simulator's base URL.
    #[arg(long, default_value = "http://127.0.0.1:9100")]
    target: String,
    #[arg(long, default_value = "sandbox-key")]
    api_key: String,
    /// Calls started together.
    #[arg(long, default_value_t = 10_000)]
    concurrency: usize,
    /// Gives up on a call after this many seconds.
    #[arg(long, default_value_t = 60)]
    timeout_secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    rlimit::increase_nofile_limit(u64::MAX).context("raising the open-files limit")?;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(args.timeout_secs)).build()?;
    let url = format!("{}/v1/accounts/acc_1", args.target.trim_end_matches('/'));
    let started = Instant::now();
    let calls = (0..args.concurrency).map(|_| {
        let request = client.get(&url).bearer_auth(&args.api_key);
        tokio::spawn(async move {
            let sent = Instant::now();
            let ok = matches!(request.send().await, Ok(response) if response.status().is_success());
            (ok, sent.elapsed())
        })
    });
    let mut latencies = Histogram::<u64>::new(3)?;
    let mut errors = 0;
    for call in futures::future::join_all(calls.collect::<Vec<_>>()).await {
        let (ok, took) = call?;
        if ok {
            latencies.record(took.as_micros().try_into()?)?;
        } else {
            errors += 1;
        }
    }
    let ms = |micros: u64| micros as f64 / 1000.0;
    println!(
        "{} calls in {:.2} s: {} ok, {errors} failed; latency ms min {:.1} p50 {:.1} p99 {:.1} p99.9 {:.1} max {:.1}",
        args.concurrency,
        started.elapsed().as_secs_f64(),
        latencies.len(),
        ms(latencies.min()),
        ms(latencies.value_at_quantile(0.50)),
        ms(latencies.value_at_quantile(0.99)),
        ms(latencies.value_at_quantile(0.999)),
        ms(latencies.max()),
    );
    anyhow::ensure!(errors == 0, "{errors} calls failed");
    Ok(())
}
