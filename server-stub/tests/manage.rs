//! HTTP-level tests of the manager and staff workflows, notifications, the
//! authorization matrix, error documents, and log hygiene, against a running
//! `keyway-server`.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use jiff::Timestamp;
use keyway_lock::Entry;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, eventually, occurs, state_on, visit};

#[test]
fn carriers_couriers_and_staff_pins() {
    let f = Fixture::new();
    let mia = f.login("mia", "desk");
    let sam = f.login("sam", "desk");

    // Carriers: a distinct 4-digit code each, under the carrier rules.
    let ups = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "UPS", "mode": "generate"}),
    );
    let ups_code = ups["code"]["value"].as_str().unwrap().to_owned();
    assert_eq!(ups_code.len(), 4);
    assert!(!ups_code.starts_with('0'));
    assert_eq!(state_on(&ups["code"], &f.package_room), "pending");
    let (_, problem) = f.write(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "FedEx", "mode": "pick", "code": "0123"}),
    );
    let rules: Vec<&str> = problem["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["sequential", "leading_zero", "common_pin"]);
    let (_, problem) = f.write(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "FedEx", "mode": "pick", "code": "7777"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "all_same_digits");
    let (_, problem) = f.write(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "FedEx", "mode": "pick", "code": "1440"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "property_number");
    let (_, problem) = f.write(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "FedEx", "mode": "pick", "code": ups_code}),
    );
    assert_eq!(
        problem["violations"][0]["rule"], "duplicate_on_lock",
        "distinct per carrier"
    );
    f.ok(
        &sam,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "FedEx", "mode": "pick", "code": "4729"}),
    );
    let carrier_id = ups["id"].as_str().unwrap();
    let updated = f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/carriers/{carrier_id}/code"),
        json!({"mode": "pick", "code": "6384"}),
    );
    assert_eq!(updated["value"], "6384");
    assert_eq!(
        updated["id"], ups["code"]["id"],
        "updating keeps the carrier's code"
    );
    let (_, carriers) = f.get(&sam, "/v1/manage/carriers");
    let listed: Vec<(&str, &str)> = carriers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["code"]["value"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(listed, [("FedEx", "4729"), ("UPS", "6384")]);

    // Couriers: a generated 6-digit PIN, custom PINs refused when duplicate.
    let courier = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "UPS route 12"}),
    );
    let cid = courier["id"].as_str().unwrap().to_owned();
    let pin = f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/couriers/{cid}/pin"),
        json!({"mode": "generate"}),
    );
    let pin_value = pin["value"].as_str().unwrap().to_owned();
    assert_eq!(pin_value.len(), 6);
    let other = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "DHL"}),
    );
    let oid = other["id"].as_str().unwrap().to_owned();
    let (_, problem) = f.write(
        &mia,
        Method::PUT,
        &format!("/v1/manage/couriers/{oid}/pin"),
        json!({"mode": "pick", "code": pin_value}),
    );
    assert_eq!(problem["violations"][0]["rule"], "duplicate_on_lock");
    let dhl_pin = f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/couriers/{oid}/pin"),
        json!({"mode": "pick", "code": "583920"}),
    );

    // Deactivate, reactivate, delete: a deleted PIN never comes back.
    let pin_id = pin["id"].as_str().unwrap();
    let off = f.ok(
        &sam,
        Method::POST,
        &format!("/v1/codes/{pin_id}/disable"),
        json!({}),
    );
    assert_eq!(off["enabled"], false);
    let on = f.ok(
        &sam,
        Method::POST,
        &format!("/v1/codes/{pin_id}/enable"),
        json!({}),
    );
    assert_eq!(on["enabled"], true);

    // QR codes of the credential.
    let svg = f
        .client
        .get(
            f.server()
                .url(&format!("/v1/manage/couriers/{cid}/qr?format=svg")),
        )
        .bearer_auth(&sam)
        .send()
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().unwrap().contains("<svg"));
    let png = f
        .client
        .get(
            f.server()
                .url(&format!("/v1/manage/couriers/{cid}/qr?format=png")),
        )
        .bearer_auth(&sam)
        .send()
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().unwrap()[..8], b"\x89PNG\r\n\x1a\n");

    // A key card after the PIN is verified; wrong PINs are rate-limited.
    let (status, problem) = f.write(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{cid}/key-card"),
        json!({"pin": "000000", "key_card_id": "CARD-1"}),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("pin_mismatch"))
    );
    let carded = f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{cid}/key-card"),
        json!({"pin": pin_value, "key_card_id": "CARD-1"}),
    );
    assert_eq!(carded["key_card_id"], "CARD-1");
    let mut limited = false;
    for _ in 0..5 {
        let (status, _) = f.write(
            &sam,
            Method::POST,
            &format!("/v1/manage/couriers/{cid}/key-card"),
            json!({"pin": "000000", "key_card_id": "CARD-2"}),
        );
        limited |= status == StatusCode::TOO_MANY_REQUESTS;
    }
    assert!(limited, "PIN guesses are rate-limited");

    f.ok(
        &mia,
        Method::DELETE,
        &format!("/v1/codes/{pin_id}"),
        json!({}),
    );
    let (_, problem) = f.write(
        &mia,
        Method::PUT,
        &format!("/v1/manage/couriers/{cid}/pin"),
        json!({"mode": "pick", "code": pin_value}),
    );
    assert_eq!(problem["violations"][0]["rule"], "deleted_pin_reuse");
    // Also refused for staff PINs at the property.
    let sam_id = f.users["sam"].clone();
    let (_, problem) = f.write(
        &sam,
        Method::PUT,
        &format!("/v1/manage/staff/{sam_id}/pin"),
        json!({"mode": "pick", "code": pin_value}),
    );
    assert_eq!(problem["violations"][0]["rule"], "deleted_pin_reuse");
    let (_, problem) = f.write(
        &sam,
        Method::PUT,
        &format!("/v1/manage/staff/{sam_id}/pin"),
        json!({"mode": "pick", "code": dhl_pin["value"]}),
    );
    assert_eq!(problem["violations"][0]["rule"], "duplicate_on_lock");
    let staff_pin = f.ok(
        &sam,
        Method::PUT,
        &format!("/v1/manage/staff/{sam_id}/pin"),
        json!({"mode": "generate"}),
    );
    assert_eq!(staff_pin["kind"], "staff");
    let mia_id = f.users["mia"].clone();
    let (status, _) = f.write(
        &sam,
        Method::PUT,
        &format!("/v1/manage/staff/{mia_id}/pin"),
        json!({"mode": "generate"}),
    );
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "staff set only their own PIN"
    );
    f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/staff/{sam_id}/pin"),
        json!({"mode": "generate"}),
    );
    let (_, staff) = f.get(&mia, "/v1/manage/staff");
    assert_eq!(staff.as_array().unwrap().len(), 2);

    // Policy settings: six-digit codes on, and residents may use them.
    let (_, mut policy) = f.get(&mia, "/v1/manage/policy");
    assert_eq!(policy["six_digit_codes"], false);
    policy["six_digit_codes"] = json!(true);
    f.ok(&mia, Method::PUT, "/v1/manage/policy", policy.clone());
    let alice = f.login("alice", "phone");
    let six = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate", "length": 6}),
    );
    assert_eq!(six["value"].as_str().unwrap().len(), 6);
    policy["affiliated_numbers"] = json!(["12a"]);
    let (status, _) = f.write(&mia, Method::PUT, "/v1/manage/policy", policy);
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let (_, locks) = f.get(&sam, "/v1/manage/locks");
    let package = locks["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == f.package_room.as_str())
        .unwrap();
    assert_eq!(package["job_pending"], true);
}

