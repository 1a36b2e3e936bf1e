//! The API contract: `/openapi.json` documents every answer. The document
//! itself is checked here (every refusal a problem document with an
//! example, the bearer scheme, examples on every request body that parse
//! as their types); and every answer any server of any suite gives is
//! checked against it when the server stops (`support::Server`'s drop
//! reads the server's request log), so a status the document does not list
//! fails the test that received it, on SQLite and on PostgreSQL.

mod support;

use keyway_api::{
    AuditList, BackupCodeView, BackupRequest, CodeNotifyRequest, CodeNotifyView, CodeUseList,
    CodeView, ContactDetails, CourierView, CreateCarrierRequest, CreateCodeRequest,
    CreateCourierRequest, CreateRecipientRequest, CreateWebhookRequest, ForgotPinRequest,
    ForgotPinResponse, KeyCardRequest, LoginRequest, LoginResponse, OneTimePinRequest,
    PolicySettings, ReceiptBatch, ReceiptBatchResponse, RecipientView, SetBackupPoolRequest,
    SetCodeRequest, SyncResponse, VisitAnswer, VisitOpened, VisitStatus, WebhookDeliveryList,
    WebhookList, WebhookView,
};
use reqwest::StatusCode;
use serde::de::DeserializeOwned;
use serde_json::Value;
use support::{Contract, Fixture, eventually};

fn document() -> Value {
    use utoipa::OpenApi as _;
    serde_json::to_value(keyway_server::api::ApiDoc::openapi()).unwrap()
}

/// Every operation: (method, path, operation).
fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), operation.clone()));
        }
    }
    out
}

