//! Threats from `docs/security.md` that the server answers: a database dump
//! shows no code, token, address or key; rate limits count the real client
//! (a forwarded address only from a trusted proxy, so clients cannot pick
//! their own); forgot-PIN answers before it looks the address up; a receipt
//! altered by the phone that carries it settles nothing; a revoked token is
//! refused at once, by the cheapest request (an up-to-date sync) too.

mod support;

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Column as _, Row as _};
use support::{
    Fixture, eventually, lock_status, occurs, open_visit, post_receipts, present, state_on,
};

/// Every cell of every table, as text.
fn dump(f: &Fixture) -> Vec<String> {
    dump_tables(f, &[])
}

/// Every cell of every table but `except`, as text.
fn dump_tables(f: &Fixture, except: &[&str]) -> Vec<String> {
    let db = f.db.inspect();
    // Every table but sqlx's record of the migrations it ran (their SQL).
    let tables: Vec<(String,)> = if f.db.is_postgres() {
        db.rows("SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' AND tablename <> '_sqlx_migrations'")
    } else {
        db.rows("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%' AND name <> '_sqlx_migrations'")
    };
    assert!(tables.len() > 10, "{tables:?}");
    let mut cells = Vec::new();
    for (table,) in tables {
        if except.contains(&table.as_str()) {
            continue;
        }
        let rows = db
            .block_on(
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                    .fetch_all(&db.pool),
            )
            .unwrap();
        for row in rows {
            for column in row.columns() {
                let i = column.ordinal();
                let text = if let Ok(text) = row.try_get::<Option<String>, _>(i) {
                    text
                } else if let Ok(number) = row.try_get::<Option<i64>, _>(i) {
                    number.map(|n| n.to_string())
                } else if let Ok(bytes) = row.try_get::<Option<Vec<u8>>, _>(i) {
                    bytes.map(|b| String::from_utf8_lossy(&b).into_owned())
                } else {
                    None
                };
                cells.extend(text);
            }
        }
    }
    cells
}

#[test]
fn a_database_dump_shows_no_code_token_address_or_key() {
    let f = Fixture::new();
    let (alice, sam, mia) = (&f.tokens["alice"], &f.tokens["sam"], &f.tokens["mia"]);
    let device = f.login("alice", "Alice's phone");
    // Six-digit codes, so that a match in the dump cannot be chance.
    let (_, mut policy) = f.get(mia, "/v1/manage/policy");
    policy["six_digit_codes"] = json!(true);
    f.ok(mia, Method::PUT, "/v1/manage/policy", policy);
    let mut secrets: Vec<(String, &str)> = Vec::new();
    for body in [
        json!({"kind": "resident", "mode": "generate", "length": 6}),
        json!({"kind": "resident", "mode": "pick", "code": "583920"}),
        json!({"kind": "guest", "mode": "generate", "length": 6}),
    ] {
        let code = f.ok(&device, Method::POST, "/v1/codes", body);
        secrets.push((
            code["value"].as_str().unwrap().to_owned(),
            "a resident's code",
        ));
    }
    let courier = f.ok(
        sam,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "Dana"}),
    );
    let pin = f.ok(
        sam,
        Method::PUT,
        &format!(
            "/v1/manage/couriers/{}/pin",
            courier["id"].as_str().unwrap()
        ),
        json!({"mode": "pick", "code": "730194"}),
    );
    secrets.push((pin["value"].as_str().unwrap().to_owned(), "a courier PIN"));
    let staff_pin = f.ok(
        mia,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["sam"]),
        json!({"mode": "generate"}),
    );
    secrets.push((
        staff_pin["value"].as_str().unwrap().to_owned(),
        "a staff PIN",
    ));
    let recipient = f.ok(
        sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi.dump@example.org", "phone": "+1 555 010 9876"}),
    );
    let one_time = f.ok(
        sam,
        Method::POST,
        &format!(
            "/v1/manage/recipients/{}/one-time-pin",
            recipient["id"].as_str().unwrap()
        ),
        json!({"notify": "both"}),
    );
    secrets.push((
        one_time["value"].as_str().unwrap().to_owned(),
        "a one-time PIN",
    ));
    eventually("the PIN's messages", || {
        (f.delivery_log().len() == 2).then_some(())
    });
    // A resident's contact details for use notices.
    f.ok(
        &device,
        Method::PUT,
        "/v1/me/contact",
        json!({"email": "alice.dump@example.org", "phone": "+1 555 010 4321"}),
    );

    let mut long_secrets: Vec<(String, &str)> = vec![
        (device.clone(), "a device token"),
        ("ravi.dump@example.org".into(), "an email address"),
        ("15550109876".into(), "a phone number"),
        ("alice.dump@example.org".into(), "a user's contact address"),
        ("15550104321".into(), "a user's contact number"),
    ];
    for token in f.tokens.values() {
        long_secrets.push((token.clone(), "an API token"));
    }
    for lock in f.provisioning().locks {
        long_secrets.push((lock.root_key.to_hex(), "a lock's root key"));
    }
    if let Some((_, key)) = f.db.env.iter().find(|(k, _)| k == "KEYWAY_DATA_KEY") {
        long_secrets.push((key.clone(), "the data key"));
    } else {
        let key = std::fs::read_to_string(f.dir.path().join("keyway.sqlite.key")).unwrap();
        long_secrets.push((key.trim().to_owned(), "the data key"));
    }

    let cells = dump(&f);
    for cell in &cells {
        for (secret, what) in &secrets {
            assert!(
                !occurs(cell, secret),
                "{what} is readable in the database: {cell}"
            );
        }
        for (secret, what) in &long_secrets {
            assert!(
                !cell.contains(secret.as_str()),
                "{what} is readable in the database"
            );
        }
    }
    // The file itself, byte for byte (SQLite: the database and its log).
    if !f.db.is_postgres() {
        for file in ["keyway.sqlite", "keyway.sqlite-wal"] {
            let bytes = std::fs::read(f.dir.path().join(file)).unwrap_or_default();
            let text = String::from_utf8_lossy(&bytes);
            for (secret, what) in &long_secrets {
                assert!(!text.contains(secret.as_str()), "{what} is in {file}");
            }
        }
    }
    // The digits are still there for whom they belong to.
    let (_, codes) = f.get(alice, "/v1/codes");
    assert_eq!(codes["codes"].as_array().unwrap().len(), 3);
}

