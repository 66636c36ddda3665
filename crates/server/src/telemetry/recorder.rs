//! Every metric this server records: its name and help text (here only),
//! the process-wide Prometheus recorder behind `/metrics` with the process's
//! own metrics, and one function per thing recorded.

use std::sync::Arc;

use metrics::{Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use pointshare_domain::services::{MailReport, RecoveryReport};
use pointshare_domain::{TransferKind, TransferState};

pub(super) const REQUESTS: &str = "pointshare_http_requests_total";
pub(super) const DURATION: &str = "pointshare_http_request_duration_seconds";
pub(super) const IN_FLIGHT: &str = "pointshare_http_requests_in_flight";
pub(super) const TRANSFERS: &str = "pointshare_transfers_total";
pub(super) const TRANSFERS_IN_FLIGHT: &str = "pointshare_transfers_in_flight";
pub(super) const CACHE_READS: &str = "pointshare_cache_reads_total";
pub(super) const CACHE_ERRORS: &str = "pointshare_cache_errors_total";
pub(super) const RECOVERY_RUNS: &str = "pointshare_recovery_runs_total";
pub(super) const OVERDUE: &str = "pointshare_recovery_unfinished_transfers";
pub(super) const NEEDING_REVIEW: &str = "pointshare_transfers_needing_review";
pub(super) const PARKED: &str = "pointshare_recovery_transfers_parked_total";
pub(super) const RECOVERED: &str = "pointshare_recovery_transfers_finished_total";
pub(super) const EVENT_STREAMS: &str = "pointshare_event_streams_open";
pub(super) const DEPENDENCY_UP: &str = "pointshare_dependency_up";
pub(super) const MEMORY_LIMIT: &str = "pointshare_memory_limit_bytes";
pub(super) const FOLLOWUPS: &str = "pointshare_transfer_followups_running";
pub(super) const FOLLOWUPS_LIMIT: &str = "pointshare_transfer_followups_limit";
pub(super) const AUTH_EVENTS: &str = "pointshare_auth_events_total";
pub(super) const ADMISSION_REFUSED: &str = "pointshare_admission_refused_total";
pub(super) const BACKEND_INFO: &str = "pointshare_backend_info";
pub(super) const MAIL_RUNS: &str = "pointshare_mail_runs_total";
pub(super) const MAIL_SENT: &str = "pointshare_mail_sent_total";
pub(super) const MAIL_FAILURES: &str = "pointshare_mail_failures_total";
pub(super) const MAIL_PENDING: &str = "pointshare_mail_outbox_pending";
pub(super) const MAIL_OLDEST: &str = "pointshare_mail_outbox_oldest_seconds";
pub(super) const STORE_COMMANDS: &str = "pointshare_store_commands_total";
const BUILD_INFO: &str = "pointshare_build_info";

/// The commit this binary was built from (build.rs).
pub const GIT_SHA: &str = env!("POINTSHARE_GIT_SHA");

/// Buckets from 1 ms to 30 s: a provider call is about a second, a request up
/// to four; 2.25 s is the share latency objective the burn-rate alerts watch.
const BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 2.25, 3.0, 5.0, 8.0, 13.0, 21.0, 30.0,
];

/// What `/metrics` serves: everything recorded, plus the process's memory,
/// CPU and file descriptors, sampled at each scrape.
#[derive(Clone)]
pub struct Exposition {
    handle: PrometheusHandle,
    process: Arc<metrics_process::Collector>,
}

impl std::fmt::Debug for Exposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exposition").finish_non_exhaustive()
    }
}

impl Exposition {
    pub fn render(&self) -> String {
        self.process.collect();
        self.handle.render()
    }
}

