//! The one table of settings: each setting's key in the file, the
//! environment variable that sets it, and what it does. `--help`, the table in
//! docs/operations.md, the environment's mapping and the file's unknown-key
//! check are all read from it; a unit test holds it to the settings' fields.

use figment::providers::Env;
use figment::value::{Dict, Value};

pub const PREFIX: &str = "POINTSHARE_";

/// Variables with the prefix that are read elsewhere, not settings.
const NOT_SETTINGS: [&str; 2] = ["CONFIG", "LOG"];

#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The dotted key: `[section]` then the key in the TOML file.
    pub key: &'static str,
    /// The environment variable, without `POINTSHARE_`.
    pub variable: &'static str,
    pub description: &'static str,
}

const fn row(key: &'static str, variable: &'static str, description: &'static str) -> Setting {
    Setting { key, variable, description }
}

/// Every setting, in the order `--help` lists them.
pub const SETTINGS: &[Setting] = &[
    row("http.bind", "BIND", "Address the API listens on."),
    row(
        "http.internal_bind",
        "INTERNAL_BIND",
        "Address of the internal listener: /metrics and the detailed /readyz, for Prometheus and probes, never the public.",
    ),
    row(
        "http.request_deadline",
        "REQUEST_DEADLINE",
        "Longest a request may take; a share still unfinished then answers 202 processing.",
    ),
    row("http.body_limit", "BODY_LIMIT", "Largest request body accepted, in bytes."),
    row(
        "http.body_timeout",
        "BODY_TIMEOUT",
        "Longest a request body may take to arrive; a slower one is answered 408 and its connection closed.",
    ),
    row(
        "http.shutdown_grace",
        "SHUTDOWN_GRACE",
        "How long shutdown waits for requests in flight and the recovery pass.",
    ),
    row(
        "http.trusted_proxies",
        "TRUSTED_PROXIES",
        "Comma-separated CIDRs of the proxies in front: only from these is the client address header believed.",
    ),
    row(
        "http.client_address_header",
        "CLIENT_ADDRESS_HEADER",
        "The one header the trusted proxies write the client's address in: X-Forwarded-For (a list, the rightmost untrusted hop is the client), Forwarded (RFC 7239) or another list such as X-Real-IP. No other header is read; make the proxy overwrite it.",
    ),
    row(
        "http.ipv6_client_prefix",
        "IPV6_CLIENT_PREFIX",
        "IPv6 clients are counted per network of this prefix length (32 to 128) by every per-address limit: one subscriber holds a whole /64.",
    ),
    row(
        "http.cors_origins",
        "CORS_ORIGINS",
        "Comma-separated origins (scheme://host[:port]) whose browser pages may call the API; empty: none. Unset: http://localhost:5173 and http://127.0.0.1:5173 in the fully embedded default, none otherwise.",
    ),
    row("store.uri", "MONGODB_URI", "MongoDB for members and transfers; in memory when unset."),
    row("store.database", "MONGODB_DATABASE", "The MongoDB database."),
    row("store.pool_size", "MONGODB_POOL_SIZE", "Most MongoDB connections."),
    row(
        "store.connect_timeout",
        "MONGODB_CONNECT_TIMEOUT",
        "Longest selecting or connecting to a MongoDB server may take.",
    ),
    row(
        "store.retention.sessions",
        "MONGODB_RETENTION_SESSIONS",
        "How long a login session is kept after its refresh token expired (a TTL index; changed at the next `pointshare migrate`).",
    ),
    row(
        "store.retention.daily_totals",
        "MONGODB_RETENTION_DAILY_TOTALS",
        "How long a member's daily sharing total is kept after its UTC day ended.",
    ),
    row("store.retention.sent_mail", "MONGODB_RETENTION_SENT_MAIL", "How long a mail is kept after it was sent."),
    row(
        "store.retention.expired_links",
        "MONGODB_RETENTION_EXPIRED_LINKS",
        "How long a mailed link (password reset, verification) is kept after it expired.",
    ),
    row(
        "store.count_commands",
        "MONGODB_COUNT_COMMANDS",
        "Count every command sent to MongoDB in pointshare_store_commands_total, by name: what requests cost the store. Off by default: the driver then copies and parses every command and reply.",
    ),
    row(
        "store.migrate_on_start",
        "MONGODB_MIGRATE_ON_START",
        "A replica migrates a store behind its schema itself, as `pointshare migrate` would. Off by default: in production migrate runs once per release, before its replicas, which wait unready for it.",
    ),
    row(
        "cache.url",
        "REDIS_URL",
        "Redis for the balance cache, rate limits and members' events; in memory when unset.",
    ),
    row("cache.cluster", "REDIS_CLUSTER", "Redis Cluster: the URL lists some or all of its nodes, comma-separated."),
    row("cache.pool_size", "REDIS_POOL_SIZE", "Most Redis connections."),
    row("cache.timeout", "REDIS_TIMEOUT", "Longest one Redis operation may take before it counts as failed."),
    row("cache.key_prefix", "REDIS_KEY_PREFIX", "Prefixes every Redis key, so deployments can share a server."),
    row("provider.url", "PROVIDER_URL", "The points provider; a simulator inside this process when unset."),
    row("provider.api_key", "PROVIDER_API_KEY", "The provider API key; required with the provider URL."),
    row("provider.call_timeout", "PROVIDER_CALL_TIMEOUT", "Longest one provider call may take."),
    row(
        "provider.connect_timeout",
        "PROVIDER_CONNECT_TIMEOUT",
        "Longest opening a connection to the provider may take.",
    ),
    row(
        "provider.retry.first_delay",
        "PROVIDER_RETRY_FIRST_DELAY",
        "Backoff before the first retry of a provider call (full jitter).",
    ),
    row(
        "provider.retry.max_delay",
        "PROVIDER_RETRY_MAX_DELAY",
        "Longest backoff between two attempts of a provider call.",
    ),
    row(
        "provider.retry.budget_ratio",
        "PROVIDER_RETRY_BUDGET_RATIO",
        "Retries allowed as a fraction of first attempts, so a failing provider sees at most that much extra load.",
    ),
    row(
        "provider.retry.budget_min_per_second",
        "PROVIDER_RETRY_BUDGET_MIN_PER_SECOND",
        "Retries per second always allowed, whatever the ratio.",
    ),
    row(
        "provider.retry.budget_window",
        "PROVIDER_RETRY_BUDGET_WINDOW",
        "How long a first attempt counts toward the retry budget (1s to 60s).",
    ),
    row(
        "provider.breaker.consecutive_failures",
        "PROVIDER_BREAKER_FAILURES",
        "Failed provider calls in a row that open the circuit breaker.",
    ),
    row(
        "provider.breaker.cool_down",
        "PROVIDER_BREAKER_COOL_DOWN",
        "How long an open breaker fails calls fast before trying again.",
    ),
    row(
        "provider.in_flight_window",
        "PROVIDER_IN_FLIGHT_WINDOW",
        "The longest the provider may take to apply a call after it was sent: a refusal met by a driver that took a transfer over counts only after this.",
    ),
    row(
        "backends.store",
        "STORE",
        "memory: keep members, sessions and transfers in this process (lost at restart, never shared). Implied only while nothing real is configured; once a provider, MongoDB or Redis URL is set, an unset MONGODB_URI stops start-up unless this says memory.",
    ),
    row(
        "backends.cache",
        "CACHE",
        "memory: keep rate limits, cached balances and events in this process (each replica its own). Implied only while nothing real is configured; once a provider, MongoDB or Redis URL is set, an unset REDIS_URL stops start-up unless this says memory.",
    ),
    row(
        "backends.provider",
        "PROVIDER",
        "simulator: run the provider simulator in this process (its points are not real). Implied only while nothing real is configured; once MongoDB or Redis is set, an unset PROVIDER_URL stops start-up unless this says simulator.",
    ),
    row(
        "backends.mail",
        "MAIL",
        "log: write each mail to members (its link included) to the log instead of sending it. Implied only while nothing real is configured; once a provider, MongoDB or Redis URL is set, an unset SMTP_URL stops start-up unless this says log.",
    ),
    row(
        "auth.jwt_secret",
        "JWT_SECRET",
        "Signs access tokens (HS256): 32 random bytes or more. Required when any real backend is set; random only in the fully embedded default.",
    ),
    row(
        "auth.jwt_previous_secret",
        "JWT_PREVIOUS_SECRET",
        "The secret before the last rotation: its tokens are still accepted until they expire, new ones use the JWT secret.",
    ),
    row("auth.token_ttl", "TOKEN_TTL", "How long an access token is valid."),
    row(
        "auth.refresh_token_ttl",
        "REFRESH_TOKEN_TTL",
        "How long a refresh token works after it is issued; each refresh issues a new one.",
    ),
    row(
        "auth.refresh_handover",
        "REFRESH_HANDOVER",
        "How long an exchanged refresh token, sent again, gets the same next token instead of ending the session (two tabs refreshing at once); at most 60 s, 0 turns it off.",
    ),
    row(
        "auth.password_hash_queue",
        "PASSWORD_HASH_QUEUE",
        "Password hashes (signup, login) that may wait for a core; past it the request answers 503 with Retry-After.",
    ),
    row(
        "bootstrap_admin.email",
        "BOOTSTRAP_ADMIN_EMAIL",
        "At start, create an admin with this email if no member has it (the first admin of a deployment).",
    ),
    row(
        "bootstrap_admin.password",
        "BOOTSTRAP_ADMIN_PASSWORD",
        "The bootstrap admin's password (or the password file).",
    ),
    row(
        "bootstrap_admin.password_file",
        "BOOTSTRAP_ADMIN_PASSWORD_FILE",
        "A file holding the bootstrap admin's password (a mounted secret).",
    ),
    row("bootstrap_admin.handle", "BOOTSTRAP_ADMIN_HANDLE", "The bootstrap admin's handle."),
    row(
        "mail.smtp_url",
        "SMTP_URL",
        "The SMTP server mail to members goes through: smtps://host:465 (TLS), smtp://host:587?tls=required (STARTTLS), smtp://host:25 (plain, loopback only); user:password@ to log in. Unset: each mail's link is written to the log, which only the fully embedded default allows unless MAIL=log.",
    ),
    row("mail.from", "MAIL_FROM", "The sender of mail to members, as Name <address>."),
    row(
        "mail.public_url",
        "PUBLIC_URL",
        "Where the frontend is: links in mails (verify-email, reset-password) point there.",
    ),
    row("mail.timeout", "MAIL_TIMEOUT", "Longest handing one mail to the SMTP server may take."),
    row("mail.interval", "MAIL_INTERVAL", "How often each replica sends what the outbox holds; 0: never."),
    row(
        "mail.max_attempts",
        "MAIL_MAX_ATTEMPTS",
        "Attempts at one mail (the pause between them doubling from 5 s up to 30 min) before it is abandoned.",
    ),
    row(
        "accounts.require_verified_email",
        "REQUIRE_VERIFIED_EMAIL",
        "Whether a member may share points only once they verified their email (they receive either way). Unset: true once a provider, MongoDB or Redis URL is set, false in the fully embedded default.",
    ),
    row(
        "accounts.house_handle",
        "HOUSE_HANDLE",
        "The handle of the member whose account receives what a member closing theirs gives up with `forfeit: true`. Unset: an account closes only at a zero balance.",
    ),
    row(
        "accounts.handle_hold",
        "HANDLE_HOLD",
        "How long a closed account's handle is held back from new members, so nobody passes for the leaver; then the next signup that asks for it gets it.",
    ),
    row(
        "admission.provider_bound",
        "ADMISSION_PROVIDER_BOUND",
        "Most requests that call the provider (shares, grants, corrections, balances, signups) one replica has in flight; past it, 503 `overloaded` at once.",
    ),
    row(
        "admission.store_bound",
        "ADMISSION_STORE_BOUND",
        "Most requests that only use the store (history, profiles, sessions) one replica has in flight; past it, 503 `overloaded` at once.",
    ),
    row("limits.max_per_transfer", "MAX_POINTS_PER_TRANSFER", "Most points in one share."),
    row("limits.max_per_day", "MAX_POINTS_PER_DAY", "Most points one member may share per UTC day."),
    row("limits.max_per_grant", "MAX_POINTS_PER_GRANT", "Most points in one admin grant."),
    row("limits.grant_budget_per_day", "GRANT_BUDGET_PER_DAY", "Most points one admin may grant per UTC day."),
    row(
        "approvals.threshold",
        "APPROVAL_THRESHOLD",
        "Reversals and debit adjustments of more points than this wait for a second admin's approval.",
    ),
    row(
        "approvals.expires_after",
        "APPROVAL_EXPIRES_AFTER",
        "How long a correction waits for a second admin; not approved by then, it is rejected and what it held is given back.",
    ),
    row("rate_limits.transfers_per_minute", "TRANSFER_RATE_LIMIT", "Transfers one member may create per minute."),
    row(
        "rate_limits.member_searches_per_minute",
        "MEMBER_SEARCH_RATE_LIMIT",
        "Recipient searches (GET /v1/members?prefix=) one member may make per minute, so nobody walks the directory of handles.",
    ),
    row("rate_limits.signups_per_hour_per_address", "SIGNUP_RATE_LIMIT", "Signups per hour from one client address."),
    row("rate_limits.signups_per_minute", "SIGNUP_GLOBAL_RATE_LIMIT", "Signups per minute from everywhere together."),
    row(
        "rate_limits.logins_per_minute_per_address",
        "LOGIN_RATE_LIMIT",
        "Login attempts per minute from one client address.",
    ),
    row(
        "rate_limits.logins_per_minute_per_address_and_account",
        "LOGIN_ACCOUNT_RATE_LIMIT",
        "Login attempts per minute from one client address for one account.",
    ),
    row(
        "rate_limits.mail_requests_per_hour_per_address",
        "MAIL_REQUEST_RATE_LIMIT",
        "Password resets and verification mails one client address may ask for per hour.",
    ),
    row(
        "rate_limits.mail_requests_per_hour_per_account",
        "MAIL_REQUEST_ACCOUNT_RATE_LIMIT",
        "Password resets and verification mails asked for one email address per hour, from everywhere, whether or not a member has it.",
    ),
    row(
        "rate_limits.failed_logins_before_slow_down",
        "LOGIN_SLOW_DOWN_AFTER",
        "Failed logins for one account from all addresses (within 15 minutes) after which each next password check waits a second longer, up to 5 s. One account's password is checked once at a time per replica; a network its member signed in from in the last 30 days is not slowed.",
    ),
    row(
        "rate_limits.fail_open",
        "RATE_LIMIT_FAIL_OPEN",
        "When the rate limiter cannot answer: let requests through (true) or refuse them with 503.",
    ),
    row(
        "events.publish",
        "EVENTS_PUBLISH",
        "Whether every change to a transfer is announced to its sender and recipient (on by default). Off: members still read their transfers and balance, /v1/me/events answers 404 events_disabled, and neither Redis nor the process spends anything on events; for a deployment with no live client, or to measure what announcing costs (scripts/bench).",
    ),
    row(
        "events.retention",
        "EVENTS_RETENTION",
        "How long members' events are kept: a client reconnecting to /v1/me/events within it resumes from Last-Event-ID without a gap.",
    ),
    row(
        "events.heartbeat",
        "EVENTS_HEARTBEAT",
        "How often an idle event stream sends a comment line, so proxies keep it open.",
    ),
    row(
        "events.streams_per_member",
        "EVENTS_STREAMS_PER_MEMBER",
        "Most event streams one member may hold open on one replica.",
    ),
    row("saga.balance_ttl", "BALANCE_TTL", "How long a balance read from the provider is served from the cache."),
    row(
        "saga.clock_skew",
        "CLOCK_SKEW",
        "The most the replicas' clocks may differ: a driver stops calling the provider this long before its lease ends.",
    ),
    row(
        "saga.followup_limit",
        "FOLLOWUP_LIMIT",
        "Most transfers this replica drives on in the background after answering 202 (for up to 2 × the request deadline more, renewing their lease call by call); past it, recovery finishes them. 0: none.",
    ),
    row(
        "recovery.interval",
        "RECOVERY_INTERVAL",
        "How often the recovery worker finishes interrupted transfers and signups (0s: never).",
    ),
    row("recovery.batch", "RECOVERY_BATCH", "Most transfers one recovery pass claims."),
    row("recovery.lease", "RECOVERY_LEASE", "How long recovery holds a transfer it claimed."),
    row(
        "recovery.max_attempts",
        "RECOVERY_MAX_ATTEMPTS",
        "Times recovery takes a transfer up before parking it in needs_review for an operator.",
    ),
    row(
        "tracing.endpoint",
        "TRACING_ENDPOINT",
        "The OpenTelemetry collector's OTLP/HTTP address (http://collector:4318): a span per request, store call, cache command and provider attempt goes to its /v1/traces, and each provider call carries the request's traceparent. Unset: no traces.",
    ),
    row(
        "tracing.sample_ratio",
        "TRACING_SAMPLE_RATIO",
        "The share of traces kept (0 to 1) when the request's traceparent does not decide: one it marks sampled is always kept.",
    ),
    row(
        "embedded.provider_latency",
        "EMBEDDED_PROVIDER_LATENCY",
        "Embedded simulator only: latency it adds to every call.",
    ),
    row("embedded.demo_password", "DEMO_PASSWORD", "Fully embedded default only: the demo members' password."),
    row(
        "embedded.demo_members",
        "DEMO_MEMBERS",
        "Fully embedded default only: seed the demo members (an admin, alice and bob, with the demo password). Unset: only when POINTSHARE_BIND is a loopback address, so a server others can reach has no admin with a published password.",
    ),
];