/// Forgot-PIN requests from `forwarded` (an `X-Forwarded-For` value), each
/// for another unknown address; returns the statuses.
fn forgot_from(f: &Fixture, forwarded: &str, n: usize) -> Vec<StatusCode> {
    (0..n)
        .map(|i| {
            f.client
                .post(f.server().url("/v1/public/forgot-pin"))
                .header("x-forwarded-for", forwarded)
                .json(&json!({"property_id": f.property, "email": format!("nobody{i}.{}@example.org", rand::random::<u32>())}))
                .send()
                .unwrap()
                .status()
        })
        .collect()
}

/// Forgot-PIN allows 10 requests an hour per client, in windows that start on
/// the hour: wait if this one is about to end.
fn early_in_the_hour() {
    while Timestamp::now().as_second().rem_euclid(3600) > 3590 {
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_forwarded_address_counts_only_behind_a_trusted_proxy() {
    let f = Fixture::with_env(&[("KEYWAY_TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1")]);
    early_in_the_hour();
    let accepted = vec![StatusCode::ACCEPTED; 10];
    assert_eq!(forgot_from(&f, "203.0.113.7", 10), accepted);
    assert_eq!(
        forgot_from(&f, "203.0.113.7", 1),
        [StatusCode::TOO_MANY_REQUESTS],
        "the 11th request an hour from one client"
    );
    // Text a client writes to the left of its real address changes nothing,
    // nor do further trusted proxies to its right.
    assert_eq!(
        forgot_from(&f, "198.51.100.1, 203.0.113.7, 10.1.2.3", 1),
        [StatusCode::TOO_MANY_REQUESTS]
    );
    // Another client behind the same proxy has its own allowance.
    assert_eq!(forgot_from(&f, "203.0.113.8", 1), [StatusCode::ACCEPTED]);
    let problem: Value = f
        .client
        .post(f.server().url("/v1/public/forgot-pin"))
        .header("x-forwarded-for", "203.0.113.7")
        .json(&json!({"property_id": f.property, "email": "a@example.org"}))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(problem["code"], "rate_limited");
}

#[test]
fn a_forwarded_address_is_ignored_without_a_trusted_proxy() {
    let f = Fixture::new();
    early_in_the_hour();
    let statuses: Vec<StatusCode> = (0..11)
        .flat_map(|i| forgot_from(&f, &format!("203.0.113.{i}"), 1))
        .collect();
    assert_eq!(&statuses[..10], vec![StatusCode::ACCEPTED; 10]);
    assert_eq!(
        statuses[10],
        StatusCode::TOO_MANY_REQUESTS,
        "a client cannot pick its address to escape the limit"
    );
}

#[test]
fn forgot_pin_answers_before_it_looks_the_address_up() {
    let f = Fixture::new();
    let sam = &f.tokens["sam"];
    f.ok(
        sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org"}),
    );
    if !f.db.is_postgres() {
        // SQLite has one writer at a time, so holding the property's lock
        // would hold the rate-limit counters too; the PostgreSQL run tests it.
        eprintln!("skipped on SQLite: needs a row lock that leaves other tables writable");
        return;
    }
    // Hold the property's write lock: issuing a PIN must wait for it.
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
        scope.spawn(|| {
            let answer = f.call_raw(
                None,
                Method::POST,
                "/v1/public/forgot-pin",
                Some(json!({"property_id": f.property, "email": "ravi@example.org"})),
                None,
            );
            tx.send(answer).unwrap();
        });
        let (status, _) = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("the answer came while the lookup could not run");
        assert_eq!(status, StatusCode::ACCEPTED);
        assert!(f.delivery_log().is_empty(), "no PIN could be issued yet");
        db.block_on(holder.rollback()).unwrap();
    });
    // Then the known recipient gets the PIN.
    let log = eventually("the forgot-PIN message", || {
        let log = f.delivery_log();
        (log.len() == 1).then_some(log)
    });
    assert_eq!(log[0]["to"], "ravi@example.org");
}

