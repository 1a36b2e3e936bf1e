//! Offline guest codes against the real server and the real lock firmware:
//! a resident's "works offline" guest code opens its doors with no phone
//! visit, per-door digits, one-time delivery codes, first uses reported by
//! the next visit, deletion revoking the code once a phone carries it; and
//! as an attacker would try it: doors the resident may not use, another
//! property's locks, a window that ended, more codes than a window has,
//! doors whose model cannot, and the offline key in any answer.

mod support;

use jiff::{SignedDuration, Timestamp};
use keyway_api::decode_bytes;
use keyway_codes::AccessPoint;
use keyway_lock::{DenyReason, Entry, Lock, LockConfig};
use keyway_protocol::provisioning::ProvisioningFile;
use keyway_protocol::seal::derive_key_bytes;
use keyway_protocol::{LockKeys, Op};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, visit};

fn at(offset_minutes: i64) -> String {
    (Timestamp::now() + SignedDuration::from_mins(offset_minutes)).to_string()
}

fn window(from_minutes: i64, until_minutes: i64) -> Value {
    json!({"type": "window", "from": at(from_minutes), "until": at(until_minutes)})
}

/// A "works offline" guest code of `guest_type`.
fn offline_guest(
    f: &Fixture,
    token: &str,
    guest_type: &str,
    schedule: Value,
    lock_ids: Option<Vec<&str>>,
) -> (StatusCode, Value) {
    let mut body = json!({"kind": "guest", "mode": "generate", "guest_type": guest_type,
        "schedule": schedule, "offline": true});
    if let Some(ids) = lock_ids {
        body["lock_ids"] = json!(ids);
    }
    f.write(token, Method::POST, "/v1/codes", body)
}