#[test]
fn one_time_pins_are_delivered_used_once_and_looked_up() {
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let recipient = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "Ravi@Example.org", "phone": "+1 555 010 2030"}),
    );
    assert_eq!(recipient["email"], "ravi@example.org");
    let other = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Lena", "email": "lena@example.org"}),
    );
    let rid = recipient["id"].as_str().unwrap();

    let pin = f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/recipients/{rid}/one-time-pin"),
        json!({"notify": "both"}),
    );
    let value = pin["value"].as_str().unwrap().to_owned();
    assert_eq!(value.len(), 6);
    assert_eq!(pin["kind"], "one_time");
    let until: Timestamp = pin["schedule"]["until"].as_str().unwrap().parse().unwrap();
    let hours = until.duration_since(Timestamp::now()).as_secs_f64() / 3600.0;
    assert!(
        (23.9..=24.0).contains(&hours),
        "default expiry is 24 h, got {hours}"
    );
    let lena_pin = f.ok(
        &sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            other["id"].as_str().unwrap()
        ),
        json!({"expires_at": "2027-01-01T00:00:00Z"}),
    );
    assert_eq!(lena_pin["schedule"]["until"], "2027-01-01T00:00:00Z");
    let (status, problem) = f.write(
        &sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            other["id"].as_str().unwrap()
        ),
        json!({"notify": "sms"}),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no_contact"))
    );

    // Email and SMS to Ravi, email to Lena; each PIN only in its own messages.
    let log = eventually("three deliveries", || {
        let log = f.delivery_log();
        (log.len() == 3).then_some(log)
    });
    for line in &log {
        let body = line["body"].as_str().unwrap();
        let to = line["to"].as_str().unwrap();
        if to == "lena@example.org" {
            assert!(body.contains(lena_pin["value"].as_str().unwrap()) && !body.contains(&value));
        } else {
            assert!(to == "ravi@example.org" || to == "+15550102030", "{to}");
            assert!(body.contains(&value) && !body.contains(lena_pin["value"].as_str().unwrap()));
        }
    }
    let channels: Vec<&str> = log.iter().map(|l| l["channel"].as_str().unwrap()).collect();
    assert_eq!(channels.iter().filter(|c| **c == "sms").count(), 1);

    // Staff look the PIN up while it is active.
    let (_, looked) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    assert_eq!(looked["value"], value.as_str());

    // The PIN opens the package room once; the lock's event settles it `used`.
    let mut room = f.firmware(&f.package_room);
    visit(&f, &sam, &mut room);
    assert!(matches!(
        room.enter_code(&value, Timestamp::now()),
        Some(Entry::Granted { consumed: true, .. })
    ));
    assert!(matches!(
        room.enter_code(&value, Timestamp::now()),
        Some(Entry::Denied { .. })
    ));
    visit(&f, &sam, &mut room);
    let (_, used) = f.get(&sam, &format!("/v1/codes/{}", pin["id"].as_str().unwrap()));
    assert_eq!(used["status"], "used");
    assert_eq!(state_on(&used, &f.package_room), "used");
    let (status, _) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "a used PIN is no longer looked up"
    );

    // Forgot PIN: the same answer whether or not the address is known.
    let forgot = |body: Value| {
        f.call_raw(
            None,
            Method::POST,
            "/v1/public/forgot-pin",
            Some(body),
            None,
        )
    };
    let known = forgot(json!({"property_id": f.property, "email": "RAVI@example.org"}));
    let unknown = forgot(json!({"property_id": f.property, "email": "nobody@example.org"}));
    let no_property = forgot(json!({"property_id": "prop_nope", "phone": "+15550102030"}));
    assert_eq!(known.0, StatusCode::ACCEPTED);
    assert_eq!(known, unknown);
    assert_eq!(known, no_property);
    let log = eventually("the forgot-PIN message", || {
        let log = f.delivery_log();
        (log.len() == 4).then_some(log)
    });
    assert_eq!(log[3]["to"], "ravi@example.org");
    assert_eq!(log[3]["channel"], "email");
    let (_, fresh) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    assert!(
        log[3]["body"]
            .as_str()
            .unwrap()
            .contains(fresh["value"].as_str().unwrap())
    );
    // Per-address limit: a few requests an hour, then 429 (same for unknown addresses).
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(forgot(json!({"property_id": f.property, "email": "nobody@example.org"})).0);
    }
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );
}

