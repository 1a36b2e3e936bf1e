//! The outbox: requests not yet answered, oldest first, each with its idempotency key.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Tx, now};
use crate::ClientError;
use keyway_api::Problem;

/// A request in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct OutboxRow {
    pub(crate) seq: i64,
    pub(crate) code_id: String,
    pub(crate) op: String,
    pub(crate) body: String,
    pub(crate) idem_key: String,
    pub(crate) state: String,
    pub(crate) attempts: i64,
    pub(crate) maybe_sent: bool,
    pub(crate) error: Option<Problem>,
}

/// Queues a request.
pub(crate) fn enqueue(
    tx: &Tx<'_>,
    code_id: &str,
    op: &str,
    body: &str,
    idem_key: &str,
) -> Result<i64, ClientError> {
    tx.tx.execute(
        "INSERT INTO outbox (code_id, op, body, idem_key, created_at, change_counter) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        params![code_id, op, body, idem_key, now(), tx.counter],
    )?;
    Ok(tx.tx.last_insert_rowid())
}

const OUTBOX_COLUMNS: &str = "seq, code_id, op, body, idem_key, state, attempts, maybe_sent, error";

fn outbox_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    let error: Option<String> = r.get(8)?;
    Ok(OutboxRow {
        seq: r.get(0)?,
        code_id: r.get(1)?,
        op: r.get(2)?,
        body: r.get(3)?,
        idem_key: r.get(4)?,
        state: r.get(5)?,
        attempts: r.get(6)?,
        maybe_sent: r.get(7)?,
        error: error.and_then(|e| serde_json::from_str(&e).ok()),
    })
}

/// Every request in the outbox (queued and failed), oldest first.
pub(crate) fn outbox(conn: &Connection) -> Result<Vec<OutboxRow>, ClientError> {
    let mut stmt = conn.prepare(&format!("SELECT {OUTBOX_COLUMNS} FROM outbox ORDER BY seq"))?;
    let rows = stmt.query_map([], outbox_row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// The oldest queued request.
pub(crate) fn next_queued(conn: &Connection) -> Result<Option<OutboxRow>, ClientError> {
    Ok(conn
        .query_row(
            &format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE state = 'queued' ORDER BY seq LIMIT 1"
            ),
            [],
            outbox_row,
        )
        .optional()?)
}

/// One request by its sequence number.
pub(crate) fn outbox_entry(conn: &Connection, seq: i64) -> Result<Option<OutboxRow>, ClientError> {
    Ok(conn
        .query_row(
            &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE seq = ?1"),
            [seq],
            outbox_row,
        )
        .optional()?)
}

/// Marks a request as possibly sent, before the attempt (write-ahead).
pub(crate) fn mark_attempt(tx: &Tx<'_>, seq: i64) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE outbox SET attempts = attempts + 1, maybe_sent = 1 WHERE seq = ?1",
        [seq],
    )?;
    Ok(())
}

/// The attempt never left the phone.
pub(crate) fn mark_not_sent(
    tx: &Tx<'_>,
    seq: i64,
    was_sent_before: bool,
) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE outbox SET maybe_sent = ?1 WHERE seq = ?2",
        params![was_sent_before, seq],
    )?;
    Ok(())
}

/// The server refused a request for good.
pub(crate) fn mark_failed(tx: &Tx<'_>, seq: i64, problem: &Problem) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE outbox SET state = 'failed', error = ?1, change_counter = ?2 WHERE seq = ?3",
        params![serde_json::to_string(problem)?, tx.counter, seq],
    )?;
    Ok(())
}

/// Rewrites an unsent request's body and key.
pub(crate) fn rewrite(
    tx: &Tx<'_>,
    seq: i64,
    body: &str,
    idem_key: &str,
) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE outbox SET body = ?1, idem_key = ?2, maybe_sent = 0, change_counter = ?3 WHERE seq = ?4",
        params![body, idem_key, tx.counter, seq],
    )?;
    Ok(())
}

/// A request was answered: it leaves the outbox.
pub(crate) fn remove_entry(tx: &Tx<'_>, seq: i64) -> Result<(), ClientError> {
    tx.tx.execute("DELETE FROM outbox WHERE seq = ?1", [seq])?;
    Ok(())
}

// ---- receipts ----
