//! The phone's local store: one SQLite file (WAL, `synchronous = FULL`) that
//! survives being killed at any instant. It owns the schema and every read and
//! write of it; each change is one transaction ([`Store::write`]).
//!
//! Shapes after mozilla application-services: a **mirror** of what the server
//! last said (`codes_mirror`, `locks_mirror`, `tombstones`) beside the **local
//! overlay** (`codes_local` for codes created here, `outbox` for requests not
//! yet answered), the **uses** sync brought (`code_uses`, each announced to
//! the app once), a global **change counter** stamped on every row a
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

use crate::ClientError;

mod local;
mod mirror;
mod outbox;
mod receipts;
mod uses;

pub(crate) use local::*;
pub(crate) use mirror::*;
pub(crate) use outbox::*;
pub(crate) use receipts::*;
pub(crate) use uses::*;

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
CREATE TABLE IF NOT EXISTS code_uses (
    id TEXT PRIMARY KEY,
    code_id TEXT NOT NULL,
    code_name TEXT,
    lock_id TEXT NOT NULL,
    lock_name TEXT NOT NULL,
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    announced INTEGER NOT NULL,
    change_counter INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS code_uses_unannounced ON code_uses (announced, at);
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
         DELETE FROM codes_local; DELETE FROM outbox; DELETE FROM receipts; DELETE FROM code_uses;
         DELETE FROM meta WHERE key NOT IN ('schema_version', 'change_counter');",
    )?;
    mark_for_scrub(tx)
}

/// Asks for a scrub after this transaction: it deleted something secret.
pub(crate) fn mark_for_scrub(tx: &Tx<'_>) -> Result<(), ClientError> {
    set_meta(&tx.tx, SCRUB_PENDING, "1")
}

// ---- locks ----

/// Seconds since the Unix epoch.
pub(crate) fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
