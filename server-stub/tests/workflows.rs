//! HTTP-level tests of every workflow against a running `keyway-server`
//! (real TCP port, real SQLite file), with the real lock firmware from
//! `keyway-lock` standing in for the lock at the far end of the phone.

mod support;

use std::collections::HashSet;

use jiff::Timestamp;
use keyway_api::{decode_bytes, encode_bytes};
use keyway_lock::{Entry, Lock, LockConfig};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    Fixture, eventually, fresh_key, lock_status, open_visit, post_receipts, present, state_on,
    sync_entry, visit,
};

/// What a phone does at a lock: a visit (the server seals the lock's job for
/// the session the lock's fresh status opened), the receipts carried back.
/// Returns the receipt results.
fn deliver(f: &Fixture, token: &str, lock: &mut Lock) -> Value {
    let done = visit(f, token, lock);
    assert!(
        !done.receipts.is_empty(),
        "a job to deliver: {:?}",
        done.answer
    );
    done.results
}

/// Whether the server wants nothing more of the lock.
fn nothing_to_deliver(f: &Fixture, token: &str, lock_id: &str) -> bool {
    sync_entry(f, token, lock_id)["target_version"].is_null()
}

fn code(f: &Fixture, token: &str, id: &str) -> Value {
    let (status, body) = f.get(token, &format!("/v1/codes/{id}"));
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

#[test]
fn resident_picks_generates_and_sees_every_violated_rule() {
    let f = Fixture::new();
    let alice = f.login("alice", "Alice's phone");

    let (status, doors) = f.get(&alice, "/v1/doors");
    assert_eq!(status, StatusCode::OK);
    let door_ids: HashSet<&str> = doors["doors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["lock_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        door_ids,
        HashSet::from([
            f.lock_4b.as_str(),
            f.entrance.as_str(),
            f.package_room.as_str()
        ]),
        "own unit, the community door, and the package room (to relay its jobs)"
    );

    // Picking 1234 lists both broken rules with their messages.
    let (status, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "1234"}),
    );
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(problem["code"], "policy_violation");
    let rules: Vec<&str> = problem["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap())
        .collect();
    assert_eq!(rules, ["sequential", "common_pin"]);
    assert!(
        problem["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("consecutive")
    );

    // Affiliated numbers, six digits where not enabled, letters.
    let (_, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "1440"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "property_number");
    let (_, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "385917"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "length");
    let (status, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "38a9"}),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_format"))
    );
    // Custom codes are refused on community doors.
    let (_, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859", "lock_ids": [f.entrance]}),
    );
    assert_eq!(problem["violations"][0]["rule"], "custom_not_allowed");
    // A door of another unit is not Alice's to use.
    let (status, _) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859", "lock_ids": [f.lock_5c]}),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);

    // A good pick lands on the unit door, pending.
    let picked = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    assert_eq!(picked["value"], "3859");
    assert_eq!(picked["origin"], "custom");
    assert_eq!(state_on(&picked, &f.lock_4b), "pending");
    assert_eq!(picked["locks"].as_array().unwrap().len(), 1);
    // The same digits again: duplicate on the lock.
    let (_, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "duplicate_on_lock");

    // A generated code goes on the unit door and the community door.
    let generated = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let value = generated["value"].as_str().unwrap();
    assert_eq!(value.len(), 4);
    assert_ne!(value, "3859");
    assert_eq!(state_on(&generated, &f.lock_4b), "pending");
    assert_eq!(state_on(&generated, &f.entrance), "pending");

    // Guest codes: generated only, with their schedules.
    let (_, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "pick", "code": "5826"}),
    );
    assert_eq!(problem["violations"][0]["rule"], "custom_not_allowed");
    let permanent = f.ok(&alice, Method::POST, "/v1/codes", json!({"kind": "guest", "mode": "generate", "name": "Dog walker", "guest_type": "permanent"}));
    assert_eq!(permanent["schedule"]["type"], "always");
    assert_eq!(permanent["name"], "Dog walker");
    let recurring = f.ok(&alice, Method::POST, "/v1/codes", json!({"kind": "guest", "mode": "generate", "guest_type": "recurring",
        "schedule": {"type": "recurring", "weekdays": ["mon", "wed"], "start": "08:00:00", "end": "12:00:00", "time_zone": "America/New_York"}}));
    assert_eq!(recurring["guest_type"], "recurring");
    let temporary = f.ok(&alice, Method::POST, "/v1/codes", json!({"kind": "guest", "mode": "generate", "guest_type": "temporary",
        "schedule": {"type": "window", "from": "2026-12-01T00:00:00Z", "until": "2026-12-03T00:00:00Z"}}));
    assert_eq!(temporary["schedule"]["type"], "window");
    let delivery = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "guest_type": "delivery"}),
    );
    assert_eq!(
        delivery["schedule"]["type"], "window",
        "a delivery code gets a 24 h window"
    );
    let (status, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "guest_type": "temporary"}),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("invalid_schedule"))
    );
    let (status, problem) = f.write(&alice, Method::POST, "/v1/codes", json!({"kind": "guest", "mode": "generate", "guest_type": "temporary",
        "schedule": {"type": "window", "from": "2026-12-03T00:00:00Z", "until": "2026-12-01T00:00:00Z"}}));
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{problem}"
    );

    // Bob sees none of Alice's codes.
    let bob = f.login("bob", "Bob's phone");
    let (_, list) = f.get(&bob, "/v1/codes");
    assert!(list["codes"].as_array().unwrap().is_empty());
    let (_, list) = f.get(&alice, "/v1/codes");
    assert_eq!(list["codes"].as_array().unwrap().len(), 6);
}

