//! `spawn_app`: a real server on 127.0.0.1:0 with the embedded default, and a
//! client whose methods read like the requests a member makes.

use std::time::Duration;

use pointshare_server::settings::{CacheChoice, MailChoice, MongoSettings, StoreChoice, TrustedProxies};
use pointshare_server::{Application, Settings};
use reqwest::{Client, Response, StatusCode};
use secrecy::ExposeSecret;
use serde_json::{Value, json};

pub const DEMO_PASSWORD: &str = "pointshare-demo";

#[derive(Debug)]
pub struct TestApp {
    pub address: String,
    /// The internal listener: `/metrics` and the detailed `/readyz`.
    pub internal: String,
    pub client: Client,
    /// The secret it signs access tokens with, made for this app.
    pub secret: String,
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
    let application = Application::build(settings).await.expect("the application builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let internal = format!("http://127.0.0.1:{}", application.internal_port());
    tokio::spawn(application.run_until_stopped());
    let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("a client");
    TestApp { address, internal, client, secret }
}

/// An answer, read once: status, headers and JSON body.
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn of(response: Response) -> Answer {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("a body");
        let body =
            if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap_or(Value::String(text)) };
        Answer { status, headers, body }
    }

    /// Asserts a problem+json answer with this status and code.
    pub fn problem(&self, status: u16, code: &str) -> &Self {
        assert_eq!(self.status.as_u16(), status, "{:?}", self.body);
        assert_eq!(self.body["code"], code, "{:?}", self.body);
        assert_eq!(self.headers["content-type"], "application/problem+json");
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["type"].is_string());
        self
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn internal_get(&self, path: &str) -> Answer {
        Answer::of(self.client.get(format!("{}{path}", self.internal)).send().await.expect("answers")).await
    }

    pub async fn internal_text(&self, path: &str) -> String {
        let response = self.client.get(format!("{}{path}", self.internal)).send().await.expect("answers");
        response.text().await.expect("text")
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        let mut request = self.client.post(self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::of(request.send().await.expect("the server answers")).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        let mut request = self.client.get(self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        Answer::of(request.send().await.expect("the server answers")).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        let request = self.client.put(self.url(path)).bearer_auth(token).json(&body);
        Answer::of(request.send().await.expect("the server answers")).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        let request = self.client.patch(self.url(path)).bearer_auth(token).json(&body);
        Answer::of(request.send().await.expect("the server answers")).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        let request = self.client.delete(self.url(path)).bearer_auth(token);
        Answer::of(request.send().await.expect("the server answers")).await
    }

    /// A signup from a client of its own (its own connection), as many at once would be.
    pub async fn signup_as(&self, handle: String) -> Answer {
        let body = json!({"email": format!("{handle}@example.com"), "password": "a good password", "handle": handle, "display_name": handle});
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("a client");
        Answer::of(client.post(self.url("/v1/auth/signup")).json(&body).send().await.expect("answers")).await
    }

    pub async fn signup(&self, handle: &str) -> Answer {
        let body = json!({"email": format!("{handle}@example.com"), "password": "a good password", "handle": handle, "display_name": handle});
        self.post("/v1/auth/signup", None, body).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await
    }

    /// Signs a new member up and returns their access token.
    pub async fn member(&self, handle: &str) -> String {
        assert_eq!(self.signup(handle).await.status, StatusCode::CREATED);
        self.token(&format!("{handle}@example.com"), "a good password").await
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        let answer = self.login(email, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body["access_token"].as_str().expect("a token").to_owned()
    }

    pub async fn demo(&self, handle: &str) -> String {
        self.token(&format!("{handle}@pointshare.test"), DEMO_PASSWORD).await
    }

    pub async fn share(&self, token: &str, key: &str, body: Value) -> Answer {
        self.post_once("/v1/transfers", token, key, body).await
    }

    pub async fn grant(&self, token: &str, key: &str, body: Value) -> Answer {
        self.post_once("/v1/admin/grants", token, key, body).await
    }

    /// A POST that creates something, under an `Idempotency-Key`.
    pub async fn post_once(&self, path: &str, token: &str, key: &str, body: Value) -> Answer {
        let request = self.client.post(self.url(path)).bearer_auth(token).header("Idempotency-Key", key).json(&body);
        Answer::of(request.send().await.expect("the server answers")).await
    }

    /// The state of the transfer at `path` once it is no longer processing
    /// (or after ten seconds).
    pub async fn settled_state(&self, path: &str, token: &str) -> String {
        let mut state = String::new();
        for _ in 0..50 {
            state = self.get(path, Some(token)).await.body["state"].as_str().expect("a state").to_owned();
            if state != "processing" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        state
    }

    pub async fn balance(&self, token: &str) -> u64 {
        let answer = self.get("/v1/me/balance", Some(token)).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body["balance"].as_u64().expect("a balance")
    }
}
