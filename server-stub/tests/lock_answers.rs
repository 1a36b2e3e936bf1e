//! What a lock says, as an attacker in the building would misuse it, against
//! the real server and the real lock firmware: statuses replayed, from
//! another lock, or from someone who may not reach the door; receipts
//! replayed in a flood; a job kept after the change it carried was undone;
//! a recovery that could re-arm a spent one-time PIN; a lock that lost its
//! storage. Each attempt must fail (`docs/security.md`).

mod support;

use std::time::Duration;

use jiff::Timestamp;
use keyway_api::decode_bytes;
use keyway_lock::{DenyReason, Entry, Lock};
use keyway_protocol::{BaseVersion, ErrorCode, Job, JobId, LockKeys, Message, Op};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{
    Fixture, lock_status, open_visit, post_receipts, present, state_on, sync_entry, visit,
};

fn code(f: &Fixture, token: &str, id: &str) -> Value {
    let (status, body) = f.get(token, &format!("/v1/codes/{id}"));
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

fn granted(lock: &mut Lock, digits: &str) -> bool {
    matches!(
        lock.enter_code(digits, Timestamp::now()),
        Some(Entry::Granted { .. })
    )
}

/// The lock's reconciliation columns: (needs_recovery, confirmed_version).
fn lock_row(f: &Fixture, lock_id: &str) -> (i64, i64) {
    f.db.inspect()
        .rows(&format!(
            "SELECT needs_recovery, confirmed_version FROM locks WHERE id = '{lock_id}'"
        ))
        .remove(0)
}

/// Audit entries of `kind` on `lock_id`.
fn audit_count(f: &Fixture, lock_id: &str, kind: &str) -> usize {
    let rows: Vec<(String,)> = f.db.inspect().rows(&format!(
        "SELECT id FROM audit_log WHERE lock_id = '{lock_id}' AND kind = '{kind}'"
    ));
    rows.len()
}

/// The keys of a provisioned lock: the test seals what only an attacker
/// holding them could (to move a lock where the server cannot explain it).
fn keys(f: &Fixture, lock_id: &str) -> LockKeys {
    let file = f.provisioning();
    let lock = file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == lock_id)
        .unwrap();
    LockKeys::derive(&lock.root_key, lock.lock_id)
}

/// Waits for a fresh minute, so a per-minute limit is not cut by the window.
fn early_in_the_minute() {
    while Timestamp::now().as_second().rem_euclid(60) > 45 {
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_replayed_or_foreign_status_settles_nothing_and_starts_no_recovery() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let bob = f.login("bob", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    // A status from before anything happened, kept by a phone.
    let early = open_visit(&f, &alice, &f.lock_4b);
    let stale = lock_status(&mut unit, &early);
    unit.disconnected();
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    visit(&f, &alice, &mut unit);
    assert_eq!(state_on(&code(&f, &alice, &id), &f.lock_4b), "active");
    let settled = lock_row(&f, &f.lock_4b);
    let recoveries = audit_count(&f, &f.lock_4b, "recovery_started");

    // The stale status (version 0, an empty table) presented to a new visit:
    // it does not answer this visit's challenge.
    let fresh = open_visit(&f, &alice, &f.lock_4b);
    let (status, problem) = present(&f, &alice, fresh["visit_id"].as_str().unwrap(), &stale);
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("bad_status")),
        "{problem}"
    );
    // Presented, withheld until now, to the visit it answered: the server
    // learned more of the lock since that visit was opened, so the status may
    // be older than what it knows. Refused, and the visit is spent.
    let (status, problem) = present(&f, &alice, early["visit_id"].as_str().unwrap(), &stale);
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("visit_stale")),
        "{problem}"
    );
    // Posted as a receipt: statuses belong to their visit.
    let results = post_receipts(&f, &alice, std::slice::from_ref(&stale));
    assert_eq!(results["results"][0]["status"], "status_needs_visit");
    // A status of another lock for this visit.
    let mut other = f.firmware(&f.lock_5c);
    let foreign = lock_status(&mut other, &fresh);
    let (status, _) = present(&f, &alice, fresh["visit_id"].as_str().unwrap(), &foreign);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // Bob may not reach Alice's door: no visit, and not hers either.
    let (status, _) = f.call_raw(
        Some(&bob),
        Method::POST,
        &format!("/v1/locks/{}/visits", f.lock_4b),
        None,
        None,
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let genuine = lock_status(&mut unit, &fresh);
    let (status, _) = present(&f, &bob, fresh["visit_id"].as_str().unwrap(), &genuine);
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Nothing was settled: no recovery, the same confirmed version.
    assert_eq!(lock_row(&f, &f.lock_4b), settled);
    assert_eq!(audit_count(&f, &f.lock_4b, "recovery_started"), recoveries);
    assert!(sync_entry(&f, &alice, &f.lock_4b)["target_version"].is_null());

    // The genuine status settles; presented again it gets the same answer,
    // and to a later visit it is refused.
    let (status, answer) = present(&f, &alice, fresh["visit_id"].as_str().unwrap(), &genuine);
    assert_eq!(status, StatusCode::OK, "{answer}");
    let (_, again) = present(&f, &alice, fresh["visit_id"].as_str().unwrap(), &genuine);
    assert_eq!(again, answer);
    let later = open_visit(&f, &alice, &f.lock_4b);
    let (status, _) = present(&f, &alice, later["visit_id"].as_str().unwrap(), &genuine);
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(lock_row(&f, &f.lock_4b), settled);
    assert_eq!(audit_count(&f, &f.lock_4b, "recovery_started"), recoveries);
}

