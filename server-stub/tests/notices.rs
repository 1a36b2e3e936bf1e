//! Being told by email or SMS when a code is used, against the real server,
//! its outbox worker and the real lock firmware: the holder who asked gets
//! "Dog walker's code opened Unit 4B at 09:14" (the lock's time in the
//! property's time zone) on each channel they chose, never the digits;
//! nobody else can ask for a code that is not theirs, read another's
//! contact details, or ask without an address; a refused request changes
//! nothing.

mod support;

use jiff::Timestamp;
use keyway_lock::{Entry, Lock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, eventually, occurs, visit};

fn granted(lock: &mut Lock, digits: &str) -> bool {
    matches!(
        lock.enter_code(digits, Timestamp::now()),
        Some(Entry::Granted { .. })
    )
}

/// The delivery log's messages about code uses.
fn use_messages(f: &Fixture) -> Vec<Value> {
    f.delivery_log()
        .into_iter()
        .filter(|m| m["body"].as_str().is_some_and(|b| b.contains(" opened ")))
        .collect()
}

fn head(f: &Fixture) -> i64 {
    let rows: Vec<(i64,)> = f.db.inspect().rows(&format!(
        "SELECT change_seq FROM properties WHERE id = '{}'",
        f.property
    ));
    rows[0].0
}

#[test]
fn the_holder_who_asked_is_told_on_each_channel_without_the_digits() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let contact = f.ok(
        &alice,
        Method::PUT,
        "/v1/me/contact",
        json!({"email": " Alice@Example.org ", "phone": "+1 555 555 0142"}),
    );
    assert_eq!(
        contact,
        json!({"email": "alice@example.org", "phone": "+15555550142"})
    );
    let walker = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker", "notify_on_use": "both"}),
    );
    let (id, digits) = (
        walker["id"].as_str().unwrap(),
        walker["value"].as_str().unwrap(),
    );
    let (_, asked) = f.get(&alice, &format!("/v1/codes/{id}/notify"));
    assert_eq!(asked["notify_on_use"], "both");
    visit(&f, &alice, &mut unit);
    assert!(granted(&mut unit, digits));
    let opened = Timestamp::now();
    visit(&f, &alice, &mut unit);

    let messages = eventually("the use's messages", || {
        let found = use_messages(&f);
        (found.len() >= 2).then_some(found)
    });
    assert_eq!(messages.len(), 2, "{messages:?}");
    let hhmm = opened
        .in_tz("America/New_York")
        .unwrap()
        .strftime("%H:%M")
        .to_string();
    let sentence = "Dog walker's code opened Unit 4B at ";
    for m in &messages {
        let body = m["body"].as_str().unwrap();
        assert!(body.starts_with(sentence), "{body}");
        let said = &body[sentence.len()..sentence.len() + 5];
        let minute =
            |t: &str| t[0..2].parse::<i64>().unwrap() * 60 + t[3..5].parse::<i64>().unwrap();
        assert!(
            (minute(said) - minute(&hhmm)).abs() <= 1,
            "{said} vs {hhmm}"
        );
        for text in [body, m["subject"].as_str().unwrap()] {
            assert!(!occurs(text, digits), "the digits in a message: {text}");
        }
    }
    let mut to: Vec<&str> = messages.iter().map(|m| m["to"].as_str().unwrap()).collect();
    to.sort_unstable();
    assert_eq!(to, ["+15555550142", "alice@example.org"]);

    // Stopped: the next use tells nobody.
    let stopped = f.ok(
        &alice,
        Method::PUT,
        &format!("/v1/codes/{id}/notify"),
        json!({"notify_on_use": "none"}),
    );
    assert_eq!(stopped["notify_on_use"], "none");
    assert!(granted(&mut unit, digits));
    visit(&f, &alice, &mut unit);
    std::thread::sleep(std::time::Duration::from_millis(500));
    assert_eq!(use_messages(&f).len(), 2);
}

#[test]
fn nobody_but_the_holder_asks_and_a_refusal_changes_nothing() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let (bob, sam, mia, zed) = (
        &f.tokens["bob"],
        &f.tokens["sam"],
        &f.tokens["mia"],
        &f.tokens["zed"],
    );
    f.ok(
        &alice,
        Method::PUT,
        "/v1/me/contact",
        json!({"email": "alice@example.org"}),
    );
    let code = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker"}),
    );
    let path = format!("/v1/codes/{}/notify", code["id"].as_str().unwrap());
    let before = head(&f);
    // No phone number: SMS is refused, when creating a code and later.
    let (status, answer) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "notify_on_use": "sms"}),
    );
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no_contact"))
    );
    let (status, answer) = f.write(&alice, Method::PUT, &path, json!({"notify_on_use": "both"}));
    assert_eq!(
        (status, answer["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("no_contact"))
    );
    // Another unit and another property do not find the code; staff and the
    // manager see it but do not hold it.
    for (token, expected) in [
        (bob, StatusCode::NOT_FOUND),
        (zed, StatusCode::NOT_FOUND),
        (sam, StatusCode::FORBIDDEN),
        (mia, StatusCode::FORBIDDEN),
    ] {
        let (status, answer) =
            f.write(token, Method::PUT, &path, json!({"notify_on_use": "email"}));
        assert_eq!(status, expected, "{answer}");
    }
    let (status, _) = f.write(&alice, Method::PUT, &path, json!({"notify_on_use": "loud"}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f.write(
        &alice,
        Method::PUT,
        "/v1/me/contact",
        json!({"email": "not an address"}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(head(&f), before, "no refused request wrote anything");
    let (_, codes) = f.get(&alice, "/v1/codes");
    assert_eq!(
        codes["codes"].as_array().unwrap().len(),
        1,
        "the refused code was not created"
    );
    // Contact details are each user's own.
    let (_, mine) = f.get(bob, "/v1/me/contact");
    assert_eq!(mine, json!({"email": null, "phone": null}));
    let (_, asked) = f.get(&alice, &path);
    assert_eq!(asked["notify_on_use"], "none");
}
