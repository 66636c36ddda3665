//! The contract a generated client relies on: every invalid field named at
//! once, unknown fields refused, replays marked, history filtered, and a
//! document whose operations, codes and security a generator can use.

use std::collections::BTreeSet;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Answer, spawn_app};

/// `(pointer, code)` of each listed fault, sorted.
fn faults(answer: &Answer) -> Vec<(String, String)> {
    answer.problem(422, "validation_failed");
    let errors = answer.body["errors"].as_array().unwrap_or_else(|| panic!("errors listed: {:?}", answer.body));
    let mut faults: Vec<(String, String)> = errors
        .iter()
        .map(|error| {
            assert!(error["detail"].as_str().is_some_and(|detail| !detail.is_empty()), "{error}");
            (
                error["pointer"].as_str().expect("a pointer").to_owned(),
                error["code"].as_str().expect("a code").to_owned(),
            )
        })
        .collect();
    faults.sort();
    faults
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected.iter().map(|(pointer, code)| ((*pointer).to_owned(), (*code).to_owned())).collect()
}

#[tokio::test]
async fn a_bad_body_gets_every_invalid_field_at_once_and_an_unknown_field_is_refused() {
    let app = spawn_app().await;
    let body = json!({"email": 5, "password": "short", "handle": "no spaces!", "meme": "typo"});
    let answer = app.post("/v1/auth/signup", None, body).await;
    assert_eq!(
        faults(&answer),
        pairs(&[
            ("/display_name", "required"),
            ("/email", "wrong_type"),
            ("/handle", "invalid_format"),
            ("/meme", "unknown_field"),
            ("/password", "out_of_range"),
        ])
    );
    // A rule the schema cannot state, checked with the others it can.
    let alice = app.demo("alice").await;
    let shared = app.share(&alice, "bell", json!({"to_handle": "bob", "amount": 5, "memo": "ring \u{7}"})).await;
    assert_eq!(faults(&shared), pairs(&[("/memo", "invalid")]));
    let typo = app.share(&alice, "typo", json!({"to_handle": "bob", "amount": 5, "meme": "lunch"})).await;
    assert_eq!(faults(&typo), pairs(&[("/meme", "unknown_field")]), "a typo is not silently dropped");
    assert_eq!(app.balance(&alice).await, 10_000, "nothing moved");
}

#[tokio::test]
async fn a_replayed_share_says_so_and_the_first_answer_does_not() {
    let app = spawn_app().await;
    let alice = app.demo("alice").await;
    let replayed =
        |answer: &Answer| answer.headers.get("idempotent-replayed").map(|v| v.to_str().expect("text").to_owned());
    let first = app.share(&alice, "once", json!({"to_handle": "bob", "amount": 5})).await;
    assert_eq!((first.status, replayed(&first)), (StatusCode::CREATED, None));
    let again = app.share(&alice, "once", json!({"to_handle": "bob", "amount": 5})).await;
    assert_eq!((again.status, replayed(&again)), (StatusCode::CREATED, Some("true".into())));
    assert_eq!(again.body["id"], first.body["id"]);
    // A declined share replays as declined, marked too.
    let too_much = json!({"to_handle": "bob", "amount": 999_999});
    let declined = app.share(&alice, "broke", too_much.clone()).await;
    assert_eq!(replayed(declined.problem(422, "insufficient_funds")), None);
    let declined_again = app.share(&alice, "broke", too_much).await;
    assert_eq!(replayed(declined_again.problem(422, "insufficient_funds")), Some("true".into()));
}

