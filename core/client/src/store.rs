//! The phone's local store: one SQLite file (WAL, `synchronous = FULL`) that
//! survives being killed at any instant. It owns the schema and every read and
//! write of it; each change is one transaction ([`Store::write`]).
//!
//! Shapes after mozilla application-services: a **mirror** of what the server
//! last said (`codes_mirror`, `locks_mirror`, `tombstones`) beside the **local
//! overlay** (`codes_local` for codes created here, `outbox` for requests not
//! yet answered), a global **change counter** stamped on every row a
//! transaction touches, and tombstones so a deleted code never comes back
//! from a stale answer.
//!
//! Forgetting is for good: `secure_delete` zeroes deleted rows and freed
//! pages as they go, and after a wipe ([`wipe`], then [`Store::scrub_if_pending`])
//! the file is rebuilt (`VACUUM`) and the write-ahead log emptied
//! (`wal_checkpoint(TRUNCATE)`), so no code or token a wiped store held is left
//! in `keyway.sqlite3`, `-wal` or `-shm`. A flag committed with the wipe makes a
//! kill before the scrub finish it at the next open.

use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, OptionalExtension, Transaction, params};

use super::ClientError;
use keyway_api::{CreateCodeRequest, LockSync, Problem};

/// Schema version stored in `meta`.
const SCHEMA_VERSION: &str = "2";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS locks_mirror (
    lock_id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    access_point TEXT NOT NULL,
    unit_id TEXT,
    enter_key INTEGER NOT NULL,
    constraints TEXT NOT NULL,
    confirmed_version INTEGER NOT NULL,
    target_version INTEGER,
    advert_key TEXT NOT NULL,
    change_counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes_mirror (
    server_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    change_counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS tombstones (
    server_id TEXT PRIMARY KEY,
    change_counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS codes_local (
    id TEXT PRIMARY KEY,
    server_id TEXT UNIQUE,
    request TEXT NOT NULL,
    lock_ids TEXT NOT NULL,
    value TEXT,
    created_at INTEGER NOT NULL,
    change_counter INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    code_id TEXT NOT NULL,
    op TEXT NOT NULL,
    body TEXT NOT NULL,
    idem_key TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    maybe_sent INTEGER NOT NULL DEFAULT 0,
    error TEXT,
    created_at INTEGER NOT NULL,
    change_counter INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_by_code ON outbox (code_id);
CREATE TABLE IF NOT EXISTS receipts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    lock_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    body TEXT NOT NULL,
    batch_key TEXT,
    created_at INTEGER NOT NULL
);
";

/// From schema 1 (lock protocol 1, jobs carried from sync): the lock mirror
/// gains advertising keys and loses jobs, and is pulled again from the start;
/// statuses kept for upload can no longer settle anything.
const FROM_SCHEMA_1: &str = "
DROP TABLE locks_mirror;
DELETE FROM receipts WHERE kind = 'status';
DELETE FROM meta WHERE key = 'cursor';
";

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

/// A code created on this phone (the overlay row that maps its local id to
/// the server's once the server accepted it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LocalRow {
    pub(crate) id: String,
    pub(crate) server_id: Option<String>,
    pub(crate) request: CreateCodeRequest,
    pub(crate) lock_ids: Vec<String>,
    pub(crate) value: Option<String>,
    pub(crate) created_at: i64,
}

/// A receipt waiting to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiptRow {
    pub(crate) id: i64,
    pub(crate) body: String,
    pub(crate) batch_key: Option<String>,
}

/// The SQLite file.
#[derive(Debug)]
pub(crate) struct Store {
    conn: Mutex<Connection>,
}

/// The current transaction's change counter.
pub(crate) struct Tx<'a> {
    pub(crate) tx: Transaction<'a>,
    pub(crate) counter: i64,
}

