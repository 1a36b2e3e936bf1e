//! Code uses against the real server and the real lock firmware: a code
//! typed at a keypad becomes a use once any phone carries the lock's events
//! back, and sync and `GET /v1/codes/{id}/uses` show it to whoever may see
//! the code and to nobody else — not to the neighbour whose phone relayed
//! it, not to another property, not to a resident for the package room —
//! also after the code is deleted (docs/security.md, "Code uses").

mod support;

use jiff::Timestamp;
use keyway_lock::{Entry, Lock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, visit};

fn granted(lock: &mut Lock, digits: &str) -> bool {
    matches!(
        lock.enter_code(digits, Timestamp::now()),
        Some(Entry::Granted { .. })
    )
}

/// Every page of a sync from `cursor`: the uses, and the cursor at the end.
fn uses_since(f: &Fixture, token: &str, cursor: Option<&str>) -> (Vec<Value>, String) {
    let mut uses = Vec::new();
    let mut cursor = cursor.map(str::to_owned);
    loop {
        let path = match &cursor {
            Some(c) => format!("/v1/sync?cursor={c}"),
            None => "/v1/sync".to_owned(),
        };
        let (status, page) = f.get(token, &path);
        assert_eq!(status, StatusCode::OK, "{page}");
        uses.extend(page["uses"].as_array().into_iter().flatten().cloned());
        cursor = page["cursor"].as_str().map(str::to_owned);
        if page["has_more"] != true {
            return (uses, cursor.unwrap());
        }
    }
}

fn of_code<'a>(uses: &'a [Value], code_id: &str) -> Vec<&'a Value> {
    uses.iter().filter(|u| u["code_id"] == code_id).collect()
}

#[test]
fn a_use_reaches_whoever_may_see_the_code_once_and_nobody_else() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let bob = f.login("bob", "phone");
    let (sam, mia, zed) = (&f.tokens["sam"], &f.tokens["mia"], &f.tokens["zed"]);
    let mut unit = f.firmware(&f.lock_4b);
    let mut entrance = f.firmware(&f.entrance);
    let walker = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker"}),
    );
    let own = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let (walker_id, walker_digits) = (
        walker["id"].as_str().unwrap(),
        walker["value"].as_str().unwrap(),
    );
    let (own_id, own_digits) = (own["id"].as_str().unwrap(), own["value"].as_str().unwrap());
    visit(&f, &alice, &mut unit);
    visit(&f, &alice, &mut entrance);
    let (none, alice_cursor) = uses_since(&f, &alice, None);
    assert!(none.is_empty(), "{none:?}");
    let (_, bob_cursor) = uses_since(&f, &bob, None);

    // The dog walker opens the unit door; Alice's own code the entrance.
    assert!(granted(&mut unit, walker_digits));
    assert!(granted(&mut entrance, own_digits));
    // Nothing is known until a phone carries the events.
    assert!(uses_since(&f, &alice, Some(&alice_cursor)).0.is_empty());
    visit(&f, &alice, &mut unit);
    // Bob's phone relays the entrance's events.
    visit(&f, &bob, &mut entrance);

    let (seen, next) = uses_since(&f, &alice, Some(&alice_cursor));
    assert_eq!(seen.len(), 2, "{seen:?}");
    let walked = of_code(&seen, walker_id)[0];
    assert_eq!(walked["code_name"], "Dog walker");
    assert_eq!(walked["lock_name"], "Unit 4B");
    assert_eq!(walked["lock_id"], f.lock_4b.as_str());
    assert_eq!(walked["kind"], "code_used");
    let at: Timestamp = walked["at"].as_str().unwrap().parse().unwrap();
    assert!(
        (Timestamp::now().as_second() - at.as_second()).abs() < 60,
        "{at}"
    );
    assert_eq!(of_code(&seen, own_id)[0]["lock_id"], f.entrance.as_str());
    // Once: the next sync brings nothing again.
    assert!(uses_since(&f, &alice, Some(&next)).0.is_empty());
    // The neighbour who relayed them sees neither, from any cursor.
    assert!(uses_since(&f, &bob, Some(&bob_cursor)).0.is_empty());
    assert!(uses_since(&f, &bob, None).0.is_empty());
    // Staff and managers of the property see both; another property none.
    for token in [sam, mia] {
        let (all, _) = uses_since(&f, token, None);
        assert_eq!(of_code(&all, walker_id).len(), 1);
        assert_eq!(of_code(&all, own_id).len(), 1);
    }
    assert!(uses_since(&f, zed, None).0.is_empty());

    // The list per code, with the same scoping.
    let path = format!("/v1/codes/{walker_id}/uses");
    for token in [&alice, sam, mia] {
        let (status, list) = f.get(token, &path);
        assert_eq!(status, StatusCode::OK, "{list}");
        assert_eq!(list["uses"].as_array().unwrap().len(), 1, "{list}");
    }
    for token in [&bob, zed, &f.tokens["yan"]] {
        let (status, answer) = f.get(token, &path);
        assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
        assert_eq!(answer["code"], "not_found");
    }
}

