//! The server killed (SIGKILL) in the middle of requests leaves no partial
//! state. Each round fires writes at a real server from several threads
//! (residents creating, changing, disabling, enabling and deleting codes; a
//! phone visiting the real lock firmware and carrying receipts back), kills the
//! server at a random moment, restarts it on the same database and retries
//! every request that got no answer with its idempotency key. Then it checks
//! every invariant in the database: each code is there whole (its placements,
//! their audit entries, its idempotency record) or not at all; no slot is
//! held twice; a lock with work to do is named by sync;
//! every idempotency record is the answer the client got, and a retry returns
//! it byte for byte. At the end every lock's firmware table equals the
//! server's desired table. Runs on SQLite and on PostgreSQL
//! (`KEYWAY_TEST_DATABASE_URL`); `KEYWAY_FAULT_ROUNDS` sets the number of
//! kills (`cargo xtask faults` runs more).

mod support;

use keyway_server::crypto::Cell;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use jiff::Timestamp;
use keyway_api::{decode_bytes, encode_bytes};
use keyway_lock::Lock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, Inspector, Server, Stop, fresh_key, lock_status};

/// Kills when `KEYWAY_FAULT_ROUNDS` is not set.
const DEFAULT_ROUNDS: usize = 6;

/// One write as the client keeps it until it has an answer.
#[derive(Clone, Debug)]
struct Request {
    method: Method,
    path: String,
    body: String,
    key: String,
    what: What,
}

#[derive(Clone, Debug)]
enum What {
    Create { kind: &'static str },
    Change,
    Disable,
    Enable,
    Delete(String),
    Receipts,
}

/// A write that got an answer.
#[derive(Clone, Debug)]
struct Answered {
    token: String,
    request: Request,
    status: StatusCode,
    text: String,
}

/// Every answer a client got, by idempotency key.
type Answers = BTreeMap<String, Answered>;

impl Answered {
    fn new(token: &str, request: &Request, status: StatusCode, text: String) -> Self {
        Self {
            token: token.to_owned(),
            request: request.clone(),
            status,
            text,
        }
    }
}

/// A resident's phone: its own codes and what it last heard about each.
struct Writer {
    token: String,
    unit_door: String,
    live: Vec<String>,
    /// Kind and last answered status of every code it created.
    codes: BTreeMap<String, (String, String)>,
    pending: Option<Request>,
}

impl Writer {
    fn next(&self) -> Request {
        let roll: u8 = rand::random_range(0..100);
        let grow = self.live.len() < 4 || (self.live.len() < 10 && roll < 35);
        let (method, path, body, what) = if grow {
            let kind = if roll.is_multiple_of(2) {
                "resident"
            } else {
                "guest"
            };
            (
                Method::POST,
                "/v1/codes".to_owned(),
                json!({"kind": kind, "mode": "generate"}).to_string(),
                What::Create { kind },
            )
        } else {
            let id = self.live[usize::from(roll) % self.live.len()].clone();
            let pick: u8 = rand::random_range(0..100);
            match pick {
                0..25 => (
                    Method::POST,
                    format!("/v1/codes/{id}/change"),
                    json!({"mode": "generate"}).to_string(),
                    What::Change,
                ),
                25..45 => (
                    Method::POST,
                    format!("/v1/codes/{id}/disable"),
                    String::new(),
                    What::Disable,
                ),
                45..65 => (
                    Method::POST,
                    format!("/v1/codes/{id}/enable"),
                    String::new(),
                    What::Enable,
                ),
                _ => (
                    Method::DELETE,
                    format!("/v1/codes/{id}"),
                    String::new(),
                    What::Delete(id),
                ),
            }
        };
        Request {
            method,
            path,
            body,
            key: fresh_key(),
            what,
        }
    }