/// A door holding one code: the slot-table digest of a job that put it is
/// a function of those digits alone (slot 0, a resident code, always), so a
/// stored digest would give them up to anyone who tries all 10,000. Jobs keep
/// a keyed MAC of the digest instead: no cell of the dump is the digest of
/// any 4-digit code in that slot.
#[test]
fn a_job_record_does_not_yield_the_code_it_put() {
    use keyway_codes::code::{Code, CodeKind};
    use keyway_codes::schedule::Schedule;
    use keyway_protocol::SlotEntry;
    use keyway_protocol::digest_of;
    let f = Fixture::new();
    let alice = f.login("alice", "phone");
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    let mut unit = f.firmware(&f.lock_4b);
    support::visit(&f, &alice, &mut unit);
    assert_eq!(unit.state().slots.len(), 1);
    let jobs: Vec<(String,)> = f.db.inspect().rows("SELECT digest_mac FROM jobs");
    assert!(!jobs.is_empty());
    let cells = dump(&f);
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    for n in 0..10_000 {
        let entry = SlotEntry {
            credential: keyway_protocol::Credential::Code(Code::parse(&format!("{n:04}")).unwrap()),
            kind: CodeKind::Resident,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        };
        let digest = hex(&digest_of([(0, &entry)]));
        assert!(
            !cells.iter().any(|cell| cell.contains(&digest)),
            "a stored value is the table digest of {n:04}"
        );
    }
}

/// A malicious resident relaying jobs can neither forge nor alter what the
/// lock says: a receipt with one byte changed, or one sealed by another
/// lock, is refused by name and settles nothing; the true receipt still
/// settles the code.
#[test]
fn an_altered_or_misdirected_receipt_settles_nothing() {
    let f = Fixture::new();
    let alice = f.login("alice", "Alice's phone");
    let created = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(state_on(&created, &f.lock_4b), "pending");

    let mut lock = f.firmware(&f.lock_4b);
    let opened = open_visit(&f, &alice, &f.lock_4b);
    let status = lock_status(&mut lock, &opened);
    let (_, answer) = present(&f, &alice, opened["visit_id"].as_str().unwrap(), &status);
    let job = answer["jobs"][0]
        .as_str()
        .and_then(keyway_api::decode_bytes)
        .expect("a job for the unit door");
    let receipt = lock.apply(&job, Timestamp::now()).unwrap();

    // Every single-byte change past the envelope's header is caught.
    let mut altered = receipt.clone();
    let last = altered.len() - 1;
    altered[last] ^= 0x01;
    let mut middle = receipt.clone();
    middle[receipt.len() / 2] ^= 0x80;
    // The unit door's receipt relabelled as another lock's.
    let other = f.firmware(&f.lock_5c).config().lock_id;
    let mut relabelled = receipt.clone();
    let at = receipt
        .windows(8)
        .position(|w| w == lock.config().lock_id.0)
        .expect("the envelope names its lock");
    relabelled[at..at + 8].copy_from_slice(&other.0);

    let results = post_receipts(&f, &alice, &[altered, middle, relabelled]);
    for result in results["results"].as_array().unwrap() {
        assert_ne!(result["status"], "accepted", "{results}");
    }
    assert_eq!(results["results"][0]["status"], "bad_seal", "{results}");
    // Relabelled as a neighbour's door, which Alice may not reach: the server
    // does not even try it.
    assert_eq!(results["results"][2]["status"], "unknown_lock", "{results}");
    let (_, code) = f.get(&alice, &format!("/v1/codes/{id}"));
    assert_eq!(state_on(&code, &f.lock_4b), "pending", "{code}");

    let results = post_receipts(&f, &alice, &[receipt]);
    assert_eq!(results["results"][0]["status"], "accepted", "{results}");
    let (_, code) = f.get(&alice, &format!("/v1/codes/{id}"));
    assert_eq!(state_on(&code, &f.lock_4b), "active", "{code}");
}

