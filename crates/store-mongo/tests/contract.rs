//! The repository contract against a real MongoDB-protocol server
//! (`scripts/with-servers` provides one), each test in its own database.

use pointshare_store_mongo::{MongoSettings, MongoStore};
use pointshare_testkit::contract::store::StoreUnderTest;

async fn store() -> StoreUnderTest {
    let uri = std::env::var("POINTSHARE_TEST_MONGODB_URI").expect(
        "POINTSHARE_TEST_MONGODB_URI is unset: run the tests through scripts/with-servers (scripts/test does), which starts the servers",
    );
    let settings = MongoSettings { database: format!("test_{:016x}", rand_id()), ..MongoSettings::new(uri) };
    let store = MongoStore::connect(&settings).await.expect("connects to the test server");
    StoreUnderTest {
        members: store.members,
        transfers: store.transfers,
        sessions: store.sessions,
        totals: store.totals,
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(std::time::SystemTime::now())
}

pointshare_testkit::store_contract!(store());

#[tokio::test]
async fn connecting_twice_keeps_the_indexes_and_the_data() {
    let uri = std::env::var("POINTSHARE_TEST_MONGODB_URI")
        .expect("POINTSHARE_TEST_MONGODB_URI is set by scripts/with-servers");
    let settings = MongoSettings { database: format!("test_{:016x}", rand_id()), ..MongoSettings::new(uri) };
    let first = MongoStore::connect(&settings).await.expect("connects");
    first.ping().await.expect("pings");
    let again = MongoStore::connect(&settings).await.expect("creating the indexes again is harmless");
    again.ping().await.expect("pings");
}

#[tokio::test]
async fn an_unreachable_server_fails_start_up_clearly() {
    let settings = MongoSettings {
        connect_timeout: std::time::Duration::from_millis(300),
        ..MongoSettings::new("mongodb://127.0.0.1:1/?connectTimeoutMS=300")
    };
    let error = MongoStore::connect(&settings).await.expect_err("nothing listens on port 1");
    assert!(format!("{error:#}").contains("reaching MongoDB"), "{error:#}");
}