impl Store {
    /// Opens (creating if needed) the store at `path`.
    pub(crate) fn open(path: &Path) -> Result<Self, ClientError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            log::warn!("the local store is not in WAL mode ({mode})");
        }
        // FULL: a committed transaction survives a power cut, not only a kill.
        // secure_delete: deleted content is overwritten with zeros, not left in
        // free space (per connection; this store has one).
        conn.execute_batch(
            "PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON;",
        )?;
        let secure: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
        if secure != 1 {
            return Err(ClientError::Storage {
                detail: "SQLite refused secure_delete".into(),
            });
        }
        let version: Option<String> = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'schema_version'",
                [],
                |r| r.get(0),
            )
            .optional()
            .unwrap_or(None);
        if version.as_deref() == Some("1") {
            conn.execute_batch(FROM_SCHEMA_1)?;
            conn.execute(
                "UPDATE meta SET value = ?1 WHERE key = 'schema_version'",
                [SCHEMA_VERSION],
            )?;
        }
        conn.execute_batch(SCHEMA)?;
        let store = Self {
            conn: Mutex::new(conn),
        };
        store.write(|tx| {
            match get_meta(&tx.tx, "schema_version")? {
                None => set_meta(&tx.tx, "schema_version", SCHEMA_VERSION)?,
                Some(v) if v == SCHEMA_VERSION => {}
                Some(v) => {
                    return Err(ClientError::Storage {
                        detail: format!(
                            "the store has schema version {v}; this library reads {SCHEMA_VERSION}"
                        ),
                    });
                }
            }
            Ok(())
        })?;
        store.scrub_if_pending()?;
        Ok(store)
    }

    /// Finishes a wipe: when one was committed (a flag in `meta`), rebuilds
    /// the file without free pages (`VACUUM`) and empties the write-ahead log
    /// (`wal_checkpoint(TRUNCATE)`, which waits up to the busy timeout for
    /// other connections' readers). Fails (`storage`) if another connection
    /// keeps the log from being emptied; the flag stays, so the next open or
    /// wipe tries again.
    pub(crate) fn scrub_if_pending(&self) -> Result<(), ClientError> {
        let pending = self.read(|conn| get_meta(conn, SCRUB_PENDING))?.is_some();
        if !pending {
            return Ok(());
        }
        let conn = self.lock();
        conn.execute_batch("VACUUM")?;
        truncate_wal(&conn)?;
        conn.execute("DELETE FROM meta WHERE key = ?1", [SCRUB_PENDING])?;
        truncate_wal(&conn)
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Runs `f` in one read transaction.
    pub(crate) fn read<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        let out = f(&tx)?;
        tx.commit()?;
        Ok(out)
    }

    /// Runs `f` in one write transaction with a fresh change counter; commits
    /// when it returns `Ok`, rolls back otherwise.
    pub(crate) fn write<T>(
        &self,
        f: impl FnOnce(&Tx<'_>) -> Result<T, ClientError>,
    ) -> Result<T, ClientError> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let counter = get_meta(&tx, "change_counter")?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(0)
            + 1;
        set_meta(&tx, "change_counter", &counter.to_string())?;
        let tx = Tx { tx, counter };
        let out = f(&tx)?;
        tx.tx.commit()?;
        Ok(out)
    }
}

/// Set in `meta` with a wipe until the file is scrubbed.
const SCRUB_PENDING: &str = "scrub_pending";

/// Copies the write-ahead log into the database and truncates it to zero
/// bytes, so no older page image stays in it.
fn truncate_wal(conn: &Connection) -> Result<(), ClientError> {
    let busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    if busy != 0 {
        return Err(ClientError::Storage {
            detail: "the store was wiped, but another connection keeps its old pages in the \
                     write-ahead log: close it and log out again"
                .into(),
        });
    }
    Ok(())
}

/// A value from `meta`.
pub(crate) fn get_meta(conn: &Connection, key: &str) -> Result<Option<String>, ClientError> {
    Ok(conn
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
        .optional()?)
}