#[test]
fn a_version_mismatch_receipt_starts_no_recovery() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    // The server seals the job for a session; before it is given, an
    // attacker with the lock's keys moves the lock on in that session.
    let opened = open_visit(&f, &alice, &f.lock_4b);
    let status = lock_status(&mut unit, &opened);
    let (_, answer) = present(&f, &alice, opened["visit_id"].as_str().unwrap(), &status);
    let job = decode_bytes(answer["jobs"][0].as_str().unwrap()).unwrap();
    let keys = keys(&f, &f.lock_4b);
    let session = keys
        .open_status(&status, support::challenge_of(&opened))
        .unwrap()
        .session;
    let detour = Job {
        job_id: JobId::random(),
        session,
        base: BaseVersion::Exact(0),
        target: 1,
        issued_at: Timestamp::now(),
        expires_at: Timestamp::now() + jiff::SignedDuration::from_hours(1),
        audit_ack: 0,
        ops: vec![Op::Remove { slot: 9 }],
    };
    unit.apply(&keys.seal_job(&detour).unwrap(), Timestamp::now())
        .unwrap();
    let mismatch = unit.apply(&job, Timestamp::now()).unwrap();
    let before = audit_count(&f, &f.lock_4b, "recovery_started");
    let results = post_receipts(&f, &alice, &[mismatch]);
    assert_eq!(results["results"][0]["status"], "accepted");
    assert_eq!(lock_row(&f, &f.lock_4b).0, 0, "no recovery from a receipt");
    assert_eq!(audit_count(&f, &f.lock_4b, "recovery_started"), before);
}