    fn settle(&mut self, request: &Request, status: StatusCode, text: &str) {
        assert!(
            status.is_success(),
            "{} {}: {status} {text}",
            request.method,
            request.path
        );
        let view: Value = serde_json::from_str(text).unwrap();
        let id = view["id"].as_str().unwrap().to_owned();
        let code_status = view["status"].as_str().unwrap().to_owned();
        match &request.what {
            What::Create { kind } => {
                self.live.push(id.clone());
                self.codes.insert(id, ((*kind).to_owned(), code_status));
            }
            What::Delete(gone) => {
                self.live.retain(|c| c != gone);
                self.codes.get_mut(&id).unwrap().1 = code_status;
            }
            _ => self.codes.get_mut(&id).unwrap().1 = code_status,
        }
    }
}

/// The phone that visits locks: the real firmware of every lock, the sync
/// cursor, the version the server wants on each lock, and a visit whose
/// answer the kill swallowed.
struct Carrier {
    token: String,
    locks: BTreeMap<String, Lock>,
    cursor: i64,
    targets: BTreeMap<String, Option<u32>>,
    pending: Option<Request>,
    /// A presented status without an answer: (lock, visit id, sealed status).
    unanswered: Option<(String, String, Vec<u8>)>,
}

impl Carrier {
    /// Syncs to the end; `false` when the server did not answer.
    fn sync(&mut self, f: &Fixture, server: &Server) -> bool {
        loop {
            let Ok((status, text)) = f.send(
                server,
                &self.token,
                Method::GET,
                &format!("/v1/sync?cursor={}", self.cursor),
                None,
                None,
            ) else {
                return false;
            };
            assert_eq!(status, StatusCode::OK, "{text}");
            let page: Value = serde_json::from_str(&text).unwrap();
            let next: i64 = page["cursor"].as_str().unwrap().parse().unwrap();
            assert!(next >= self.cursor, "the cursor moved back");
            self.cursor = next;
            for lock in page["locks"].as_array().unwrap() {
                self.targets.insert(
                    lock["lock_id"].as_str().unwrap().to_owned(),
                    lock["target_version"].as_u64().map(|v| v as u32),
                );
            }
            if page["has_more"] == false {
                return true;
            }
        }
    }

    /// Visits every lock the server wants something of; the receipts to
    /// post, or `Err` when the server stopped answering.
    fn deliver(&mut self, f: &Fixture, server: &Server) -> Result<Option<Request>, ()> {
        let mut receipts = Vec::new();
        let due: Vec<String> = self
            .targets
            .iter()
            .filter(|(id, target)| target.is_some_and(|t| self.locks[*id].state().version != t))
            .map(|(id, _)| id.clone())
            .collect();
        for lock_id in due {
            let Ok((status, text)) = f.send(
                server,
                &self.token,
                Method::POST,
                &format!("/v1/locks/{lock_id}/visits"),
                None,
                None,
            ) else {
                return Err(());
            };
            assert_eq!(status, StatusCode::CREATED, "{text}");
            let opened: Value = serde_json::from_str(&text).unwrap();
            let sealed = lock_status(self.locks.get_mut(&lock_id).unwrap(), &opened);
            let visit_id = opened["visit_id"].as_str().unwrap().to_owned();
            self.unanswered = Some((lock_id, visit_id, sealed));
            receipts.extend(self.present(f, server)?);
        }
        Ok((!receipts.is_empty()).then(|| receipts_request(&receipts)))
    }

    /// Presents the status waiting for an answer and gives the lock its jobs
    /// (in the session the status opened); their receipts.
    fn present(&mut self, f: &Fixture, server: &Server) -> Result<Vec<String>, ()> {
        let Some((lock_id, visit_id, sealed)) = self.unanswered.clone() else {
            return Ok(Vec::new());
        };
        let body = json!({ "status": encode_bytes(&sealed) }).to_string();
        let Ok((status, text)) = f.send(
            server,
            &self.token,
            Method::POST,
            &format!("/v1/visits/{visit_id}/status"),
            Some(&body),
            None,
        ) else {
            return Err(());
        };
        assert_eq!(status, StatusCode::OK, "{text}");
        self.unanswered = None;
        let answer: Value = serde_json::from_str(&text).unwrap();
        let lock = self.locks.get_mut(&lock_id).unwrap();
        let receipts = answer["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|job| {
                let job = decode_bytes(job.as_str().unwrap()).unwrap();
                encode_bytes(
                    &lock
                        .apply(&job, Timestamp::now())
                        .expect("the lock opens its job"),
                )
            })
            .collect();
        lock.disconnected();
        Ok(receipts)
    }

