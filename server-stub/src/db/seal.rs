//! At open: the check that the data key is the one the database was created
//! with, and the one-time re-seal upgrade that binds every sealed value to
//! its table, column and row (`seal_format` in `meta`).

use sqlx::AnyPool;

use super::StoreError;
use crate::crypto::{Cell, DataKey};

/// The sealed columns at rest, each with its table's primary key (an
/// expression over the row that [`Cell::new`] gets as its row): every value
/// is bound to its cell.
pub const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("codes", "value", "id"),
    ("placements", "value", "id"),
    ("offline_codes", "value", "id"),
    ("locks", "root_key", "id"),
    ("recipients", "email", "id"),
    ("recipients", "phone", "id"),
    ("outbox", "recipient", "id"),
    ("outbox", "body", "id"),
    ("users", "email", "id"),
    ("user_contacts", "email", "user_id"),
    ("user_contacts", "phone", "user_id"),
    ("webhooks", "secret", "id"),
];

/// The format of sealed values this server writes, kept in `meta` as
/// `seal_format`: 1 binds each value to its table, column and row.
const SEAL_FORMAT: &str = "1";

/// Refuses a key other than the one the database was created with (and
/// records it on a new database).
pub(super) async fn check_key(pool: &AnyPool, key: &DataKey) -> Result<(), StoreError> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT value FROM meta WHERE key = 'data_key_check'")
            .fetch_optional(pool)
            .await?;
    match found {
        Some((value,)) if value == key.check_value() => Ok(()),
        Some(_) => Err(StoreError::WrongKey),
        None => {
            sqlx::query("INSERT INTO meta (key, value) VALUES ('data_key_check', $1)")
                .bind(key.check_value().to_owned())
                .execute(pool)
                .await?;
            Ok(())
        }
    }
}

/// Once per database: re-seals every value written before sealed values
/// were bound to their cells (and seals idempotency answers stored as plain
/// JSON before they were encrypted), in one transaction, then records the
/// format in `meta`.
pub(super) async fn bind_sealed_values(pool: &AnyPool, key: &DataKey) -> Result<(), StoreError> {
    let format: Option<(String,)> =
        sqlx::query_as("SELECT value FROM meta WHERE key = 'seal_format'")
            .fetch_optional(pool)
            .await?;
    if format.is_some_and(|(f,)| f == SEAL_FORMAT) {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    let mut rebound = 0usize;
    for &(table, column, id) in SEALED_COLUMNS {
        let select = format!("SELECT {id}, {column} FROM {table} WHERE {column} IS NOT NULL");
        let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(select))
            .fetch_all(&mut *tx)
            .await?;
        let update = format!("UPDATE {table} SET {column} = $1 WHERE {id} = $2");
        for (row, stored) in rows {
            let bound = key
                .rebind(Cell::new(table, column, &row), &stored)
                .map_err(|_| StoreError::Reseal(table))?;
            if bound != stored {
                sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                    .bind(bound)
                    .bind(row)
                    .execute(&mut *tx)
                    .await?;
                rebound += 1;
            }
        }
    }
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT principal, key, body FROM idempotency")
            .fetch_all(&mut *tx)
            .await?;
    for (principal, idem_key, stored) in rows {
        let row = Cell::key_of(&[&principal, &idem_key]);
        let cell = Cell::new("idempotency", "body", &row);
        // Answers stored before they were encrypted are JSON as they are.
        let bound = if stored.starts_with('{') {
            key.seal_str(cell, &stored)
        } else {
            key.rebind(cell, &stored)
        }
        .map_err(|_| StoreError::Reseal("idempotency"))?;
        if bound != stored {
            sqlx::query("UPDATE idempotency SET body = $1 WHERE principal = $2 AND key = $3")
                .bind(bound)
                .bind(principal)
                .bind(idem_key)
                .execute(&mut *tx)
                .await?;
            rebound += 1;
        }
    }
    sqlx::query(
        "INSERT INTO meta (key, value) VALUES ('seal_format', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )
    .bind(SEAL_FORMAT.to_owned())
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    if rebound > 0 {
        log::info!("bound {rebound} sealed value(s) to their table, column and row");
    }
    Ok(())
}
