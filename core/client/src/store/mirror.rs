//! The mirror of what the server last said: locks, codes and tombstones.

use rusqlite::{Connection, OptionalExtension, params};

use super::Tx;
use crate::ClientError;
use keyway_api::LockSync;

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