    fn settle(&self, status: StatusCode, text: &str) {
        assert_eq!(status, StatusCode::OK, "{text}");
        let answer: Value = serde_json::from_str(text).unwrap();
        for result in answer["results"].as_array().unwrap() {
            assert_eq!(result["status"], "accepted", "{answer}");
        }
    }
}

/// A keyed write that posts receipts.
fn receipts_request(receipts: &[String]) -> Request {
    Request {
        method: Method::POST,
        path: "/v1/receipts".to_owned(),
        body: json!({ "receipts": receipts }).to_string(),
        key: fresh_key(),
        what: What::Receipts,
    }
}

fn send(
    f: &Fixture,
    server: &Server,
    token: &str,
    r: &Request,
) -> Result<(StatusCode, String), String> {
    let body = (!r.body.is_empty()).then_some(r.body.as_str());
    f.send(server, token, r.method.clone(), &r.path, body, Some(&r.key))
}

/// Sends `r` until an answer comes (the server is up again, so it must).
fn retry(f: &Fixture, token: &str, r: &Request) -> (StatusCode, String) {
    let first = send(f, f.server(), token, r).expect("the restarted server answers");
    let again = send(f, f.server(), token, r).expect("the restarted server answers");
    assert_eq!(
        first, again,
        "a retry with the same key returns the same answer"
    );
    first
}