#[test]
fn text_with_a_nul_character_is_refused_and_changes_nothing() {
    // PostgreSQL cannot store a NUL in text; both backends refuse it the
    // same way, with a clear error, before anything is written.
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let (status, problem) = f.write(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ra\u{0}vi", "email": "ravi@example.org"}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    assert_eq!(problem["code"], "invalid_request");
    let (_, list) = f.get(&sam, "/v1/manage/recipients");
    assert_eq!(list, json!([]), "nothing was created");
    for path in [
        "/v1/codes/ab%00cd",
        "/v1/sync?cursor=%00",
        "/v1/locks/%00/audit",
    ] {
        let (status, problem) = f.get(&sam, path);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {problem}");
        assert_eq!(problem["code"], "invalid_request", "{path}");
    }
    let (status, problem) = f.call_raw(
        None,
        Method::POST,
        "/v1/login",
        Some(json!({"token": f.tokens["alice"], "device_name": "a\u{0}b"})),
        None,
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "{problem}");
    // A backslash followed by "u0000" is ordinary text.
    let (status, _) = f.write(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi \\u0000", "email": "ravi@example.org"}),
    );
    assert_eq!(status, StatusCode::CREATED);
}

/// A request body around picked digits.
type BodyOf<'a> = Box<dyn Fn(&str) -> Value + 'a>;

/// A resident picking digits where only generated codes are allowed (a
/// shared door, a guest code) gets the same answer whatever the digits,
/// before any duplicate check: a neighbour's code on the entrance is not
/// told apart from digits nobody holds.
#[test]
fn a_refused_pick_answers_the_same_whatever_codes_neighbours_hold() {
    let f = Fixture::new();
    let (alice, bob) = (f.login("alice", "phone"), f.login("bob", "phone"));
    // Bob's generated code sits on his door and on the main entrance.
    let bobs = f.ok(
        &bob,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let held = bobs["value"].as_str().unwrap().to_owned();
    assert_eq!(state_on(&bobs, &f.entrance), "pending");
    let free = ["3859", "4826", "7305"]
        .into_iter()
        .find(|c| *c != held)
        .unwrap();
    let answer = |path: &str, body: Value| {
        let (status, problem) = f.write(&alice, Method::POST, path, body);
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
        problem
    };
    // Alice's own generated code is on the entrance too: changing it to
    // picked digits is a pick on a shared door.
    let mine = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let change = format!("/v1/codes/{}/change", mine["id"].as_str().unwrap());
    let asks: Vec<(&str, BodyOf)> = vec![
        (
            "/v1/codes",
            Box::new(
                |c: &str| json!({"kind": "resident", "mode": "pick", "code": c, "lock_ids": [f.entrance]}),
            ),
        ),
        (
            "/v1/codes",
            Box::new(
                |c: &str| json!({"kind": "resident", "mode": "pick", "code": c, "lock_ids": [f.lock_4b, f.entrance]}),
            ),
        ),
        (
            "/v1/codes",
            Box::new(
                |c: &str| json!({"kind": "guest", "mode": "pick", "code": c, "lock_ids": [f.lock_4b, f.entrance]}),
            ),
        ),
        (
            &change,
            Box::new(|c: &str| json!({"mode": "pick", "code": c})),
        ),
    ];
    for (path, body) in &asks {
        let expected = answer(path, body(free));
        assert_eq!(expected["code"], "policy_violation");
        let rules: Vec<&str> = expected["violations"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["rule"].as_str().unwrap())
            .collect();
        assert_eq!(rules, ["custom_not_allowed"], "{path}: {expected}");
        // A neighbour's digits, digits that break every rule, not digits at all.
        for digits in [held.as_str(), "1234", "1111", "12a4", "385"] {
            assert_eq!(answer(path, body(digits)), expected, "{path} {digits}");
        }
    }
    // Nothing was created or changed.
    let (_, codes) = f.get(&alice, "/v1/codes");
    assert_eq!(codes["codes"].as_array().unwrap().len(), 1);
    assert_eq!(codes["codes"][0]["value"], mine["value"]);
}

/// Picks of package-room codes (carrier codes, courier and staff PINs) may
/// answer "duplicate" about another holder's code, so a staff member gets
/// few of them: 10 an hour (and 20 a day), refused ones included.
#[test]
fn package_room_code_picks_are_limited_to_ten_an_hour() {
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    early_in_the_hour();
    let path = format!("/v1/manage/staff/{}/pin", f.users["sam"]);
    let mut statuses = Vec::new();
    for _ in 0..11 {
        // Six ones: refused by the policy, and counted all the same.
        let (status, problem) = f.write(
            &sam,
            Method::PUT,
            &path,
            json!({"mode": "pick", "code": "111111"}),
        );
        statuses.push((status, problem["code"].as_str().unwrap().to_owned()));
    }
    let refused = (
        StatusCode::UNPROCESSABLE_ENTITY,
        "policy_violation".to_owned(),
    );
    assert_eq!(statuses[..10], vec![refused; 10]);
    assert_eq!(
        statuses[10],
        (StatusCode::TOO_MANY_REQUESTS, "rate_limited".to_owned())
    );
    // Other package-room picks share the allowance; generating does not pick.
    let courier = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "Dana"}),
    );
    let courier_pin = format!(
        "/v1/manage/couriers/{}/pin",
        courier["id"].as_str().unwrap()
    );
    let (status, _) = f.write(
        &sam,
        Method::PUT,
        &courier_pin,
        json!({"mode": "pick", "code": "730194"}),
    );
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    f.ok(&sam, Method::PUT, &courier_pin, json!({"mode": "generate"}));
}

/// A visit to the package room: the real lock firmware applies the job the
/// server seals for its session, and the receipt goes back.
fn deliver_room(f: &Fixture, token: &str, room: &mut keyway_lock::Lock) {
    let done = support::visit(f, token, room);
    assert!(!done.receipts.is_empty(), "a job: {:?}", done.answer);
}

