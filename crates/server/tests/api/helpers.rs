//! `spawn_app`: a real server on 127.0.0.1:0 with the embedded default, and a
//! client whose methods read like the requests a member makes (`Api`).

use pointshare_server::Settings;
use pointshare_server::settings::{CacheChoice, MailChoice, MongoSettings, StoreChoice, TrustedProxies};
use secrecy::ExposeSecret;

pub use crate::client::{Answer, Api, DEMO_PASSWORD};

/// A server running in this test process, and a client to it (`Api`'s
/// requests, through `Deref`).
#[derive(Debug)]
pub struct TestApp {
    api: Api,
    /// The secret it signs access tokens with, made for this app.
    pub secret: String,
}

impl std::ops::Deref for TestApp {
    type Target = Api;

    fn deref(&self) -> &Api {
        &self.api
    }
}

/// A provider simulator on a port of its own, as a real provider would be; its API key.
pub async fn separate_provider() -> (pointshare_provider_sim::RunningSim, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let config = pointshare_provider_sim::SimConfig::default();
    let key = config.api_key.clone();
    (pointshare_provider_sim::start(listener, config).await.expect("the simulator starts"), key)
}

/// A server with a real provider keeps its store and cache in memory, and
/// its mail in the log, only when told so by name.
pub fn in_memory_on_purpose(settings: &mut Settings) {
    settings.backends.store = Some(StoreChoice::Memory);
    settings.backends.cache = Some(CacheChoice::Memory);
    settings.backends.mail = Some(MailChoice::Log);
}

/// A server behind a proxy at 127.0.0.1, where the tests' requests come
/// from: it believes the proxy's X-Forwarded-For about who the client is.
pub fn behind_a_loopback_proxy(settings: &mut Settings) {
    settings.http.trusted_proxies = TrustedProxies::parse("127.0.0.1/32").expect("a CIDR");
}

/// Where a support-desk test keeps members and transfers: it runs on each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Memory,
    /// A fresh database on the server `scripts/with-servers` starts; a
    /// test run without one fails.
    MongoDb,
}

/// Runs each support-desk test, an `async fn(Store)`, as `<name>::in_memory`
/// and `<name>::on_mongodb`.
macro_rules! on_each_store {
    ($($test:ident),+ $(,)?) => {$(
        mod $test {
            #[tokio::test]
            async fn in_memory() {
                super::$test($crate::helpers::Store::Memory).await
            }

            #[tokio::test]
            async fn on_mongodb() {
                super::$test($crate::helpers::Store::MongoDb).await
            }
        }
    )+};
}

pub const BOSS: &str = "boss@example.com";
pub const BOSS_PASSWORD: &str = "the boss's password";

/// A server on `store` with a provider on its own port (which the test may
/// make fail), mail through the test SMTP server (read it with
/// `pointshare_testkit::Inbox`), the bootstrap admin `BOSS`, and sharing
/// without a verified email; the cache in memory, by name.
pub async fn spawn_on(
    store: Store,
    tune: impl FnOnce(&mut Settings),
) -> (TestApp, pointshare_provider_sim::RunningSim) {
    let (provider, key) = separate_provider().await;
    let url = provider.base_url().parse().expect("a URL");
    let app = spawn_app_with(|s| {
        in_memory_on_purpose(s);
        if store == Store::MongoDb {
            let uri = pointshare_testkit::test_server("POINTSHARE_TEST_MONGODB_URI");
            let database = pointshare_testkit::unique("api");
            // A database of its own, migrated by the replica (no `pointshare migrate` step to run).
            s.store = Some(MongoSettings { database, migrate_on_start: true, ..MongoSettings::new(uri) });
            s.backends.store = None;
        }
        s.provider.url = Some(url);
        s.provider.api_key = Some(key.into());
        s.backends.mail = None;
        s.mail.smtp_url = Some(pointshare_testkit::Inbox::smtp_url().into());
        // Members share as soon as they sign up, unless a test is about the rule.
        s.accounts.require_verified_email = Some(false);
        s.bootstrap_admin.email = Some(BOSS.into());
        s.bootstrap_admin.password = Some(BOSS_PASSWORD.to_owned().into());
        tune(s);
    })
    .await;
    (app, provider)
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tune: impl FnOnce(&mut Settings)) -> TestApp {
    let mut settings = Settings::default();
    settings.http.bind = "127.0.0.1:0".parse().expect("valid address");
    settings.http.internal_bind = "127.0.0.1:0".parse().expect("valid address");
    settings.auth.jwt_secret = Some(pointshare_testkit::random_secret().into());
    tune(&mut settings);
    let secret = settings.auth.jwt_secret.as_ref().map(|secret| secret.expose_secret().to_owned()).unwrap_or_default();
    TestApp { api: Api::start(settings).await, secret }
}