/// The `POINTSHARE_*` variables that are no setting, for a warning at start
/// (a typo would otherwise go unnoticed): not those read elsewhere, nor the
/// ones Kubernetes sets for a Service named `pointshare`
/// (`POINTSHARE_SERVICE_HOST`, `POINTSHARE_PORT_...`).
pub fn unknown_variables() -> Vec<String> {
    Env::prefixed(PREFIX)
        .iter()
        .map(|(name, _)| name.as_str().to_ascii_uppercase())
        .filter(|name| {
            let known =
                SETTINGS.iter().any(|setting| setting.variable == name) || NOT_SETTINGS.contains(&name.as_str());
            let kubernetes = name.starts_with("SERVICE_") || name == "PORT" || name.starts_with("PORT_");
            !known && !kubernetes
        })
        .map(|name| format!("{PREFIX}{name}"))
        .collect()
}

/// The setting with this dotted key.
pub fn by_key(key: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|setting| setting.key == key)
}

/// `http.bind` → `POINTSHARE_BIND`; a key that is not a setting is named as it is.
pub fn variable(key: &str) -> String {
    by_key(key).map_or_else(|| key.to_owned(), |setting| format!("{PREFIX}{}", setting.variable))
}

/// The `POINTSHARE_*` variables, each put under its setting's key.
pub fn environment() -> Env {
    Env::prefixed(PREFIX).filter_map(|name| {
        let setting = SETTINGS.iter().find(|setting| name.as_str().eq_ignore_ascii_case(setting.variable))?;
        Some(setting.key.into())
    })
}

