//! pointshare's repositories on MongoDB: members (unique email and handle),
//! transfers (unique sender + idempotency key, compare-and-set state
//! changes, cursor pages, leases for recovery), login sessions (refresh
//! tokens rotated by compare-and-set), daily totals (one counter document
//! per sender, kind and day, reserved by a conditional increment) and the
//! audit log (append-only, one document per place in its hash chain) and the
//! mail outbox (one document per mail, unique per intent, leased to a sender)
//! and the one-use tokens mailed to members (by hash, taken once). `MongoStore::open` hands out the
//! ports without reaching the server; `prepare` reaches it and checks its schema version (a replica
//! starts while MongoDB is down and prepares once it answers); `migrate` (schema.rs) brings the
//! schema to this binary's version, indexes included; `connect` opens and migrates, for tools and tests.
//! Driver errors become the ports' errors here, at the edge.
//!
//! A write that must answer the document as it now is (a transfer's state
//! change, a take-over, a token taken) is one `find_one_and_update` filtered
//! on `_id` and the expected state, so it is one indexed round trip; the
//! round-trip test in the server's end-to-end tests holds each request to
//! its count (docs/architecture.md, *Round trips per request*).
//!
//! Depends on the domain and the MongoDB driver; never on another adapter or
//! the server (on the test kit in its tests only).

mod account_tokens;
mod audit;
mod documents;
mod members;
mod outbox;
mod schema;
mod sessions;
mod telemetry;
mod totals;
mod transfers;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use mongodb::bson::doc;
use mongodb::event::EventHandler;
use mongodb::event::command::CommandEvent;
use mongodb::options::{Acknowledgment, ClientOptions, IndexOptions, ReadPreference, SelectionCriteria, WriteConcern};
use mongodb::{Client, Collection, Database, IndexModel};
use pointshare_domain::settings::InvalidSetting;
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use account_tokens::MongoAccountTokens;
pub use audit::MongoAuditLog;
use documents::{AccountTokenDoc, AuditDoc, MemberDoc, OutboxDoc, SessionDoc, TransferDoc};
pub use members::MongoMembers;
pub use outbox::MongoOutbox;
pub use schema::{Migrated, MigrationProgress, MigrationStep, PrepareError, SCHEMA_VERSION, SchemaVersion};
pub use sessions::MongoSessions;
pub use totals::MongoDailyTotals;
pub use transfers::MongoTransfers;

/// What an operator tunes about MongoDB; the server's `[store]` settings
/// section deserializes straight into it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MongoSettings {
    /// `mongodb://...`; the database is `database` whatever the URI names.
    #[serde(skip_serializing)]
    pub uri: SecretString,
    #[serde(default = "database")]
    pub database: String,
    #[serde(default = "pool_size")]
    pub pool_size: u32,
    /// How long to wait for a server to select or to connect.
    #[serde(default = "connect_timeout", with = "humantime_serde")]
    pub connect_timeout: Duration,
    /// Whether the server counts every command it sends (`CommandObserver`).
    /// Off by default: the driver then copies and parses every command and
    /// every reply, a page of history included, to report it.
    #[serde(default)]
    pub count_commands: bool,
    /// How long records that only grow without meaning are kept.
    #[serde(default)]
    pub retention: Retention,
    /// Whether a replica migrates a store behind its schema itself. Off by
    /// default: in production `pointshare migrate` runs once, before the
    /// replicas of a release (a large collection's index build would outlast
    /// a replica's start-up probe, and every replica would race to do it).
    #[serde(default)]
    pub migrate_on_start: bool,
}

/// How long the store keeps what no longer means anything, by TTL index
/// (the server deletes in the background, about once a minute). Transfers,
/// members and the audit log are never deleted: they are the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Retention {
    /// A login session, after its refresh token expired (kept a while for
    /// "where you signed in lately" and investigations).
    #[serde(with = "humantime_serde")]
    pub sessions: Duration,
    /// A member's daily total, after its UTC day ended (a support agent reads
    /// recent days).
    #[serde(with = "humantime_serde")]
    pub daily_totals: Duration,
    /// A mail, after it was sent.
    #[serde(with = "humantime_serde")]
    pub sent_mail: Duration,
    /// A mailed link (reset, verification), after it expired.
    #[serde(with = "humantime_serde")]
    pub expired_links: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        let days = |n: u64| Duration::from_secs(n * 24 * 3600);
        Retention { sessions: days(30), daily_totals: days(7), sent_mail: days(30), expired_links: days(1) }
    }
}