/// A recipient has one PIN at a time: a new one, from staff's "Send
/// One-Time PIN" or from forgot-PIN, ends the previous one, which leaves the
/// package room in the same job that brings the new one.
#[test]
fn a_new_one_time_pin_ends_the_previous_one_in_the_same_job() {
    use keyway_lock::Entry;
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let rid = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let send = format!("/v1/manage/recipients/{rid}/one-time-pin");
    let first = f.ok(&sam, Method::POST, &send, json!({}));
    let mut room = f.firmware(&f.package_room);
    deliver_room(&f, &sam, &mut room);
    let second = f.ok(&sam, Method::POST, &send, json!({}));
    let (_, ended) = f.get(
        &sam,
        &format!("/v1/codes/{}", first["id"].as_str().unwrap()),
    );
    assert_eq!(ended["status"], "deleted", "{ended}");
    assert_eq!(state_on(&ended, &f.package_room), "removing");
    // One job: the old PIN leaves as the new one arrives.
    deliver_room(&f, &sam, &mut room);
    assert!(matches!(
        room.enter_code(first["value"].as_str().unwrap(), Timestamp::now()),
        Some(Entry::Denied { .. })
    ));
    // Forgot-PIN does the same.
    let (status, _) = f.call_raw(
        None,
        Method::POST,
        "/v1/public/forgot-pin",
        Some(json!({"property_id": f.property, "email": "ravi@example.org"})),
        None,
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    let second_id = second["id"].as_str().unwrap();
    eventually("the second PIN ends", || {
        let (_, code) = f.get(&sam, &format!("/v1/codes/{second_id}"));
        (code["status"] == "deleted").then_some(())
    });
    let (_, third) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    deliver_room(&f, &sam, &mut room);
    assert!(matches!(
        room.enter_code(second["value"].as_str().unwrap(), Timestamp::now()),
        Some(Entry::Denied { .. })
    ));
    assert!(matches!(
        room.enter_code(third["value"].as_str().unwrap(), Timestamp::now()),
        Some(Entry::Granted { consumed: true, .. })
    ));
    let (_, codes) = f.get(&sam, "/v1/codes");
    let active: Vec<&Value> = codes["codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["holder_id"] == rid.as_str() && c["status"] == "active")
        .collect();
    assert_eq!(active.len(), 1, "{active:?}");
}

/// Forgot-PIN from a client that rotates its addresses (behind a trusted
/// proxy) and the recipient's addresses: at most 5 new PINs a day for one
/// recipient (counted after the answer, which stays the same), and at most
/// 60 requests an hour for the property.
#[test]
fn forgot_pin_caps_hold_whatever_addresses_and_clients_rotate() {
    let f = Fixture::with_env(&[("KEYWAY_TRUSTED_PROXIES", "127.0.0.1")]);
    early_in_the_hour();
    let sam = f.login("sam", "desk");
    let rid = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org", "phone": "+1 555 010 9876"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut client = 0u32;
    let mut forgot = |address: Value| {
        client += 1;
        let mut body = json!({"property_id": f.property});
        body.as_object_mut()
            .unwrap()
            .extend(address.as_object().unwrap().clone());
        f.client
            .post(f.server().url("/v1/public/forgot-pin"))
            .header("x-forwarded-for", format!("203.0.113.{client}"))
            .json(&body)
            .send()
            .unwrap()
            .status()
    };
    // Three times by email, three times by phone: each address's own limit
    // (3 an hour) lets all six through.
    for _ in 0..3 {
        assert_eq!(
            forgot(json!({"email": "ravi@example.org"})),
            StatusCode::ACCEPTED
        );
        assert_eq!(
            forgot(json!({"phone": "+15550109876"})),
            StatusCode::ACCEPTED
        );
    }
    eventually("five PINs", || (f.delivery_log().len() >= 5).then_some(()));
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(
        f.delivery_log().len(),
        5,
        "the sixth request issued nothing"
    );
    let (_, codes) = f.get(&sam, "/v1/codes");
    let mine: Vec<&Value> = codes["codes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["holder_id"] == rid.as_str())
        .collect();
    // Each new PIN ended the one before (the list leaves deleted codes out).
    assert_eq!(mine.len(), 1, "{mine:?}");
    assert_eq!(mine[0]["status"], "active");
    // The property's hourly cap: 60 requests, whoever and whatever they ask.
    let statuses: Vec<StatusCode> = (0..55)
        .map(|i| forgot(json!({"email": format!("nobody{i}@example.org")})))
        .collect();
    assert_eq!(statuses[..54], vec![StatusCode::ACCEPTED; 54]);
    assert_eq!(statuses[54], StatusCode::TOO_MANY_REQUESTS);
}

/// The development `log` sender's file holds PINs and addresses: it is its
/// owner's alone (0600), also when it was there before with wider rights.
#[cfg(unix)]
#[test]
fn the_delivery_log_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;
    let f = Fixture::new();
    let sam = f.login("sam", "desk");
    let rid = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = f.dir.path().join("keyway-deliveries.jsonl");
    let mode = || std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    let send = format!("/v1/manage/recipients/{rid}/one-time-pin");
    f.ok(&sam, Method::POST, &send, json!({}));
    eventually("the first message", || {
        (f.delivery_log().len() == 1).then_some(())
    });
    assert_eq!(mode(), 0o600, "a new delivery log");
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    f.ok(&sam, Method::POST, &send, json!({}));
    eventually("the second message", || {
        (f.delivery_log().len() == 2).then_some(())
    });
    assert_eq!(mode(), 0o600, "a delivery log that was readable by others");
}

/// An attacker with a copy of the database and write access to it moves
/// ciphertexts between rows: a manager's staff-PIN into a courier's code,
/// one recipient's email into another's. Every sealed value is bound to its
/// table, column and row, so the API answers an error, never the other value.
#[test]
fn a_ciphertext_copied_into_another_row_does_not_open() {
    let f = Fixture::new();
    let (sam, mia) = (f.login("sam", "desk"), f.login("mia", "desk"));
    let mias = f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["mia"]),
        json!({"mode": "generate"}),
    );
    let courier = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "Dana"}),
    );
    let courier_id = courier["id"].as_str().unwrap();
    let pin = f.ok(
        &sam,
        Method::PUT,
        &format!("/v1/manage/couriers/{courier_id}/pin"),
        json!({"mode": "generate"}),
    );
    let mut recipients = Vec::new();
    for (name, email) in [
        ("Ravi", "ravi.copy@example.org"),
        ("Lena", "lena.copy@example.org"),
    ] {
        recipients.push(
            f.ok(
                &sam,
                Method::POST,
                "/v1/manage/recipients",
                json!({"name": name, "email": email}),
            )["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let db = f.db.inspect();
    let copy = |sql: &str, from: &str, to: &str| {
        db.block_on(
            sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
                .bind(from.to_owned())
                .bind(to.to_owned())
                .execute(&db.pool),
        )
        .unwrap();
    };
    // The manager's PIN ciphertext, in the courier's code row and placements.
    copy(
        "UPDATE codes SET value = (SELECT value FROM codes WHERE id = $1) WHERE id = $2",
        mias["id"].as_str().unwrap(),
        pin["id"].as_str().unwrap(),
    );
    copy(
        "UPDATE placements SET value = (SELECT value FROM placements WHERE code_id = $1) WHERE code_id = $2",
        mias["id"].as_str().unwrap(),
        pin["id"].as_str().unwrap(),
    );
    // Ravi's email ciphertext in Lena's row.
    copy(
        "UPDATE recipients SET email = (SELECT email FROM recipients WHERE id = $1) WHERE id = $2",
        &recipients[0],
        &recipients[1],
    );
    let mia_pin = mias["value"].as_str().unwrap();
    for path in [
        format!("/v1/codes/{}", pin["id"].as_str().unwrap()),
        "/v1/manage/couriers".to_owned(),
        "/v1/codes".to_owned(),
        format!("/v1/manage/couriers/{courier_id}/qr"),
        "/v1/manage/recipients".to_owned(),
    ] {
        let (status, answer) = f.get(&sam, &path);
        assert_eq!(
            status,
            StatusCode::INTERNAL_SERVER_ERROR,
            "{path}: {answer}"
        );
        assert_eq!(answer["code"], "internal");
        let text = answer.to_string();
        assert!(
            !occurs(&text, mia_pin) && !text.contains("ravi.copy"),
            "{text}"
        );
    }
    // The courier's key card cannot be verified against the moved PIN either.
    let (status, _) = f.write(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{courier_id}/key-card"),
        json!({"pin": mia_pin, "key_card_id": "C"}),
    );
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

/// The data key's hex digits, as the test's server processes get them.
fn data_key_hex(f: &Fixture) -> String {
    match f.db.env.iter().find(|(k, _)| k == "KEYWAY_DATA_KEY") {
        Some((_, hex)) => hex.clone(),
        None => std::fs::read_to_string(f.dir.path().join("keyway.sqlite.key"))
            .unwrap()
            .trim()
            .to_owned(),
    }
}

/// Seals `plain` as servers did before values were bound to their cells:
/// ChaCha20-Poly1305 under the data key's derived AEAD key, no associated
/// data, base64 of nonce || ciphertext || tag.
fn legacy_seal(hex: &str, plain: &str) -> String {
    use base64::Engine as _;
    use ring::{aead, hkdf};
    struct Len32;
    impl hkdf::KeyType for Len32 {
        fn len(&self) -> usize {
            32
        }
    }
    let bytes: Vec<u8> = (0..32)
        .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
        .collect();
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"keyway server data key v1").extract(&bytes);
    let mut aead_key = [0u8; 32];
    prk.expand(&[b"aead"], Len32)
        .unwrap()
        .fill(&mut aead_key)
        .unwrap();
    let key =
        aead::LessSafeKey::new(aead::UnboundKey::new(&aead::CHACHA20_POLY1305, &aead_key).unwrap());
    let nonce: [u8; 12] = rand::random();
    let mut buf = plain.as_bytes().to_vec();
    key.seal_in_place_append_tag(
        aead::Nonce::assume_unique_for_key(nonce),
        aead::Aad::empty(),
        &mut buf,
    )
    .unwrap();
    base64::engine::general_purpose::STANDARD.encode([nonce.as_slice(), &buf].concat())
}

/// A database written before sealed values were bound to their cells (and
/// with an idempotency answer stored as plain JSON, as older servers did) is
/// re-sealed once when a server starts on it; everything still reads back.
#[test]
fn an_old_database_is_rebound_once_at_start() {
    use keyway_server::crypto::Cell;
    use keyway_server::db::SEALED_COLUMNS;
    let mut f = Fixture::new();
    let (alice, sam) = (f.login("alice", "phone"), f.login("sam", "desk"));
    let first_key = support::fresh_key();
    let body = json!({"kind": "resident", "mode": "pick", "code": "3859"});
    let (status, created) = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(body.clone()),
        Some(&first_key),
    );
    assert_eq!(status, StatusCode::CREATED);
    let rid = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi.old@example.org", "phone": "+15550104444"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/recipients/{rid}/one-time-pin"),
        json!({"notify": "both"}),
    );
    f.server.take().unwrap().stop();

    // Turn every sealed value back into the old, unbound format.
    let (key, hex) = (f.data_key(), data_key_hex(&f));
    let db = f.db.inspect();
    let run = |sql: String, a: String, b: String| {
        db.block_on(
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(a)
                .bind(b)
                .execute(&db.pool),
        )
        .unwrap();
    };
    let mut rewritten = 0;
    for &(table, column, id) in SEALED_COLUMNS {
        let rows: Vec<(String, String)> = db.rows(&format!(
            "SELECT {id}, {column} FROM {table} WHERE {column} IS NOT NULL"
        ));
        for (row, sealed) in rows {
            let plain = key
                .open_str(Cell::new(table, column, &row), &sealed)
                .unwrap();
            let sql = format!("UPDATE {table} SET {column} = $1 WHERE {id} = $2");
            run(sql, legacy_seal(&hex, &plain), row);
            rewritten += 1;
        }
    }
    assert!(rewritten >= 10, "{rewritten}");
    let idem: Vec<(String, String, String)> =
        db.rows("SELECT principal, key, body FROM idempotency");
    for (principal, idem_key, sealed) in &idem {
        let row = Cell::key_of(&[principal, idem_key]);
        let plain = key
            .open_str(Cell::new("idempotency", "body", &row), sealed)
            .unwrap();
        let stored = if *idem_key == first_key {
            plain
        } else {
            legacy_seal(&hex, &plain)
        };
        db.block_on(
            sqlx::query("UPDATE idempotency SET body = $1 WHERE principal = $2 AND key = $3")
                .bind(stored)
                .bind(principal.clone())
                .bind(idem_key.clone())
                .execute(&db.pool),
        )
        .unwrap();
    }
    db.block_on(sqlx::query("DELETE FROM meta WHERE key = 'seal_format'").execute(&db.pool))
        .unwrap();

    f.server = Some(support::Server::start(f.dir.path(), &f.db, &[]));
    // Everything reads back: the resident's code, the retried write's
    // answer, the recipient's addresses, the queued messages' delivery.
    let (_, codes) = f.get(&alice, "/v1/codes");
    assert_eq!(codes["codes"][0]["value"], "3859");
    let retried = f.call_raw(
        Some(&alice),
        Method::POST,
        "/v1/codes",
        Some(body),
        Some(&first_key),
    );
    assert_eq!(retried, (StatusCode::CREATED, created));
    let (_, list) = f.get(&sam, "/v1/manage/recipients");
    assert_eq!(list[0]["email"], "ravi.old@example.org");
    assert_eq!(list[0]["phone"], "+15550104444");
    let (status, looked) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    assert_eq!(status, StatusCode::OK, "{looked}");
    // Every sealed value is bound now, and the format is recorded.
    for &(table, column, _) in SEALED_COLUMNS {
        let values: Vec<(String,)> = db.rows(&format!(
            "SELECT {column} FROM {table} WHERE {column} IS NOT NULL"
        ));
        assert!(
            values.iter().all(|(v,)| v.starts_with("c1:")),
            "{table}.{column}"
        );
    }
    let bodies: Vec<(String,)> = db.rows("SELECT body FROM idempotency");
    assert!(bodies.iter().all(|(b,)| b.starts_with("c1:")));
    let format: Vec<(String,)> = db.rows("SELECT value FROM meta WHERE key = 'seal_format'");
    assert_eq!(format, [("1".to_owned(),)]);
}