#[test]
fn every_refusal_is_a_problem_document_with_an_example() {
    let doc = document();
    assert_eq!(
        doc["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    let ops = operations(&doc);
    assert!(ops.len() >= 36, "{} operations", ops.len());
    for (method, path, operation) in ops {
        let what = format!("{method} {path}");
        let responses = operation["responses"].as_object().unwrap();
        for status in ["400", "500"] {
            assert!(responses.contains_key(status), "{what} lacks {status}");
        }
        if operation["security"].is_array() {
            assert!(responses.contains_key("401"), "{what} lacks 401");
        }
        if operation["requestBody"].is_object() {
            assert!(responses.contains_key("413"), "{what} lacks 413");
        }
        for (status, response) in responses {
            let content = response["content"].as_object();
            if status.as_str() >= "400" {
                let content = content.unwrap_or_else(|| panic!("{what} {status}: no content"));
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{what} {status}"
                );
                let problem = &content["application/problem+json"];
                assert_eq!(
                    problem["schema"]["$ref"], "#/components/schemas/Problem",
                    "{what} {status}"
                );
                let example = &problem["example"];
                assert_eq!(example["status"].as_u64().unwrap().to_string(), *status);
                assert!(example["code"].is_string(), "{what} {status}: {example}");
            }
        }
    }
}

fn parses<T: DeserializeOwned>(example: &Value) -> Result<(), String> {
    serde_json::from_value::<T>(example.clone())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

#[test]
fn every_request_body_has_an_example_of_its_type() {
    let doc = document();
    for (method, path, operation) in operations(&doc) {
        let Some(body) = operation["requestBody"].as_object() else {
            continue;
        };
        let example = &body["content"]["application/json"]["example"];
        assert!(!example.is_null(), "{method} {path}: no example");
        let parsed = match (method.as_str(), path.as_str()) {
            ("post", "/v1/login") => parses::<LoginRequest>(example),
            ("post", "/v1/codes") => parses::<CreateCodeRequest>(example),
            ("post", "/v1/receipts") => parses::<ReceiptBatch>(example),
            ("post", "/v1/visits/{id}/status") => parses::<VisitStatus>(example),
            ("put", "/v1/manage/policy") => parses::<PolicySettings>(example),
            ("post", "/v1/manage/carriers") => parses::<CreateCarrierRequest>(example),
            ("post", "/v1/manage/couriers") => parses::<CreateCourierRequest>(example),
            ("post", "/v1/manage/couriers/{id}/key-card") => parses::<KeyCardRequest>(example),
            ("post", "/v1/manage/recipients") => parses::<CreateRecipientRequest>(example),
            ("post", "/v1/manage/recipients/{id}/one-time-pin") => {
                parses::<OneTimePinRequest>(example)
            }
            ("post", "/v1/public/forgot-pin") => parses::<ForgotPinRequest>(example),
            ("put", "/v1/me/contact") => parses::<ContactDetails>(example),
            ("post", "/v1/manage/webhooks") => parses::<CreateWebhookRequest>(example),
            ("put", "/v1/codes/{id}/notify") => parses::<CodeNotifyRequest>(example),
            ("post", "/v1/codes/{id}/backup") => parses::<BackupRequest>(example),
            ("put", "/v1/manage/locks/{id}/backup-pool") => parses::<SetBackupPoolRequest>(example),
            (_, p) if p.ends_with("/code") || p.ends_with("/pin") || p.ends_with("/change") => {
                parses::<SetCodeRequest>(example)
            }
            _ => Err("no request type known for this operation".to_owned()),
        };
        assert_eq!(parsed, Ok(()), "{method} {path}: {example}");
    }
}

#[test]
fn every_answer_example_is_of_its_type() {
    let doc = document();
    let mut checked = 0;
    for (method, path, operation) in operations(&doc) {
        for (status, response) in operation["responses"].as_object().unwrap() {
            let Some(example) = response["content"]["application/json"].get("example") else {
                continue;
            };
            let parsed = match (method.as_str(), path.as_str()) {
                ("post", "/v1/login") => parses::<LoginResponse>(example),
                ("post", "/v1/codes") => parses::<CodeView>(example),
                ("get", "/v1/sync") => parses::<SyncResponse>(example),
                ("get", "/v1/codes/{id}/uses") => parses::<CodeUseList>(example),
                ("get", "/v1/manage/webhooks") => parses::<WebhookList>(example),
                ("post", "/v1/manage/webhooks") => parses::<WebhookView>(example),
                ("get", "/v1/manage/webhooks/{id}/deliveries") => {
                    parses::<WebhookDeliveryList>(example)
                }
                ("get" | "put", "/v1/me/contact") => parses::<ContactDetails>(example),
                ("get" | "put", "/v1/codes/{id}/notify") => parses::<CodeNotifyView>(example),
                ("post", "/v1/receipts") => parses::<ReceiptBatchResponse>(example),
                ("post", "/v1/codes/{id}/backup") => parses::<BackupCodeView>(example),
                ("get", "/v1/locks/{id}/audit") => parses::<AuditList>(example),
                ("post", "/v1/locks/{id}/visits") => parses::<VisitOpened>(example),
                ("post", "/v1/visits/{id}/status") => parses::<VisitAnswer>(example),
                ("get", "/v1/manage/policy") => parses::<PolicySettings>(example),
                ("post", "/v1/manage/couriers") => parses::<CourierView>(example),
                ("post", "/v1/manage/recipients") => parses::<RecipientView>(example),
                ("post", "/v1/public/forgot-pin") => parses::<ForgotPinResponse>(example),
                _ => Err("no answer type known for this example".to_owned()),
            };
            assert_eq!(parsed, Ok(()), "{method} {path} {status}: {example}");
            checked += 1;
        }
    }
    assert!(checked >= 11, "{checked} answer examples");
}

#[test]
fn the_contract_check_refuses_what_the_document_does_not_list() {
    let contract = Contract::get();
    assert!(contract.documents("GET", "/v1/me", 200));
    assert!(contract.documents("GET", "/v1/codes/code_x", 404));
    assert!(contract.documents("POST", "/v1/codes", 429));
    assert!(!contract.documents("GET", "/v1/me", 418));
    assert!(!contract.documents("GET", "/v1/me", 409));
    // The router's own refusals: no such endpoint, or not that method.
    assert!(contract.documents("GET", "/v1/nothing", 404));
    assert!(!contract.documents("GET", "/v1/nothing", 500));
    assert!(contract.documents("DELETE", "/v1/me", 405));
    assert!(!contract.documents("DELETE", "/v1/me", 200));
}

#[test]
fn a_servers_answers_are_read_from_its_request_log() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let (status, _) = f.get(&alice, "/v1/me");
    assert_eq!(status, StatusCode::OK);
    let (status, _) = f.get(&alice, "/v1/codes/nope");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let expected = [
        ("POST", "/v1/login", 200),
        ("GET", "/v1/me", 200),
        ("GET", "/v1/codes/nope", 404),
    ];
    // The server writes a request's log line after it sends the answer, so
    // the last one may come a moment after the client has it.
    eventually("the three answers in the request log", || {
        let answers = Contract::answers(&f.server().log_lines());
        expected
            .iter()
            .all(|expected| {
                answers
                    .iter()
                    .any(|(m, p, s)| (m.as_str(), p.as_str(), *s) == *expected)
            })
            .then_some(())
    });
    assert!(
        Contract::get()
            .undocumented(&f.server().log_lines())
            .is_empty()
    );
}