#[test]
fn errors_are_problem_documents_and_the_openapi_document_is_served() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let response = f
        .client
        .post(f.server().url("/v1/codes"))
        .bearer_auth(&alice)
        .header("Idempotency-Key", "x1")
        .body("{not json")
        .send()
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let problem: Value = response.json().unwrap();
    assert_eq!(problem["code"], "invalid_request");
    assert_eq!(problem["type"], "urn:keyway:problem:invalid_request");
    let (status, problem) = f.get(&alice, "/v1/nowhere");
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, problem) = f.get("kwd_forged", "/v1/me");
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("unauthorized"))
    );
    let (status, _) = f.call_raw(Some(&alice), Method::POST, "/v1/logout", None, None);
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = f.get(&alice, "/v1/me");
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "a logged-out device is revoked"
    );

    let (status, doc) = f.call_raw(None, Method::GET, "/openapi.json", None, None);
    assert_eq!(status, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/v1/codes",
        "/v1/sync",
        "/v1/receipts",
        "/v1/manage/carriers",
        "/v1/public/forgot-pin",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert!(doc["components"]["schemas"]["CodeView"].is_object());
    let (status, _) = f.call_raw(None, Method::GET, "/healthz", None, None);
    assert_eq!(status, StatusCode::OK);
}

