//! Backup codes against the real server and the real lock firmware: a
//! manager turns a door's pool on, a phone's visit loads it, a resident
//! whose guest code has not reached the door hands out a backup code that
//! opens it once, its use is the guest code's, and it is retired when the
//! code arrives or ends; and as an attacker would try it: other units,
//! staff, managers and other properties asking for one, doors the code is
//! not meant for, codes not due, more hand-outs than allowed, the digits in
//! any list, sync or database copy, and a backup code nobody was given.

mod support;

use jiff::{SignedDuration, Timestamp};
use keyway_lock::{DenyReason, Entry, Lock};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, visit};

fn at(offset_minutes: i64) -> String {
    (Timestamp::now() + SignedDuration::from_mins(offset_minutes)).to_string()
}

/// A guest code of `guest_type` with a window from/until minutes from now,
/// on the unit's door.
fn guest(f: &Fixture, token: &str, guest_type: &str, from: i64, until: i64) -> Value {
    guest_on(f, token, guest_type, (from, until), &[&f.lock_4b])
}

/// A guest code on `locks`.
fn guest_on(
    f: &Fixture,
    token: &str,
    guest_type: &str,
    (from, until): (i64, i64),
    locks: &[&str],
) -> Value {
    f.ok(
        token,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "guest_type": guest_type, "name": "Dog walker",
            "schedule": {"type": "window", "from": at(from), "until": at(until)}, "lock_ids": locks}),
    )
}

fn set_pool(f: &Fixture, token: &str, lock: &str, size: u8) -> (StatusCode, Value) {
    f.write(
        token,
        Method::PUT,
        &format!("/v1/manage/locks/{lock}/backup-pool"),
        json!({"size": size}),
    )
}

fn backup(f: &Fixture, token: &str, code: &Value, lock: &str) -> (StatusCode, Value) {
    let id = code["id"].as_str().unwrap();
    f.write(
        token,
        Method::POST,
        &format!("/v1/codes/{id}/backup"),
        json!({"lock_id": lock}),
    )
}

fn problem(answer: (StatusCode, Value)) -> (StatusCode, String) {
    (answer.0, answer.1["code"].as_str().unwrap_or("").to_owned())
}

