//! Two `keyway-server` instances on one database serve one property
//! correctly: writes through both are serialised per property (no slot is
//! given twice, no update lost), a phone that syncs through either sees a
//! cursor that only moves forward and every change, rate limits are counted
//! once for both, and a sync reads one snapshot while the other instance
//! writes. On PostgreSQL this is the scale-out set-up; on SQLite both
//! processes share one file.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use keyway_api::{decode_bytes, encode_bytes};
use keyway_lock::Entry;
use keyway_server::db::{Context as _, Read, Store};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, Server, fresh_key, lock_status};

/// Follows the cursor to the end through `servers` in turn; returns the new
/// cursor and every code and tombstone id seen. Panics if a cursor moves back.
fn sync_all(
    f: &Fixture,
    servers: &[&Server],
    token: &str,
    mut cursor: i64,
    seen: &mut BTreeMap<String, Value>,
) -> i64 {
    for turn in 0.. {
        let server = servers[turn % servers.len()];
        let (status, page) = f.call_at(
            server,
            Some(token),
            Method::GET,
            &format!("/v1/sync?cursor={cursor}"),
            None,
            None,
        );
        assert_eq!(status, StatusCode::OK, "{page}");
        let next: i64 = page["cursor"].as_str().unwrap().parse().unwrap();
        assert!(
            next >= cursor,
            "the cursor moved back from {cursor} to {next}"
        );
        cursor = next;
        for code in page["codes"].as_array().unwrap() {
            seen.insert(code["id"].as_str().unwrap().to_owned(), code.clone());
        }
        if page["has_more"] == false {
            break;
        }
    }
    cursor
}

