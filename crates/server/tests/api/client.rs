//! Asking a running pointshare over HTTP as a client would, and reading its
//! answers: the API tests' server runs in their process, the end-to-end
//! tests' is the binary; both talk to it through `Api`.

use std::time::Duration;

use pointshare_server::{Application, Settings};
use reqwest::{Client, Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

/// The embedded default's demo members' password.
pub const DEMO_PASSWORD: &str = "pointshare-demo";

/// The password of every member a test signs up.
pub const MEMBER_PASSWORD: &str = "a good password";

/// A client of one server: its API and its internal listener.
#[derive(Debug, Clone)]
pub struct Api {
    pub address: String,
    /// The internal listener: `/metrics` and the detailed `/readyz`.
    pub internal: String,
    pub client: Client,
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

impl Api {
    /// Starts a server with `settings` in this process (it runs until the
    /// test ends) and asks it.
    pub async fn start(settings: Settings) -> Api {
        let application = Application::build(settings).await.expect("the application builds");
        let api = Api::new(
            format!("http://127.0.0.1:{}", application.port()),
            format!("http://127.0.0.1:{}", application.internal_port()),
        );
        tokio::spawn(application.run_until_stopped());
        api
    }

    pub fn new(address: String, internal: String) -> Self {
        let client = Client::builder().timeout(Duration::from_secs(30)).build().expect("a client");
        Api { address, internal, client }
    }

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

    /// `method` on `path`, as `token`'s bearer when given, with a JSON body when given.
    pub async fn send(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        answer(request).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Answer {
        self.send(Method::POST, path, token, Some(body)).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Answer {
        self.send(Method::GET, path, token, None).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.send(Method::DELETE, path, Some(token), None).await
    }

    /// A signup from a client of its own (its own connection), as many at once would be.
    pub async fn signup_as(&self, handle: String) -> Answer {
        let body = signup(&handle);
        let client = Client::builder().timeout(Duration::from_secs(60)).build().expect("a client");
        Answer::of(client.post(self.url("/v1/auth/signup")).json(&body).send().await.expect("answers")).await
    }

    /// `handle` signs up as `<handle>@example.com` with `MEMBER_PASSWORD`.
    pub async fn signup(&self, handle: &str) -> Answer {
        self.post("/v1/auth/signup", None, signup(handle)).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Answer {
        self.post("/v1/auth/login", None, json!({"email": email, "password": password})).await
    }

    /// Signs a new member up and returns their access token.
    pub async fn member(&self, handle: &str) -> String {
        assert_eq!(self.signup(handle).await.status, StatusCode::CREATED);
        self.token(&format!("{handle}@example.com"), MEMBER_PASSWORD).await
    }

    /// A login's tokens, access and refresh; the login must succeed.
    pub async fn session(&self, email: &str, password: &str) -> Value {
        let answer = self.login(email, password).await;
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        answer.body
    }

    pub async fn token(&self, email: &str, password: &str) -> String {
        self.session(email, password).await["access_token"].as_str().expect("a token").to_owned()
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

    /// A POST that creates something, under an `Idempotency-Key` of its own.
    pub async fn create(&self, path: &str, token: &str, body: Value) -> Answer {
        self.post_once(path, token, &format!("k-{}", rand::random::<u64>()), body).await
    }

    /// A POST that creates something, under an `Idempotency-Key`.
    pub async fn post_once(&self, path: &str, token: &str, key: &str, body: Value) -> Answer {
        answer(self.client.post(self.url(path)).bearer_auth(token).header("Idempotency-Key", key).json(&body)).await
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

fn signup(handle: &str) -> Value {
    json!({"email": format!("{handle}@example.com"), "password": MEMBER_PASSWORD, "handle": handle, "display_name": handle})
}

async fn answer(request: RequestBuilder) -> Answer {
    Answer::of(request.send().await.expect("the server answers")).await
}