#[test]
fn a_flood_of_replayed_receipts_and_visits_is_limited_and_takes_no_write_lock() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let done = visit(&f, &alice, &mut unit);
    let receipt = done.receipts[0].clone();
    let head: Vec<(i64,)> = f.db.inspect().rows(&format!(
        "SELECT change_seq FROM properties WHERE id = '{}'",
        f.property
    ));

    if f.db.is_postgres() {
        // The property's write lock held elsewhere: a replayed receipt is
        // still answered (it needs no write).
        let db = f.db.inspect();
        let mut holder = db.block_on(db.pool.begin()).unwrap();
        db.block_on(
            sqlx::query("UPDATE properties SET change_seq = change_seq WHERE id = $1")
                .bind(f.property.clone())
                .execute(&mut *holder),
        )
        .unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::scope(|scope| {
            scope.spawn(|| tx.send(post_receipts(&f, &alice, std::slice::from_ref(&receipt))));
            let answer = rx
                .recv_timeout(Duration::from_secs(20))
                .expect("answered while the property's write lock was held");
            assert_eq!(answer["results"][0]["status"], "accepted");
            db.block_on(holder.rollback()).unwrap();
        });
    } else {
        eprintln!("the write-lock part needs PostgreSQL's row lock; the PostgreSQL run tests it");
    }

    early_in_the_minute();
    let mut statuses = Vec::new();
    for _ in 0..62 {
        let (status, _) = f.write(
            &alice,
            Method::POST,
            "/v1/receipts",
            json!({"receipts": [keyway_api::encode_bytes(&receipt)]}),
        );
        statuses.push(status);
    }
    assert!(
        statuses[..58].iter().all(|s| *s == StatusCode::OK),
        "{statuses:?}"
    );
    assert_eq!(statuses[61], StatusCode::TOO_MANY_REQUESTS);
    let after: Vec<(i64,)> = f.db.inspect().rows(&format!(
        "SELECT change_seq FROM properties WHERE id = '{}'",
        f.property
    ));
    assert_eq!(after, head, "replays wrote nothing");

    // Visits are limited the same way.
    early_in_the_minute();
    let mut statuses = Vec::new();
    for _ in 0..62 {
        let (status, _) = f.call_raw(
            Some(&alice),
            Method::POST,
            &format!("/v1/locks/{}/visits", f.lock_4b),
            None,
            None,
        );
        statuses.push(status);
    }
    assert_eq!(statuses[61], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
}

#[test]
fn a_change_undone_before_delivery_never_reaches_the_lock() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "4821"}),
    );
    // A phone takes the job at the door and walks away without giving it.
    let opened = open_visit(&f, &alice, &f.lock_4b);
    let status = lock_status(&mut unit, &opened);
    let (_, answer) = present(&f, &alice, opened["visit_id"].as_str().unwrap(), &status);
    let kept = decode_bytes(answer["jobs"][0].as_str().unwrap()).unwrap();
    unit.disconnected();
    // The code is deleted before any phone delivered it.
    f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{}", created["id"].as_str().unwrap()),
        json!({}),
    );
    // Back at the door, the kept job is refused whatever session is open.
    assert_eq!(
        unit.apply(&kept, Timestamp::now()),
        Err(ErrorCode::NoSession)
    );
    let later = open_visit(&f, &alice, &f.lock_4b);
    lock_status(&mut unit, &later);
    let answer = unit.handle(&Message::Jobs(vec![kept]).encode(), Timestamp::now());
    assert_eq!(
        Message::decode(&answer).unwrap(),
        Message::Error(ErrorCode::NoSession)
    );
    assert!(!granted(&mut unit, "4821"));
    // And an honest visit brings nothing that puts it.
    unit.disconnected();
    visit(&f, &alice, &mut unit);
    assert!(unit.state().slots.is_empty());
    assert!(!granted(&mut unit, "4821"));
}

