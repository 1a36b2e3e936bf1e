//! A phone at a lock, as the tests play it with the real lock firmware:
//! visits opened and presented, jobs applied, receipts posted back, and the
//! sync entry a phone reads for a lock.

use keyway_lock::Lock;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::Fixture;

/// Posts sealed receipts as a phone carrying them back would; the results.
pub fn post_receipts(f: &Fixture, token: &str, receipts: &[Vec<u8>]) -> Value {
    let texts: Vec<String> = receipts
        .iter()
        .map(|r| keyway_api::encode_bytes(r))
        .collect();
    f.ok(
        token,
        Method::POST,
        "/v1/receipts",
        json!({ "receipts": texts }),
    )
}

/// Opens a visit of `lock_id`; the server's answer (`visit_id`,
/// `challenge`, `since_seq`).
pub fn open_visit(f: &Fixture, token: &str, lock_id: &str) -> Value {
    let (status, opened) = f.call_raw(
        Some(token),
        Method::POST,
        &format!("/v1/locks/{lock_id}/visits"),
        None,
        None,
    );
    assert_eq!(status, StatusCode::CREATED, "{opened}");
    opened
}

/// The challenge of an opened visit.
pub fn challenge_of(opened: &Value) -> [u8; 16] {
    let bytes: Vec<u8> = (0..16)
        .map(|i| {
            let hex = opened["challenge"].as_str().unwrap();
            u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()
        })
        .collect();
    bytes.try_into().unwrap()
}

/// The firmware's sealed status for an opened visit (it opens a session).
pub fn lock_status(lock: &mut Lock, opened: &Value) -> Vec<u8> {
    let since = u32::try_from(opened["since_seq"].as_u64().unwrap()).unwrap();
    lock.status(challenge_of(opened), since, jiff::Timestamp::now())
        .unwrap()
}

/// Presents a sealed status for a visit; the server's status and answer.
pub fn present(f: &Fixture, token: &str, visit_id: &str, status: &[u8]) -> (StatusCode, Value) {
    f.call_raw(
        Some(token),
        Method::POST,
        &format!("/v1/visits/{visit_id}/status"),
        Some(json!({ "status": keyway_api::encode_bytes(status) })),
        None,
    )
}

/// What a phone's visit did.
#[derive(Debug)]
pub struct Visit {
    /// The server's answer to the status (`jobs`, `target_version`).
    pub answer: Value,
    /// The firmware's receipts for those jobs.
    pub receipts: Vec<Vec<u8>>,
    /// The server's results for the receipts (`Null` when there were none).
    pub results: Value,
}

/// A phone's visit to `lock`, as the phone core makes it: a challenge from
/// the server, the firmware's status with it, the jobs the server seals for
/// that session given to the firmware in the same session, and its receipts
/// posted back.
pub fn visit(f: &Fixture, token: &str, lock: &mut Lock) -> Visit {
    let opened = open_visit(f, token, &lock.config().lock_id.to_string());
    let status = lock_status(lock, &opened);
    let (code, answer) = present(f, token, opened["visit_id"].as_str().unwrap(), &status);
    assert_eq!(code, StatusCode::OK, "{answer}");
    let receipts: Vec<Vec<u8>> = answer["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|job| {
            let job = keyway_api::decode_bytes(job.as_str().unwrap()).unwrap();
            lock.apply(&job, jiff::Timestamp::now())
                .expect("the lock opens the job")
        })
        .collect();
    lock.disconnected();
    let results = if receipts.is_empty() {
        Value::Null
    } else {
        post_receipts(f, token, &receipts)
    };
    Visit {
        answer,
        receipts,
        results,
    }
}

/// The caller's sync entry for `lock_id` (versions, the target when there is
/// work, the advertising key), or `Null` when the sync does not name the lock.
pub fn sync_entry(f: &Fixture, token: &str, lock_id: &str) -> Value {
    let (_, sync) = f.get(token, "/v1/sync");
    sync["locks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["lock_id"] == lock_id)
        .cloned()
        .unwrap_or(Value::Null)
}
