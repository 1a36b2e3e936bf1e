//! Code uses as sync brought them: each stored once by the server's id,
//! with the id the app knows the code by, and whether the app was told
//! (`announced`): a use is announced once, never again on a later sync or
//! after a restart.

use rusqlite::{Connection, params};

use super::Tx;
use crate::ClientError;
use crate::records::CodeUse;

/// Uses kept on the phone: the newest this many.
const KEPT: i64 = 1000;

/// Stores a use the server reported (a use seen before keeps its state).
/// `announced`: the app need not be told (the history a first sync brings).
pub(crate) fn put_use(
    tx: &Tx<'_>,
    used: &keyway_api::CodeUse,
    announced: bool,
) -> Result<(), ClientError> {
    tx.tx.execute(
        "INSERT INTO code_uses (id, code_id, code_name, lock_id, lock_name, at, kind, announced, change_counter)
         VALUES (?1, COALESCE((SELECT id FROM codes_local WHERE server_id = ?2), ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9)
         ON CONFLICT (id) DO NOTHING",
        params![
            used.id,
            used.code_id,
            used.code_name,
            used.lock_id,
            used.lock_name,
            used.at.as_second(),
            used.kind,
            announced,
            tx.counter,
        ],
    )?;
    Ok(())
}

/// Forgets all but the newest uses.
pub(crate) fn prune_uses(tx: &Tx<'_>) -> Result<(), ClientError> {
    tx.tx.execute(
        "DELETE FROM code_uses WHERE id NOT IN (SELECT id FROM code_uses ORDER BY at DESC, id DESC LIMIT ?1)",
        [KEPT],
    )?;
    Ok(())
}

fn read(conn: &Connection, sql: &str, limit: i64) -> Result<Vec<CodeUse>, ClientError> {
    let mut stmt = conn.prepare(sql)?;
    let rows = stmt.query_map([limit], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, Option<String>>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, String>(4)?,
            r.get::<_, i64>(5)?,
            r.get::<_, String>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (id, code_id, code_name, lock_id, lock_name, at, kind) = row?;
        out.push(CodeUse {
            id,
            code_id,
            code_name,
            lock_id,
            lock_name,
            at: jiff::Timestamp::from_second(at).map_err(|e| ClientError::Storage {
                detail: format!("a use's time in the store: {e}"),
            })?,
            kind,
        });
    }
    Ok(out)
}

/// The newest uses, newest first, at most `limit`.
pub(crate) fn uses(conn: &Connection, limit: i64) -> Result<Vec<CodeUse>, ClientError> {
    read(
        conn,
        "SELECT id, code_id, code_name, lock_id, lock_name, at, kind FROM code_uses ORDER BY at DESC, id DESC LIMIT ?1",
        limit,
    )
}

/// Uses the app was not told of yet, oldest first.
pub(crate) fn unannounced(conn: &Connection) -> Result<Vec<CodeUse>, ClientError> {
    read(
        conn,
        "SELECT id, code_id, code_name, lock_id, lock_name, at, kind FROM code_uses WHERE announced = 0 ORDER BY at, id LIMIT ?1",
        KEPT,
    )
}

/// The app was told of these uses.
pub(crate) fn mark_announced(tx: &Tx<'_>, ids: &[String]) -> Result<(), ClientError> {
    let mut stmt = tx
        .tx
        .prepare("UPDATE code_uses SET announced = 1, change_counter = ?1 WHERE id = ?2")?;
    for id in ids {
        stmt.execute(params![tx.counter, id])?;
    }
    Ok(())
}