/// The dotted keys of every value in `dict` that is not a setting.
pub fn unknown_keys(dict: &Dict) -> Vec<String> {
    fn walk(prefix: &str, dict: &Dict, unknown: &mut Vec<String>) {
        for (name, value) in dict {
            let key = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            match value {
                // A section, or a table within one (`[provider.retry]`).
                Value::Dict(_, inner) if SETTINGS.iter().any(|s| s.key.starts_with(&format!("{key}."))) => {
                    walk(&key, inner, unknown);
                }
                _ if by_key(&key).is_some() => {}
                _ => unknown.push(key),
            }
        }
    }
    let mut unknown = Vec::new();
    walk("", dict, &mut unknown);
    unknown
}

/// `--help`'s list of settings: variable, file key, default, and what it does.
pub fn help(defaults: &serde_json::Value) -> String {
    let mut text = String::from(
        "Settings: defaults, then the --config TOML file (each setting's [section] and key in parentheses), then the environment:\n",
    );
    for setting in SETTINGS {
        let name = format!("{PREFIX}{}", setting.variable);
        let default = shown(defaults, setting.key);
        text.push_str(&format!("  {name:<40} [{default}]  ({})\n      {}\n", setting.key, setting.description));
    }
    let log = format!("{PREFIX}LOG (or RUST_LOG)");
    text.push_str(&format!("  {log:<40} [info]\n      Log filter, e.g. info,pointshare_server=debug.\n"));
    text
}

/// The settings table of docs/operations.md, as `--help` has it.
pub fn markdown(defaults: &serde_json::Value) -> String {
    let mut text = String::from("| variable | file key | default | meaning |\n|---|---|---|---|\n");
    for setting in SETTINGS {
        text.push_str(&format!(
            "| `{PREFIX}{}` | `{}` | `{}` | {} |\n",
            setting.variable,
            setting.key,
            shown(defaults, setting.key),
            setting.description
        ));
    }
    text.push_str("| `POINTSHARE_LOG` (or `RUST_LOG`) | | `info` | Log filter, e.g. info,pointshare_server=debug. |\n");
    text
}

/// A default as an operator writes it.
fn shown(defaults: &serde_json::Value, key: &str) -> String {
    match defaults.pointer(&format!("/{}", key.replace('.', "/"))) {
        None | Some(serde_json::Value::Null) => "unset".to_owned(),
        Some(serde_json::Value::String(value)) if value.is_empty() => "none".to_owned(),
        Some(serde_json::Value::String(value)) => value.clone(),
        Some(other) => other.to_string(),
    }
}