#[test]
fn no_log_line_contains_a_code_or_a_token() {
    let mut f = Fixture::new();
    let mut secrets: Vec<String> = f.tokens.values().cloned().collect();
    let alice = f.login("alice", "phone");
    let mia = f.login("mia", "desk");
    let sam = f.login("sam", "desk");
    secrets.extend([alice.clone(), mia.clone(), sam.clone()]);
    let mut remember = |v: &Value| {
        if let Some(value) = v["value"].as_str() {
            secrets.push(value.to_owned());
        }
    };
    let picked = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    remember(&picked);
    let (_, refused) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "1234"}),
    );
    assert_eq!(refused["code"], "policy_violation");
    remember(&f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    ));
    remember(&f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{}/change", picked["id"].as_str().unwrap()),
        json!({"mode": "generate"}),
    ));
    remember(
        &f.ok(
            &mia,
            Method::POST,
            "/v1/manage/carriers",
            json!({"name": "UPS", "mode": "generate"}),
        )["code"],
    );
    let courier = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "K"}),
    );
    let pin = f.ok(
        &mia,
        Method::PUT,
        &format!(
            "/v1/manage/couriers/{}/pin",
            courier["id"].as_str().unwrap()
        ),
        json!({"mode": "generate"}),
    );
    remember(&pin);
    let _ = f.write(
        &mia,
        Method::POST,
        &format!(
            "/v1/manage/couriers/{}/key-card",
            courier["id"].as_str().unwrap()
        ),
        json!({"pin": "000000", "key_card_id": "C"}),
    );
    let recipient = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "R", "email": "r@example.org", "phone": "+15550102030"}),
    );
    remember(&f.ok(
        &mia,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            recipient["id"].as_str().unwrap()
        ),
        json!({"notify": "both"}),
    ));
    // Staff's "Send One-Time PIN" again, by SMS alone; then forgot-PIN for
    // the known email and phone (each a new PIN) and for unknown addresses.
    remember(&f.ok(
        &sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            recipient["id"].as_str().unwrap()
        ),
        json!({"notify": "sms"}),
    ));
    for address in [
        json!({"email": "r@example.org"}),
        json!({"phone": "+1 555 010 2030"}),
        json!({"email": "nobody.known@example.org"}),
        json!({"phone": "+15559998877"}),
    ] {
        let mut body = json!({"property_id": f.property});
        body.as_object_mut()
            .unwrap()
            .extend(address.as_object().unwrap().clone());
        let (status, _) = f.call_raw(
            None,
            Method::POST,
            "/v1/public/forgot-pin",
            Some(body),
            None,
        );
        assert_eq!(status, StatusCode::ACCEPTED);
    }
    let _ = f.call_raw(
        None,
        Method::POST,
        "/v1/login",
        Some(json!({"token": "kwa_wrong", "device_name": "x"})),
        None,
    );
    // Two messages of the first PIN, one of the SMS PIN, one per known forgot-PIN.
    eventually("deliveries", || (f.delivery_log().len() >= 5).then_some(()));
    for line in f.delivery_log() {
        remember(
            &json!({"value": line["body"].as_str().unwrap().split_whitespace().find(|w| w.trim_end_matches('.').len() == 6 && w.trim_end_matches('.').bytes().all(|b| b.is_ascii_digit())).map(|w| w.trim_end_matches('.'))}),
        );
    }
    // Addresses, known and unknown, in every spelling they were sent.
    secrets.extend(
        [
            "r@example.org",
            "+15550102030",
            "15550102030",
            "555 010 2030",
            "nobody.known@example.org",
            "+15559998877",
            "15559998877",
        ]
        .map(str::to_owned),
    );
    let logs = f.server.take().unwrap().stop();
    assert!(
        logs.len() > 20,
        "the server logged its requests: {}",
        logs.len()
    );
    assert!(logs.iter().any(|l| l.contains("POST /v1/codes 201")));
    assert!(secrets.len() > 20, "{}", secrets.len());
    for line in &logs {
        for secret in &secrets {
            assert!(!occurs(line, secret), "a secret reached the log: {line}");
        }
    }
}