fn pool_of(f: &Fixture, lock: &str) -> Value {
    let mia = f.login("mia", "pool");
    let (_, locks) = f.get(&mia, "/v1/manage/locks");
    locks["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == lock)
        .unwrap()["backup_pool"]
        .clone()
}

fn code_of(f: &Fixture, token: &str, code: &Value) -> Value {
    let (status, view) = f.get(
        token,
        &format!("/v1/codes/{}", code["id"].as_str().unwrap()),
    );
    assert_eq!(status, StatusCode::OK, "{view}");
    view
}

fn typed(lock: &mut Lock, digits: &str) -> Entry {
    lock.enter_code(digits, Timestamp::now()).unwrap()
}

/// A manager's pool of `size` on `lock`, loaded by a resident's visit.
fn loaded_pool(f: &Fixture, lock_id: &str, size: u8) -> Lock {
    let mia = f.login("mia", "desk");
    let (status, view) = set_pool(f, &mia, lock_id, size);
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(
        view["backup_pool"],
        json!({"size": size, "ready": 0, "handed_out": 0})
    );
    assert_eq!(view["job_pending"], true);
    let mut lock = f.firmware(lock_id);
    visit(f, &f.tokens["alice"], &mut lock);
    assert_eq!(pool_of(f, lock_id)["ready"], u32::from(size));
    lock
}

#[test]
fn a_backup_code_opens_the_door_once_for_a_guest_code_that_has_not_reached_it() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut lock = loaded_pool(&f, &f.lock_4b, 2);
    // The delivery window began; no phone has carried the code to the door.
    let code = guest(&f, &alice, "delivery", -5, 120);
    assert_eq!(support::state_on(&code, &f.lock_4b), "pending");
    let (status, handed) = backup(&f, &alice, &code, &f.lock_4b);
    assert_eq!(status, StatusCode::OK, "{handed}");
    assert_eq!(handed["state"], "active");
    assert_eq!(handed["lock_name"], "Unit 4B");
    let digits = handed["value"].as_str().unwrap().to_owned();
    assert_eq!(digits.len(), 8);
    assert_ne!(json!(digits), code["value"]);
    // Asking again (a retry, another phone of the unit) gives the same one.
    assert_eq!(backup(&f, &alice, &code, &f.lock_4b).1, handed);
    assert_eq!(code_of(&f, &alice, &code)["backups"], json!([handed]));
    assert_eq!(pool_of(&f, &f.lock_4b)["handed_out"], 1);
    // The guest types it: the door opens once.
    assert!(matches!(
        typed(&mut lock, &digits),
        Entry::Granted { consumed: true, .. }
    ));
    assert!(matches!(
        typed(&mut lock, &digits),
        Entry::Denied {
            reason: DenyReason::AlreadyUsed
        }
    ));
    // The next phone at the door relays the event: the use is the guest
    // code's, the backup is spent, the code itself arrives, the pool refills.
    visit(&f, &alice, &mut lock);
    let view = code_of(&f, &alice, &code);
    assert_eq!(support::state_on(&view, &f.lock_4b), "active");
    assert_eq!(view["backups"][0]["state"], "used");
    assert_eq!(view["backups"][0]["value"], Value::Null);
    let (_, uses) = f.get(
        &alice,
        &format!("/v1/codes/{}/uses", code["id"].as_str().unwrap()),
    );
    let uses = uses["uses"].as_array().unwrap();
    assert_eq!(uses.len(), 1, "{uses:?}");
    assert_eq!(uses[0]["kind"], "backup_code_used");
    assert_eq!(uses[0]["lock_id"], f.lock_4b.as_str());
    visit(&f, &alice, &mut lock);
    assert_eq!(
        pool_of(&f, &f.lock_4b),
        json!({"size": 2, "ready": 2, "handed_out": 0})
    );
    // The code's own digits open the door now.
    let own = code["value"].as_str().unwrap();
    assert!(matches!(typed(&mut lock, own), Entry::Granted { .. }));
}

#[test]
fn a_backup_code_is_retired_when_its_code_arrives_or_ends() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let mut lock = loaded_pool(&f, &f.lock_4b, 1);
    let arrives = guest(&f, &alice, "temporary", -5, 60);
    let (_, handed) = backup(&f, &alice, &arrives, &f.lock_4b);
    let unused = handed["value"].as_str().unwrap().to_owned();
    // This visit carries the code; its receipt retires the backup, and the
    // visit after removes it from the lock.
    visit(&f, &alice, &mut lock);
    assert_eq!(
        code_of(&f, &alice, &arrives)["backups"][0]["state"],
        "removing"
    );
    visit(&f, &alice, &mut lock);
    assert_eq!(
        code_of(&f, &alice, &arrives)["backups"][0]["state"],
        "removed"
    );
    assert!(matches!(
        typed(&mut lock, &unused),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    ));
    // Deleting a code retires its backup in the same write.
    let deleted = guest(&f, &alice, "delivery", -5, 60);
    let (_, handed) = backup(&f, &alice, &deleted, &f.lock_4b);
    let gone = handed["value"].as_str().unwrap().to_owned();
    let id = deleted["id"].as_str().unwrap();
    let view = f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{id}"),
        json!({}),
    );
    assert_eq!(view["backups"][0]["state"], "removing");
    visit(&f, &alice, &mut lock);
    assert!(matches!(
        typed(&mut lock, &gone),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    ));
    assert_eq!(pool_of(&f, &f.lock_4b)["ready"], 1);
}