#[test]
fn idempotency_keys_make_retries_safe() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let body = json!({"kind": "resident", "mode": "generate"});
    let key = fresh_key();
    let (s1, first) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(body.clone()),
        Some(&key),
    );
    let (s2, second) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(body.clone()),
        Some(&key),
    );
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first, second, "the retry returns the first answer");
    let (_, list) = f.get(&alice, "/v1/codes");
    assert_eq!(list["codes"].as_array().unwrap().len(), 1, "no second code");

    let (status, problem) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(json!({"kind": "resident", "mode": "generate", "length": 4})),
        Some(&key),
    );
    assert_eq!(
        (status, problem["code"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("idempotency_key_reused")
        )
    );
    let (status, problem) = f.call_raw(Some(&alice), Method::POST, "/v1/codes", Some(body), None);
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("idempotency_key_required"))
    );
    let (_, list) = f.get(&alice, "/v1/codes");
    assert_eq!(
        list["codes"].as_array().unwrap().len(),
        1,
        "refused writes change nothing"
    );
}

#[test]
fn the_reconciliation_loop_settles_every_state_with_the_real_lock() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);

    // pending -> active
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    let result = deliver(&f, &alice, &mut unit);
    assert_eq!(result["results"][0]["status"], "accepted", "{result}");
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "active");
    assert!(matches!(
        unit.enter_code("3859", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
    assert!(
        nothing_to_deliver(&f, &alice, &f.lock_4b),
        "nothing left to deliver"
    );

    // A change is one job: the old code works until the lock confirms the new one.
    let changed = f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/change"),
        json!({"mode": "pick", "code": "5827"}),
    );
    assert_eq!(changed["value"], "5827");
    assert_eq!(state_on(&changed, &f.lock_4b), "pending");
    assert_eq!(changed["locks"][0]["previous_active"], true);
    assert!(matches!(
        unit.enter_code("3859", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
    deliver(&f, &alice, &mut unit);
    let after = code(&f, &alice, &id);
    assert_eq!(state_on(&after, &f.lock_4b), "active");
    assert_eq!(after["locks"][0]["previous_active"], false);
    assert!(matches!(
        unit.enter_code("3859", Timestamp::now()),
        Some(Entry::Denied { .. })
    ));
    assert!(matches!(
        unit.enter_code("5827", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));

    // disabling -> disabled -> (enable) active
    let disabled = f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/disable"),
        json!({}),
    );
    assert_eq!(state_on(&disabled, &f.lock_4b), "disabling");
    deliver(&f, &alice, &mut unit);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "disabled");
    assert!(matches!(
        unit.enter_code("5827", Timestamp::now()),
        Some(Entry::Denied { .. })
    ));
    f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/enable"),
        json!({}),
    );
    deliver(&f, &alice, &mut unit);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "active");

    // The keypad events reach the audit trail.
    let (_, audit) = f.get(&alice, &format!("/v1/locks/{}/audit", f.lock_4b));
    let kinds: Vec<&str> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    for kind in [
        "code_added",
        "code_used",
        "wrong_code",
        "denied",
        "job_applied",
        "code_disabled",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let used = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "code_used")
        .unwrap();
    assert_eq!(used["code_id"], id.as_str());
    // A visit brings the events the keypad recorded since; the same receipt
    // again changes nothing and stores no event twice.
    let _ = unit.enter_code("0001", Timestamp::now());
    f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/disable"),
        json!({}),
    );
    let done = visit(&f, &alice, &mut unit);
    let (_, audit) = f.get(&alice, &format!("/v1/locks/{}/audit", f.lock_4b));
    let count = audit["entries"].as_array().unwrap().len();
    assert_eq!(
        post_receipts(&f, &alice, &done.receipts)["results"][0]["status"],
        "accepted"
    );
    let (_, audit) = f.get(&alice, &format!("/v1/locks/{}/audit", f.lock_4b));
    assert_eq!(
        audit["entries"].as_array().unwrap().len(),
        count,
        "events are stored once"
    );
    f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/enable"),
        json!({}),
    );
    deliver(&f, &alice, &mut unit);
    // A visit tells the phone how far the server has the lock's events, so
    // the status asked from there carries only new ones.
    let ack = open_visit(&f, &alice, &f.lock_4b)["since_seq"]
        .as_u64()
        .unwrap() as u32;
    assert!(ack >= 8, "{ack}");
    let file = f.provisioning();
    let provisioned = file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == f.lock_4b)
        .unwrap();
    let keys = keyway_protocol::LockKeys::derive(&provisioned.root_key, provisioned.lock_id);
    let _ = unit.enter_code("0000", Timestamp::now());
    let fresh = keys
        .open_receipt(&unit.status([9; 16], ack, Timestamp::now()).unwrap())
        .unwrap();
    assert!(
        !fresh.events.is_empty() && fresh.events.iter().all(|e| e.seq > ack),
        "{fresh:?}"
    );

    // removing -> removed, then a tombstone in sync.
    let deleted = f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{id}"),
        json!({}),
    );
    assert_eq!(state_on(&deleted, &f.lock_4b), "removing");
    let (_, sync) = f.get(&alice, "/v1/sync");
    assert!(
        sync["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    deliver(&f, &alice, &mut unit);
    let (_, sync) = f.get(&alice, "/v1/sync");
    assert!(
        sync["tombstones"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["id"] == id.as_str()),
        "{sync}"
    );
    assert!(
        !sync["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str())
    );
    // Refused (by now the keypad has counted five wrong entries, and the
    // fifth locks it).
    assert!(!matches!(
        unit.enter_code("5827", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
}

#[test]
fn a_refusal_fails_the_new_code_and_keeps_the_old_one() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    // The real lock has one slot fewer than the server believes: the server
    // allocates slot 1 for the new value, which this lock refuses.
    let file = f.provisioning();
    let provisioned = file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == f.lock_4b)
        .unwrap();
    let mut config = LockConfig::from(provisioned);
    config.capacity = 1;
    let mut unit = Lock::new(config, &provisioned.root_key);

    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    deliver(&f, &alice, &mut unit);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "active");

    f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{id}/change"),
        json!({"mode": "pick", "code": "5827"}),
    );
    deliver(&f, &alice, &mut unit);
    let after = code(&f, &alice, &id);
    let on_lock = &after["locks"][0];
    assert_eq!(on_lock["state"], "failed", "{after}");
    assert_eq!(on_lock["reason"], "slot_out_of_range");
    assert_eq!(
        on_lock["previous_active"], true,
        "the previous code stays active"
    );
    assert!(matches!(
        unit.enter_code("3859", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
    // No retry loop: the next visit has nothing to send.
    let again = visit(&f, &alice, &mut unit);
    assert_eq!(
        again.answer["target_version"], 1,
        "no job is resent after a refusal (at most an acknowledgement): {:?}",
        again.answer
    );
    assert_eq!(unit.state().version, 1);
    assert!(nothing_to_deliver(&f, &alice, &f.lock_4b));
}

#[test]
fn lost_receipts_and_wiped_locks_recover_without_getting_stuck() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let first = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );

    // The lock applies the job but its receipt is lost on the way.
    let opened = open_visit(&f, &alice, &f.lock_4b);
    let status = lock_status(&mut unit, &opened);
    let (_, answer) = present(&f, &alice, opened["visit_id"].as_str().unwrap(), &status);
    let job = decode_bytes(answer["jobs"][0].as_str().unwrap()).unwrap();
    unit.apply(&job, Timestamp::now()).unwrap();
    unit.disconnected();
    // Meanwhile another code is added: the new job is cut from the old base.
    let second = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "6148"}),
    );
    // The next visit's status shows the lock at the lost job's version and
    // digest: the server settles that job and cuts a delta from there.
    let result = deliver(&f, &alice, &mut unit);
    assert_eq!(result["results"][0]["status"], "accepted");
    assert_eq!(
        state_on(&code(&f, &alice, first["id"].as_str().unwrap()), &f.lock_4b),
        "active"
    );
    assert_eq!(
        state_on(
            &code(&f, &alice, second["id"].as_str().unwrap()),
            &f.lock_4b
        ),
        "active"
    );

    // The lock is replaced by a factory-new one: its status shows a table the
    // server cannot explain, so the same visit brings one recovery job that
    // rebuilds the whole table.
    let mut fresh = f.firmware(&f.lock_4b);
    deliver(&f, &alice, &mut fresh);
    for value in ["3859", "6148"] {
        assert!(
            matches!(
                fresh.enter_code(value, Timestamp::now()),
                Some(Entry::Granted { .. })
            ),
            "{value}"
        );
    }
    assert!(nothing_to_deliver(&f, &alice, &f.lock_4b));
    // An in-sync lock's visit changes nothing: at most an acknowledgement of
    // its events, which leaves its version where it is.
    let version = fresh.state().version;
    visit(&f, &alice, &mut fresh);
    assert_eq!(fresh.state().version, version);
    assert!(fresh.state().audit.is_empty(), "its events acknowledged");
    assert!(nothing_to_deliver(&f, &alice, &f.lock_4b));

    // Forged or foreign receipts are refused one by one, with a code.
    let result = f.ok(
        &alice,
        Method::POST,
        "/v1/receipts",
        json!({"receipts": ["not base64!", encode_bytes(&[0x52; 40])]}),
    );
    assert_eq!(result["results"][0]["status"], "malformed");
    assert_ne!(result["results"][1]["status"], "accepted");
}