/// Sets a value in `meta`.
pub(crate) fn set_meta(conn: &Connection, key: &str, value: &str) -> Result<(), ClientError> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// Removes a value from `meta`.
pub(crate) fn delete_meta(conn: &Connection, key: &str) -> Result<(), ClientError> {
    conn.execute("DELETE FROM meta WHERE key = ?1", [key])?;
    Ok(())
}

/// A JSON value from `meta`.
pub(crate) fn get_meta_json<T: serde::de::DeserializeOwned>(
    conn: &Connection,
    key: &str,
) -> Result<Option<T>, ClientError> {
    match get_meta(conn, key)? {
        Some(text) => Ok(Some(serde_json::from_str(&text)?)),
        None => Ok(None),
    }
}

/// Forgets everything: a new login of another user, or a logout. Call
/// [`Store::scrub_if_pending`] once the transaction commits (the next open
/// does it otherwise).
pub(crate) fn wipe(tx: &Tx<'_>) -> Result<(), ClientError> {
    tx.tx.execute_batch(
        "DELETE FROM locks_mirror; DELETE FROM codes_mirror; DELETE FROM tombstones;
         DELETE FROM codes_local; DELETE FROM outbox; DELETE FROM receipts;
         DELETE FROM meta WHERE key NOT IN ('schema_version', 'change_counter');",
    )?;
    mark_for_scrub(tx)
}

/// Asks for a scrub after this transaction: it deleted something secret.
pub(crate) fn mark_for_scrub(tx: &Tx<'_>) -> Result<(), ClientError> {
    set_meta(&tx.tx, SCRUB_PENDING, "1")
}

// ---- locks ----

/// Upserts a lock as the server described it.
pub(crate) fn put_lock(tx: &Tx<'_>, lock: &LockSync) -> Result<(), ClientError> {
    tx.tx.execute(
        "INSERT INTO locks_mirror (lock_id, name, access_point, unit_id, enter_key, constraints, confirmed_version, target_version, advert_key, change_counter)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (lock_id) DO UPDATE SET name = excluded.name, access_point = excluded.access_point,
           unit_id = excluded.unit_id, enter_key = excluded.enter_key, constraints = excluded.constraints,
           confirmed_version = excluded.confirmed_version, target_version = excluded.target_version,
           advert_key = excluded.advert_key, change_counter = excluded.change_counter",
        params![
            lock.lock_id,
            lock.name,
            lock.access_point.as_str(),
            lock.unit_id,
            lock.enter_key,
            serde_json::to_string(&lock.constraints)?,
            lock.confirmed_version,
            lock.target_version,
            lock.advert_key,
            tx.counter,
        ],
    )?;
    Ok(())
}

/// Every lock the server said this user may carry jobs to.
pub(crate) fn locks(conn: &Connection) -> Result<Vec<LockSync>, ClientError> {
    let mut stmt = conn.prepare(
        "SELECT lock_id, name, access_point, unit_id, enter_key, constraints, confirmed_version, target_version, advert_key FROM locks_mirror ORDER BY name, lock_id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, Option<String>>(3)?,
            r.get::<_, bool>(4)?,
            r.get::<_, String>(5)?,
            r.get::<_, u32>(6)?,
            r.get::<_, Option<u32>>(7)?,
            r.get::<_, String>(8)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, name, ap, unit, enter, constraints, confirmed, target, advert_key) = row?;
        out.push(LockSync {
            lock_id: id,
            name,
            access_point: ap.parse().map_err(|_| ClientError::Storage {
                detail: format!("unknown access point `{ap}` in the store"),
            })?,
            unit_id: unit,
            enter_key: enter,
            constraints: serde_json::from_str(&constraints)?,
            confirmed_version: confirmed,
            target_version: target,
            advert_key,
        });
    }
    Ok(out)
}

// ---- codes ----

/// Upserts a code as the server described it, unless it was tombstoned.
pub(crate) fn put_code(tx: &Tx<'_>, server_id: &str, body: &str) -> Result<(), ClientError> {
    if is_tombstoned(&tx.tx, server_id)? {
        return Ok(());
    }
    tx.tx.execute(
        "INSERT INTO codes_mirror (server_id, body, change_counter) VALUES (?1, ?2, ?3)
         ON CONFLICT (server_id) DO UPDATE SET body = excluded.body, change_counter = excluded.change_counter",
        params![server_id, body, tx.counter],
    )?;
    Ok(())
}

