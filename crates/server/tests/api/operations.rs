//! What operators and tools read: health, readiness, metrics, the API docs.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{DEMO_PASSWORD, in_memory_on_purpose, separate_provider, spawn_app, spawn_app_with};

#[tokio::test]
async fn readyz_tells_the_public_its_status_and_the_internal_listener_the_backends() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz", None).await.body, json!({"status": "ok"}));
    let public = app.get("/readyz", None).await;
    assert_eq!((public.status, &public.body), (StatusCode::OK, &json!({"status": "ready"})), "status only");
    let internal = app.internal_get("/readyz").await;
    assert_eq!(internal.status, StatusCode::OK);
    assert_eq!(internal.body["status"], "ready");
    assert_eq!(internal.body["provider_breaker"], "closed");
    assert!(internal.body["provider"].as_str().expect("a provider").contains("simulator"));
}

#[tokio::test]
async fn metrics_are_served_only_on_the_internal_listener_with_bounded_labels() {
    let app = spawn_app().await;
    app.get("/metrics", None).await.problem(404, "not_found");
    let invented = reqwest::Method::from_bytes(b"BREW").expect("a method token");
    for n in 0..3 {
        let path = format!("/v1/members/nobody{n}");
        app.client.request(invented.clone(), app.url(&path)).send().await.expect("answers");
        app.get(&format!("/no/such/path/{n}"), None).await;
    }
    let text = app.internal_text("/metrics").await;
    assert!(text.contains("pointshare_http_requests_total"), "{text}");
    assert!(!text.contains("BREW"), "a method a client invents is no label value");
    assert!(text.contains(r#"method="other""#), "{text}");
    assert!(!text.contains("nobody") && !text.contains("/no/such/path"), "paths are never labels");
}

/// Every metric the Grafana dashboard and the Prometheus alert rules query.
fn metrics_used_by_operators() -> BTreeSet<String> {
    let deploy = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy");
    ["grafana/dashboards/pointshare.json", "prometheus/alerts.yml"]
        .iter()
        .flat_map(|file| {
            let text = std::fs::read_to_string(format!("{deploy}/{file}")).expect("the file exists");
            text.split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
                .filter(|word| word.starts_with("pointshare_") || word.starts_with("process_"))
                .map(str::to_owned)
                .collect::<Vec<_>>()
        })
        .collect()
}

#[tokio::test]
async fn metrics_hold_everything_the_dashboard_and_alerts_use_after_real_traffic() {
    let app = spawn_app_with(|settings| settings.recovery.interval = Duration::from_millis(100)).await;
    let alice = app.demo("alice").await;
    let admin = app.demo("admin").await;
    app.balance(&alice).await;
    app.balance(&alice).await;
    let shared = app.share(&alice, "metrics-share", json!({"to_handle": "bob", "amount": 1})).await;
    assert_eq!(shared.status, StatusCode::CREATED, "{:?}", shared.body);
    let granted = app.grant(&admin, "metrics-grant", json!({"to_handle": "alice", "amount": 1, "reason": "r"})).await;
    assert_eq!(granted.status, StatusCode::CREATED, "{:?}", granted.body);
    assert_eq!(app.get("/v1/transfers", Some(&alice)).await.status, StatusCode::OK);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let text = app.internal_text("/metrics").await;
    let exposed: BTreeSet<&str> =
        text.lines().filter(|line| !line.starts_with('#')).filter_map(|line| line.split(['{', ' ']).next()).collect();
    let used = metrics_used_by_operators();
    assert!(used.len() >= 15, "the files were read: {used:?}");
    // Exported only where a limit exists (a container), and only where the
    // store is MongoDB; this test runs without either.
    let conditional = [
        "pointshare_memory_limit_bytes",
        "pointshare_store_call_duration_seconds_bucket",
        "pointshare_store_documents_unreadable_total",
    ];
    let missing: Vec<_> =
        used.iter().filter(|name| !exposed.contains(name.as_str()) && !conditional.contains(&name.as_str())).collect();
    assert!(missing.is_empty(), "/metrics lacks {missing:?}");
    for series in [
        r#"route="/v1/me/balance""#,
        // Other tests in this process count too: the series, not its value.
        r#"pointshare_transfers_total{kind="share",state="completed"} "#,
        r#"pointshare_transfers_total{kind="grant",state="completed"} "#,
        r#"pointshare_cache_reads_total{result="hit"}"#,
    ] {
        assert!(text.contains(series), "/metrics lacks {series}");
    }
}

/// The OpenAPI Initiative's JSON Schema for OpenAPI 3.1 documents
/// (`https://spec.openapis.org/oas/3.1/schema/2022-10-07`), kept here so the
/// check needs no network.
const OPENAPI_3_1_SCHEMA: &str = include_str!("openapi-3.1-schema.json");

#[tokio::test]
async fn the_event_stream_s_messages_are_typed_in_the_document() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let stream = &doc["paths"]["/v1/me/events"]["get"]["responses"]["200"]["content"]["text/event-stream"];
    assert_eq!(stream["schema"]["$ref"], "#/components/schemas/StreamEvent", "{stream}");
    let kinds: Vec<(String, String)> = doc["components"]["schemas"]["StreamEvent"]["oneOf"]
        .as_array()
        .expect("one schema per event")
        .iter()
        .map(|event| {
            let name = event["properties"]["event"]["enum"][0].as_str().expect("a name").to_owned();
            let data = event["properties"]["data"]["$ref"].as_str().expect("named data").to_owned();
            (name, data.rsplit('/').next().expect("a name").to_owned())
        })
        .collect();
    let expected =
        [("ready", "ReadyEvent"), ("transfer", "TransferView"), ("balance", "BalanceView"), ("reset", "ResetEvent")];
    assert_eq!(kinds, expected.map(|(name, data)| (name.to_owned(), data.to_owned())));
}

#[tokio::test]
async fn the_document_names_every_header_a_share_answers_with_and_the_key_s_rule() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let share = &doc["paths"]["/v1/transfers"]["post"];
    let headers = |status: &str| {
        let mut names: Vec<String> =
            share["responses"][status]["headers"].as_object().map(|h| h.keys().cloned().collect()).unwrap_or_default();
        names.sort();
        names
    };
    assert_eq!(
        headers("201"),
        ["Idempotent-Replayed", "Location", "Preference-Applied", "RateLimit", "RateLimit-Policy"]
    );
    assert_eq!(
        headers("202"),
        ["Idempotent-Replayed", "Location", "Preference-Applied", "RateLimit", "RateLimit-Policy", "Retry-After"]
    );
    assert_eq!(headers("429"), ["RateLimit", "RateLimit-Policy", "Retry-After"]);
    let parameters = share["parameters"].as_array().expect("parameters");
    let key = parameters.iter().find(|p| p["name"] == "Idempotency-Key").expect("the key");
    assert_eq!((key["schema"]["minLength"].as_u64(), key["schema"]["maxLength"].as_u64()), (Some(1), Some(64)));
    assert!(parameters.iter().any(|p| p["name"] == "Prefer" && p["in"] == "header"), "{parameters:?}");
}