/// Stores a one-time PIN for a new recipient and delivers it to the package
/// room; its id and digits.
fn one_time_pin(f: &Fixture, sam: &str, room: &mut Lock) -> (String, String) {
    let rid = f.ok(
        sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let pin = f.ok(
        sam,
        Method::POST,
        &format!("/v1/manage/recipients/{rid}/one-time-pin"),
        json!({}),
    );
    visit(f, sam, room);
    (
        pin["id"].as_str().unwrap().to_owned(),
        pin["value"].as_str().unwrap().to_owned(),
    )
}

#[test]
fn a_recovery_never_re_arms_a_spent_one_time_pin() {
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let mut room = f.firmware(&f.package_room);
    let carrier = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": "UPS", "mode": "generate"}),
    );
    let carrier_code = carrier["code"]["value"].as_str().unwrap().to_owned();
    let (_, pin) = one_time_pin(&f, &sam, &mut room);
    // Forty entries of the carrier's code, then the one-time PIN: the next
    // status carries the first 32 events, not the use of the PIN.
    for _ in 0..40 {
        assert!(granted(&mut room, &carrier_code));
    }
    assert!(granted(&mut room, &pin));
    // An attacker with the lock's keys moved its version where the server
    // cannot explain it: the next visit rebuilds the whole table, with the
    // PIN the server still thinks unused.
    let keys = keys(&f, &f.package_room);
    let challenge = [7; 16];
    let status = keys
        .open_status(
            &room.status(challenge, 0, Timestamp::now()).unwrap(),
            challenge,
        )
        .unwrap();
    let detour = Job {
        job_id: JobId::random(),
        session: status.session,
        base: BaseVersion::Exact(status.version),
        target: status.version + 1,
        issued_at: Timestamp::now(),
        expires_at: Timestamp::now() + jiff::SignedDuration::from_hours(1),
        audit_ack: 0,
        ops: vec![Op::Remove { slot: 200 }],
    };
    room.apply(&keys.seal_job(&detour).unwrap(), Timestamp::now())
        .unwrap();
    room.disconnected();
    let before = audit_count(&f, &f.package_room, "recovery_started");
    visit(&f, &sam, &mut room);
    assert_eq!(
        audit_count(&f, &f.package_room, "recovery_started"),
        before + 1
    );
    assert_eq!(
        room.enter_code(&pin, Timestamp::now()),
        Some(Entry::Denied {
            reason: DenyReason::AlreadyUsed
        }),
        "the rebuilt table keeps the spent PIN spent"
    );
    assert!(granted(&mut room, &carrier_code));
}

#[test]
fn a_lock_that_lost_its_storage_keeps_its_new_events_and_no_one_time_pin() {
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let mut room = f.firmware(&f.package_room);
    let (pin_id, pin) = one_time_pin(&f, &sam, &mut room);
    for _ in 0..3 {
        room.enter_code("999999", Timestamp::now());
    }
    visit(&f, &sam, &mut room);
    let old_wrong = audit_count(&f, &f.package_room, "wrong_code");
    assert_eq!(old_wrong, 3);
    // The lock loses its storage: a new life, events numbered from 1 again,
    // and no memory of which one-time PINs were used.
    let mut reborn = f.firmware(&f.package_room);
    assert_ne!(reborn.epoch(), room.epoch());
    reborn.enter_code("888888", Timestamp::now());
    reborn.enter_code("777777", Timestamp::now());
    visit(&f, &sam, &mut reborn);
    assert_eq!(
        audit_count(&f, &f.package_room, "wrong_code"),
        old_wrong + 2,
        "the new life's events 1 and 2 are not taken for the old life's"
    );
    assert_eq!(audit_count(&f, &f.package_room, "lock_reset"), 1);
    // The one-time PIN ended with the old life, and the rebuilt table does
    // not arm it again.
    assert_eq!(code(&f, &sam, &pin_id)["status"], "expired");
    assert!(!granted(&mut reborn, &pin));
    assert_eq!(lock_row(&f, &f.package_room).0, 0, "recovered");
}

#[test]
fn a_lockout_reaches_the_audit_trail_whatever_entries_came_between() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    visit(&f, &alice, &mut unit);
    // Four guesses, her own code, one more guess: the keypad locks.
    for guess in ["1000", "1001", "1002", "1003"] {
        assert!(!granted(&mut unit, guess));
    }
    assert!(granted(&mut unit, "3859"));
    assert!(matches!(
        unit.enter_code("1004", Timestamp::now()),
        Some(Entry::LockedOut { .. })
    ));
    assert!(unit.advertisement(Timestamp::now()).events_pending);
    visit(&f, &alice, &mut unit);
    assert_eq!(audit_count(&f, &f.lock_4b, "lockout_started"), 1);
    assert_eq!(audit_count(&f, &f.lock_4b, "wrong_code"), 5);
    // The visit acknowledged them: the lock forgot what the server has.
    assert!(unit.state().audit.is_empty());
}