#[test]
fn windows_that_end_expire_and_leave_the_lock() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let from = Timestamp::now();
    let until = from
        .checked_add(jiff::SignedDuration::from_secs(3))
        .unwrap();
    let guest = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "guest_type": "temporary",
        "schedule": {"type": "window", "from": from.to_string(), "until": until.to_string()}}),
    );
    let id = guest["id"].as_str().unwrap().to_owned();
    deliver(&f, &alice, &mut unit);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "active");
    let expired = eventually("the window to end", || {
        let c = code(&f, &alice, &id);
        (c["status"] == "expired").then_some(c)
    });
    assert_eq!(state_on(&expired, &f.lock_4b), "expired");
    assert!(
        !nothing_to_deliver(&f, &alice, &f.lock_4b),
        "a job removes it"
    );
    deliver(&f, &alice, &mut unit);
    assert_eq!(unit.state().slots.len(), 0);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "expired");
}

#[test]
fn sync_returns_deltas_with_a_cursor() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let (_, first) = f.get(&alice, "/v1/sync");
    assert_eq!(first["has_more"], false);
    assert!(first["codes"].as_array().unwrap().is_empty());
    let cursor = first["cursor"].as_str().unwrap().to_owned();
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let (_, delta) = f.get(&alice, &format!("/v1/sync?cursor={cursor}"));
    let ids: Vec<&str> = delta["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [created["id"].as_str().unwrap()]);
    let lock_ids: HashSet<&str> = delta["locks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["lock_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        lock_ids,
        HashSet::from([f.lock_4b.as_str(), f.entrance.as_str()])
    );
    let next = delta["cursor"].as_str().unwrap();
    let (_, empty) = f.get(&alice, &format!("/v1/sync?cursor={next}"));
    assert!(
        empty["codes"].as_array().unwrap().is_empty()
            && empty["locks"].as_array().unwrap().is_empty(),
        "{empty}"
    );
    // Bob's changes never reach Alice's delta.
    let bob = f.login("bob", "phone");
    f.ok(
        &bob,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    let (_, still_empty) = f.get(&alice, &format!("/v1/sync?cursor={next}"));
    assert!(still_empty["codes"].as_array().unwrap().is_empty());
    // Many changes page without splitting one.
    for _ in 0..5 {
        f.ok(
            &alice,
            Method::POST,
            "/v1/codes",
            json!({"kind": "guest", "mode": "generate"}),
        );
    }
    let (_, staff_view) = f.get(&f.login("mia", "desk"), "/v1/sync");
    assert_eq!(staff_view["codes"].as_array().unwrap().len(), 7);
    assert!(
        staff_view["codes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["value"].is_null()),
        "managers do not see residents' digits"
    );
    let (status, problem) = f.get(&alice, "/v1/sync?cursor=abc");
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor"))
    );
}

/// An up-to-date cursor is answered from the property's change counter
/// alone (read with the token): the answer is exactly the full read's, a
/// cursor ahead is still refused, another unit's write only moves the cursor
/// on, and the caller's own write is in the very next sync.
#[test]
fn an_up_to_date_sync_answers_nothing_and_misses_no_write() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let bob = f.login("bob", "phone");
    let cursor_of = |page: &Value| page["cursor"].as_str().unwrap().parse::<i64>().unwrap();
    let nothing_since = |cursor: i64| json!({"cursor": cursor.to_string(), "has_more": false, "codes": [], "tombstones": [], "locks": []});
    let (status, first) = f.get(&alice, "/v1/sync");
    assert_eq!(status, StatusCode::OK, "{first}");
    let head = cursor_of(&first);
    let (status, current) = f.get(&alice, &format!("/v1/sync?cursor={head}"));
    assert_eq!((status, current), (StatusCode::OK, nothing_since(head)));
    let (status, problem) = f.get(&alice, &format!("/v1/sync?cursor={}", head + 1));
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_cursor")),
        "a cursor ahead of the counter is refused, not taken as current"
    );

    // Bob's write moves the property's counter: Alice's cursor is behind,
    // her answer holds none of his codes and carries her on to the new head.
    f.ok(
        &bob,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    );
    let (_, moved) = f.get(&alice, &format!("/v1/sync?cursor={head}"));
    assert!(cursor_of(&moved) > head, "{moved}");
    assert_eq!(
        (moved["codes"].clone(), moved["tombstones"].clone()),
        (json!([]), json!([]))
    );
    let head = cursor_of(&moved);
    assert_eq!(
        f.get(&alice, &format!("/v1/sync?cursor={head}")).1,
        nothing_since(head)
    );

    // Her own write is in her very next sync, and so is a manager's.
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    );
    let (_, delta) = f.get(&alice, &format!("/v1/sync?cursor={head}"));
    let ids: Vec<&str> = delta["codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [created["id"].as_str().unwrap()]);
    assert_eq!(cursor_of(&delta), head + 1);
    let mia = f.login("mia", "desk");
    let (_, staff) = f.get(&mia, &format!("/v1/sync?cursor={head}"));
    assert_eq!(staff["codes"].as_array().unwrap().len(), 1, "{staff}");
    assert_eq!(
        f.get(&mia, &format!("/v1/sync?cursor={}", head + 1)).1,
        nothing_since(head + 1)
    );
}