/// Someone with a copy of the database but not the data key tries every
/// 4-digit and 6-digit value offline against every cell of every table:
/// the digits themselves, and their SHA-1, SHA-256 and SHA-512 in hex and
/// base64. Nothing matches: codes are sealed, and every lookup value
/// derived from digits (duplicate and deleted-PIN lookups, rate-limit
/// buckets, idempotency request hashes) is an HMAC under the data key.
#[test]
fn no_stored_cell_yields_digits_to_an_offline_search() {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use keyway_lock::Entry;
    use ring::digest;
    let f = Fixture::new();
    let (alice, sam, mia) = (
        f.login("alice", "phone"),
        f.login("sam", "desk"),
        f.login("mia", "desk"),
    );
    let mut secrets = Vec::new();
    let mut keep = |v: &Value| secrets.push(v["value"].as_str().unwrap().to_owned());
    // Unit codes: picked, generated, a refused pick (a rate-limit bucket),
    // a change, a guest code.
    let picked = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859"}),
    );
    keep(&picked);
    keep(&f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    ));
    keep(&f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    ));
    let _ = f.write(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "1234"}),
    );
    keep(&f.ok(
        &alice,
        Method::POST,
        &format!("/v1/codes/{}/change", picked["id"].as_str().unwrap()),
        json!({"mode": "pick", "code": "4826"}),
    ));
    // Package-room codes: a picked carrier code, courier and staff PINs (one
    // deleted, so a deleted-PIN lookup exists), a key-card check, one-time
    // PINs from staff and from forgot-PIN.
    keep(
        &f.ok(
            &sam,
            Method::POST,
            "/v1/manage/carriers",
            json!({"name": "UPS", "mode": "pick", "code": "7305"}),
        )["code"],
    );
    let courier = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": "Dana"}),
    );
    let courier_id = courier["id"].as_str().unwrap();
    let pin = f.ok(
        &sam,
        Method::PUT,
        &format!("/v1/manage/couriers/{courier_id}/pin"),
        json!({"mode": "pick", "code": "730194"}),
    );
    keep(&pin);
    let _ = f.write(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{courier_id}/key-card"),
        json!({"pin": "730195", "key_card_id": "C"}),
    );
    f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/couriers/{courier_id}/key-card"),
        json!({"pin": "730194", "key_card_id": "C"}),
    );
    let staff = f.ok(
        &sam,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["sam"]),
        json!({"mode": "pick", "code": "582047"}),
    );
    keep(&staff);
    f.ok(
        &sam,
        Method::DELETE,
        &format!("/v1/codes/{}", staff["id"].as_str().unwrap()),
        json!({}),
    );
    keep(&f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["mia"]),
        json!({"mode": "generate"}),
    ));
    let rid = f.ok(
        &sam,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Ravi", "email": "ravi@example.org", "phone": "+15550102030"}),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned();
    keep(&f.ok(
        &sam,
        Method::POST,
        &format!("/v1/manage/recipients/{rid}/one-time-pin"),
        json!({"notify": "both"}),
    ));
    let (status, _) = f.call_raw(
        None,
        Method::POST,
        "/v1/public/forgot-pin",
        Some(json!({"property_id": f.property, "email": "ravi@example.org"})),
        None,
    );
    assert_eq!(status, StatusCode::ACCEPTED);
    eventually("the forgot-PIN message", || {
        (f.delivery_log().len() == 3).then_some(())
    });
    let (_, forgot) = f.get(&sam, &format!("/v1/manage/recipients/{rid}/pin"));
    keep(&forgot);
    // The lock applies its job and reports codes typed at it: audit rows.
    let mut room = f.firmware(&f.package_room);
    deliver_room(&f, &sam, &mut room);
    assert!(matches!(
        room.enter_code("730194", Timestamp::now()),
        Some(Entry::Granted { .. })
    ));
    let _ = room.enter_code("999999", Timestamp::now());
    room.disconnected();
    support::visit(&f, &sam, &mut room);
    let (_, audit) = f.get(&sam, &format!("/v1/locks/{}/audit", f.package_room));
    assert!(audit["entries"].as_array().unwrap().len() > 3, "{audit}");

    // The attacker's side: every cell, cut into tokens.
    let cells = dump(&f);
    let mut tokens = std::collections::HashSet::new();
    for cell in &cells {
        tokens.insert(cell.clone());
        for token in cell.split(|c: char| !(c.is_ascii_alphanumeric() || "+/=_-".contains(c))) {
            if token.len() >= 16 {
                tokens.insert(token.to_owned());
                tokens.insert(token.to_ascii_lowercase());
            }
        }
    }
    let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let algorithms = [
        &digest::SHA1_FOR_LEGACY_USE_ONLY,
        &digest::SHA256,
        &digest::SHA512,
    ];
    let mut tried = 0u64;
    for (len, count) in [(4usize, 10_000u32), (6, 1_000_000)] {
        for n in 0..count {
            let digits = format!("{n:0len$}");
            for algorithm in algorithms {
                let hash = digest::digest(algorithm, digits.as_bytes());
                for derived in [hex(hash.as_ref()), STANDARD.encode(hash.as_ref())] {
                    assert!(
                        !tokens.contains(&derived),
                        "a stored value is an unkeyed hash of {digits}"
                    );
                }
            }
            tried += 1;
        }
    }
    assert_eq!(tried, 1_010_000);
    // And the digits of every code of the run are in no cell as they are.
    assert!(secrets.len() >= 10, "{secrets:?}");
    for cell in &cells {
        for secret in &secrets {
            assert!(
                !occurs(cell, secret),
                "the code {secret} is readable: {cell}"
            );
        }
    }
}