/// A stand-in SMS gateway: answers 500 to the first request, then 200;
/// records every request.
/// Headers and body of each request the gateway saw.
type Requests = Arc<Mutex<Vec<(String, String)>>>;

fn sms_gateway() -> (String, Requests) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/send", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut headers = String::new();
            let mut length = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap_or(0);
                }
                headers.push_str(&line);
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            let first = {
                let mut seen = sink.lock().unwrap();
                seen.push((headers, String::from_utf8_lossy(&body).into_owned()));
                seen.len() == 1
            };
            let status = if first {
                "500 Internal Server Error"
            } else {
                "200 OK"
            };
            let _ = write!(
                stream,
                "HTTP/1.1 {status}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
        }
    });
    (url, seen)
}

/// A stand-in SMTP relay speaking just enough SMTP; records each message.
fn smtp_relay() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("smtp://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let sink = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(10) {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let _ = stream.write_all(b"220 relay ready\r\n");
            let mut data = String::new();
            let mut in_data = false;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                if in_data {
                    if line == ".\r\n" {
                        in_data = false;
                        sink.lock().unwrap().push(std::mem::take(&mut data));
                        let _ = stream.write_all(b"250 queued\r\n");
                    } else {
                        data.push_str(&line);
                    }
                    continue;
                }
                let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                let reply: &[u8] = match verb.as_str() {
                    "EHLO" => b"250-relay\r\n250 8BITMIME\r\n",
                    "DATA" => {
                        in_data = true;
                        b"354 go ahead\r\n"
                    }
                    "QUIT" => {
                        let _ = stream.write_all(b"221 bye\r\n");
                        break;
                    }
                    _ => b"250 ok\r\n",
                };
                let _ = stream.write_all(reply);
            }
        }
    });
    (url, seen)
}

#[test]
fn smtp_and_sms_gateway_senders_deliver_with_retries() {
    let (sms_url, sms_seen) = sms_gateway();
    let (smtp_url, smtp_seen) = smtp_relay();
    let f = Fixture::with_env(&[
        ("KEYWAY_SMS_SENDER", "http"),
        ("KEYWAY_SMS_GATEWAY_URL", &sms_url),
        ("KEYWAY_SMS_GATEWAY_TOKEN", "gateway-secret"),
        ("KEYWAY_EMAIL_SENDER", "smtp"),
        ("KEYWAY_SMTP_URL", &smtp_url),
        ("KEYWAY_EMAIL_FROM", "Maple Court <desk@example.org>"),
    ]);
    let sam = f.login("sam", "desk");
    let recipient = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org", "phone": "+15550102030"}),
    );
    let pin = f.ok(
        &sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            recipient["id"].as_str().unwrap()
        ),
        json!({"notify": "both"}),
    );
    let value = pin["value"].as_str().unwrap().to_owned();
    // The gateway fails once; the worker retries with backoff and succeeds.
    let sms = eventually("the SMS after a retry", || {
        let seen = sms_seen.lock().unwrap();
        (seen.len() >= 2).then(|| seen.clone())
    });
    let (headers, body) = &sms[1];
    assert!(
        headers
            .to_ascii_lowercase()
            .contains("authorization: bearer gateway-secret")
    );
    let body: Value = serde_json::from_str(body).unwrap();
    assert_eq!(body["to"], "+15550102030");
    assert!(body["message"].as_str().unwrap().contains(&value));
    let mail = eventually("the email", || smtp_seen.lock().unwrap().first().cloned());
    assert!(mail.contains("To: ravi@example.org"), "{mail}");
    assert!(mail.contains(&value));
    assert!(mail.contains("Subject: Your one-time PIN for Maple Court"));
    assert!(
        f.delivery_log().is_empty(),
        "real senders replace the delivery log"
    );
    let logs = f.server().log_lines();
    assert!(
        logs.iter().any(|l| l.contains("failed (attempt 1)")),
        "the failure was logged"
    );
    assert!(!logs.iter().any(|l| occurs(l, &value)));
}

