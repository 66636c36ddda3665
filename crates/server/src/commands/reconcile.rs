//! `pointshare reconcile`: holds the transfer records created in a window
//! (`--since`, `--until`; by default everything but the transfers still
//! young enough to be in flight, which the next run checks) against the
//! provider's transactions by reference and reports each disagreement.
//! `--repair` first drives the unfinished transfers to a terminal state with
//! recovery passes (the same references, so nothing applies twice); a
//! terminal transfer the provider disagrees with is not something software
//! can decide, so it is reported for an operator and the exit status says so.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use pointshare_domain::ports::Window;
use pointshare_domain::services::Reconciliation;

use crate::settings::Settings;
use crate::wiring::{self, AppState};

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Drive unfinished transfers to a terminal state before comparing.
    pub repair: bool,
    /// How long `repair` keeps running recovery passes.
    pub repair_for: Duration,
    /// Transfers whose provider lookups are in flight at once.
    pub concurrency: usize,
    /// Only transfers created at or after this.
    pub since: Option<Moment>,
    /// Only transfers created before this; by default, before the youngest
    /// a transfer may be and still be in flight (recovery's lease plus the
    /// provider's in-flight window ago).
    pub until: Option<Moment>,
}

/// An end of the window: a moment, or a span before now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Moment {
    At(DateTime<Utc>),
    Ago(Duration),
}

impl Moment {
    /// RFC 3339 (`2026-12-01T00:00:00Z`), a UTC day (`2026-12-01`, its
    /// midnight), a span before now (`2d`, `36h`), or `now`.
    pub fn parse(text: &str) -> Result<Moment, String> {
        if text == "now" {
            return Ok(Moment::Ago(Duration::ZERO));
        }
        if let Ok(at) = DateTime::parse_from_rfc3339(text) {
            return Ok(Moment::At(at.with_timezone(&Utc)));
        }
        if let Ok(day) = NaiveDate::parse_from_str(text, "%Y-%m-%d") {
            return Ok(Moment::At(day.and_time(chrono::NaiveTime::MIN).and_utc()));
        }
        humantime::parse_duration(text).map(Moment::Ago).map_err(|_| {
            format!(
                "{text:?} is not a time (2026-12-01T00:00:00Z), a day (2026-12-01), a span before now (2d, 36h) or now"
            )
        })
    }

    fn resolve(self, now: DateTime<Utc>) -> DateTime<Utc> {
        match self {
            Moment::At(at) => at,
            Moment::Ago(span) => now - chrono::Duration::from_std(span).unwrap_or(chrono::Duration::MAX),
        }
    }
}

/// What the command prints as JSON: the reconciliation, plus what repair did.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The transfers checked were created at or after `since` (none: from
    /// the first) and before `until`.
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub transfers: u64,
    pub by_state: BTreeMap<&'static str, u64>,
    /// Points credited by completed grants, and taken by completed
    /// withdrawals: the provider's total grew by the one less the other.
    pub granted_points: u128,
    pub withdrawn_points: u128,
    /// Transfers still in the saga (recovery finishes them).
    pub unfinished: Vec<String>,
    /// Transfers parked for a person: `pointshare transfers resolve ID`.
    pub needing_review: Vec<String>,
    pub mismatches: Vec<MismatchView>,
    /// Transfers the repair passes drove to a terminal state.
    pub repaired: usize,
}

#[derive(Debug, Serialize)]
pub struct MismatchView {
    pub transfer: String,
    pub state: &'static str,
    pub reference: String,
    pub problem: String,
}

impl Report {
    fn new(window: Window, reconciliation: Reconciliation, repaired: usize) -> Self {
        Report {
            since: window.since,
            until: window.until,
            transfers: reconciliation.transfers,
            by_state: reconciliation.by_state,
            granted_points: reconciliation.granted_points,
            withdrawn_points: reconciliation.withdrawn_points,
            unfinished: reconciliation.unfinished.iter().map(ToString::to_string).collect(),
            needing_review: reconciliation.needing_review.iter().map(ToString::to_string).collect(),
            mismatches: reconciliation
                .mismatches
                .into_iter()
                .map(|m| MismatchView {
                    transfer: m.transfer.to_string(),
                    state: m.state.as_str(),
                    reference: m.reference.to_string(),
                    problem: m.problem,
                })
                .collect(),
            repaired,
        }
    }

