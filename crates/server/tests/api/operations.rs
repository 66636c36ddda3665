//! What operators and tools read: health, readiness, metrics, the API docs.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::spawn_app;

#[tokio::test]
async fn healthz_and_readyz_report_the_backends() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.body, json!({"status": "ok"}));
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["status"], "ready");
    assert_eq!(ready.body["provider_breaker"], "closed");
    assert!(ready.body["provider"].as_str().expect("a provider").contains("simulator"));
}

#[tokio::test]
async fn metrics_count_requests_and_provider_calls() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    app.balance(&alice).await;
    let text = app.client.get(app.url("/metrics")).send().await.expect("answers").text().await.expect("text");
    for name in [
        "pointshare_http_requests_total",
        "pointshare_http_request_duration_seconds_bucket",
        "pointshare_provider_calls_total",
        "pointshare_provider_call_duration_seconds_bucket",
        "pointshare_provider_breaker_state",
    ] {
        assert!(text.contains(name), "/metrics lacks {name}");
    }
    assert!(text.contains(r#"route="/v1/me/balance""#), "routes are labelled by pattern");
}

#[tokio::test]
async fn the_openapi_document_describes_every_endpoint() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    assert!(doc["openapi"].as_str().expect("a version").starts_with("3.1"));
    for path in [
        "/v1/auth/signup",
        "/v1/auth/login",
        "/v1/me",
        "/v1/me/balance",
        "/v1/members/{handle}",
        "/v1/transfers",
        "/v1/transfers/{id}",
        "/v1/admin/grants",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"].get(path).is_some(), "openapi.json lacks {path}");
    }
    assert!(doc["components"]["schemas"].get("Problem").is_some());
    let docs = app.client.get(app.url("/docs/")).send().await.expect("answers");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("swagger"), "Swagger UI is served from the binary");
}