#[test]
fn nobody_gets_a_backup_code_that_is_not_theirs() {
    let f = Fixture::new();
    let (alice, bob) = (f.login("alice", "phone"), f.login("bob", "phone"));
    let (sam, mia, zed) = (
        f.login("sam", "desk"),
        f.login("mia", "desk"),
        f.tokens["zed"].clone(),
    );
    loaded_pool(&f, &f.lock_4b, 2);
    let code = guest_on(
        &f,
        &alice,
        "delivery",
        (-5, 120),
        &[&f.lock_4b, &f.entrance],
    );
    // Another unit, the staff, the manager (who may disable the code but
    // never learn digits that open the unit's door), another property.
    assert_eq!(
        problem(backup(&f, &bob, &code, &f.lock_4b)),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    assert_eq!(
        problem(backup(&f, &sam, &code, &f.lock_4b)),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    assert_eq!(
        problem(backup(&f, &mia, &code, &f.lock_4b)),
        (StatusCode::FORBIDDEN, "forbidden".into())
    );
    assert_eq!(
        problem(backup(&f, &zed, &code, &f.lock_4b)),
        (StatusCode::NOT_FOUND, "not_found".into())
    );
    // Doors the code is not meant for: another unit's, another property's.
    for door in [&f.lock_5c, &f.other_lock] {
        assert_eq!(
            problem(backup(&f, &alice, &code, door)).0,
            StatusCode::NOT_FOUND
        );
    }
    // A code that does not open the door now, and a resident's own code.
    let later = guest(&f, &alice, "temporary", 24 * 60, 25 * 60);
    assert_eq!(
        problem(backup(&f, &alice, &later, &f.lock_4b)),
        (StatusCode::CONFLICT, "backup_not_due".into())
    );
    let own = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    assert_eq!(
        problem(backup(&f, &alice, &own, &f.lock_4b)),
        (StatusCode::CONFLICT, "backup_guest_only".into())
    );
    // A door without a pool.
    assert_eq!(
        problem(backup(&f, &alice, &code, &f.entrance)),
        (StatusCode::CONFLICT, "backup_unavailable".into())
    );
    // One unit cannot drain a door's pool.
    for _ in 0..2 {
        let stuck = guest(&f, &alice, "delivery", -5, 120);
        assert_eq!(backup(&f, &alice, &stuck, &f.lock_4b).0, StatusCode::OK);
    }
    assert_eq!(
        problem(backup(&f, &alice, &code, &f.lock_4b)),
        (StatusCode::CONFLICT, "backup_limit".into())
    );
    // Nothing of the refusals was written: two hand-outs, no more.
    assert_eq!(pool_of(&f, &f.lock_4b)["handed_out"], 2);
    assert_eq!(code_of(&f, &alice, &code)["backups"], json!([]));
}

#[test]
fn only_managers_set_a_pool_and_only_where_the_keypad_allows() {
    let f = Fixture::new();
    let (alice, sam, mia, zed) = (
        f.login("alice", "phone"),
        f.login("sam", "desk"),
        f.login("mia", "desk"),
        f.tokens["zed"].clone(),
    );
    assert_eq!(
        problem(set_pool(&f, &alice, &f.lock_4b, 3)).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        problem(set_pool(&f, &sam, &f.lock_4b, 3)).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        problem(set_pool(&f, &zed, &f.lock_4b, 3)).0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        problem(set_pool(&f, &mia, &f.lock_4b, 6)).0,
        StatusCode::BAD_REQUEST
    );
    let admin = f.admin();
    let mut spec = keyway_server::admin::LockSpec::new(
        "4B side door",
        keyway_codes::AccessPoint::UnitDoor,
        Some("4B"),
    );
    spec.enter_key = false;
    let no_enter = admin.lock(&f.property, &spec, "side.json").unwrap().lock_id;
    assert_eq!(
        problem(set_pool(&f, &mia, &no_enter, 2)),
        (StatusCode::CONFLICT, "backup_unsupported".into())
    );
    assert_eq!(pool_of(&f, &f.lock_4b)["size"], 0);
    assert_eq!(pool_of(&f, &no_enter)["size"], 0);
    // Lowering the pool retires what it no longer keeps.
    let mut lock = loaded_pool(&f, &f.lock_4b, 3);
    assert_eq!(set_pool(&f, &mia, &f.lock_4b, 1).0, StatusCode::OK);
    visit(&f, &alice, &mut lock);
    assert_eq!(
        pool_of(&f, &f.lock_4b),
        json!({"size": 1, "ready": 1, "handed_out": 0})
    );
}

#[test]
fn backup_digits_show_in_no_list_sync_or_database_copy_and_a_guessed_one_is_flagged() {
    let f = Fixture::new();
    let (alice, sam, mia) = (
        f.login("alice", "phone"),
        f.login("sam", "desk"),
        f.login("mia", "desk"),
    );
    let mut lock = loaded_pool(&f, &f.lock_4b, 2);
    // No caller sees the pool's codes as codes.
    for token in [&alice, &sam, &mia] {
        for path in ["/v1/codes", "/v1/sync"] {
            let (_, answer) = f.get(token, path);
            let kinds: Vec<&Value> = answer["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| &c["kind"])
                .collect();
            assert!(!kinds.contains(&&json!("backup")), "{path}: {answer}");
        }
    }
    // The database holds them sealed; only the data key opens them.
    let rows: Vec<(String, String)> =
        f.db.inspect()
            .rows("SELECT id, value FROM codes WHERE kind = 'backup' ORDER BY created_at");
    assert_eq!(rows.len(), 2);
    let key = f.data_key();
    let mut opened = Vec::new();
    for (id, sealed) in &rows {
        assert!(!sealed.chars().all(|c| c.is_ascii_digit()), "{sealed}");
        let digits = key
            .open_str(
                keyway_server::crypto::Cell::new("codes", "value", id),
                sealed,
            )
            .unwrap();
        assert_eq!(digits.len(), 8);
        opened.push(digits);
    }
    // Someone who learned one (the data key and a copy of the database)
    // gets in once; the lock's next report flags it as never handed out, and
    // it is nobody's use.
    assert!(matches!(
        typed(&mut lock, &opened[0]),
        Entry::Granted { .. }
    ));
    visit(&f, &alice, &mut lock);
    let (_, trail) = f.get(&mia, &format!("/v1/locks/{}/audit", f.lock_4b));
    let kinds: Vec<&str> = trail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert!(kinds.contains(&"backup_used_unissued"), "{kinds:?}");
    // The pool's codes went on the lock as backups, never as anyone's code.
    assert_eq!(
        kinds.iter().filter(|k| **k == "backup_added").count(),
        3,
        "{kinds:?}"
    );
    assert!(!kinds.contains(&"code_added"), "{kinds:?}");
    let (_, sync) = f.get(&alice, "/v1/sync");
    assert!(
        sync["uses"].as_array().is_none_or(|u| u.is_empty()),
        "{sync}"
    );
}

#[test]
fn a_lock_that_lost_its_storage_takes_its_handed_out_backup_with_it() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    loaded_pool(&f, &f.lock_4b, 1);
    let code = guest(&f, &alice, "delivery", -5, 120);
    let (_, handed) = backup(&f, &alice, &code, &f.lock_4b);
    let digits = handed["value"].as_str().unwrap().to_owned();
    // The lock comes back factory-new (a new life): its one-time codes are
    // ended, and the recovery the visit carries never arms them again. As
    // soon as the server reads the new life, before any job, the backup
    // shows as gone and its digits are no longer shown.
    let mut reset = f.firmware(&f.lock_4b);
    let opened = support::open_visit(&f, &alice, &f.lock_4b);
    let status = support::lock_status(&mut reset, &opened);
    let visit_id = opened["visit_id"].as_str().unwrap();
    let (answered, _) = support::present(&f, &alice, visit_id, &status);
    assert_eq!(answered, StatusCode::OK);
    let view = code_of(&f, &alice, &code);
    assert_ne!(view["backups"][0]["state"], "active", "{view}");
    assert_eq!(view["backups"][0]["value"], Value::Null);
    reset.disconnected();
    visit(&f, &alice, &mut reset);
    assert!(matches!(
        typed(&mut reset, &digits),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    ));
    // The pool is whole again: the hand-out no longer counts.
    assert_eq!(
        pool_of(&f, &f.lock_4b),
        json!({"size": 1, "ready": 1, "handed_out": 0})
    );
}
