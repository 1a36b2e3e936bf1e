//! Receipts from locks waiting to be uploaded, in batches with stable keys.

use rusqlite::{Connection, OptionalExtension, params};

use super::{Tx, now};
use crate::ClientError;

/// A receipt waiting to be uploaded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ReceiptRow {
    pub(crate) id: i64,
    pub(crate) body: String,
    pub(crate) batch_key: Option<String>,
}

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
