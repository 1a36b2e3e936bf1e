//! The local overlay: codes created on this phone, mapped to the server's ids once accepted.

use rusqlite::{Connection, OptionalExtension, params};

use super::Tx;
use crate::ClientError;
use keyway_api::CreateCodeRequest;

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
