//! The schema version and its migrations, and documents this binary cannot
//! read, against a real MongoDB-protocol server (`scripts/with-servers`),
//! each test in its own database. Its own test binary: it installs a metrics
//! recorder for the whole process.

use std::sync::{Mutex, OnceLock};

use chrono::{Duration, Utc};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use mongodb::bson::{Document, doc};
use pointshare_domain::ports::{HistoryFilter, TransferLeases, TransferReads, TransferRecords};
use pointshare_domain::{LeaseOwner, MemberId, Transfer, TransferId, TransferState};
use pointshare_store_mongo::{MigrationStep, MongoSettings, MongoStore, PrepareError, SCHEMA_VERSION, SchemaVersion};
use pointshare_testkit::contract::store;
use secrecy::ExposeSecret;

fn settings() -> MongoSettings {
    let uri = pointshare_testkit::test_server("POINTSHARE_TEST_MONGODB_URI");
    MongoSettings { database: pointshare_testkit::unique("test"), ..MongoSettings::new(uri) }
}

async fn database(settings: &MongoSettings) -> mongodb::Database {
    mongodb::Client::with_uri_str(settings.uri.expose_secret()).await.expect("a client").database(&settings.database)
}

async fn set_schema(settings: &MongoSettings, version: i32, oldest_reader: i32) {
    database(settings)
        .await
        .collection::<Document>("schema")
        .update_one(doc! {"_id": "pointshare"}, doc! {"$set": {"version": version, "oldest_reader": oldest_reader}})
        .upsert(true)
        .await
        .expect("writes the schema document");
}

#[tokio::test]
async fn a_fresh_database_waits_for_migrate_which_makes_it_current_and_a_second_run_does_nothing() {
    let settings = settings();
    let store = MongoStore::open(&settings, None).await.expect("opens");
    let behind = store.prepare().await.expect_err("a replica does not migrate by default");
    assert!(matches!(behind, PrepareError::Behind { stored: 0 }), "{behind:?}");
    assert!(behind.to_string().contains("run `pointshare migrate`"), "{behind}");
    assert!(!store.is_prepared());

    let steps = Mutex::new(Vec::new());
    let record = |step: MigrationStep<'_>| {
        let said = match step {
            MigrationStep::Began { version, .. } => format!("began {version}"),
            MigrationStep::Advanced => return,
            MigrationStep::Finished { version } => format!("finished {version}"),
        };
        steps.lock().expect("not poisoned").push(said);
    };
    let migrated = store.migrate(&record).await.expect("migrates");
    assert_eq!((migrated.from, migrated.to), (0, SCHEMA_VERSION));
    let expected: Vec<String> =
        (1..=SCHEMA_VERSION).flat_map(|v| [format!("began {v}"), format!("finished {v}")]).collect();
    assert_eq!(*steps.lock().expect("not poisoned"), expected);
    assert_eq!(
        store.schema_version().await.expect("reads"),
        SchemaVersion { version: SCHEMA_VERSION, oldest_reader: 1 }
    );
    let indexes = database(&settings).await.collection::<Document>("transfers").list_index_names().await;
    assert!(indexes.expect("lists").contains(&"transfers_sender_key_unique".to_owned()), "the indexes are made");

    steps.lock().expect("not poisoned").clear();
    let again = store.migrate(&record).await.expect("migrates again");
    assert_eq!((again.from, again.to), (SCHEMA_VERSION, SCHEMA_VERSION));
    assert!(steps.lock().expect("not poisoned").is_empty(), "nothing left to do");

    let replica = MongoStore::open(&settings, None).await.expect("opens");
    replica.prepare().await.expect("a replica serves a current store");
    assert!(replica.is_prepared());
}

#[tokio::test]
async fn a_replica_set_to_migrate_on_start_does_it_itself() {
    let settings = MongoSettings { migrate_on_start: true, ..settings() };
    let store = MongoStore::open(&settings, None).await.expect("opens");
    store.prepare().await.expect("migrates, then serves");
    assert_eq!(store.schema_version().await.expect("reads").version, SCHEMA_VERSION);
}

#[tokio::test]
async fn migrations_fill_in_what_older_versions_wrote_without_it() {
    let settings = settings();
    let db = database(&settings).await;
    // A daily total and a member as versions before the fields wrote them.
    db.collection::<Document>("daily_totals")
        .insert_one(doc! {"_id": "0190f3a0-b1c2-7c3d-8e9f-0a1b2c3d4e5f:share:2026-12-01", "total": 5_i64})
        .await
        .expect("inserts");
    db.collection::<Document>("members")
        .insert_one(doc! {"_id": "0190f3a0-b1c2-7c3d-8e9f-0a1b2c3d4e60", "display_name": "Zoë Example"})
        .await
        .expect("inserts");
    set_schema(&settings, 1, 1).await;

    let store = MongoStore::open(&settings, None).await.expect("opens");
    let visited = std::sync::atomic::AtomicU64::new(0);
    let count = |step: MigrationStep<'_>| {
        if matches!(step, MigrationStep::Advanced) {
            visited.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    };
    let migrated = store.migrate(&count).await.expect("migrates");
    assert_eq!((migrated.from, migrated.to), (1, SCHEMA_VERSION));
    assert_eq!(visited.into_inner(), 2, "one total and one member visited");

    let total = db.collection::<Document>("daily_totals").find_one(doc! {}).await.expect("reads").expect("a total");
    let ends = total.get_datetime("day_ends").expect("the day's end now").timestamp_millis();
    let midnight = chrono::DateTime::parse_from_rfc3339("2026-12-02T00:00:00Z").expect("a time");
    assert_eq!(ends, midnight.timestamp_millis());
    let member = db.collection::<Document>("members").find_one(doc! {}).await.expect("reads").expect("a member");
    assert_eq!(member.get_str("name_key"), Ok("zoë example"));
}