#[test]
fn two_devices_editing_one_code_at_once_lose_no_update() {
    let f = Fixture::new();
    let phone = f.login("alice", "phone");
    let tablet = f.login("alice", "tablet");
    for round in 0..4 {
        let created = f.ok(
            &phone,
            Method::POST,
            "/v1/codes",
            json!({"kind": "resident", "mode": "generate"}),
        );
        let id = created["id"].as_str().unwrap().to_owned();
        let (a, b) = std::thread::scope(|s| {
            let a = s.spawn(|| {
                f.write(
                    &phone,
                    Method::POST,
                    &format!("/v1/codes/{id}/disable"),
                    json!({}),
                )
            });
            let b = s.spawn(|| {
                f.write(
                    &tablet,
                    Method::POST,
                    &format!("/v1/codes/{id}/change"),
                    json!({"mode": "generate"}),
                )
            });
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(
            a.0.is_success() && b.0.is_success(),
            "round {round}: {a:?} {b:?}"
        );
        let after = code(&f, &phone, &id);
        assert_eq!(
            after["enabled"], false,
            "the disable survived (round {round})"
        );
        assert_eq!(
            after["value"], b.1["value"],
            "the change survived (round {round})"
        );
        assert_ne!(after["value"], created["value"]);
    }
    // Concurrent creates: distinct codes, and the real lock takes them all (no slot twice).
    let fixture = &f;
    let results: Vec<(StatusCode, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..6)
            .map(|i| {
                let token = if i % 2 == 0 { &phone } else { &tablet };
                s.spawn(move || {
                    fixture.write(
                        token,
                        Method::POST,
                        "/v1/codes",
                        json!({"kind": "guest", "mode": "generate"}),
                    )
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert!(
        results.iter().all(|(s, _)| *s == StatusCode::CREATED),
        "{results:?}"
    );
    let mut unit = f.firmware(&f.lock_4b);
    deliver(&f, &phone, &mut unit);
    let (_, list) = f.get(&phone, "/v1/codes");
    let codes = list["codes"].as_array().unwrap();
    assert_eq!(unit.state().slots.len(), codes.len());
    assert!(
        codes.iter().all(|c| state_on(c, &f.lock_4b) != "pending"),
        "{list}"
    );
}

#[test]
fn a_restart_keeps_everything() {
    let mut f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    deliver(&f, &alice, &mut unit);
    let pending = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    );
    let (_, before) = f.get(&alice, "/v1/sync");
    let logs = f.restart();
    assert!(
        logs.iter().any(|l| l.contains("stopped")),
        "graceful shutdown: {logs:?}"
    );
    let (status, after) = f.get(&alice, "/v1/sync");
    assert_eq!(
        status,
        StatusCode::OK,
        "the device token survives a restart"
    );
    assert_eq!(before, after, "the same codes, jobs and cursor");
    assert_eq!(
        state_on(
            &code(&f, &alice, created["id"].as_str().unwrap()),
            &f.lock_4b
        ),
        "active"
    );
    deliver(&f, &alice, &mut unit);
    assert_eq!(
        state_on(
            &code(&f, &alice, pending["id"].as_str().unwrap()),
            &f.lock_4b
        ),
        "active"
    );
}

#[test]
fn doors_and_sync_tell_the_phone_what_its_local_policy_check_needs() {
    let f = Fixture::new();
    let mut spec =
        keyway_server::admin::LockSpec::new("Gym", keyway_codes::AccessPoint::Amenity, None);
    spec.enter_key = false;
    spec.constraints = vec![
        "no_zeros".parse().unwrap(),
        "cannot_start_with_12".parse().unwrap(),
    ];
    let gym = f
        .admin()
        .lock(&f.property, &spec, "maple.json")
        .unwrap()
        .lock_id;
    let alice = f.login("alice", "Alice's phone");

    let (_, doors) = f.get(&alice, "/v1/doors");
    let door = |id: &str| {
        doors["doors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["lock_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(door(&gym)["enter_key"], false);
    assert_eq!(
        door(&gym)["constraints"],
        json!(["no_zeros", "cannot_start_with_12"])
    );
    assert_eq!(door(&f.lock_4b)["enter_key"], true);
    assert_eq!(door(&f.lock_4b)["constraints"], json!([]));
    assert_eq!(door(&f.lock_4b)["unit_id"], f.unit_4b.as_str());

    let (_, sync) = f.get(&alice, "/v1/sync");
    let lock_in = |sync: &Value, id: &str| {
        sync["locks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|l| l["lock_id"] == id)
            .cloned()
            .unwrap()
    };
    let gym_sync = lock_in(&sync, &gym);
    assert_eq!(gym_sync["enter_key"], false);
    assert_eq!(
        gym_sync["constraints"],
        json!(["no_zeros", "cannot_start_with_12"])
    );
    assert_eq!(gym_sync["unit_id"], Value::Null);
    assert_eq!(lock_in(&sync, &f.lock_4b)["unit_id"], f.unit_4b.as_str());
}

#[test]
fn the_pick_limit_throttles_new_picks_but_not_retries_of_answered_ones() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    // A pick that was answered; the phone may retry it with the same key.
    let first_key = fresh_key();
    let pick = |code: &str| json!({"kind": "resident", "mode": "pick", "code": code});
    let (status, answered) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(pick("3859")),
        Some(&first_key),
    );
    assert_eq!(status, StatusCode::CREATED);
    // Refused picks count too: spend the rest of the minute's 30 with codes
    // the policy refuses (nothing is created).
    let mut throttled = None;
    for _ in 0..40 {
        let (status, problem) = f.write(&alice, Method::POST, "/v1/codes", pick("1111"));
        if status == StatusCode::TOO_MANY_REQUESTS {
            throttled = Some(problem);
            break;
        }
        assert_eq!(problem["code"], "policy_violation");
    }
    let problem = throttled.expect("the limit is reached within 40 picks");
    assert_eq!(problem["code"], "rate_limited");
    // A new pick is throttled; the retry of the answered one gets its answer.
    let (status, _) = f.write(&alice, Method::POST, "/v1/codes", pick("4826"));
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    let (status, again) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(pick("3859")),
        Some(&first_key),
    );
    assert_eq!((status, &again), (StatusCode::CREATED, &answered));
    let (_, list) = f.get(&alice, "/v1/codes");
    assert_eq!(list["codes"].as_array().unwrap().len(), 1);
}

#[test]
fn a_resident_relays_the_package_rooms_sealed_jobs_without_seeing_its_codes() {
    let f = Fixture::new();
    let alice = f.login("alice", "Alice's phone");
    let mia = f.tokens["mia"].clone();
    let carrier = f.ok(
        &mia,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "UPS", "mode": "generate"}),
    );
    let code_id = carrier["code"]["id"].as_str().unwrap().to_owned();
    let value = carrier["code"]["value"].as_str().unwrap().to_owned();
    assert_eq!(state_on(&carrier["code"], &f.package_room), "pending");

    // Alice's sync names the package room's pending work (and its
    // advertising key), but none of its codes.
    let (_, sync) = f.get(&alice, "/v1/sync");
    let room = sync["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == f.package_room.as_str())
        .unwrap_or_else(|| panic!("the package room is in a resident's sync: {sync}"));
    assert!(room["target_version"].is_u64(), "{room}");
    assert!(
        !sync.to_string().contains(&value) && !sync.to_string().contains(&code_id),
        "a resident never sees the carrier's code: {sync}"
    );
    let (status, _) = f.get(&alice, &format!("/v1/codes/{code_id}"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nor may she put codes there.
    let (status, problem) = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "lock_ids": [f.package_room]}),
    );
    assert_eq!(status, StatusCode::NOT_FOUND, "{problem}");

    // Her visit carries the job sealed for the lock's session, and its
    // receipt back: the code settles. The job she carried never shows her
    // the digits (it is sealed for the lock).
    let mut lock = f.firmware(&f.package_room);
    let results = deliver(&f, &alice, &mut lock);
    assert_eq!(results["results"][0]["status"], "accepted", "{results}");
    let (_, carriers) = f.get(&mia, "/v1/manage/carriers");
    assert_eq!(state_on(&carriers[0]["code"], &f.package_room), "active");
    assert!(matches!(
        lock.enter_code(&value, Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
}