#[tokio::test]
async fn the_openapi_document_is_valid_openapi_3_1_and_describes_every_endpoint() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let schema: Value = serde_json::from_str(OPENAPI_3_1_SCHEMA).expect("the schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the schema compiles");
    assert!(!validator.is_valid(&json!({"openapi": "3.1.0", "paths": {}})), "the schema check has teeth: no info");
    let errors: Vec<String> =
        validator.iter_errors(&doc).map(|error| format!("{} at {}", error, error.instance_path())).collect();
    assert!(errors.is_empty(), "openapi.json breaks the OpenAPI 3.1 schema: {errors:#?}");

    // What a JSON Schema cannot check: path parameters match the template,
    // every reference resolves, every failure is documented as problem+json.
    let paths = doc["paths"].as_object().expect("paths");
    for (path, item) in paths {
        let template: BTreeSet<&str> =
            path.split('/').filter_map(|part| part.strip_prefix('{')?.strip_suffix('}')).collect();
        for (method, operation) in item.as_object().expect("a path item") {
            let in_path: BTreeSet<&str> = operation["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|parameter| parameter["in"] == "path")
                .map(|parameter| parameter["name"].as_str().expect("a name"))
                .collect();
            assert_eq!(in_path, template, "{method} {path}: path parameters");
            for (status, response) in operation["responses"].as_object().expect("responses") {
                assert!(
                    !response["description"].as_str().expect("a description").is_empty(),
                    "{method} {path} {status}"
                );
                if path.starts_with("/v1/") && (status.starts_with('4') || status.starts_with('5')) {
                    let content = &response["content"];
                    assert!(content.get("application/problem+json").is_some(), "{method} {path} {status}: {content}");
                }
            }
            if path.starts_with("/v1/") && !path.starts_with("/v1/auth/") {
                assert_eq!(operation["security"], json!([{"bearer": []}]), "{method} {path}");
                assert!(operation["responses"].get("401").is_some(), "{method} {path} documents 401");
            }
        }
    }
    let mut references = Vec::new();
    collect_references(&doc, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').expect("a local reference");
        assert!(doc.pointer(pointer).is_some(), "{reference} does not resolve");
    }

    for path in [
        "/v1/auth/signup",
        "/v1/auth/login",
        "/v1/me",
        "/v1/me/balance",
        "/v1/members/{handle}",
        "/v1/transfers",
        "/v1/transfers/{id}",
        "/v1/admin/grants",
        "/v1/admin/transfers/{id}/reversals",
        "/v1/admin/adjustments",
        "/v1/admin/approvals",
        "/v1/admin/approvals/{id}",
        "/v1/admin/transfers/{id}",
        "/v1/auth/refresh",
        "/v1/auth/logout",
        "/healthz",
        "/readyz",
    ] {
        assert!(paths.contains_key(path), "openapi.json lacks {path}");
    }
    let transfer = &doc["components"]["schemas"]["TransferView"]["properties"];
    let state = transfer["state"]["$ref"].as_str().expect("a named state type");
    let states = &doc.pointer(&state[1..]).expect("resolves")["enum"];
    assert_eq!(
        states,
        &json!(["processing", "completed", "rejected", "reversed", "needs_review", "awaiting_approval"])
    );
    let history = &doc["paths"]["/v1/transfers"]["get"]["parameters"];
    assert!(history.as_array().expect("parameters").iter().all(|p| p["in"] == "query"), "{history}");
}

