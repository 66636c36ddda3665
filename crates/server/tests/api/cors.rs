//! A browser page on another origin calls the API: allowed origins get the
//! CORS headers a browser needs, every other origin gets none.

use pointshare_server::settings::CorsOrigins;
use reqwest::Method;
use reqwest::header::{HeaderMap, HeaderValue};

use crate::helpers::{TestApp, spawn_app, spawn_app_with};

const PAGE: &str = "https://app.example.test";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers.get(name).and_then(|value| value.to_str().ok()).unwrap_or_default()
}

/// The browser's preflight before a share from `origin`.
async fn preflight(app: &TestApp, origin: &str) -> reqwest::Response {
    app.client
        .request(Method::OPTIONS, app.url("/v1/transfers"))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type, idempotency-key")
        .send()
        .await
        .expect("answers")
}

#[tokio::test]
async fn an_allowed_origin_passes_the_preflight_and_reads_the_headers_it_needs() {
    let app = spawn_app_with(|settings| {
        settings.http.cors_origins =
            Some(CorsOrigins::parse(&format!("{PAGE}, http://other.example.test")).expect("origins"))
    })
    .await;
    let answer = preflight(&app, PAGE).await;
    assert!(answer.status().is_success(), "{}", answer.status());
    let headers = answer.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), PAGE);
    let allowed = header(headers, "access-control-allow-headers").to_ascii_lowercase();
    for needed in ["authorization", "content-type", "idempotency-key"] {
        assert!(allowed.contains(needed), "{needed} not in {allowed}");
    }
    assert!(header(headers, "access-control-allow-methods").contains("POST"));

    let token = app.demo("alice").await;
    let answer = app
        .client
        .get(app.url("/v1/me/balance"))
        .bearer_auth(token)
        .header("origin", PAGE)
        .send()
        .await
        .expect("answers");
    assert!(answer.status().is_success());
    assert_eq!(header(answer.headers(), "access-control-allow-origin"), PAGE);
    let exposed = header(answer.headers(), "access-control-expose-headers").to_ascii_lowercase();
    for readable in ["location", "retry-after", "x-request-id", "idempotent-replayed", "www-authenticate", "ratelimit"]
    {
        assert!(exposed.contains(readable), "{readable} not in {exposed}");
    }
}

#[tokio::test]
async fn any_other_origin_gets_no_cors_headers_and_is_still_served() {
    let app =
        spawn_app_with(|settings| settings.http.cors_origins = Some(CorsOrigins::parse(PAGE).expect("an origin")))
            .await;
    let answer = preflight(&app, "https://evil.example.test").await;
    assert_eq!(answer.headers().get("access-control-allow-origin"), None);
    let mut origin = HeaderMap::new();
    origin.insert("origin", HeaderValue::from_static("https://evil.example.test"));
    let answer = app.client.get(app.url("/healthz")).headers(origin).send().await.expect("answers");
    assert!(answer.status().is_success(), "a non-browser client is not refused for its Origin");
    assert_eq!(answer.headers().get("access-control-allow-origin"), None);
}

#[tokio::test]
async fn the_embedded_default_lets_a_local_dev_server_in_and_an_empty_setting_nobody() {
    let app = spawn_app().await;
    for origin in ["http://localhost:5173", "http://127.0.0.1:5173"] {
        assert_eq!(header(preflight(&app, origin).await.headers(), "access-control-allow-origin"), origin);
    }
    let app = spawn_app_with(|settings| settings.http.cors_origins = Some(CorsOrigins::default())).await;
    assert_eq!(preflight(&app, "http://localhost:5173").await.headers().get("access-control-allow-origin"), None);
}

#[tokio::test]
async fn a_page_may_send_its_request_id_and_trace_context_and_a_refused_preflight_says_why_as_a_problem() {
    let app =
        spawn_app_with(|settings| settings.http.cors_origins = Some(CorsOrigins::parse(PAGE).expect("an origin")))
            .await;
    let ask = |headers: &'static str| {
        app.client
            .request(Method::OPTIONS, app.url("/v1/transfers"))
            .header("origin", PAGE)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", headers)
            .send()
    };
    let answer = ask("authorization, x-request-id, traceparent, tracestate").await.expect("answers");
    assert!(answer.status().is_success(), "{}", answer.status());

    let answer = ask("authorization, x-made-up").await.expect("answers");
    assert_eq!(answer.status().as_u16(), 400);
    assert_eq!(header(answer.headers(), "content-type"), "application/problem+json");
    let problem: serde_json::Value = answer.json().await.expect("a problem");
    assert_eq!(problem["code"], "cors_refused", "{problem}");
    assert!(problem["detail"].as_str().is_some_and(|detail| detail.contains("headers")), "{problem}");
}