fn database() -> String {
    "pointshare".into()
}

fn pool_size() -> u32 {
    100
}

fn connect_timeout() -> Duration {
    Duration::from_secs(5)
}

/// The driver's options: the URI's, then ours. On a replica set a transfer's
/// state must survive the primary's loss, so unless the URI says otherwise
/// writes wait for a majority (`w=majority`, journaled), reads go to the
/// primary (a compare-and-set must see the latest write), and a write that
/// failed on a stepdown is retried once by the driver (safe: every write is
/// conditional or keyed).
pub async fn client_options(settings: &MongoSettings) -> anyhow::Result<ClientOptions> {
    let mut options = ClientOptions::parse(settings.uri.expose_secret())
        .await
        .context("POINTSHARE_MONGODB_URI is not a MongoDB URI")?;
    options.app_name = Some("pointshare".into());
    options.max_pool_size = Some(settings.pool_size);
    options.connect_timeout = Some(settings.connect_timeout);
    options.server_selection_timeout = Some(settings.connect_timeout);
    options
        .write_concern
        .get_or_insert_with(|| WriteConcern::builder().w(Acknowledgment::Majority).journal(true).build());
    options.selection_criteria.get_or_insert(SelectionCriteria::ReadPreference(ReadPreference::Primary));
    options.retry_writes.get_or_insert(true);
    options.retry_reads.get_or_insert(true);
    Ok(options)
}

impl MongoSettings {
    pub fn new(uri: impl Into<String>) -> Self {
        MongoSettings {
            uri: SecretString::from(uri.into()),
            database: database(),
            pool_size: pool_size(),
            connect_timeout: connect_timeout(),
            count_commands: false,
            retention: Retention::default(),
            migrate_on_start: false,
        }
    }

    /// Rejects settings the adapter cannot work with, naming the setting;
    /// the URI itself is parsed by the driver when connecting.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.uri.expose_secret().trim().is_empty() {
            return Err(InvalidSetting::new("uri", "must name a server"));
        }
        if self.database.is_empty() {
            return Err(InvalidSetting::new("database", "must not be empty"));
        }
        if self.pool_size == 0 {
            return Err(InvalidSetting::new("pool_size", "must be at least 1"));
        }
        InvalidSetting::first_zero(&[("connect_timeout", self.connect_timeout)])
    }
}

/// The repositories over one connection pool.
#[derive(Debug, Clone)]
pub struct MongoStore {
    database: Database,
    /// Whether `prepare` succeeded: the server answered at this binary's schema.
    prepared: Arc<AtomicBool>,
    retention: Retention,
    migrate_on_start: bool,
    pub members: Arc<MongoMembers>,
    pub transfers: Arc<MongoTransfers>,
    pub sessions: Arc<MongoSessions>,
    pub totals: Arc<MongoDailyTotals>,
    pub audit: Arc<MongoAuditLog>,
    pub outbox: Arc<MongoOutbox>,
    pub tokens: Arc<MongoAccountTokens>,
}

const EMAIL_INDEX: &str = "members_email_unique";
const HANDLE_INDEX: &str = "members_handle_unique";
const KEY_INDEX: &str = "transfers_sender_key_unique";
const SENT_INDEX: &str = "transfers_sent_newest_first";
const RECEIVED_INDEX: &str = "transfers_received_newest_first";
const BY_KIND_INDEX: &str = "transfers_by_kind_newest_first";
// Named for its first use; renaming it would make a second index of the same keys.
const BY_STATE_INDEX: &str = "transfers_in_review_newest_first";
const REVERSALS_INDEX: &str = "transfers_by_original";

/// Told each command's name as the driver sends it (every round trip to the
/// server, those inside a transaction too): how the server counts what its
/// requests cost the store.
pub type CommandObserver = Arc<dyn Fn(&str) + Send + Sync>;