fn collect_references<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
    match value {
        Value::Object(map) => {
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("$ref", Value::String(reference)) => into.push(reference),
                    _ => collect_references(value, into),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_references(item, into)),
        _ => {}
    }
}

#[tokio::test]
async fn the_docs_page_and_its_assets_come_from_the_binary() {
    let app = spawn_app().await;
    let no_redirects =
        reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("a client");
    let bare = no_redirects.get(app.url("/docs")).send().await.expect("answers");
    assert!(bare.status().is_redirection(), "{}", bare.status());
    assert_eq!(bare.headers()["location"], "/docs/");

    let page = app.client.get(app.url("/docs")).send().await.expect("answers");
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    assert!(!html.contains("https://") && !html.contains("http://"), "the page loads nothing from elsewhere: {html}");
    for asset in ["swagger-ui.css", "index.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"] {
        let answer = app.client.get(app.url(&format!("/docs/{asset}"))).send().await.expect("answers");
        assert_eq!(answer.status(), StatusCode::OK, "{asset}");
        assert!(!answer.bytes().await.expect("a body").is_empty(), "{asset} has content");
    }
    let initializer = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("answers")
        .text()
        .await
        .expect("js");
    assert!(initializer.contains("\"/openapi.json\""), "Swagger UI reads this server's document: {initializer}");
    for setting in ["\"persistAuthorization\": true", "\"displayOperationId\": true"] {
        assert!(initializer.contains(setting), "the token survives a reload, operation ids show: {initializer}");
    }
}

#[tokio::test]
async fn with_the_provider_down_what_needs_it_answers_503_and_the_replica_stays_ready_for_the_rest() {
    let (provider, key) = separate_provider().await;
    let url = provider.base_url().parse().expect("a URL");
    let app = spawn_app_with(|s| {
        in_memory_on_purpose(s);
        s.provider.url = Some(url);
        s.provider.api_key = Some(key.into());
        s.http.request_deadline = Duration::from_millis(600);
        s.saga.balance_ttl = Duration::from_millis(1);
        s.provider.calls.breaker.consecutive_failures = 2;
    })
    .await;
    let alice = app.member("alice").await;
    assert_eq!(app.balance(&alice).await, 0);
    let ready = app.internal_get("/readyz").await;
    assert!(ready.body["provider"].as_str().expect("a provider").contains("HTTP provider"));

    provider.shutdown().await.expect("the simulator stops");
    let answer = app.get("/v1/me/balance", Some(&alice)).await;
    answer.problem(503, "provider_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
    // Every replica shares the provider: taking them out of the balancer
    // would fail what needs no provider too.
    let ready = app.get("/readyz", None).await;
    assert_eq!((ready.status, ready.body), (StatusCode::OK, json!({"status": "degraded"})));
    let ready = app.internal_get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str(), ready.body["provider_breaker"].as_str()),
        (StatusCode::OK, Some("degraded"), Some("open"))
    );
    let history = app.get("/v1/transfers", Some(&alice)).await;
    assert_eq!(history.status, StatusCode::OK, "history needs no provider: {:?}", history.body);
    let me = app.get("/v1/me", Some(&alice)).await;
    assert_eq!((me.status, me.body["handle"].as_str()), (StatusCode::OK, Some("alice")), "nor does my profile");
    assert_eq!(app.login("alice@example.com", "a good password").await.status, StatusCode::OK, "nor does a login");
    let metrics = app.internal_text("/metrics").await;
    for line in
        ["pointshare_dependency_up{dependency=\"provider\"} 0", "pointshare_dependency_up{dependency=\"store\"} 1"]
    {
        assert!(metrics.lines().any(|l| l == line), "{line} in /metrics");
    }
    assert_eq!(app.get("/healthz", None).await.status, StatusCode::OK, "the process itself is fine");
}

