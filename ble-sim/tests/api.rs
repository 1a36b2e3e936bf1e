//! The HTTP control API: listing, keypad, the card reader, phone and RSSI,
//! clock, faults, power, radio, adapter, and errors with stable codes that
//! change nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use keyway_ble_sim::api::Control;
use keyway_ble_sim::harness;
use keyway_ble_sim::radio::RadioConfig;
use keyway_ble_sim::scenario::Step;
use keyway_ble_sim::sim::Sim;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_protocol::{CardKey, Credential, Op, SlotEntry};
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
    setup_with(Vec::new())
}

/// A lock holding the code 6042 in slot 2 and `more` after it, given through
/// the firmware's own protocol path.
fn setup_with(more: Vec<Op>) -> (Arc<Sim>, axum::Router, String) {
    let lock = standalone::test_lock("Unit 3", true);
    let id = lock.lock_id.to_string();
    let config = standalone::test_config(vec![(lock.clone(), 3.0)], RadioConfig::default());
    let sim = Arc::new(Sim::new(&config).unwrap());
    let mut ops = vec![Op::Put {
        slot: 2,
        entry: SlotEntry {
            credential: Credential::Code(Code::parse("6042").unwrap()),
            kind: CodeKind::Resident,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        },
    }];
    ops.extend(more);
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

#[tokio::test]
async fn a_key_card_at_the_reader_is_decided_and_recorded_without_its_id() {
    let card = Op::Put {
        slot: 3,
        entry: SlotEntry {
            credential: Credential::Card(CardKey::of("card-0042").unwrap()),
            kind: CodeKind::Courier,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        },
    };
    let (sim, _, id) = setup_with(vec![card]);
    let control = Control::new(sim.clone());
    control.recorder.start(&sim);
    let app = keyway_ble_sim::api::routes().with_state(control.clone());
    let present = |card_id: Value| {
        let (app, uri) = (app.clone(), format!("/locks/{id}/card"));
        async move {
            call(
                &app,
                Method::POST,
                &uri,
                Some(json!({ "card_id": card_id })),
            )
            .await
        }
    };
    let (status, answer) = present(json!("card-0042")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        answer["entry"],
        json!({"result": "granted", "slot": 3, "consumed": false})
    );
    // Another card, and a code's digits held as a card: unknown cards.
    for other in ["card-0043", "6042"] {
        let (_, answer) = present(json!(other)).await;
        assert_eq!(answer["entry"]["reason"], "unknown_card", "{other}");
    }

    // Ids no reader reads, and malformed bodies, are refused unrecorded.
    for bad in [json!(""), json!("x".repeat(65)), json!("card\u{1}")] {
        let (status, err) = present(bad).await;
        assert_eq!(
            (status, err["error"]["code"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_card"))
        );
    }
    let (status, err) = call(
        &app,
        Method::POST,
        &format!("/locks/{id}/card"),
        Some(json!({"card": "card-0042"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request"))
    );
    let (status, err) = call(
        &app,
        Method::POST,
        "/locks/0000000000000000/card",
        Some(json!({"card_id": "card-0042"})),
    )
    .await;
    assert_eq!(
        (status, err["error"]["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("unknown_lock"))
    );

    // The lock shows the card's key, never its id; its audit names slots.
    let (_, lock) = call(&app, Method::GET, &format!("/locks/{id}"), None).await;
    assert_eq!(
        lock["slots"][1]["card_key"],
        CardKey::of("card-0042").unwrap().to_hex()
    );
    assert_eq!(lock["slots"][1].get("code"), None);
    assert!(!lock.to_string().contains("card-0042"));
    assert_eq!(
        lock["wrong_since_lockout"], 2,
        "wrong cards count as wrong entries"
    );
    let types: Vec<&str> = lock["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"]["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types,
        ["job_applied", "card_used", "wrong_card", "wrong_card"]
    );

    // A recording has one step per card held to the reader, with its answer.
    let cards: Vec<(String, String)> = control
        .recorder
        .steps()
        .into_iter()
        .filter_map(|step| match step {
            Step::Card { card, expect, .. } => Some((card, expect)),
            _ => None,
        })
        .collect();
    let expected = [
        ("card-0042", "granted"),
        ("card-0043", "denied:unknown_card"),
        ("6042", "denied:unknown_card"),
    ];
    assert_eq!(cards, expected.map(|(c, e)| (c.to_owned(), e.to_owned())));
}