/// The up-to-date sync answers from the property's change counter read with
/// the token, so it never skips the token: no token, a forged one, a
/// logged-out device and the tokens an operator revoked from another
/// process are all refused on the very next request to the same server,
/// and nothing of the property (not even its counter) is told to them.
#[test]
fn an_up_to_date_sync_refuses_revoked_and_forged_tokens_at_once() {
    let f = Fixture::new();
    let phone = f.login("alice", "phone");
    let tablet = f.login("alice", "tablet");
    let (status, first) = f.get(&phone, "/v1/sync");
    assert_eq!(status, StatusCode::OK, "{first}");
    let current = format!("/v1/sync?cursor={}", first["cursor"].as_str().unwrap());
    let refused = |token: Option<&str>, why: &str| {
        let (status, problem) = f.call_raw(token, Method::GET, &current, None, None);
        assert_eq!(
            (status, problem["code"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("unauthorized")),
            "{why}: {problem}"
        );
        assert!(problem.get("cursor").is_none(), "{why}: {problem}");
    };
    refused(None, "no token");
    refused(Some("kwd_forged"), "a forged device token");
    refused(Some("kwa_forged"), "a forged API token");
    refused(Some(&phone[4..]), "a device token without its prefix");

    // Logging out revokes the phone at once; the tablet still syncs.
    assert_eq!(f.get(&phone, &current).0, StatusCode::OK);
    let (status, _) = f.call_raw(Some(&phone), Method::POST, "/v1/logout", None, None);
    assert_eq!(status, StatusCode::NO_CONTENT);
    refused(Some(&phone), "a logged-out device");
    assert_eq!(f.get(&tablet, &current).0, StatusCode::OK);

    // The operator revokes Alice from another process: her tablet and her
    // API token are refused on the next request to this server.
    assert_eq!(f.get(&f.tokens["alice"], &current).0, StatusCode::OK);
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
    refused(Some(&tablet), "a revoked user's device");
    refused(Some(&f.tokens["alice"]), "a revoked user's API token");
    assert_eq!(
        f.get(&f.tokens["bob"], &current).0,
        StatusCode::OK,
        "Bob syncs on"
    );
}