/// The process-wide recorder every crate's metrics go to, once per process.
pub fn metrics() -> anyhow::Result<Exposition> {
    static INSTALLED: std::sync::Mutex<Option<Exposition>> = std::sync::Mutex::new(None);
    let mut installed = INSTALLED.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(exposition) = installed.as_ref() {
        return Ok(exposition.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)?
        .install_recorder()?;
    let process = Arc::new(metrics_process::Collector::default());
    process.describe();
    describe_counter!(REQUESTS, "HTTP requests answered, by method, route and status.");
    describe_histogram!(DURATION, Unit::Seconds, "Time to answer an HTTP request, by method and route.");
    describe_gauge!(IN_FLIGHT, "HTTP requests being served now.");
    describe_counter!(
        ADMISSION_REFUSED,
        "API requests refused at once with 503 overloaded because their class (provider or store) had no place free."
    );
    describe_counter!(
        TRANSFERS,
        "Shares and grants answered, by kind and the state the caller was told (`refused`: none was created)."
    );
    describe_gauge!(TRANSFERS_IN_FLIGHT, "Shares and grants being driven by a request now.");
    describe_gauge!(
        DEPENDENCY_UP,
        "1 if this replica reaches the dependency (store, cache: a ping at each scrape; provider: its breaker is not open), else 0."
    );
    describe_gauge!(
        BACKEND_INFO,
        "1 for the backend that serves each port of this replica (store: mongodb or memory; cache: redis or memory; provider: http or simulator), 0 for the others."
    );
    describe_gauge!(
        MEMORY_LIMIT,
        Unit::Bytes,
        "The memory limit of this process's cgroup (the container's); absent when unlimited."
    );
    describe_gauge!(EVENT_STREAMS, "Members' event streams (GET /v1/me/events) open on this replica.");
    describe_gauge!(
        FOLLOWUPS,
        "Transfers driven on in the background after their request answered 202, as of this scrape."
    );
    describe_gauge!(
        FOLLOWUPS_LIMIT,
        "How many follow-ups may run at once (POINTSHARE_FOLLOWUP_LIMIT): past it, a 202 transfer waits for recovery."
    );
    describe_counter!(
        STORE_COMMANDS,
        "Commands sent to MongoDB (each a round trip), by command name, with MONGODB_COUNT_COMMANDS: divided by requests, what a request costs the store."
    );
    describe_counter!(CACHE_READS, "Balance cache reads, by result: hit, miss or error.");
    describe_counter!(CACHE_ERRORS, "Balance cache and rate limiter calls that failed, by operation.");
    describe_gauge!(OVERDUE, "Transfers not terminal a whole recovery lease after they were created.");
    describe_gauge!(NEEDING_REVIEW, "Transfers parked in needs_review until an operator resolves them.");
    describe_counter!(
        RECOVERY_RUNS,
        "Recovery passes, by result: ok, or error (the pass could not run; retried next interval)."
    );
    describe_counter!(RECOVERED, "Transfers recovery drove to a terminal state.");
    describe_counter!(PARKED, "Transfers recovery parked in needs_review after using up their attempts.");
    describe_counter!(
        AUTH_EVENTS,
        "Sign-in events that tell of an attack: logins that succeeded or failed, retired refresh tokens presented again, password hashes refused for a full queue."
    );
    describe_counter!(
        MAIL_RUNS,
        "Mail passes, by result: ok, or error (the outbox could not be read; retried next interval)."
    );
    describe_counter!(MAIL_SENT, "Mails handed to the SMTP server (or written to the log, with MAIL=log).");
    describe_counter!(
        MAIL_FAILURES,
        "Failed attempts at a mail, by outcome: retried (tried again later) or abandoned (refused for good, or out of attempts)."
    );
    describe_gauge!(MAIL_PENDING, "Mails waiting in the outbox, as of the last mail pass.");
    describe_gauge!(MAIL_OLDEST, "How long the oldest mail waiting in the outbox has waited, in seconds.");
    // At zero from the start, so dashboards show 0 rather than no data.
    counter!(PARKED).absolute(0);
    counter!(MAIL_SENT).absolute(0);
    for result in ["ok", "error"] {
        counter!(MAIL_RUNS, "result" => result).absolute(0);
    }
    for outcome in ["retried", "abandoned"] {
        counter!(MAIL_FAILURES, "outcome" => outcome).absolute(0);
    }
    gauge!(MAIL_PENDING).set(0.0);
    gauge!(MAIL_OLDEST).set(0.0);
    counter!(RECOVERED).absolute(0);
    for result in ["ok", "error"] {
        counter!(RECOVERY_RUNS, "result" => result).absolute(0);
    }
    for result in ["hit", "miss", "error"] {
        counter!(CACHE_READS, "result" => result).absolute(0);
    }
    for operation in ["get", "put", "invalidate", "rate_limit"] {
        counter!(CACHE_ERRORS, "operation" => operation).absolute(0);
    }
    for event in AuthEvent::ALL {
        counter!(AUTH_EVENTS, "event" => event.label()).absolute(0);
    }
    for class in ADMISSION_CLASSES {
        counter!(ADMISSION_REFUSED, "class" => class).absolute(0);
    }
    gauge!(TRANSFERS_IN_FLIGHT).set(0.0);
    gauge!(EVENT_STREAMS).set(0.0);
    if let Some(limit) = memory_limit() {
        gauge!(MEMORY_LIMIT).set(limit as f64);
    }
    gauge!(FOLLOWUPS).set(0.0);
    gauge!(FOLLOWUPS_LIMIT).set(0.0);
    describe_gauge!(BUILD_INFO, "1, labelled with the version and the git commit this replica runs.");
    gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION"), "git_sha" => GIT_SHA).set(1.0);
    let exposition = Exposition { handle, process };
    *installed = Some(exposition.clone());
    Ok(exposition)
}

/// One more in a gauge while it lives (a share in flight, an open stream).
#[derive(Debug)]
pub struct Counted(&'static str);

impl Counted {
    fn start(gauge: &'static str) -> Self {
        gauge!(gauge).increment(1);
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        gauge!(self.0).decrement(1);
    }
}

/// A share or grant a request is driving.
pub fn transfer_in_flight() -> Counted {
    Counted::start(TRANSFERS_IN_FLIGHT)
}

/// An open event stream.
pub fn event_stream_open() -> Counted {
    Counted::start(EVENT_STREAMS)
}

pub fn dependencies_up(store: bool, cache: bool, provider: bool) {
    for (dependency, up) in [("store", store), ("cache", cache), ("provider", provider)] {
        gauge!(DEPENDENCY_UP, "dependency" => dependency).set(if up { 1.0 } else { 0.0 });
    }
}

/// Which backend serves each port: `(port, backend)`.
pub fn backends(chosen: &[(&'static str, &'static str)]) {
    const EVERY: [(&str, [&str; 2]); 4] = [
        ("store", ["mongodb", "memory"]),
        ("cache", ["redis", "memory"]),
        ("provider", ["http", "simulator"]),
        ("mail", ["smtp", "log"]),
    ];
    for (port, backends) in EVERY {
        for backend in backends {
            let serves = chosen.contains(&(port, backend));
            gauge!(BACKEND_INFO, "port" => port, "backend" => backend).set(if serves { 1.0 } else { 0.0 });
        }
    }
}

/// The cgroup's memory limit (v2 `memory.max`, else v1), if one is set:
/// what the kernel kills the container at, for the memory alert.
fn memory_limit() -> Option<u64> {
    ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"]
        .iter()
        .find_map(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.trim().parse::<u64>().ok())
        // cgroup v1 says "unlimited" with a huge number.
        .filter(|limit| *limit < 1 << 60)
}

pub fn followups(running: usize, limit: usize) {
    gauge!(FOLLOWUPS).set(running as f64);
    gauge!(FOLLOWUPS_LIMIT).set(limit as f64);
}

/// One answered share or grant, by the state the caller was told; `None`
/// when it was refused before a transfer existed.
pub fn transfer_answered(kind: TransferKind, state: Option<TransferState>) {
    let state = state.map_or("refused", TransferState::as_str);
    counter!(TRANSFERS, "kind" => kind.as_str(), "state" => state).increment(1);
}

/// What happened at the door, for the sign-in panel and the attack alerts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEvent {
    LoginSucceeded,
    LoginFailed,
    /// A retired refresh token came back: a copy is in someone else's hands.
    RefreshReused,
    /// An exchanged refresh token came back within its handover (two tabs
    /// refreshing at once) and got the same successor.
    RefreshHandedOver,
    /// A signup or login refused because too many password hashes wait.
    PasswordQueueFull,
}

impl AuthEvent {
    const ALL: [AuthEvent; 5] = [
        Self::LoginSucceeded,
        Self::LoginFailed,
        Self::RefreshReused,
        Self::RefreshHandedOver,
        Self::PasswordQueueFull,
    ];

    fn label(self) -> &'static str {
        match self {
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::RefreshReused => "refresh_reused",
            Self::RefreshHandedOver => "refresh_handed_over",
            Self::PasswordQueueFull => "password_queue_full",
        }
    }
}

