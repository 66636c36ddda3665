//! The repository contract against a real MongoDB-protocol server
//! (`scripts/with-servers` provides one), each test in its own database.

use pointshare_store_mongo::{MongoSettings, MongoStore};
use pointshare_testkit::contract::store::StoreUnderTest;
use pointshare_testkit::{test_server, unique};
use secrecy::ExposeSecret;

/// A store on a database of its own.
async fn fresh() -> (MongoStore, MongoSettings) {
    let settings = MongoSettings { database: unique("test"), ..MongoSettings::new(uri()) };
    (MongoStore::connect(&settings, None).await.expect("connects to the test server"), settings)
}

async fn store() -> StoreUnderTest {
    let (store, _) = fresh().await;
    StoreUnderTest {
        members: store.members.clone(),
        directory: store.members,
        transfers: store.transfers,
        sessions: store.sessions,
        totals: store.totals,
        tokens: store.tokens,
    }
}

pointshare_testkit::store_contract!(store());

mod audit {
    pointshare_testkit::audit_contract!(async { super::fresh().await.0.audit });
}

mod outbox {
    pointshare_testkit::outbox_contract!(async { super::fresh().await.0.outbox });
}

/// Whoever can write to the database can change a record; the chain shows it.
#[tokio::test]
async fn a_record_altered_in_the_database_breaks_the_chain_there() {
    use pointshare_domain::ports::SystemClock;
    use pointshare_domain::services::AuditService;
    use pointshare_domain::{Actor, AuditAction, AuditEntry, AuditTarget, MemberId, OperatorName};

    let (store, settings) = fresh().await;
    let audit = AuditService::new(store.audit.clone(), std::sync::Arc::new(SystemClock));
    for n in 0..5 {
        let entry = AuditEntry {
            actor: Actor::Operator(OperatorName::parse("ops").expect("valid")),
            action: AuditAction::RoleChange,
            target: AuditTarget::Member(MemberId::new()),
            before: Some("member".into()),
            after: Some("admin".into()),
            reason: None,
            request_id: None,
            client: None,
            caused: None,
            act: format!("altered-{n}"),
        };
        audit.record(entry).await.expect("records");
    }
    assert_eq!(audit.verify(2).await.expect("walks").first_break, None);
    let client = mongodb::Client::with_uri_str(settings.uri.expose_secret()).await.expect("a client");
    let records = client.database(&settings.database).collection::<mongodb::bson::Document>("audit");
    let changed = records
        .update_one(mongodb::bson::doc! {"_id": 3_i64}, mongodb::bson::doc! {"$set": {"after": "member"}})
        .await
        .expect("updates");
    assert_eq!(changed.modified_count, 1);
    let report = audit.verify(2).await.expect("walks");
    assert_eq!((report.records, report.first_break), (5, Some(3)));
}

#[tokio::test]
async fn connecting_twice_keeps_the_indexes_and_the_data() {
    let settings = MongoSettings { database: unique("test"), ..MongoSettings::new(uri()) };
    let first = MongoStore::connect(&settings, None).await.expect("connects");
    first.ping().await.expect("pings");
    let again = MongoStore::connect(&settings, None).await.expect("creating the indexes again is harmless");
    again.ping().await.expect("pings");
}

#[tokio::test]
async fn an_unreachable_server_fails_start_up_clearly() {
    let settings = MongoSettings {
        connect_timeout: std::time::Duration::from_millis(300),
        ..MongoSettings::new("mongodb://127.0.0.1:1/?connectTimeoutMS=300")
    };
    let error = MongoStore::connect(&settings, None).await.expect_err("nothing listens on port 1");
    assert!(format!("{error:#}").contains("reaching MongoDB"), "{error:#}");
}

fn uri() -> String {
    test_server("POINTSHARE_TEST_MONGODB_URI")
}

#[tokio::test]
async fn a_replica_set_gets_majority_writes_primary_reads_and_retries_unless_the_uri_says_otherwise() {
    use mongodb::options::{Acknowledgment, ReadPreference, SelectionCriteria};

    let options = pointshare_store_mongo::client_options(&MongoSettings::new(uri())).await.expect("parses");
    let write = options.write_concern.clone().expect("a write concern");
    assert_eq!((write.w, write.journal), (Some(Acknowledgment::Majority), Some(true)));
    assert!(matches!(options.selection_criteria, Some(SelectionCriteria::ReadPreference(ReadPreference::Primary))));
    assert_eq!((options.retry_writes, options.retry_reads), (Some(true), Some(true)));
    // The server takes them: the contract suite above runs with exactly these.
    let settings = MongoSettings { database: unique("test"), ..MongoSettings::new(uri()) };
    MongoStore::connect(&settings, None).await.expect("connects with majority writes").ping().await.expect("pings");

    let chosen = format!("{}/?w=1&readPreference=primaryPreferred&retryWrites=false", uri().trim_end_matches('/'));
    let options = pointshare_store_mongo::client_options(&MongoSettings::new(chosen)).await.expect("parses");
    assert_eq!(options.write_concern.and_then(|w| w.w), Some(Acknowledgment::Nodes(1)));
    assert!(matches!(
        options.selection_criteria,
        Some(SelectionCriteria::ReadPreference(ReadPreference::PrimaryPreferred { .. }))
    ));
    assert_eq!(options.retry_writes, Some(false));
}