#[test]
fn the_admin_commands_refuse_bad_input_and_a_wrong_key() {
    let dir = tempfile::tempdir().unwrap();
    let db = support::TestDb::new(dir.path());
    let run = |args: &[&str]| {
        std::process::Command::new(support::BIN)
            .current_dir(dir.path())
            .envs(db.env.iter().map(|(k, v)| (k, v)))
            .arg("admin")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["lock", "create", "--name", "x"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no property yet"));
    let out = run(&[
        "property",
        "create",
        "--name",
        "P",
        "--time-zone",
        "Mars/Base",
    ]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown time zone"));
    support::Admin::open(dir.path(), &db)
        .unwrap()
        .property("P", "UTC", &[])
        .unwrap();
    let out = run(&["lock", "create", "--name", "Door"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs --unit"));
    let out = run(&["--data-key", &"ab".repeat(32), "property", "list"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("data key does not match"));
    // The server refuses to start with the wrong key, too.
    let out = std::process::Command::new(support::BIN)
        .current_dir(dir.path())
        .envs(db.env.iter().map(|(k, v)| (k, v)))
        .env("KEYWAY_DATA_KEY", "cd".repeat(32))
        .args(["serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
}

#[test]
fn malformed_paths_queries_and_bodies_are_problem_documents() {
    let f = Fixture::new();
    let mia = &f.tokens["mia"];
    let problem = |method: Method, path: &str, body: Vec<u8>| {
        let response = f
            .client
            .request(method, f.server().url(path))
            .bearer_auth(mia)
            .header("Idempotency-Key", support::fresh_key())
            // The server answers an oversized body before reading it and then
            // closes the connection; without this the pool could hand that
            // connection to the next request.
            .header(reqwest::header::CONNECTION, "close")
            .body(body)
            .send()
            .unwrap();
        let status = response.status();
        let content_type = response.headers()["content-type"]
            .to_str()
            .unwrap()
            .to_owned();
        let body: Value = response.json().unwrap();
        assert_eq!(content_type, "application/problem+json", "{path}: {body}");
        (status, body["code"].as_str().unwrap().to_owned())
    };
    // A path segment that is not UTF-8 once decoded.
    assert_eq!(
        problem(Method::GET, "/v1/codes/%FF%FE", vec![]),
        (StatusCode::BAD_REQUEST, "invalid_request".to_owned())
    );
    // Query strings that do not fit the endpoint.
    assert_eq!(
        problem(
            Method::GET,
            &format!("/v1/locks/{}/audit?after=soon", f.lock_4b),
            vec![]
        ),
        (StatusCode::BAD_REQUEST, "invalid_request".to_owned())
    );
    assert_eq!(
        problem(Method::GET, "/v1/sync?cursor=%FF", vec![]),
        (StatusCode::BAD_REQUEST, "invalid_cursor".to_owned())
    );
    // A body over axum's limit (2 MB).
    assert_eq!(
        problem(Method::POST, "/v1/codes", vec![b' '; 3 << 20]),
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large".to_owned()
        )
    );
    // Nothing changed.
    let (_, codes) = f.get(mia, "/v1/codes");
    assert_eq!(codes["codes"], json!([]));
}

#[test]
fn admin_seed_fills_a_property_the_server_serves() {
    let f = Fixture::new();
    let d = f.dir.path();
    let admin = f.admin();
    let spec = keyway_server::admin::SeedSpec {
        name: "Bench".to_owned(),
        units: 20,
        codes: 105,
        tokens_out: Some(d.join("t.txt")),
    };
    let seeded = admin
        .run(keyway_server::admin::seed(&admin.store, &spec))
        .unwrap();
    let property = seeded.property_id.clone();
    assert_eq!(
        seeded.change_seq, 21,
        "one change for the doors, one per unit"
    );
    let tokens = std::fs::read_to_string(d.join("t.txt")).unwrap();
    let tokens: Vec<&str> = tokens
        .lines()
        .map(|l| l.split(' ').nth(1).unwrap())
        .collect();
    assert_eq!(tokens.len(), 20);
    // A resident of the first unit sees the unit's 6 delivered codes, its
    // door in sync and the main entrance.
    let (status, sync) = f.get(tokens[0], "/v1/sync");
    assert_eq!(status, StatusCode::OK, "{sync}");
    let codes = sync["codes"].as_array().unwrap();
    assert_eq!(codes.len(), 6);
    assert!(
        codes
            .iter()
            .all(|c| c["locks"][0]["state"] == "active" && c["value"].is_string())
    );
    let locks = sync["locks"].as_array().unwrap();
    assert_eq!(locks.len(), 2);
    assert!(locks.iter().all(|l| l["target_version"].is_null()));
    // A new code takes the next free slot: its job puts one code on version 1.
    let created = f.ok(
        tokens[0],
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    );
    assert_eq!(
        state_on(&created, created["locks"][0]["lock_id"].as_str().unwrap()),
        "pending"
    );
    let db = f.db.inspect();
    let slots: Vec<(i64,)> = db.rows(&format!(
        "SELECT slot FROM placements WHERE code_id = '{}'",
        created["id"].as_str().unwrap()
    ));
    assert_eq!(slots, [(6,)]);
    // A manager pages through all 106 codes.
    let manager = admin
        .user(&property, "M", keyway_api::Role::Manager, None)
        .unwrap()
        .token;
    drop(admin);
    let (mut cursor, mut seen) = (String::new(), 0);
    loop {
        let (_, page) = f.get(&manager, &format!("/v1/sync?cursor={cursor}"));
        seen += page["codes"].as_array().unwrap().len();
        cursor = page["cursor"].as_str().unwrap().to_owned();
        if page["has_more"] == false {
            break;
        }
    }
    assert_eq!(seen, 106);
    // More codes than the doors hold is refused.
    let out = std::process::Command::new(support::BIN)
        .current_dir(d)
        .envs(f.db.env.iter().map(|(k, v)| (k, v)))
        .args(["admin", "seed", "--units", "1", "--codes", "251"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("do not fit"));
}

/// A stolen phone: the operator's `admin token revoke` ends every API token
/// and device token of that user at once, and nobody else's.
#[test]
fn revoking_a_user_ends_all_of_their_tokens_and_nobody_elses() {
    let f = Fixture::new();
    let phone = f.login("alice", "phone");
    let tablet = f.login("alice", "tablet");
    let bobs = f.login("bob", "phone");
    for token in [&phone, &tablet, &f.tokens["alice"]] {
        assert_eq!(f.get(token, "/v1/me").0, StatusCode::OK);
    }
    let out = std::process::Command::new(support::BIN)
        .current_dir(f.dir.path())
        .envs(f.db.env.iter().map(|(k, v)| (k, v)))
        .args([
            "admin",
            "--json",
            "token",
            "revoke",
            "--user",
            &f.users["alice"],
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let revoked: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(revoked["revoked_devices"], 2, "{revoked}");
    for token in [&phone, &tablet, &f.tokens["alice"]] {
        let (status, problem) = f.get(token, "/v1/me");
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{problem}");
        let (status, _) = f.call_raw(
            Some(token),
            Method::POST,
            "/v1/login",
            Some(json!({"token": token, "device_name": "again"})),
            None,
        );
        assert_eq!(
            status,
            StatusCode::UNAUTHORIZED,
            "a revoked token logs nothing in"
        );
    }
    assert_eq!(
        f.get(&bobs, "/v1/me").0,
        StatusCode::OK,
        "Bob keeps his phone"
    );
    assert_eq!(f.get(&f.tokens["bob"], "/v1/me").0, StatusCode::OK);
}
