//! `pointshare-loadgen`: drives the pointshare API with an open-model load
//! (a fixed arrival rate, whatever the answers' speed) as members would —
//! viewing balances, sharing points, reading history — and reports latency
//! percentiles per scenario and over time. The binary wraps `run`; scripts
//! such as the chaos run use the library directly.
//!
//! Speaks to the API over HTTP only: it depends on no pointshare crate.

pub mod api;
pub mod arrival;
pub mod mix;
pub mod report;
pub mod setup;
pub mod stats;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use rand::Rng;
use rand::seq::IndexedRandom;
use reqwest::Client;
use tokio::time::Instant;

use crate::api::{Api, Member};
use crate::arrival::Gauges;
use crate::mix::{Mix, Scenario};
use crate::report::Report;
use crate::setup::SetupSettings;
use crate::stats::{Outcome, Recorder};

#[derive(Debug, Clone)]
pub struct RunSettings {
    pub target: String,
    /// Requests started per second.
    pub rate: f64,
    pub duration: Duration,
    pub mix: Mix,
    /// How `mix` was written, for the report.
    pub mix_name: String,
    pub max_in_flight: u64,
    /// A request not answered in this long counts as a timeout.
    pub request_timeout: Duration,
    pub setup: SetupSettings,
    pub progress: bool,
}

/// Prepares the members, runs the load, and reports.
pub async fn run(settings: &RunSettings) -> anyhow::Result<Report> {
    anyhow::ensure!(settings.rate > 0.0, "--rate must be above 0");
    anyhow::ensure!(settings.setup.members >= 2, "--members must be at least 2, so shares have a recipient");
    let client = Client::builder().timeout(settings.request_timeout).tcp_nodelay(true).build()?;
    let api = Api::new(client, &settings.target);
    let members = Arc::new(setup::prepare(&api, &settings.setup).await?);

    let recorder = Arc::new(Recorder::default());
    let gauges = Arc::new(Gauges::default());
    let progress = progress_bar(settings, Arc::clone(&gauges), Arc::clone(&recorder));
    let started = Instant::now();
    let arrival = arrival::drive(settings.rate, settings.duration, settings.max_in_flight, gauges, |_, intended| {
        let scenario = settings.mix.draw(&mut rand::rng());
        let request = build(&api, scenario, &members);
        let recorder = Arc::clone(&recorder);
        async move {
            let outcome = match request.send().await {
                Ok(response) if response.status().is_success() => Outcome::Ok,
                Ok(response) => Outcome::Status(response.status().as_u16()),
                Err(error) if error.is_timeout() => Outcome::Timeout,
                Err(_) => Outcome::Transport,
            };
            recorder.record(scenario, intended - started, intended.elapsed(), &outcome);
        }
    })
    .await;
    if let Some((bar, ticker)) = progress {
        ticker.abort();
        bar.finish_and_clear();
    }

    let (scenarios, timeline) = recorder.summary();
    Ok(Report {
        target: settings.target.clone(),
        rate: settings.rate,
        duration_secs: settings.duration.as_secs_f64(),
        scenario: settings.mix_name.clone(),
        members: members.len(),
        scheduled: arrival.scheduled,
        started: arrival.started,
        skipped_at_cap: arrival.skipped_at_cap,
        peak_in_flight: arrival.peak_in_flight,
        max_in_flight: settings.max_in_flight,
        scenarios,
        timeline,
    })
}

/// One request of `scenario` as a random member; a share goes to another random member.
fn build(api: &Api, scenario: Scenario, members: &[Member]) -> reqwest::RequestBuilder {
    let mut rng = rand::rng();
    let member = members.choose(&mut rng).expect("at least two members");
    match scenario {
        Scenario::View => api.view_balance(&member.token),
        Scenario::History => api.history(&member.token),
        Scenario::Share => {
            let recipient = loop {
                let candidate = &members[rng.random_range(0..members.len())];
                if candidate.handle != member.handle {
                    break candidate;
                }
            };
            api.share(&member.token, &recipient.handle, 1, &uuid::Uuid::new_v4().to_string())
        }
    }
}

fn progress_bar(
    settings: &RunSettings,
    gauges: Arc<Gauges>,
    recorder: Arc<Recorder>,
) -> Option<(ProgressBar, tokio::task::JoinHandle<()>)> {
    if !settings.progress {
        return None;
    }
    let total = (settings.rate * settings.duration.as_secs_f64()).round() as u64;
    let bar = ProgressBar::new(total).with_style(
        ProgressStyle::with_template("{elapsed_precise} [{bar:32}] {pos}/{len} started  {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let shown = bar.clone();
    let ticker = tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let (mut last_started, mut last_at) = (0, Instant::now());
        loop {
            tick.tick().await;
            let started = gauges.started.load(Ordering::Relaxed);
            let rate = (started - last_started) as f64 / last_at.elapsed().as_secs_f64();
            (last_started, last_at) = (started, Instant::now());
            shown.set_position(started);
            shown.set_message(format!(
                "{rate:.0} req/s  {} in flight  {} errors",
                gauges.in_flight.load(Ordering::Relaxed),
                recorder.errors()
            ));
        }
    });
    Some((bar, ticker))
}