/// The classes admission control bounds, as the refusals' label says them.
pub const ADMISSION_CLASSES: [&str; 2] = ["provider", "store"];

/// A command sent to MongoDB, by its name (`find`, `update`, ...).
pub fn store_command(name: &str) {
    counter!(STORE_COMMANDS, "command" => name.to_owned()).increment(1);
}

/// A request refused by admission control, by the class whose places were taken.
pub fn admission_refused(class: &'static str) {
    counter!(ADMISSION_REFUSED, "class" => class).increment(1);
}

pub fn auth_event(event: AuthEvent) {
    counter!(AUTH_EVENTS, "event" => event.label()).increment(1);
}

/// What one recovery pass did, for the recovery panels and the stuck-transfers alert.
pub fn recovery_passed(report: &RecoveryReport) {
    counter!(RECOVERY_RUNS, "result" => "ok").increment(1);
    counter!(RECOVERED).increment(report.finished as u64);
    gauge!(OVERDUE).set(report.overdue as f64);
    gauge!(NEEDING_REVIEW).set(report.needing_review as f64);
    counter!(PARKED).increment(report.parked as u64);
}

pub fn recovery_failed() {
    counter!(RECOVERY_RUNS, "result" => "error").increment(1);
}

pub fn mail_passed(report: &MailReport) {
    counter!(MAIL_RUNS, "result" => "ok").increment(1);
    counter!(MAIL_SENT).increment(report.sent as u64);
    counter!(MAIL_FAILURES, "outcome" => "retried").increment(report.retried as u64);
    counter!(MAIL_FAILURES, "outcome" => "abandoned").increment(report.abandoned as u64);
    gauge!(MAIL_PENDING).set(report.backlog as f64);
    let waited = report.oldest.map_or(0.0, |oldest| (chrono::Utc::now() - oldest).as_seconds_f64().max(0.0));
    gauge!(MAIL_OLDEST).set(waited);
}

pub fn mail_failed() {
    counter!(MAIL_RUNS, "result" => "error").increment(1);
}