/// Every index the server's winning plan for `command` reads.
async fn indexes_used(database: &mongodb::Database, command: mongodb::bson::Document) -> Vec<String> {
    use mongodb::bson::{Bson, doc};
    fn collect(value: &Bson, found: &mut Vec<String>) {
        match value {
            Bson::Document(document) => {
                if let Ok(name) = document.get_str("indexName") {
                    found.push(name.to_owned());
                }
                document.values().for_each(|value| collect(value, found));
            }
            Bson::Array(items) => items.iter().for_each(|value| collect(value, found)),
            _ => {}
        }
    }
    let plan = database.run_command(doc! {"explain": command, "verbosity": "queryPlanner"}).await.expect("explains");
    let mut found = Vec::new();
    if let Some(winning) = plan.get_document("queryPlanner").ok().and_then(|planner| planner.get("winningPlan")) {
        collect(winning, &mut found);
    }
    found.sort();
    found.dedup();
    found
}

#[tokio::test]
async fn each_query_of_a_request_is_answered_from_its_index() {
    use mongodb::bson::doc;

    let settings = MongoSettings { database: unique("test"), ..MongoSettings::new(uri()) };
    MongoStore::connect(&settings, None).await.expect("connects and creates the indexes");
    let database = mongodb::Client::with_uri_str(uri()).await.expect("connects").database(&settings.database);
    let member = "0190f3a0-b1c2-7c3d-8e9f-0a1b2c3d4e5f";
    let newest = doc! {"created_at": -1, "_id": -1};
    let due = doc! {"state": {"$in": ["accepted", "debited", "refunding"]}, "lease_until": {"$not": {"$gte": mongodb::bson::DateTime::now()}}};
    let cases = [
        (
            "the idempotency key",
            doc! {"find": "transfers", "filter": {"sender": member, "idempotency_key": "k"}},
            vec!["transfers_sender_key_unique"],
        ),
        // History reads both branches through their indexes (hinted) and merges.
        (
            "a member's history, sent",
            doc! {"find": "transfers", "filter": {"sender": member}, "sort": newest.clone(), "limit": 21, "hint": "transfers_sent_newest_first"},
            vec!["transfers_sent_newest_first"],
        ),
        (
            "a member's history, received",
            doc! {"find": "transfers", "filter": {"recipient": member}, "sort": newest.clone(), "limit": 21, "hint": "transfers_received_newest_first"},
            vec!["transfers_received_newest_first"],
        ),
        (
            "the grants, newest first",
            doc! {"find": "transfers", "filter": {"kind": "grant"}, "sort": newest, "limit": 21},
            vec!["transfers_by_kind_newest_first"],
        ),
        (
            "recovery's due transfers",
            doc! {"find": "transfers", "filter": due, "sort": {"created_at": 1, "_id": 1}, "limit": 100},
            vec!["transfers_due_for_recovery"],
        ),
        ("a member by handle", doc! {"find": "members", "filter": {"handle": "ada"}}, vec!["members_handle_unique"]),
        (
            "a recipient picker's handle prefix",
            doc! {"find": "members", "filter": {"handle": {"$regex": "^ad"}, "status": "active"}, "sort": {"handle": 1}, "limit": 11},
            vec!["members_handle_unique"],
        ),
        (
            "a member by email",
            doc! {"find": "members", "filter": {"email": "ada@example.com"}},
            vec!["members_email_unique"],
        ),
    ];
    for (query, command, expected) in cases {
        assert_eq!(indexes_used(&database, command).await, expected, "{query}");
    }
}

#[tokio::test]
async fn what_only_grows_expires_by_ttl_index_and_a_new_period_replaces_the_old_at_the_next_start() {
    use futures::TryStreamExt;
    use mongodb::bson::doc;
    use pointshare_domain::ports::{DailyTotals, DayKey};
    use pointshare_store_mongo::Retention;
    use std::time::Duration;

    let (store, settings) = fresh().await;
    let database = mongodb::Client::with_uri_str(uri()).await.expect("connects").database(&settings.database);
    let ttl = |collection: &'static str| {
        let database = database.clone();
        async move {
            let indexes: Vec<mongodb::IndexModel> = database
                .collection::<mongodb::bson::Document>(collection)
                .list_indexes()
                .await
                .expect("lists")
                .try_collect()
                .await
                .expect("reads");
            indexes
                .iter()
                .filter_map(|index| index.options.as_ref()?.expire_after.map(|after| after.as_secs()))
                .collect::<Vec<_>>()
        }
    };
    let day = 24 * 3600;
    assert_eq!(ttl("sessions").await, [30 * day]);
    assert_eq!(ttl("daily_totals").await, [7 * day]);
    assert_eq!(ttl("outbox").await, [30 * day]);
    assert_eq!(ttl("account_tokens").await, [day]);

    // A daily total carries the end of its day, which its TTL counts from.
    let key = DayKey {
        sender: pointshare_domain::MemberId::new(),
        kind: pointshare_domain::TransferKind::Share,
        day: chrono::NaiveDate::from_ymd_opt(2026, 12, 5).expect("a day"),
    };
    store.totals.reserve(&key, pointshare_domain::Points::new(5).expect("points"), 100).await.expect("reserves");
    let total = database.collection::<mongodb::bson::Document>("daily_totals").find_one(doc! {}).await.expect("reads");
    let ends = total.expect("a total").get_datetime("day_ends").expect("the day's end").timestamp_millis();
    assert_eq!(
        ends,
        chrono::NaiveDate::from_ymd_opt(2026, 12, 6)
            .expect("a day")
            .and_hms_opt(0, 0, 0)
            .expect("midnight")
            .and_utc()
            .timestamp_millis()
    );

    let shorter = MongoSettings {
        retention: Retention { sessions: Duration::from_secs(2 * day), ..Retention::default() },
        ..settings.clone()
    };
    MongoStore::connect(&shorter, None).await.expect("connects again with another period");
    assert_eq!(ttl("sessions").await, [2 * day], "the new period replaced the old");
}