#[test]
fn a_deleted_codes_use_still_reaches_its_holder_only() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let bob = f.login("bob", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let walker = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker"}),
    );
    let (id, digits) = (
        walker["id"].as_str().unwrap(),
        walker["value"].as_str().unwrap(),
    );
    visit(&f, &alice, &mut unit);
    let (_, cursor) = uses_since(&f, &alice, None);
    // Used, then deleted before any phone brought the event: the visit that
    // removes it from the lock reports the use first.
    assert!(granted(&mut unit, digits));
    f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{id}"),
        json!({}),
    );
    visit(&f, &alice, &mut unit);
    assert!(!granted(&mut unit, digits), "gone from the lock");
    let (seen, _) = uses_since(&f, &alice, Some(&cursor));
    assert_eq!(of_code(&seen, id).len(), 1, "{seen:?}");
    let (status, list) = f.get(&alice, &format!("/v1/codes/{id}/uses"));
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["uses"].as_array().unwrap().len(), 1);
    assert!(uses_since(&f, &bob, None).0.is_empty());
    let (status, _) = f.get(&bob, &format!("/v1/codes/{id}/uses"));
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[test]
fn a_package_room_use_relayed_by_a_resident_is_staffs_not_the_residents() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let sam = f.login("sam", "desk");
    let mut room = f.firmware(&f.package_room);
    let recipient = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org"}),
    );
    let pin = f.ok(
        &sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            recipient["id"].as_str().unwrap()
        ),
        json!({}),
    );
    let (pin_id, digits) = (pin["id"].as_str().unwrap(), pin["value"].as_str().unwrap());
    visit(&f, &alice, &mut room);
    assert!(granted(&mut room, digits));
    // Alice's phone carries the package room's events; she learns nothing.
    visit(&f, &alice, &mut room);
    assert!(uses_since(&f, &alice, None).0.is_empty());
    let (status, _) = f.get(&alice, &format!("/v1/codes/{pin_id}/uses"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (seen, _) = uses_since(&f, &sam, None);
    let used = of_code(&seen, pin_id);
    assert_eq!(used.len(), 1, "{seen:?}");
    assert_eq!(used[0]["kind"], "one_time_consumed");
    assert_eq!(used[0]["lock_name"], "Package room");
}

#[test]
fn an_offline_guest_codes_use_and_a_key_cards_use_are_uses_too() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let bob = f.login("bob", "phone");
    let sam = f.login("sam", "desk");
    // A guest code that works offline: no job, the door opens at once.
    let code = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Cleaner", "guest_type": "temporary", "offline": true,
            "schedule": {"type": "window", "from": (Timestamp::now() - jiff::SignedDuration::from_mins(10)).to_string(),
                "until": (Timestamp::now() + jiff::SignedDuration::from_mins(90)).to_string()}}),
    );
    let id = code["id"].as_str().unwrap();
    let digits = code["offline"][0]["value"].as_str().unwrap().to_owned();
    let mut unit = f.firmware(&f.lock_4b);
    assert!(matches!(
        unit.enter_code(&digits, Timestamp::now()),
        Some(Entry::GrantedOffline { .. })
    ));
    visit(&f, &alice, &mut unit);
    let (seen, _) = uses_since(&f, &alice, None);
    let used = of_code(&seen, id);
    assert_eq!(used.len(), 1, "{seen:?}");
    assert_eq!(used[0]["kind"], "offline_code_used");
    assert_eq!(used[0]["code_name"], "Cleaner");
    assert!(uses_since(&f, &bob, None).0.is_empty());

    // A courier's key card at the package room: a use of the courier's PIN.
    let courier = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "FedEx route 7"}),
    );
    let courier_id = courier["id"].as_str().unwrap();
    let pin = f.ok(
        &sam,
        Method::PUT,
        &format!("/v1/manage/couriers/{courier_id}/pin"),
        json!({"mode": "pick", "code": "604817"}),
    );
    let mut room = f.firmware(&f.package_room);
    visit(&f, &sam, &mut room);
    f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{courier_id}/key-card"),
        json!({"pin": "604817", "key_card_id": "card-0042"}),
    );
    visit(&f, &sam, &mut room);
    assert!(matches!(
        room.present_card("card-0042", Timestamp::now()),
        Entry::Granted { .. }
    ));
    visit(&f, &alice, &mut room);
    let (seen, _) = uses_since(&f, &sam, None);
    let carded = of_code(&seen, pin["id"].as_str().unwrap());
    assert_eq!(carded.len(), 1, "{seen:?}");
    assert_eq!(carded[0]["kind"], "card_used");
    assert_eq!(carded[0]["lock_name"], "Package room");
    assert!(of_code(&uses_since(&f, &alice, None).0, pin["id"].as_str().unwrap()).is_empty());
}