#[tokio::test]
async fn with_a_real_provider_there_are_no_demo_members_and_no_points_granted_at_start() {
    let (provider, key) = separate_provider().await;
    let url = provider.base_url();
    let app = spawn_app_with(|s| {
        in_memory_on_purpose(s);
        s.provider.url = Some(url.parse().expect("a URL"));
        s.provider.api_key = Some(key.clone().into());
    })
    .await;
    for handle in ["admin", "alice", "bob"] {
        let login = app.login(&format!("{handle}@pointshare.test"), DEMO_PASSWORD).await;
        login.problem(401, "invalid_credentials");
    }
    let ledger: Value = app
        .client
        .get(format!("{url}/v1/_sandbox/ledger"))
        .bearer_auth(&key)
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    assert_eq!((ledger["accounts"].as_u64(), ledger["total_balance"].as_u64()), (Some(0), Some(0)), "{ledger}");
}

#[tokio::test]
async fn readiness_never_shows_the_provider_s_credentials() {
    let app = spawn_app_with(|s| {
        in_memory_on_purpose(s);
        s.provider.url = Some("http://operator:hunter2-do-not-print@127.0.0.1:9".parse().expect("a URL"));
        s.provider.api_key = Some("key".to_owned().into());
    })
    .await;
    let ready = app.internal_get("/readyz").await;
    let provider = ready.body["provider"].as_str().expect("the provider");
    assert!(provider.contains("127.0.0.1:9") && !provider.contains("hunter2"), "{provider}");
}

#[tokio::test]
async fn demo_members_are_seeded_only_on_loopback_unless_asked_for() {
    let reachable = spawn_app_with(|s| s.http.bind = "0.0.0.0:0".parse().expect("an address")).await;
    reachable.login("admin@pointshare.test", DEMO_PASSWORD).await.problem(401, "invalid_credentials");
    let asked = spawn_app_with(|s| {
        s.http.bind = "0.0.0.0:0".parse().expect("an address");
        s.embedded.demo_members = Some(true);
    })
    .await;
    assert_eq!(asked.login("admin@pointshare.test", DEMO_PASSWORD).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_bootstrap_admin_in_the_embedded_default_takes_the_demo_admin_s_place() {
    let app = spawn_app_with(|s| {
        s.bootstrap_admin.email = Some("boss@example.com".into());
        s.bootstrap_admin.password = Some("the boss's own password".to_owned().into());
    })
    .await;
    let boss = app.token("boss@example.com", "the boss's own password").await;
    assert_eq!(app.get("/v1/me", Some(&boss)).await.body["role"], "admin");
    app.login("admin@pointshare.test", DEMO_PASSWORD).await.problem(401, "invalid_credentials");
    let alice = app.demo("alice").await;
    assert_eq!(app.balance(&alice).await, 10_000, "the demo members were funded by the bootstrap admin");
}

#[tokio::test]
async fn answers_are_compressed_as_the_client_asks() {
    let app = spawn_app().await;
    for (asked, given) in [("br", Some("br")), ("gzip", Some("gzip")), ("identity", None)] {
        let answer =
            app.client.get(app.url("/openapi.json")).header("accept-encoding", asked).send().await.expect("answers");
        assert!(answer.status().is_success());
        let encoding = answer.headers().get("content-encoding").and_then(|value| value.to_str().ok());
        assert_eq!(encoding, given, "asked {asked}");
    }
}