#[tokio::test]
async fn history_filters_by_direction_state_and_time_and_says_whether_more_follow() {
    let app = spawn_app().await;
    let (alice, bob) = (app.demo("alice").await, app.demo("bob").await);
    let sent = app.share(&alice, "to-bob", json!({"to_handle": "bob", "amount": 5})).await.body["id"].clone();
    let received = app.share(&bob, "to-alice", json!({"to_handle": "alice", "amount": 7})).await.body["id"].clone();
    app.share(&alice, "broke", json!({"to_handle": "bob", "amount": 999_999})).await.problem(422, "insufficient_funds");
    let ids = |answer: Answer| {
        assert_eq!(answer.status, StatusCode::OK, "{:?}", answer.body);
        let items = answer.body["items"].as_array().expect("items").iter().map(|t| t["id"].clone()).collect::<Vec<_>>();
        (items, answer.body["has_more"].clone())
    };
    let (mine, _) = ids(app.get("/v1/transfers?direction=received", Some(&alice)).await);
    assert!(mine.contains(&received) && !mine.contains(&sent), "{mine:?}");
    let (completed_sent, _) = ids(app.get("/v1/transfers?direction=sent&state=completed", Some(&alice)).await);
    assert_eq!(completed_sent, vec![sent.clone()]);
    let (rejected, _) = ids(app.get("/v1/transfers?state=rejected", Some(&alice)).await);
    assert_eq!(rejected.len(), 1);
    let (nothing, more) = ids(app.get("/v1/transfers?until=2000-01-01T00:00:00Z", Some(&alice)).await);
    assert_eq!((nothing, more), (vec![], json!(false)));
    let (recent, _) = ids(app.get("/v1/transfers?since=2000-01-01T00:00:00Z&direction=sent", Some(&alice)).await);
    assert_eq!(recent.len(), 2, "the completed share and the rejected one");
    let (first, more) = ids(app.get("/v1/transfers?direction=sent&limit=1", Some(&alice)).await);
    assert_eq!((first.len(), more), (1, json!(true)));
    // Several states at once, and whole days.
    let (ended, _) = ids(app.get("/v1/transfers?direction=sent&state=completed,rejected", Some(&alice)).await);
    assert_eq!(ended.len(), 2, "{ended:?}");
    let today = chrono::Utc::now().date_naive();
    let (of_today, _) = ids(app.get(&format!("/v1/transfers?since={today}&until={today}"), Some(&alice)).await);
    assert!(of_today.contains(&sent) && of_today.contains(&received), "the day is included: {of_today:?}");
    let yesterday = today.pred_opt().expect("a day before");
    let (none, _) = ids(app.get(&format!("/v1/transfers?until={yesterday}"), Some(&alice)).await);
    assert!(none.is_empty(), "{none:?}");
    app.get("/v1/transfers?since=2026-13-01", Some(&alice)).await.problem(400, "invalid_query");
    app.get("/v1/transfers?state=completed,lost", Some(&alice)).await.problem(400, "invalid_query");

    app.get("/v1/transfers?direction=sideways", Some(&alice)).await.problem(400, "invalid_query");
    app.get("/v1/transfers?state=lost", Some(&alice)).await.problem(400, "invalid_query");
    let backwards = "/v1/transfers?since=2026-12-01T00:00:00Z&until=2026-11-01T00:00:00Z";
    app.get(backwards, Some(&alice)).await.problem(400, "invalid_query");
}

#[tokio::test]
async fn the_document_names_each_operation_lists_every_code_and_marks_public_operations() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let mut ids = BTreeSet::new();
    let mut public = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("a path item") {
            let id = operation["operationId"].as_str().expect("an operationId").to_owned();
            assert!(id.chars().next().is_some_and(|c| c.is_ascii_lowercase()) && !id.contains('_'), "camelCase: {id}");
            assert!(ids.insert(id.clone()), "{id} is unique");
            if operation["security"] == json!([]) {
                public.insert(format!("{method} {path}"));
            }
        }
    }
    for expected in ["login", "getMyBalance", "createTransfer", "listTransfers", "getTransfer", "streamMyEvents"] {
        assert!(ids.contains(expected), "{expected} in {ids:?}");
    }
    let expected_public = [
        "get /healthz",
        "get /readyz",
        "post /v1/auth/login",
        "post /v1/auth/logout",
        "post /v1/auth/refresh",
        "post /v1/auth/signup",
    ];
    assert_eq!(public, expected_public.iter().map(|p| (*p).to_owned()).collect::<BTreeSet<_>>());
    assert_eq!(doc["security"], json!([{"bearer": []}]));
    assert!(doc["servers"].as_array().is_some_and(|servers| !servers.is_empty()));

    // The codes the API answers with are the ones the document lists.
    let codes: Vec<Value> = doc["components"]["schemas"]["ProblemCode"]["enum"].as_array().expect("an enum").clone();
    for code in ["validation_failed", "insufficient_funds", "unauthenticated", "too_many_streams", "rate_limited"] {
        assert!(codes.contains(&json!(code)), "{code} in {codes:?}");
    }
    let problem = app.get("/v1/me", None).await;
    assert!(codes.contains(&problem.body["code"]), "{:?}", problem.body);
}

/// Every string a client may send in a body has a length the server reads
/// no further than: a 15 KB "email" is refused at the schema, before it can
/// become a rate limiter's key or reach a password check.
#[tokio::test]
async fn every_string_of_every_request_body_is_bounded() {
    let app = spawn_app().await;
    let doc = app.get("/openapi.json", None).await.body;
    let schemas = &doc["components"]["schemas"];
    let mut bodies = BTreeSet::new();
    for item in doc["paths"].as_object().expect("paths").values() {
        for operation in item.as_object().expect("a path item").values() {
            if let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str()
            {
                bodies.insert(reference.rsplit('/').next().expect("a name").to_owned());
            }
        }
    }
    assert!(bodies.len() >= 6, "{bodies:?}");
    let mut unbounded = Vec::new();
    for body in &bodies {
        for (field, schema) in schemas[body]["properties"].as_object().expect("properties") {
            let is_string =
                schema["type"] == "string" || schema["type"].as_array().is_some_and(|t| t.contains(&json!("string")));
            if is_string && !schema["maxLength"].is_u64() {
                unbounded.push(format!("{body}.{field}"));
            }
        }
    }
    assert_eq!(unbounded, Vec::<String>::new(), "string fields without maxLength");
    let long = "a".repeat(15_000);
    let answer = app.login(&format!("{long}@example.com"), "guess").await;
    assert_eq!((answer.status.as_u16(), &answer.body["code"]), (422, &json!("validation_failed")));
    assert_eq!(answer.body["errors"][0]["pointer"], "/email");
    assert_eq!(answer.body["errors"][0]["code"], "out_of_range");
}
