//! Threats from `docs/security.md` that the server answers: a database dump
//! shows no code, token, address or key; rate limits count the real client
//! (a forwarded address only from a trusted proxy, so clients cannot pick
//! their own); forgot-PIN answers before it looks the address up; a receipt
//! altered by the phone that carries it settles nothing.

mod support;

use std::time::Duration;

use jiff::Timestamp;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::{Column as _, Row as _};
use support::{Fixture, eventually, job_of, occurs, post_receipts, state_on};

/// Every cell of every table, as text.
fn dump(f: &Fixture) -> Vec<String> {
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

    let mut long_secrets: Vec<(String, &str)> = vec![
        (device.clone(), "a device token"),
        ("ravi.dump@example.org".into(), "an email address"),
        ("15550109876".into(), "a phone number"),
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

    let job = job_of(&f, &alice, &f.lock_4b)["job"]
        .as_str()
        .and_then(keyway_core::api::decode_bytes)
        .expect("a job for the unit door");
    let mut lock = f.firmware(&f.lock_4b);
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
    assert_eq!(results["results"][2]["status"], "bad_seal", "{results}");
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