impl MongoStore {
    /// The store, reached and migrated to this binary's schema: `open`, then
    /// `migrate`, quietly (tools and tests on a database of their own).
    pub async fn connect(settings: &MongoSettings, observer: Option<CommandObserver>) -> anyhow::Result<MongoStore> {
        let store = MongoStore::open(settings, observer).await?;
        store
            .migrate(&|_| {})
            .await
            .with_context(|| format!("reaching MongoDB at {}", redact(settings.uri.expose_secret())))?;
        Ok(store)
    }

    /// The store's ports, without reaching the server: every call goes to it
    /// when made, and fails as `StoreError` while it cannot be reached.
    pub async fn open(settings: &MongoSettings, observer: Option<CommandObserver>) -> anyhow::Result<MongoStore> {
        let mut options = client_options(settings).await?;
        if let Some(observe) = observer {
            options.command_event_handler = Some(EventHandler::callback(move |event| {
                if let CommandEvent::Started(started) = event {
                    observe(&started.command_name);
                }
            }));
        }
        let client = Client::with_options(options)?;
        telemetry::describe();
        let database = client.database(&settings.database);
        let store = MongoStore {
            members: Arc::new(MongoMembers::new(database.collection::<MemberDoc>("members"))),
            transfers: Arc::new(MongoTransfers::new(database.collection::<TransferDoc>("transfers"))),
            sessions: Arc::new(MongoSessions::new(database.collection::<SessionDoc>("sessions"))),
            totals: Arc::new(MongoDailyTotals::new(database.collection("daily_totals"))),
            audit: Arc::new(MongoAuditLog::new(database.collection::<AuditDoc>("audit"))),
            outbox: Arc::new(MongoOutbox::new(database.collection::<OutboxDoc>("outbox"))),
            tokens: Arc::new(MongoAccountTokens::new(database.collection::<AccountTokenDoc>("account_tokens"))),
            database,
            prepared: Arc::default(),
            retention: settings.retention.clone(),
            migrate_on_start: settings.migrate_on_start,
        };
        Ok(store)
    }

    /// Reaches the server and checks that this binary may serve its schema,
    /// migrating it first when the settings say so; safe to repeat.
    pub async fn prepare(&self) -> Result<(), PrepareError> {
        self.ping().await.map_err(PrepareError::Unreachable)?;
        match self.check_schema().await {
            Err(PrepareError::Behind { .. }) if self.migrate_on_start => {
                self.migrate(&|_| {}).await?;
            }
            checked => checked?,
        }
        self.mark_prepared();
        Ok(())
    }

    /// Whether `prepare` has succeeded on this handle (or a clone of it).
    pub fn is_prepared(&self) -> bool {
        self.prepared.load(Ordering::Acquire)
    }

    fn mark_prepared(&self) {
        self.prepared.store(true, Ordering::Release);
    }

    /// Whether the server answers, for readiness checks.
    pub async fn ping(&self) -> anyhow::Result<()> {
        self.database.run_command(doc! {"ping": 1}).await?;
        Ok(())
    }