/// The offline code of `code` on `lock`.
fn on(code: &Value, lock: &str) -> Value {
    code["offline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["lock_id"] == lock)
        .cloned()
        .unwrap_or_else(|| panic!("no offline code on {lock}: {code}"))
}

fn digits(code: &Value, lock: &str) -> String {
    on(code, lock)["value"].as_str().unwrap().to_owned()
}

fn typed(lock: &mut Lock, digits: &str) -> Entry {
    lock.enter_code(digits, Timestamp::now()).unwrap()
}

fn code_of(f: &Fixture, token: &str, id: &str) -> Value {
    let (status, code) = f.get(token, &format!("/v1/codes/{id}"));
    assert_eq!(status, StatusCode::OK, "{code}");
    code
}

fn problem(answer: (StatusCode, Value)) -> (StatusCode, String) {
    (answer.0, answer.1["code"].as_str().unwrap_or("").to_owned())
}

fn job_pending(f: &Fixture, token: &str, lock: &str) -> bool {
    let (_, locks) = f.get(token, "/v1/manage/locks");
    locks["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == lock)
        .unwrap()["job_pending"]
        .as_bool()
        .unwrap()
}

/// A lock of another provisioning file of the fixture.
fn provisioned(f: &Fixture, file: &str, lock_id: &str) -> Lock {
    let text = std::fs::read_to_string(f.dir.path().join(file)).unwrap();
    let file = ProvisioningFile::parse(&text).unwrap();
    let lock = file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == lock_id)
        .unwrap();
    Lock::new(LockConfig::from(lock), &lock.root_key)
}

#[test]
fn an_offline_code_opens_its_door_with_no_visit_and_its_first_use_reaches_the_server() {
    let f = Fixture::new();
    let (alice, mia) = (f.login("alice", "phone"), f.login("mia", "desk"));
    let (status, code) = offline_guest(&f, &alice, "temporary", window(-10, 90), None);
    assert_eq!(status, StatusCode::CREATED, "{code}");
    // Active at once, on no slot: no job waits for the door.
    assert_eq!(code["status"], "active");
    assert_eq!(code["locks"], json!([]));
    assert!(!job_pending(&f, &mia, &f.lock_4b));
    let offline = on(&code, &f.lock_4b);
    assert_eq!(offline["state"], "active");
    assert_eq!(offline["one_time"], false);
    assert_eq!(offline["first_used_at"], Value::Null);
    let value = digits(&code, &f.lock_4b);
    assert_eq!(value.len(), 8);
    assert_eq!(code["value"], value.as_str());
    // The window shown covers the one asked for, in whole hours.
    let starts: Timestamp = offline["starts_at"].as_str().unwrap().parse().unwrap();
    let ends: Timestamp = offline["ends_at"].as_str().unwrap().parse().unwrap();
    assert!(starts <= Timestamp::now() - SignedDuration::from_mins(10));
    assert!(ends >= Timestamp::now() + SignedDuration::from_mins(90));
    assert_eq!(starts.as_second() % 3600, 0);
    assert!(ends.as_second() - starts.as_second() <= 24 * 3600);

    // A factory-new lock that no phone ever visited opens for it, again and again.
    let mut door = f.firmware(&f.lock_4b);
    for _ in 0..2 {
        assert!(matches!(
            typed(&mut door, &value),
            Entry::GrantedOffline {
                consumed: false,
                ..
            }
        ));
    }
    // Only on its door: the entrance has another key.
    let mut entrance = f.firmware(&f.entrance);
    assert_eq!(
        typed(&mut entrance, &value),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    );
    // Nor when its window is over, on the lock's own clock.
    assert_eq!(
        door.enter_code(&value, ends),
        Some(Entry::Denied {
            reason: DenyReason::UnknownCode
        })
    );

    // A phone passes and relays the events: the code is in use since its first use.
    visit(&f, &alice, &mut door);
    let code = code_of(&f, &alice, code["id"].as_str().unwrap());
    let offline = on(&code, &f.lock_4b);
    assert_eq!(
        (offline["state"].as_str(), code["status"].as_str()),
        (Some("active"), Some("active"))
    );
    assert!(offline["first_used_at"].is_string(), "{offline}");
    let (_, audit) = f.get(&mia, &format!("/v1/locks/{}/audit", f.lock_4b));
    let used: Vec<&Value> = audit["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "offline_code_used")
        .collect();
    assert_eq!(used.len(), 2, "{audit}");
    assert_eq!(used[0]["code_id"], code["id"]);
    assert!(
        !audit.to_string().contains(&value),
        "events never carry digits"
    );
}

#[test]
fn a_delivery_code_has_one_time_digits_per_door_and_shows_used_once_each_door_used_it() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let (status, code) = offline_guest(
        &f,
        &alice,
        "delivery",
        window(0, 120),
        Some(vec![&f.entrance, &f.lock_4b]),
    );
    assert_eq!(status, StatusCode::CREATED, "{code}");
    let id = code["id"].as_str().unwrap();
    let (at_entrance, at_door) = (digits(&code, &f.entrance), digits(&code, &f.lock_4b));
    assert_ne!(at_entrance, at_door, "each door has its own digits");
    assert_eq!(on(&code, &f.entrance)["one_time"], true);

    let mut entrance = f.firmware(&f.entrance);
    let mut door = f.firmware(&f.lock_4b);
    assert_eq!(
        typed(&mut entrance, &at_door),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    );
    assert!(matches!(
        typed(&mut entrance, &at_entrance),
        Entry::GrantedOffline { consumed: true, .. }
    ));
    assert_eq!(
        typed(&mut entrance, &at_entrance),
        Entry::Denied {
            reason: DenyReason::AlreadyUsed
        }
    );
    // The phone relays the entrance's events: used there, the door's still active.
    visit(&f, &alice, &mut entrance);
    let code = code_of(&f, &alice, id);
    assert_eq!(on(&code, &f.entrance)["state"], "used");
    assert_eq!(on(&code, &f.lock_4b)["state"], "active");
    assert_eq!(code["status"], "active");
    assert!(matches!(
        typed(&mut door, &at_door),
        Entry::GrantedOffline { consumed: true, .. }
    ));
    visit(&f, &alice, &mut door);
    let code = code_of(&f, &alice, id);
    assert_eq!(code["status"], "used", "{code}");
}

#[test]
fn a_deleted_offline_code_is_refused_once_a_phone_carried_the_revocation() {
    let f = Fixture::new();
    let (alice, mia) = (f.login("alice", "phone"), f.login("mia", "desk"));
    let (_, code) = offline_guest(&f, &alice, "temporary", window(0, 300), None);
    let id = code["id"].as_str().unwrap().to_owned();
    let value = digits(&code, &f.lock_4b);
    let mut door = f.firmware(&f.lock_4b);
    assert!(matches!(
        typed(&mut door, &value),
        Entry::GrantedOffline { .. }
    ));
    // The door needs no job to accept it, so it cannot be disabled or changed.
    for action in ["disable", "change"] {
        let answer = f.write(
            &alice,
            Method::POST,
            &format!("/v1/codes/{id}/{action}"),
            json!({"mode": "generate"}),
        );
        assert_eq!(
            problem(answer),
            (StatusCode::CONFLICT, "offline_code".into())
        );
    }

    let deleted = f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{id}"),
        json!({}),
    );
    assert_eq!(deleted["status"], "deleted");
    assert_eq!(on(&deleted, &f.lock_4b)["state"], "removing");
    assert!(job_pending(&f, &mia, &f.lock_4b));
    // Until a phone passes, the door still opens for it.
    assert!(matches!(
        typed(&mut door, &value),
        Entry::GrantedOffline { .. }
    ));
    let carried = visit(&f, &alice, &mut door);
    let keys = {
        let file = f.provisioning();
        let lock = file
            .locks
            .iter()
            .find(|l| l.lock_id.to_string() == f.lock_4b)
            .unwrap()
            .clone();
        LockKeys::derive(&lock.root_key, lock.lock_id)
    };
    let job = keys
        .open_job(&decode_bytes(carried.answer["jobs"][0].as_str().unwrap()).unwrap())
        .unwrap();
    assert!(
        matches!(job.ops.as_slice(), [Op::RevokeOffline(_)]),
        "{:?}",
        job.ops
    );
    assert_eq!(
        typed(&mut door, &value),
        Entry::Denied {
            reason: DenyReason::Revoked
        }
    );
    assert!(!job_pending(&f, &mia, &f.lock_4b));
    let (_, audit) = f.get(&mia, &format!("/v1/locks/{}/audit", f.lock_4b));
    assert!(audit.to_string().contains("offline_code_revoked"));
    // The deleted code says the door confirmed the revocation.
    let entry = code_of(&f, &alice, &id);
    assert_eq!(on(&entry, &f.lock_4b)["state"], "removed", "{entry}");
}