/// Inserts a code only if the mirror does not have it yet (an answer to a
/// write: never newer than what a sync pulled).
pub(crate) fn put_code_if_absent(
    tx: &Tx<'_>,
    server_id: &str,
    body: &str,
) -> Result<(), ClientError> {
    if is_tombstoned(&tx.tx, server_id)? {
        return Ok(());
    }
    tx.tx.execute(
        "INSERT INTO codes_mirror (server_id, body, change_counter) VALUES (?1, ?2, ?3) ON CONFLICT (server_id) DO NOTHING",
        params![server_id, body, tx.counter],
    )?;
    Ok(())
}

fn is_tombstoned(conn: &Connection, server_id: &str) -> Result<bool, ClientError> {
    Ok(conn
        .query_row(
            "SELECT 1 FROM tombstones WHERE server_id = ?1",
            [server_id],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A code is gone for good: drop it from the mirror and the overlay.
pub(crate) fn tombstone(tx: &Tx<'_>, server_id: &str) -> Result<(), ClientError> {
    tx.tx.execute(
        "INSERT INTO tombstones (server_id, change_counter) VALUES (?1, ?2) ON CONFLICT (server_id) DO UPDATE SET change_counter = excluded.change_counter",
        params![server_id, tx.counter],
    )?;
    tx.tx
        .execute("DELETE FROM codes_mirror WHERE server_id = ?1", [server_id])?;
    let local: Option<String> = tx
        .tx
        .query_row(
            "SELECT id FROM codes_local WHERE server_id = ?1",
            [server_id],
            |r| r.get(0),
        )
        .optional()?;
    tx.tx.execute(
        "DELETE FROM outbox WHERE code_id = ?1 OR code_id = ?2",
        params![server_id, local],
    )?;
    tx.tx
        .execute("DELETE FROM codes_local WHERE server_id = ?1", [server_id])?;
    Ok(())
}

/// Every code body in the mirror, by server id.
pub(crate) fn mirror_codes(conn: &Connection) -> Result<Vec<(String, String)>, ClientError> {
    let mut stmt = conn.prepare("SELECT server_id, body FROM codes_mirror ORDER BY rowid")?;
    let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every overlay row.
pub(crate) fn local_codes(conn: &Connection) -> Result<Vec<LocalRow>, ClientError> {
    let mut stmt = conn.prepare(
        "SELECT id, server_id, request, lock_ids, value, created_at FROM codes_local ORDER BY created_at, id",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, Option<String>>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, i64>(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, server_id, request, lock_ids, value, created_at) = row?;
        out.push(LocalRow {
            id,
            server_id,
            request: serde_json::from_str(&request)?,
            lock_ids: serde_json::from_str(&lock_ids)?,
            value,
            created_at,
        });
    }
    Ok(out)
}

/// Adds an overlay row for a code created on this phone.
pub(crate) fn insert_local(tx: &Tx<'_>, row: &LocalRow) -> Result<(), ClientError> {
    tx.tx.execute(
        "INSERT INTO codes_local (id, server_id, request, lock_ids, value, created_at, change_counter) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            row.id,
            row.server_id,
            serde_json::to_string(&row.request)?,
            serde_json::to_string(&row.lock_ids)?,
            row.value,
            row.created_at,
            tx.counter
        ],
    )?;
    Ok(())
}

/// Records the server's id of a code created here.
pub(crate) fn map_server_id(tx: &Tx<'_>, id: &str, server_id: &str) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE codes_local SET server_id = ?1, value = NULL, change_counter = ?2 WHERE id = ?3",
        params![server_id, tx.counter, id],
    )?;
    Ok(())
}

/// Rewrites an unsent create (a generate that became a local draw).
pub(crate) fn update_local_request(
    tx: &Tx<'_>,
    id: &str,
    request: &CreateCodeRequest,
    value: Option<&str>,
) -> Result<(), ClientError> {
    tx.tx.execute(
        "UPDATE codes_local SET request = ?1, value = ?2, change_counter = ?3 WHERE id = ?4",
        params![serde_json::to_string(request)?, value, tx.counter, id],
    )?;
    Ok(())
}

/// Drops an overlay row and its requests (a create the server refused, or
/// never saw, being dismissed).
pub(crate) fn delete_local(tx: &Tx<'_>, id: &str) -> Result<(), ClientError> {
    tx.tx
        .execute("DELETE FROM outbox WHERE code_id = ?1", [id])?;
    tx.tx
        .execute("DELETE FROM codes_local WHERE id = ?1", [id])?;
    Ok(())
}

/// The server id of a code by its id on this phone, and whether it is known
/// at all (`None`: no such code).
pub(crate) fn resolve(conn: &Connection, id: &str) -> Result<Option<Option<String>>, ClientError> {
    if let Some(server_id) = conn
        .query_row(
            "SELECT server_id FROM codes_local WHERE id = ?1",
            [id],
            |r| r.get::<_, Option<String>>(0),
        )
        .optional()?
    {
        return Ok(Some(server_id));
    }
    let mirrored = conn
        .query_row(
            "SELECT 1 FROM codes_mirror WHERE server_id = ?1",
            [id],
            |_| Ok(()),
        )
        .optional()?;
    Ok(mirrored.map(|()| Some(id.to_owned())))
}

// ---- outbox ----

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

/// Stores a job receipt carried back from a lock.
pub(crate) fn add_receipt(tx: &Tx<'_>, lock_id: &str, body: &str) -> Result<(), ClientError> {
    tx.tx.execute(
        "INSERT INTO receipts (lock_id, kind, body, created_at) VALUES (?1, 'job', ?2, ?3)",
        params![lock_id, body, now()],
    )?;
    Ok(())
}

/// The next batch of receipts to upload: one already given a key (a batch
/// whose answer was lost), else up to `max` new ones under `fresh_key`.
pub(crate) fn receipt_batch(
    tx: &Tx<'_>,
    max: usize,
    fresh_key: &str,
) -> Result<Option<(String, Vec<ReceiptRow>)>, ClientError> {
    let pending: Option<String> = tx
        .tx
        .query_row(
            "SELECT batch_key FROM receipts WHERE batch_key IS NOT NULL ORDER BY id LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?;
    let key = match pending {
        Some(key) => key,
        None => {
            let n = tx.tx.execute(
                "UPDATE receipts SET batch_key = ?1 WHERE id IN (SELECT id FROM receipts WHERE batch_key IS NULL ORDER BY id LIMIT ?2)",
                params![fresh_key, max as i64],
            )?;
            if n == 0 {
                return Ok(None);
            }
            fresh_key.to_owned()
        }
    };
    let mut stmt = tx
        .tx
        .prepare("SELECT id, body, batch_key FROM receipts WHERE batch_key = ?1 ORDER BY id")?;
    let rows = stmt.query_map([&key], |r| {
        Ok(ReceiptRow {
            id: r.get(0)?,
            body: r.get(1)?,
            batch_key: r.get(2)?,
        })
    })?;
    let rows: Vec<ReceiptRow> = rows.collect::<Result<_, _>>()?;
    Ok(Some((key, rows)))
}

/// A batch was answered: its receipts leave the store.
pub(crate) fn remove_batch(tx: &Tx<'_>, key: &str) -> Result<(), ClientError> {
    tx.tx
        .execute("DELETE FROM receipts WHERE batch_key = ?1", [key])?;
    Ok(())
}

/// How many receipts wait for upload.
pub(crate) fn receipt_count(conn: &Connection) -> Result<u64, ClientError> {
    Ok(conn.query_row("SELECT COUNT(*) FROM receipts", [], |r| r.get::<_, i64>(0))? as u64)
}

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