    /// Creating an index that exists with the same keys and options is a no-op,
    /// so a migration cut short runs this again whole.
    async fn create_indexes(&self) -> anyhow::Result<()> {
        let unique = |name: &str| IndexOptions::builder().unique(true).name(name.to_owned()).build();
        let named = |name: &str| IndexOptions::builder().name(name.to_owned()).build();
        let members: Collection<MemberDoc> = self.database.collection("members");
        members
            .create_indexes([
                IndexModel::builder().keys(doc! {"email": 1}).options(unique(EMAIL_INDEX)).build(),
                IndexModel::builder().keys(doc! {"handle": 1}).options(unique(HANDLE_INDEX)).build(),
                IndexModel::builder()
                    .keys(doc! {"provider_account": 1})
                    .options(named("members_provider_account"))
                    .build(),
                IndexModel::builder().keys(doc! {"name_key": 1}).options(named("members_by_name_key")).build(),
                IndexModel::builder().keys(doc! {"role": 1, "status": 1}).options(named("members_by_role")).build(),
            ])
            .await?;
        let transfers: Collection<TransferDoc> = self.database.collection("transfers");
        transfers
            .create_indexes([
                IndexModel::builder().keys(doc! {"sender": 1, "idempotency_key": 1}).options(unique(KEY_INDEX)).build(),
                IndexModel::builder()
                    .keys(doc! {"sender": 1, "created_at": -1, "_id": -1})
                    .options(named(SENT_INDEX))
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"recipient": 1, "created_at": -1, "_id": -1})
                    .options(named(RECEIVED_INDEX))
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"state": 1, "lease_until": 1, "created_at": 1})
                    .options(named("transfers_due_for_recovery"))
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"kind": 1, "created_at": -1, "_id": -1})
                    .options(named(BY_KIND_INDEX))
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"state": 1, "created_at": -1, "_id": -1})
                    .options(named(BY_STATE_INDEX))
                    .build(),
                IndexModel::builder()
                    .keys(doc! {"reverses": 1, "created_at": 1, "_id": 1})
                    .options(named(REVERSALS_INDEX))
                    .build(),
            ])
            .await?;
        let sessions: Collection<SessionDoc> = self.database.collection("sessions");
        sessions
            .create_indexes([IndexModel::builder()
                .keys(doc! {"member": 1, "client": 1, "created_at": -1})
                .options(named("sessions_by_member_and_client"))
                .build()])
            .await?;
        let audit: Collection<AuditDoc> = self.database.collection("audit");
        let newest_first = |field: &str| {
            IndexModel::builder().keys(doc! {field: 1, "_id": -1}).options(named(&format!("audit_by_{field}"))).build()
        };
        audit
            .create_indexes([
                IndexModel::builder().keys(doc! {"act": 1}).options(unique(audit::ACT_INDEX)).build(),
                newest_first("actor"),
                newest_first("target"),
                newest_first("action"),
            ])
            .await?;
        let outbox: Collection<OutboxDoc> = self.database.collection("outbox");
        outbox
            .create_indexes([
                IndexModel::builder().keys(doc! {"intent": 1}).options(unique(outbox::INTENT_INDEX)).build(),
                IndexModel::builder()
                    .keys(doc! {"state": 1, "next_attempt_at": 1, "created_at": 1})
                    .options(named(outbox::DUE_INDEX))
                    .build(),
            ])
            .await?;
        let tokens: Collection<AccountTokenDoc> = self.database.collection("account_tokens");
        tokens
            .create_indexes([IndexModel::builder()
                .keys(doc! {"member": 1, "purpose": 1})
                .options(named(account_tokens::BY_MEMBER_INDEX))
                .build()])
            .await?;
        Ok(())
    }
}

const SESSIONS_EXPIRE_INDEX: &str = "sessions_expire";
const OUTBOX_EXPIRE_INDEX: &str = "outbox_sent_expire";

/// The URI without its password, for messages.
fn redact(uri: &str) -> String {
    match (uri.find("://"), uri.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => format!("{}://***@{}", &uri[..scheme], &uri[at + 1..]),
        _ => uri.to_owned(),
    }
}

/// A driver error as the ports' `StoreError`, saying what was being done.
fn store_error(error: impl Into<anyhow::Error>, doing: &str) -> pointshare_domain::ports::StoreError {
    pointshare_domain::ports::StoreError(error.into().context(doing.to_owned()))
}

/// The messages of the duplicate-key errors (code 11000) in a driver error:
/// a write error, a batch's, or, from some servers, a failed command.
fn duplicate_keys(error: &mongodb::error::Error) -> Vec<&str> {
    use mongodb::error::{ErrorKind, WriteFailure};
    match error.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(write)) if write.code == 11000 => vec![write.message.as_str()],
        ErrorKind::Command(command) if command.code == 11000 => vec![command.message.as_str()],
        ErrorKind::InsertMany(failure) => {
            failure.write_errors.iter().flatten().filter(|w| w.code == 11000).map(|w| w.message.as_str()).collect()
        }
        _ => Vec::new(),
    }
}

/// Whether a driver error is a duplicate key, on any index.
fn duplicate(error: &mongodb::error::Error) -> bool {
    !duplicate_keys(error).is_empty()
}

/// Whether a driver error is a duplicate key on the index `name`.
fn duplicate_on(error: &mongodb::error::Error, name: &str) -> bool {
    duplicate_keys(error).iter().any(|message| message.contains(name))
}