#[test]
fn a_recurring_code_works_offline_for_its_first_occurrence_and_carries_its_slot_code_for_the_rest()
{
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let schedule = json!({"type": "recurring", "weekdays": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"],
        "start": "08:00:00", "end": "12:00:00", "time_zone": "UTC"});
    let (status, code) = offline_guest(&f, &alice, "recurring", schedule, None);
    assert_eq!(status, StatusCode::CREATED, "{code}");
    // Its slot code waits for a visit; its offline code does not.
    assert_eq!(code["locks"][0]["state"], "pending");
    let offline = on(&code, &f.lock_4b);
    let starts: Timestamp = offline["starts_at"].as_str().unwrap().parse().unwrap();
    let ends: Timestamp = offline["ends_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        ends.as_second() - starts.as_second(),
        4 * 3600,
        "08:00-12:00 UTC"
    );
    let value = digits(&code, &f.lock_4b);
    assert_ne!(Some(value.as_str()), code["value"].as_str());
    let mut door = f.firmware(&f.lock_4b);
    assert!(matches!(
        door.enter_code(&value, starts),
        Some(Entry::GrantedOffline { .. })
    ));
    assert!(matches!(
        door.enter_code(&value, ends),
        Some(Entry::Denied { .. })
    ));
}

#[test]
fn the_server_refuses_offline_codes_where_the_door_the_kind_or_the_window_cannot_have_them() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    // A permanent guest code, a resident's own code.
    assert_eq!(
        problem(offline_guest(
            &f,
            &alice,
            "permanent",
            json!({"type": "always"}),
            None
        )),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "offline_unsupported".into()
        )
    );
    let own = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate", "offline": true}),
    );
    assert_eq!(
        problem(own),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "offline_unsupported".into()
        )
    );
    // Digits are the server's: no pick.
    let pick = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "pick", "code": "48170592", "guest_type": "temporary",
            "schedule": window(0, 60), "offline": true}),
    );
    assert_eq!(pick.0, StatusCode::BAD_REQUEST, "{}", pick.1);
    // Longer than a week.
    assert_eq!(
        problem(offline_guest(
            &f,
            &alice,
            "temporary",
            window(0, 8 * 24 * 60),
            None
        )),
        (StatusCode::UNPROCESSABLE_ENTITY, "offline_window".into())
    );
    // Two codes per door, kind and window; the third is refused (one
    // schedule for all three, so an hour turning between them changes nothing).
    let same = window(60, 90);
    for _ in 0..2 {
        let (status, body) = offline_guest(&f, &alice, "temporary", same.clone(), None);
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    assert_eq!(
        problem(offline_guest(&f, &alice, "temporary", same, None)),
        (StatusCode::CONFLICT, "offline_limit".into())
    );
    // A door whose keypad has no enter key, or whose model restricts codes.
    let admin = f.admin();
    let mut no_enter =
        keyway_server::admin::LockSpec::new("4B side door", AccessPoint::UnitDoor, Some("4B"));
    no_enter.enter_key = false;
    let no_enter = admin
        .lock(&f.property, &no_enter, "side.json")
        .unwrap()
        .lock_id;
    let mut picky =
        keyway_server::admin::LockSpec::new("4B back door", AccessPoint::UnitDoor, Some("4B"));
    picky.constraints = vec![keyway_codes::policy::ModelConstraint::NoZeros];
    let picky = admin
        .lock(&f.property, &picky, "back.json")
        .unwrap()
        .lock_id;
    for door in [&no_enter, &picky] {
        let answer = offline_guest(
            &f,
            &alice,
            "temporary",
            // Three days on: never the window of the two codes above, whatever
            // the time of day, so Unit 4B's door is not at its limit for it.
            window(3 * 24 * 60, 3 * 24 * 60 + 60),
            Some(vec![&f.lock_4b, door]),
        );
        assert_eq!(
            problem(answer),
            (StatusCode::CONFLICT, "offline_unsupported".into())
        );
    }
    // Nothing of a refused request was written.
    let (_, codes) = f.get(&alice, "/v1/codes");
    assert_eq!(codes["codes"].as_array().unwrap().len(), 2);
}