#[test]
fn two_instances_give_each_slot_once_and_cursors_only_move_forward() {
    let f = Fixture::new();
    let second = Server::start(f.dir.path(), &f.db, &[]);
    let servers = [f.server(), &second];
    let (alice, bob, mia) = (&f.tokens["alice"], &f.tokens["bob"], &f.tokens["mia"]);
    const PER_WRITER: usize = 12;

    // Four writers (two per resident, each alternating instances) create
    // generated resident codes: each goes on its unit door and on the main
    // entrance, so both units compete for the entrance's slots. A manager's
    // phone syncs through both instances meanwhile.
    let (created, streamed) = std::thread::scope(|scope| {
        let writers: Vec<_> = [alice, alice, bob, bob]
            .into_iter()
            .enumerate()
            .map(|(w, token)| {
                let f = &f;
                let servers = &servers;
                scope.spawn(move || {
                    let mut ids = Vec::new();
                    for i in 0..PER_WRITER {
                        let (status, code) = f.call_at(
                            servers[(w + i) % 2],
                            Some(token),
                            Method::POST,
                            "/v1/codes",
                            Some(json!({"kind": "resident", "mode": "generate", "name": format!("w{w} #{i}")})),
                            Some(&fresh_key()),
                        );
                        assert_eq!(status, StatusCode::CREATED, "{code}");
                        ids.push(code["id"].as_str().unwrap().to_owned());
                    }
                    ids
                })
            })
            .collect();
        let f = &f;
        let servers = &servers;
        let reader = scope.spawn(move || {
            let mut seen = BTreeMap::new();
            let mut cursor = 0;
            for _ in 0..40 {
                cursor = sync_all(f, servers, mia, cursor, &mut seen);
                std::thread::sleep(Duration::from_millis(20));
            }
            (cursor, seen)
        });
        let created: BTreeSet<String> = writers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect();
        (created, reader.join().unwrap())
    });
    assert_eq!(created.len(), 4 * PER_WRITER, "no create was lost");

    // Every code reached the phone that kept syncing, through either instance.
    let (cursor, mut seen) = streamed;
    sync_all(&f, &servers, mia, cursor, &mut seen);
    let seen_ids: BTreeSet<String> = seen.keys().cloned().collect();
    assert_eq!(seen_ids, created);

    // No slot is held twice on any lock.
    let inspect = f.db.inspect();
    let doubles: Vec<(String, i64, i64)> = inspect.rows(
        "SELECT lock_id, slot, COUNT(*) FROM placements WHERE live = 1 GROUP BY lock_id, slot HAVING COUNT(*) > 1",
    );
    assert!(doubles.is_empty(), "slots given twice: {doubles:?}");
    let entrance_slots: Vec<(i64,)> = inspect.rows(&format!(
        "SELECT slot FROM placements WHERE lock_id = '{}' AND live = 1",
        f.entrance
    ));
    assert_eq!(entrance_slots.len(), 4 * PER_WRITER);

    // The real lock firmware takes the entrance's job whole: one slot per
    // code, and every code (digits as their residents see them) opens it.
    // The visit is opened on one instance and its status presented to the
    // other: the challenge lives in the shared database.
    let mut entrance = f.firmware(&f.entrance);
    let (status, opened) = f.call_at(
        &second,
        Some(mia),
        Method::POST,
        &format!("/v1/locks/{}/visits", f.entrance),
        None,
        None,
    );
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    let sealed = lock_status(&mut entrance, &opened);
    let (status, answer) = f.call_at(
        f.server(),
        Some(mia),
        Method::POST,
        &format!("/v1/visits/{}/status", opened["visit_id"].as_str().unwrap()),
        Some(json!({ "status": encode_bytes(&sealed) })),
        None,
    );
    assert_eq!(status, StatusCode::OK, "{answer}");
    let job = decode_bytes(answer["jobs"][0].as_str().expect("the entrance has a job")).unwrap();
    let receipt = entrance.apply(&job, Timestamp::now()).unwrap();
    let (status, results) = f.call_at(
        &second,
        Some(mia),
        Method::POST,
        "/v1/receipts",
        Some(json!({"receipts": [encode_bytes(&receipt)]})),
        Some(&fresh_key()),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(results["results"][0]["status"], "accepted");
    for (token, unit) in [(alice, &f.unit_4b), (bob, &f.unit_5c)] {
        let (_, list) = f.call_at(
            f.server(),
            Some(token),
            Method::GET,
            "/v1/codes",
            None,
            None,
        );
        let values: Vec<String> = list["codes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["unit_id"] == unit.as_str())
            .map(|c| c["value"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(values.len(), 2 * PER_WRITER);
        for value in values {
            assert!(
                matches!(
                    entrance.enter_code(&value, Timestamp::now()),
                    Some(Entry::Granted { .. })
                ),
                "a code of unit {unit} does not open the entrance"
            );
        }
    }
    drop(inspect);
    second.stop();
}

#[test]
fn rate_limits_are_counted_once_for_both_instances() {
    let f = Fixture::new();
    let second = Server::start(f.dir.path(), &f.db, &[]);
    // Logins are limited to 30 a minute per client address, in windows that
    // start on the minute: begin early in one so all attempts fall in it.
    while Timestamp::now().as_second().rem_euclid(60) > 50 {
        std::thread::sleep(Duration::from_millis(500));
    }
    let mut statuses = BTreeMap::new();
    for i in 0..40 {
        let server = if i % 2 == 0 { f.server() } else { &second };
        let (status, _) = f.call_at(
            server,
            None,
            Method::POST,
            "/v1/login",
            Some(json!({"token": f.tokens["alice"], "device_name": format!("phone {i}")})),
            None,
        );
        *statuses.entry(status.as_u16()).or_insert(0) += 1;
    }
    assert_eq!(
        statuses,
        BTreeMap::from([(200, 30), (429, 10)]),
        "30 logins a minute in all, whichever instance counts them"
    );
    second.stop();
}

#[test]
fn a_sync_reads_one_snapshot_while_another_instance_writes() {
    let f = Fixture::new();
    let alice = &f.tokens["alice"];
    let key = f.data_key();
    let inspect = f.db.inspect();
    let store = inspect
        .block_on(Store::open(&f.db.url, key))
        .expect("open the store");
    let head = "SELECT change_seq FROM properties WHERE id = $1";
    let count = "SELECT COUNT(*) FROM codes WHERE property_id = $1";
    let read = |tx: &mut Read, sql: &str| -> i64 {
        let (value,): (i64,) = inspect
            .block_on(
                sqlx::query_as(sqlx::AssertSqlSafe(sql.to_owned()))
                    .bind(f.property.clone())
                    .fetch_one(tx.conn()),
            )
            .unwrap();
        value
    };

    let mut tx = inspect.block_on(store.snapshot()).unwrap();
    let before = read(&mut tx, head);
    let codes_before = read(&mut tx, count);
    // The server process commits a write while the read transaction is open.
    f.ok(
        alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate"}),
    );
    assert_eq!(
        read(&mut tx, head),
        before,
        "the head moved inside one read"
    );
    assert_eq!(
        read(&mut tx, count),
        codes_before,
        "a row of a later write showed inside one read"
    );
    inspect.block_on(async move { drop(tx) });

    let mut tx = inspect.block_on(store.snapshot()).unwrap();
    assert_eq!(read(&mut tx, head), before + 1);
    assert_eq!(read(&mut tx, count), codes_before + 1);
    inspect.block_on(async move { drop(tx) });
    inspect.block_on(store.close());
}

/// No instance keeps a property's change counter in memory: a phone polling
/// one instance with an up-to-date cursor sees a write through the other on
/// its very next sync, each time.
#[test]
fn an_up_to_date_sync_sees_the_other_instances_write_at_once() {
    let f = Fixture::new();
    let second = Server::start(f.dir.path(), &f.db, &[]);
    let alice = &f.tokens["alice"];
    let sync = |server: &Server, cursor: &str| {
        let (status, page) = f.call_at(
            server,
            Some(alice),
            Method::GET,
            &format!("/v1/sync?cursor={cursor}"),
            None,
            None,
        );
        assert_eq!(status, StatusCode::OK, "{page}");
        page
    };
    let mut cursor = sync(f.server(), "")["cursor"].as_str().unwrap().to_owned();
    for (reader, writer) in [(f.server(), &second), (&second, f.server())] {
        for _ in 0..3 {
            assert!(
                sync(reader, &cursor)["codes"]
                    .as_array()
                    .unwrap()
                    .is_empty()
            );
            let (status, created) = f.call_at(
                writer,
                Some(alice),
                Method::POST,
                "/v1/codes",
                Some(json!({"kind": "guest", "mode": "generate"})),
                Some(&fresh_key()),
            );
            assert_eq!(status, StatusCode::CREATED, "{created}");
            let page = sync(reader, &cursor);
            let ids: Vec<&str> = page["codes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap())
                .collect();
            assert_eq!(ids, [created["id"].as_str().unwrap()], "{page}");
            cursor = page["cursor"].as_str().unwrap().to_owned();
        }
    }
    second.stop();
}