    /// Clean when every transfer is terminal and the provider agrees with each.
    pub fn is_clean(&self) -> bool {
        self.unfinished.is_empty() && self.needing_review.is_empty() && self.mismatches.is_empty()
    }

    pub fn table(&self) -> String {
        let end = |at: Option<DateTime<Utc>>, open: &str| at.map_or(open.to_owned(), |at| at.to_rfc3339());
        let mut out = format!(
            "transfers created from {} until {}: {}\n",
            end(self.since, "the first"),
            end(self.until, "now"),
            self.transfers
        );
        for (state, count) in &self.by_state {
            out += &format!("  {state:<12} {count}\n");
        }
        out += &format!("points granted (completed grants): {}\n", self.granted_points);
        out += &format!("points withdrawn (completed withdrawals): {}\n", self.withdrawn_points);
        if self.repaired > 0 {
            out += &format!("repaired: {} transfers driven to a terminal state\n", self.repaired);
        }
        out += &format!("unfinished: {}\n", self.unfinished.len());
        for id in &self.unfinished {
            out += &format!("  {id}\n");
        }
        out += &format!(
            "needs review: {} (pointshare transfers resolve ID --refund|--complete)\n",
            self.needing_review.len()
        );
        for id in &self.needing_review {
            out += &format!("  {id}\n");
        }
        out += &format!("mismatches: {}\n", self.mismatches.len());
        for m in &self.mismatches {
            out += &format!("  {} ({}) {}: {}\n", m.transfer, m.state, m.reference, m.problem);
        }
        out
    }
}

/// Reconciling (or resolving) in the embedded default would work on an empty
/// in-memory store and a simulator started a moment ago: it needs the real ones.
pub(crate) fn require_real_backends(settings: &Settings, command: &str) -> anyhow::Result<()> {
    if settings.store.is_none() {
        bail!("{command} reads the transfer records: set POINTSHARE_MONGODB_URI");
    }
    if settings.provider.url.is_none() {
        bail!("{command} asks the provider: set POINTSHARE_PROVIDER_URL and POINTSHARE_PROVIDER_API_KEY");
    }
    Ok(())
}

pub async fn run(settings: Settings, options: Options) -> anyhow::Result<Report> {
    require_real_backends(&settings, "reconcile")?;
    let wired = wiring::wire(settings, wiring::Reach::Now).await?;
    let state = &wired.state;
    let repaired = if options.repair { repair(state, options.repair_for).await? } else { 0 };
    let now = Utc::now();
    // Younger than this, a transfer may still be in flight: a replica holds
    // it under lease, or its provider call may yet land. Unfinished then is
    // no finding; the next run, whose window overlaps this one, checks it.
    let settle = state.settings.recovery.lease + state.settings.provider.in_flight_window;
    let window = Window {
        since: options.since.map(|since| since.resolve(now)),
        until: Some(options.until.unwrap_or(Moment::Ago(settle)).resolve(now)),
    };
    // On stderr, and only when it is a terminal (indicatif draws nothing otherwise).
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {pos} transfers checked, {per_sec}, {elapsed}")
            .expect("a valid template"),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let reconciliation =
        state.services.reconcile.run(window, options.concurrency, &|| bar.inc(1)).await.context("reconciling");
    bar.finish_and_clear();
    Ok(Report::new(window, reconciliation?, repaired))
}

/// Recovery passes until one finds nothing due, or `budget` ends. Transfers
/// a live replica holds under lease are left to it and listed as unfinished.
async fn repair(state: &AppState, budget: Duration) -> anyhow::Result<usize> {
    let started = Instant::now();
    let mut repaired = 0;
    loop {
        let pass = state.services.recovery.run_once().await.context("a recovery pass")?;
        repaired += pass.finished;
        if pass.claimed == 0 || started.elapsed() >= budget {
            return Ok(repaired);
        }
        if pass.finished == 0 {
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }
}