#[test]
fn offline_codes_reach_only_the_residents_own_doors_and_no_other_propertys_lock() {
    let f = Fixture::new();
    let (alice, bob, sam) = (
        f.login("alice", "phone"),
        f.login("bob", "phone"),
        f.login("sam", "desk"),
    );
    // Another unit's door: as if it did not exist.
    let answer = offline_guest(
        &f,
        &alice,
        "temporary",
        window(0, 60),
        Some(vec![&f.lock_5c]),
    );
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);
    let answer = offline_guest(
        &f,
        &alice,
        "temporary",
        window(0, 60),
        Some(vec![&f.other_lock]),
    );
    assert_eq!(answer.0, StatusCode::NOT_FOUND, "{}", answer.1);
    let (_, code) = offline_guest(
        &f,
        &alice,
        "temporary",
        window(0, 60),
        Some(vec![&f.entrance, &f.lock_4b]),
    );
    let id = code["id"].as_str().unwrap();
    // Bob never sees it; staff see it without digits.
    assert_eq!(
        f.get(&bob, &format!("/v1/codes/{id}")).0,
        StatusCode::NOT_FOUND
    );
    let seen = code_of(&f, &sam, id);
    assert_eq!(seen["value"], Value::Null);
    assert!(
        seen["offline"]
            .as_array()
            .unwrap()
            .iter()
            .all(|o| o["value"].is_null())
    );
    // Bob's door and Oak Tower's lock refuse Alice's digits.
    let mut bobs = f.firmware(&f.lock_5c);
    let mut oak = provisioned(&f, "oak.json", &f.other_lock);
    for lock in [&mut bobs, &mut oak] {
        for door in [&f.entrance, &f.lock_4b] {
            assert_eq!(
                typed(lock, &digits(&code, door)),
                Entry::Denied {
                    reason: DenyReason::UnknownCode
                }
            );
        }
    }
}

