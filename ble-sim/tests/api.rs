//! The HTTP control API: listing, keypad, phone and RSSI, clock, faults,
//! power, radio, adapter, and errors with stable codes that change nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use keyway_ble_sim::harness;
use keyway_ble_sim::radio::RadioConfig;
use keyway_ble_sim::sim::Sim;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_protocol::{Op, SlotEntry};
use keyway_testkit::standalone;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt;

async fn call(
    app: &axum::Router,
    method: Method,
    uri: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let request = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(body.map_or(Body::empty(), |b| Body::from(b.to_string())))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

fn setup() -> (Arc<Sim>, axum::Router, String) {
    let lock = standalone::test_lock("Unit 3", true);
    let id = lock.lock_id.to_string();
    let config = standalone::test_config(vec![(lock.clone(), 3.0)], RadioConfig::default());
    let sim = Arc::new(Sim::new(&config).unwrap());
    // Give the lock a code through the firmware's own protocol path.
    let ops = vec![Op::Put {
        slot: 2,
        entry: SlotEntry {
            credential: keyway_protocol::Credential::Code(Code::parse("6042").unwrap()),
            kind: CodeKind::Resident,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        },
    }];
    harness::deliver_directly(&sim, &lock, ops, jiff::SignedDuration::from_hours(1)).unwrap();
    let app = keyway_ble_sim::api::router(sim.clone());
    (sim, app, id)
}

#[tokio::test]
async fn locks_keypad_and_errors() {
    let (_sim, app, id) = setup();
    let (status, locks) = call(&app, Method::GET, "/locks", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(locks[0]["id"], id);
    assert_eq!(locks[0]["version"], 1);
    assert_eq!(locks[0]["slots"][0]["slot"], 2);

    let (status, typed) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/keypad"),
        Some(json!({"keys": "60"})),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(typed["entries"], json!([]));
    let (_, typed) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/keypad"),
        Some(json!({"keys": "42#"})),
    )
    .await;
    assert_eq!(typed["entries"][0]["entry"]["result"], "granted");
    assert_eq!(typed["entries"][0]["after_keys"], 3);
    let (_, whole) = call(
        &app,
        Method::POST,
        "/locks/Unit 3/keypad".replace(' ', "%20").as_str(),
        Some(json!({"code": "1234"})),
    )
    .await;
    assert_eq!(whole["entry"]["result"], "denied");
    assert_eq!(whole["entry"]["reason"], "unknown_code");

    let (status, err) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/keypad"),
        Some(json!({"keys": "12a#"})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["error"]["code"], "invalid_keys");
    let (status, err) = call(&app, Method::GET, "/locks/0000000000000000", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"]["code"], "unknown_lock");
    let (status, err) = call(&app, Method::PUT, "/phone", Some(json!({"x": "far"}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(err["error"]["code"], "invalid_request");

    // Two entries were recorded; the refused ones added nothing.
    let (_, lock) = call(&app, Method::GET, &format!("/locks/{id}"), None).await;
    let types: Vec<&str> = lock["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["job_applied", "code_used", "wrong_code"]);
}

#[tokio::test]
async fn radio_clock_faults_power() {
    let (sim, app, id) = setup();
    let (_, moved) = call(
        &app,
        Method::PUT,
        "/phone",
        Some(json!({"x": 200.0, "y": 0.0})),
    )
    .await;
    assert_eq!(moved["locks"][0]["heard"], false);
    let (_, rssi) = call(
        &app,
        Method::PUT,
        &format!("/locks/{id}/rssi"),
        Some(json!({"rssi": -60})),
    )
    .await;
    assert_eq!(rssi, json!({"rssi": -60, "heard": true}));

    let (_, clock) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/clock"),
        Some(json!({"advance_seconds": 3600})),
    )
    .await;
    assert_eq!(clock["now"], "2026-11-23T13:00:00Z");
    assert_eq!(clock["frozen"], true);
    let (_, clock) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/clock"),
        Some(json!({"set": "2027-01-01T00:00:00Z"})),
    )
    .await;
    assert_eq!(clock["now"], "2027-01-01T00:00:00Z");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/clock"),
        Some(json!({"advance_seconds": 1, "frozen": true})),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, faults) = call(
        &app,
        Method::PUT,
        &format!("/locks/{id}/faults"),
        Some(json!({"drop_after_frames": 3, "delay_ms": 50})),
    )
    .await;
    assert_eq!(faults["drop_after_frames"], 3);
    let (status, err) = call(
        &app,
        Method::PUT,
        &format!("/locks/{id}/faults"),
        Some(json!({"corrupt_frame": 0})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_value"))
    );
    assert_eq!(
        sim.lock(&id).unwrap().faults.drop_after_frames,
        Some(3),
        "a refused request changes nothing"
    );
    let (_, faults) = call(&app, Method::DELETE, &format!("/locks/{id}/faults"), None).await;
    assert_eq!(faults["drop_after_frames"], Value::Null);

    let (_, power) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/power"),
        Some(json!({"action": "off"})),
    )
    .await;
    assert_eq!(power["powered"], false);
    let (status, err) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/keypad"),
        Some(json!({"code": "6042"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("lock_off"))
    );
    let (_, power) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/power"),
        Some(json!({"action": "on"})),
    )
    .await;
    assert_eq!(
        power,
        json!({"powered": true, "version": 1}),
        "state survived the power cut"
    );

    let (_, radio) = call(
        &app,
        Method::PUT,
        "/radio",
        Some(json!({"mtu": 23, "connection_interval_ms": 7.5})),
    )
    .await;
    assert_eq!(radio["mtu"], 23);
    let (status, _) = call(&app, Method::PUT, "/radio", Some(json!({"mtu": 10}))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, adapter) = call(
        &app,
        Method::PUT,
        "/adapter",
        Some(json!({"powered": false, "blocked": true})),
    )
    .await;
    assert_eq!(
        adapter,
        json!({"powered": false, "blocked": true, "discovering": false})
    );
}