#[test]
fn a_server_killed_mid_request_leaves_no_partial_state() {
    let rounds = std::env::var("KEYWAY_FAULT_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(DEFAULT_ROUNDS);
    let mut f = Fixture::new();
    let mut writers: Vec<Writer> = [
        ("alice", &f.lock_4b),
        ("alice", &f.lock_4b),
        ("bob", &f.lock_5c),
    ]
    .into_iter()
    .map(|(name, door)| Writer {
        token: f.tokens[name].clone(),
        unit_door: door.clone(),
        live: Vec::new(),
        codes: BTreeMap::new(),
        pending: None,
    })
    .collect();
    let mut carrier = Carrier {
        token: f.tokens["mia"].clone(),
        locks: [&f.lock_4b, &f.lock_5c, &f.entrance, &f.package_room]
            .into_iter()
            .map(|id| (id.clone(), f.firmware(id)))
            .collect(),
        cursor: 0,
        targets: BTreeMap::new(),
        pending: None,
        unanswered: None,
    };
    let mut answers = Answers::new();
    let mut lost = 0;

    for round in 0..rounds {
        let server = f.server();
        let delay = Duration::from_millis(rand::random_range(10..500));
        // A failure anywhere (a worker's assertion, the kill itself) stops
        // every thread, so the test fails in seconds instead of writing to a
        // server that nobody kills.
        let stop = Stop::default();
        let round_answers: Vec<Answers> = std::thread::scope(|scope| {
            let stop = &stop;
            let _stop_workers = stop.guard();
            let mut handles = Vec::new();
            for writer in writers.iter_mut() {
                let f = &f;
                handles.push(scope.spawn(move || {
                    let _stop_others = stop.guard();
                    let mut got = Answers::new();
                    loop {
                        if stop.is_set() {
                            return got;
                        }
                        let request = writer.next();
                        match send(f, server, &writer.token, &request) {
                            Ok((status, text)) => {
                                writer.settle(&request, status, &text);
                                got.insert(
                                    request.key.clone(),
                                    Answered::new(&writer.token, &request, status, text),
                                );
                            }
                            Err(_) => {
                                writer.pending = Some(request);
                                return got;
                            }
                        }
                    }
                }));
            }
            let carrier = &mut carrier;
            let f = &f;
            handles.push(scope.spawn(move || {
                let _stop_others = stop.guard();
                let mut got = Answers::new();
                while !stop.is_set() && carrier.sync(f, server) {
                    let Ok(delivered) = carrier.deliver(f, server) else {
                        break;
                    };
                    if let Some(request) = delivered {
                        match send(f, server, &carrier.token, &request) {
                            Ok((status, text)) => {
                                carrier.settle(status, &text);
                                got.insert(
                                    request.key.clone(),
                                    Answered::new(&carrier.token, &request, status, text),
                                );
                            }
                            Err(_) => {
                                carrier.pending = Some(request);
                                break;
                            }
                        }
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                got
            }));
            // Sleep in short steps: a worker that fails ends the round now.
            let deadline = std::time::Instant::now() + delay;
            while !stop.is_set() && std::time::Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
            server.kill_now();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        f.server.take().unwrap().kill();
        f.server = Some(Server::start(f.dir.path(), &f.db, &[]));

        let lost_now = writers.iter().filter(|w| w.pending.is_some()).count()
            + usize::from(carrier.pending.is_some());
        eprintln!(
            "round {round}: killed after {} ms, {} answered, {lost_now} without an answer",
            delay.as_millis(),
            round_answers.iter().map(BTreeMap::len).sum::<usize>()
        );
        let replay: Vec<String> = round_answers
            .iter()
            .flat_map(|got| got.keys().cloned())
            .collect();
        answers.extend(round_answers.into_iter().flatten());
        // Requests that got no answer are retried with their key: applied once.
        for writer in writers.iter_mut() {
            if let Some(request) = writer.pending.take() {
                lost += 1;
                let (status, text) = retry(&f, &writer.token, &request);
                writer.settle(&request, status, &text);
                answers.insert(
                    request.key.clone(),
                    Answered::new(&writer.token, &request, status, text),
                );
            }
        }
        // A status whose answer was lost: presented again, it gets the answer
        // the server kept (or is settled now, if the kill came first).
        if carrier.unanswered.is_some() {
            lost += 1;
            let receipts = carrier
                .present(&f, f.server())
                .expect("the restarted server answers");
            if !receipts.is_empty() {
                carrier.pending = Some(receipts_request(&receipts));
            }
        }
        if let Some(request) = carrier.pending.take() {
            lost += 1;
            let (status, text) = retry(&f, &carrier.token, &request);
            carrier.settle(status, &text);
            answers.insert(
                request.key.clone(),
                Answered::new(&carrier.token, &request, status, text),
            );
        }
        let inspect = f.db.inspect();
        check_invariants(&f, &inspect, &writers, &answers, round);

        // Every answer given before the kill is given again, byte for byte,
        // and replaying them changes nothing.
        let head = property_head(&f, &inspect);
        for key in replay {
            let answered = &answers[&key];
            let again = send(&f, f.server(), &answered.token, &answered.request)
                .expect("the restarted server answers");
            assert_eq!(
                again,
                (answered.status, answered.text.clone()),
                "round {round}: a replay of {key} answered differently"
            );
        }
        assert_eq!(
            property_head(&f, &inspect),
            head,
            "a replay changed something"
        );
        check_invariants(&f, &inspect, &writers, &answers, round);
    }
    assert!(lost > 0, "no kill interrupted a request in {rounds} rounds");

    // Carry every job to its lock: each lock ends with exactly the server's
    // desired table.
    for _ in 0..50 {
        assert!(carrier.sync(&f, f.server()));
        match carrier.deliver(&f, f.server()).expect("an answer") {
            Some(request) => {
                let (status, text) =
                    send(&f, f.server(), &carrier.token, &request).expect("an answer");
                carrier.settle(status, &text);
            }
            None => break,
        }
    }
    let key = f.data_key();
    let inspect = f.db.inspect();
    for (lock_id, lock) in &carrier.locks {
        let wanted: Vec<(i64, String, i64, String)> = inspect.rows(&format!(
            "SELECT slot, value, want_enabled, id FROM placements WHERE lock_id = '{lock_id}' AND want_present = 1 ORDER BY slot"
        ));
        let wanted: Vec<(u16, String, bool)> = wanted
            .into_iter()
            .map(|(slot, value, enabled, id)| {
                let cell = Cell::new("placements", "value", &id);
                (
                    slot as u16,
                    key.open_str(cell, &value).unwrap(),
                    enabled != 0,
                )
            })
            .collect();
        let on_lock: Vec<(u16, String, bool)> = lock
            .state()
            .slots
            .iter()
            .map(|(slot, stored)| {
                (
                    slot,
                    stored
                        .entry
                        .credential
                        .code()
                        .map(|c| c.as_str().to_owned())
                        .unwrap_or_default(),
                    stored.entry.enabled,
                )
            })
            .collect();
        assert_eq!(
            on_lock, wanted,
            "lock {lock_id} holds what the server wants"
        );
        let (confirmed, desired, recovery): (i64, i64, i64) = inspect
            .rows(&format!(
                "SELECT confirmed_version, desired_version, needs_recovery FROM locks WHERE id = '{lock_id}'"
            ))
            .remove(0);
        assert_eq!(confirmed, i64::from(lock.state().version));
        assert_eq!(
            (desired, recovery),
            (confirmed, 0),
            "lock {lock_id} still has work"
        );
    }
}

fn property_head(f: &Fixture, db: &Inspector) -> i64 {
    let rows: Vec<(i64,)> = db.rows(&format!(
        "SELECT change_seq FROM properties WHERE id = '{}'",
        f.property
    ));
    rows[0].0
}

/// Every invariant a committed state must satisfy, checked in the database.
fn check_invariants(
    f: &Fixture,
    db: &Inspector,
    writers: &[Writer],
    answers: &Answers,
    round: usize,
) {
    let empty = |what: &str, sql: &str| {
        let rows: Vec<(String,)> = db.rows(sql);
        assert!(rows.is_empty(), "round {round}: {what}: {rows:?}");
    };
    // A slot is given to one wanted code at a time, and the lock is known to
    // hold one code per slot. A slot may hold a code leaving the lock (a late
    // receipt showed it arrived after all) while the next one waits for it:
    // then the lock's job removes the first before it puts the second.
    empty(
        "a slot given to two wanted codes",
        "SELECT lock_id FROM placements WHERE want_present = 1 GROUP BY lock_id, slot HAVING COUNT(*) > 1",
    );
    empty(
        "a slot confirmed with two codes",
        "SELECT lock_id FROM placements WHERE conf_present = 1 GROUP BY lock_id, slot HAVING COUNT(*) > 1",
    );
    // No work pending (sync names no target): nothing for a visit to swap.
    let idle =
        "l.desired_version <= l.confirmed_version AND l.needs_recovery = 0 AND l.attention IS NULL";
    empty(
        "a slot shared by a leaving and an arriving code with no work pending to swap them",
        &format!(
            "SELECT p.lock_id FROM placements p JOIN locks l ON l.id = p.lock_id WHERE p.live = 1 AND {idle} GROUP BY p.lock_id, p.slot HAVING COUNT(*) > 1"
        ),
    );
    empty(
        "a placement's live flag disagrees with its presence",
        "SELECT id FROM placements WHERE live <> CASE WHEN want_present = 1 OR conf_present = 1 THEN 1 ELSE 0 END",
    );
    empty(
        "a lock confirmed beyond its desired version",
        "SELECT id FROM locks WHERE confirmed_version > desired_version",
    );
    empty(
        "an applied job above the lock's confirmed version",
        "SELECT j.id FROM jobs j JOIN locks l ON l.id = j.lock_id WHERE j.outcome = 'applied' AND j.target > l.confirmed_version",
    );
    empty(
        "a lock with work to do that sync does not name",
        &format!(
            "SELECT p.id FROM placements p JOIN locks l ON l.id = p.lock_id WHERE {idle} AND p.live = 1 AND (p.want_present <> p.conf_present OR (p.want_present = 1 AND p.want_enabled <> p.conf_enabled))"
        ),
    );
    empty(
        "a placement without its audit entry",
        "SELECT p.id FROM placements p WHERE NOT EXISTS (SELECT 1 FROM audit_log a WHERE a.code_id = p.code_id AND a.lock_id = p.lock_id AND a.kind = 'code_added' AND a.slot = p.slot)",
    );
    empty(
        "a placement of no code",
        "SELECT p.id FROM placements p LEFT JOIN codes c ON c.id = p.code_id WHERE c.id IS NULL",
    );
    for table in ["codes", "locks"] {
        empty(
            &format!("{table} changed past the property's counter"),
            &format!(
                "SELECT t.id FROM {table} t JOIN properties p ON p.id = t.property_id WHERE t.change_seq > p.change_seq"
            ),
        );
    }

    // The codes are exactly those the clients were told about, each with its
    // placements on exactly its doors and the status of its last answer.
    let codes: Vec<(String, String, String)> = db.rows(&format!(
        "SELECT id, kind, status FROM codes WHERE property_id = '{}'",
        f.property
    ));
    let told: BTreeMap<&String, (&String, &String, &String)> = writers
        .iter()
        .flat_map(|w| {
            w.codes
                .iter()
                .map(move |(id, (kind, status))| (id, (kind, status, &w.unit_door)))
        })
        .collect();
    assert_eq!(
        codes.iter().map(|(id, _, _)| id).collect::<BTreeSet<_>>(),
        told.keys().copied().collect::<BTreeSet<_>>(),
        "round {round}: the codes in the database are not the ones created"
    );
    for (id, kind, status) in &codes {
        let (told_kind, told_status, door) = told[id];
        assert_eq!(
            (kind, status),
            (told_kind, told_status),
            "round {round}: code {id}"
        );
        let locks: Vec<(String,)> = db.rows(&format!(
            "SELECT DISTINCT lock_id FROM placements WHERE code_id = '{id}' ORDER BY lock_id"
        ));
        let mut expected = vec![door.clone()];
        if kind == "resident" {
            expected.push(f.entrance.clone());
        }
        expected.sort();
        assert_eq!(
            locks.into_iter().map(|(l,)| l).collect::<Vec<_>>(),
            expected,
            "round {round}: the doors of code {id}"
        );
    }

    // Each idempotency record is the answer its client got, and there is
    // one for every answered write and no other.
    let stored: Vec<(String, String, i64, String)> =
        db.rows("SELECT principal, key, status, body FROM idempotency");
    // Stored encrypted: a database dump shows no code in them.
    let data_key = f.data_key();
    let stored: BTreeMap<String, (i64, String)> = stored
        .into_iter()
        .map(|(principal, key, status, body)| {
            let row = Cell::key_of(&[&principal, &key]);
            let cell = Cell::new("idempotency", "body", &row);
            (key, (status, data_key.open_str(cell, &body).unwrap()))
        })
        .collect();
    assert_eq!(
        stored.keys().collect::<BTreeSet<_>>(),
        answers.keys().collect::<BTreeSet<_>>(),
        "round {round}: idempotency records and answered writes differ"
    );
    for (key, answered) in answers {
        assert_eq!(
            &stored[key],
            &(i64::from(answered.status.as_u16()), answered.text.clone()),
            "round {round}: the stored answer of {key}"
        );
    }
}