#[tokio::test]
async fn a_store_newer_than_this_binary_can_read_is_refused_naming_both_versions() {
    let settings = settings();
    MongoStore::connect(&settings, None).await.expect("migrates");
    let newer = SCHEMA_VERSION as i32 + 5;
    set_schema(&settings, newer, newer - 1).await;
    let store = MongoStore::open(&settings, None).await.expect("opens");
    let refused = store.prepare().await.expect_err("refuses");
    assert!(matches!(refused, PrepareError::TooNew { .. }), "{refused:?}");
    let said = refused.to_string();
    for version in [newer, newer - 1, SCHEMA_VERSION as i32] {
        assert!(said.contains(&format!("version {version}")), "{said} names {version}");
    }
    let not_migrated = store.migrate(&|_| {}).await.expect_err("migrate refuses too");
    assert!(matches!(not_migrated, PrepareError::TooNew { .. }), "{not_migrated:?}");

    // Newer, but written to stay readable by this binary (a rollback): served.
    set_schema(&settings, SCHEMA_VERSION as i32 + 1, SCHEMA_VERSION as i32).await;
    store.prepare().await.expect("a newer store this binary may read is served");
}

fn recorder() -> &'static Snapshotter {
    static SNAPSHOTTER: OnceLock<Snapshotter> = OnceLock::new();
    SNAPSHOTTER.get_or_init(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the only recorder of this test binary");
        snapshotter
    })
}

fn unreadable_counted() -> u64 {
    recorder()
        .snapshot()
        .into_vec()
        .into_iter()
        .filter(|(key, ..)| key.key().name() == "pointshare_store_documents_unreadable_total")
        .map(|(.., value)| match value {
            DebugValue::Counter(n) => n,
            other => panic!("a counter, not {other:?}"),
        })
        .sum()
}

/// A share recorded ten minutes ago in `state`, its lease over.
fn transfer(sender: MemberId, key: &str, state: TransferState) -> Transfer {
    let owner = LeaseOwner::parse("schema-test").expect("an owner");
    let at = Utc::now() - Duration::minutes(10);
    Transfer { state, lease: None, created_at: at, updated_at: at, ..store::transfer(sender, key, &owner) }
}

/// What a newer version might write: the document of `transfer`, under a
/// new id and key, changed by `change`.
async fn written_by_a_newer_version(
    transfers: &mongodb::Collection<Document>,
    transfer: &Transfer,
    key: &str,
    change: Document,
) -> String {
    let mut doc = transfers.find_one(doc! {"_id": transfer.id.to_string()}).await.expect("reads").expect("found");
    let id = TransferId::new().to_string();
    doc.insert("_id", &id);
    doc.insert("idempotency_key", key);
    doc.extend(change);
    transfers.insert_one(doc).await.expect("inserts");
    id
}

#[tokio::test]
async fn documents_a_newer_version_wrote_are_read_when_they_can_be_and_skipped_and_counted_when_not() {
    let before = unreadable_counted();
    let settings = settings();
    let store = MongoStore::connect(&settings, None).await.expect("migrates");
    let transfers = database(&settings).await.collection::<Document>("transfers");
    let alice = MemberId::new();
    let known = transfer(alice, "known", TransferState::Completed);
    store.transfers.insert(&known).await.expect("inserts");
    let stuck = transfer(MemberId::new(), "stuck", TransferState::Accepted);
    store.transfers.insert(&stuck).await.expect("inserts");

    // A field this version does not know is read past.
    let extra = written_by_a_newer_version(&transfers, &known, "extra", doc! {"loyalty_tier": "gold"}).await;
    // A state and a kind it does not know cannot be read.
    let on_hold = written_by_a_newer_version(&transfers, &known, "on-hold", doc! {"state": "on_hold"}).await;
    let swap = written_by_a_newer_version(&transfers, &stuck, "swap", doc! {"kind": "swap"}).await;

    let page = store.transfers.history(alice, &HistoryFilter::default(), None, 10).await.expect("a page, not an error");
    let ids: Vec<String> = page.items.iter().map(|t| t.id.to_string()).collect();
    assert!(ids.contains(&known.id.to_string()) && ids.contains(&extra), "{ids:?}");
    assert!(!ids.contains(&on_hold), "{ids:?}");
    assert_eq!(ids.len(), 2);

    // One to a page: the unreadable one between two pages does not end the history.
    let first = store.transfers.history(alice, &HistoryFilter::default(), None, 1).await.expect("a page");
    let second = store.transfers.history(alice, &HistoryFilter::default(), first.next, 1).await.expect("a page");
    assert_eq!(first.items.len() + second.items.len(), 2, "{first:?} {second:?}");

    let owner = LeaseOwner::parse("schema-test").expect("an owner");
    let now = Utc::now();
    let claimed = store.transfers.claim_due(&owner, now, now + Duration::seconds(30), 10).await.expect("claims");
    let claimed: Vec<String> = claimed.iter().map(|t| t.id.to_string()).collect();
    assert_eq!(claimed, [stuck.id.to_string()], "recovery takes what it can read and skips {swap}");

    let counted = unreadable_counted() - before;
    // The page of 10, the two pages of 1 together and claim_due each met one at least.
    assert!(counted >= 3, "counted {counted}");
}