#[test]
fn the_offline_key_and_the_digits_stay_on_the_server() {
    let f = Fixture::new();
    let (alice, mia) = (f.login("alice", "phone"), f.login("mia", "desk"));
    let (_, code) = offline_guest(
        &f,
        &alice,
        "delivery",
        window(0, 60),
        Some(vec![&f.entrance, &f.lock_4b]),
    );
    let mut door = f.firmware(&f.lock_4b);
    typed(&mut door, &digits(&code, &f.lock_4b));
    let visited = visit(&f, &alice, &mut door);
    let mut answers = vec![
        code.to_string(),
        visited.answer.to_string(),
        visited.results.to_string(),
    ];
    for (token, path) in [
        (&alice, "/v1/codes"),
        (&alice, "/v1/sync"),
        (&alice, "/v1/doors"),
        (&mia, "/v1/codes"),
        (&mia, "/v1/manage/locks"),
        (&mia, &format!("/v1/locks/{}/audit", f.lock_4b)),
    ] {
        answers.push(f.get(token, path).1.to_string());
    }
    let file = f.provisioning();
    for lock in &file.locks {
        let key = derive_key_bytes(&lock.root_key, lock.lock_id, b"offline");
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let forms = [
            hex.clone(),
            hex.to_uppercase(),
            keyway_api::encode_bytes(&key),
        ];
        for form in &forms {
            for answer in &answers {
                assert!(
                    !answer.contains(form.as_str()),
                    "the offline key in an answer"
                );
            }
            assert!(!f.server().log_lines().join("\n").contains(form.as_str()));
        }
    }
    // The digits are sealed at rest.
    let stored: Vec<(String,)> = f.db.inspect().rows("SELECT value FROM offline_codes");
    assert_eq!(stored.len(), 2);
    for (sealed,) in stored {
        for door in [&f.entrance, &f.lock_4b] {
            assert!(!sealed.contains(&digits(&code, door)));
        }
    }
}

#[test]
fn a_lock_that_lost_its_storage_gets_its_revocations_again_and_no_one_time_code_back() {
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    let (_, delivery) = offline_guest(&f, &alice, "delivery", window(0, 120), None);
    let (_, temporary) = offline_guest(&f, &alice, "temporary", window(0, 120), None);
    let (one_time, window_code) = (
        digits(&delivery, &f.lock_4b),
        digits(&temporary, &f.lock_4b),
    );
    let mut door = f.firmware(&f.lock_4b);
    visit(&f, &alice, &mut door);
    assert!(matches!(
        typed(&mut door, &one_time),
        Entry::GrantedOffline { consumed: true, .. }
    ));
    let id = temporary["id"].as_str().unwrap();
    f.ok(
        &alice,
        Method::DELETE,
        &format!("/v1/codes/{id}"),
        json!({}),
    );
    visit(&f, &alice, &mut door);
    assert_eq!(
        typed(&mut door, &window_code),
        Entry::Denied {
            reason: DenyReason::Revoked
        }
    );
    // The lock loses its storage, and with it the spent mark and the
    // revocation: the first visit of its new life sends both back.
    let mut door = f.firmware(&f.lock_4b);
    visit(&f, &alice, &mut door);
    for code in [&one_time, &window_code] {
        assert_eq!(
            typed(&mut door, code),
            Entry::Denied {
                reason: DenyReason::Revoked
            }
        );
    }
    let delivery = code_of(&f, &alice, delivery["id"].as_str().unwrap());
    assert_eq!(on(&delivery, &f.lock_4b)["state"], "expired", "{delivery}");
}
