//! Code uses: a code opened a door (the lock's `code_used`,
//! `one_time_consumed`, `offline_code_used` or `card_used` event), recorded
//! once per lock, life and sequence number in the write that stores the
//! event, and read by sync (per unit or per property, by change counter)
//! and per code.

use super::batch::{Value, bound};
use super::row::col;
use super::{Context, Write, limit_of};
use crate::error::Result;

/// A use to record.
#[derive(Debug, Clone)]
pub struct NewUse {
    /// Id.
    pub id: String,
    /// The code.
    pub code_id: String,
    /// The code's unit (resident and guest codes).
    pub unit_id: Option<String>,
    /// The door.
    pub lock_id: String,
    /// The lock's life (16 hex digits).
    pub epoch: String,
    /// The event's number in that life.
    pub lock_seq: u32,
    /// When, on the lock's clock (Unix seconds).
    pub at: i64,
    /// The lock's event: `code_used`, `one_time_consumed`,
    /// `offline_code_used` or `card_used`.
    pub kind: &'static str,
}

/// A recorded use, with the names it is shown with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRow {
    /// Id.
    pub id: String,
    /// The property.
    pub property_id: String,
    /// The code.
    pub code_id: String,
    /// The code's name.
    pub code_name: Option<String>,
    /// The door.
    pub lock_id: String,
    /// The door's name.
    pub lock_name: String,
    /// When, on the lock's clock (Unix seconds).
    pub at: i64,
    /// The lock's event (see [`NewUse::kind`]).
    pub kind: String,
    /// The write that recorded it.
    pub change_seq: i64,
}

/// Records a use in this write (stamped with its change counter); false
/// when the lock's event was recorded before.
pub async fn record(w: &mut Write, new: &NewUse) -> Result<bool> {
    let (seq, property_id) = (w.seq(), w.property_id().to_owned());
    let values: Vec<Value> = vec![
        new.id.clone().into(),
        property_id.into(),
        new.code_id.clone().into(),
        new.unit_id.clone().into(),
        new.lock_id.clone().into(),
        new.epoch.clone().into(),
        i64::from(new.lock_seq).into(),
        new.at.into(),
        new.kind.into(),
        seq.into(),
    ];
    let inserted = bound(
        "INSERT INTO code_uses (id, property_id, code_id, unit_id, lock_id, epoch, lock_seq, at, kind, change_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (lock_id, epoch, lock_seq) DO NOTHING".to_owned(),
        values,
    )
    .execute(w.conn())
    .await?
    .rows_affected();
    Ok(inserted > 0)
}

const COLUMNS: &str = "u.id, u.property_id, u.code_id, c.name AS code_name, u.lock_id, l.name AS lock_name, u.at, u.kind, u.change_seq FROM code_uses u JOIN codes c ON c.id = u.code_id JOIN locks l ON l.id = u.lock_id";

async fn fetch(cx: &mut impl Context, clause: &str, binds: Vec<Value>) -> Result<Vec<UseRow>> {
    let sql = format!("SELECT {COLUMNS} WHERE {clause}");
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter()
        .map(|row| {
            Ok(UseRow {
                id: col(row, "id")?,
                property_id: col(row, "property_id")?,
                code_id: col(row, "code_id")?,
                code_name: col(row, "code_name")?,
                lock_id: col(row, "lock_id")?,
                lock_name: col(row, "lock_name")?,
                at: col(row, "at")?,
                kind: col(row, "kind")?,
                change_seq: col(row, "change_seq")?,
            })
        })
        .collect()
}

/// Uses of a unit's codes recorded after `after` and up to `upto`, in
/// change order, at most `limit`. By unit alone (unit ids are unique; the
/// caller checks the property), so the unit's index is the one that fits.
pub async fn changed_of_unit(
    cx: &mut impl Context,
    unit_id: &str,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<Vec<UseRow>> {
    let clause = format!(
        "u.unit_id = $1 AND u.change_seq > $2 AND u.change_seq <= $3 ORDER BY u.change_seq, u.id{}",
        limit_of(limit)
    );
    fetch(cx, &clause, vec![unit_id.into(), after.into(), upto.into()]).await
}

/// Uses of a property's codes recorded after `after` and up to `upto`, in
/// change order, at most `limit`.
pub async fn changed_of_property(
    cx: &mut impl Context,
    property_id: &str,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<Vec<UseRow>> {
    let clause = format!(
        "u.property_id = $1 AND u.change_seq > $2 AND u.change_seq <= $3 ORDER BY u.change_seq, u.id{}",
        limit_of(limit)
    );
    fetch(
        cx,
        &clause,
        vec![property_id.into(), after.into(), upto.into()],
    )
    .await
}

/// A code's newest uses (by the lock's clock), at most `limit`.
pub async fn of_code(cx: &mut impl Context, code_id: &str, limit: i64) -> Result<Vec<UseRow>> {
    let clause = format!("u.code_id = $1 ORDER BY u.at DESC, u.id DESC LIMIT {limit}");
    fetch(cx, &clause, vec![code_id.into()]).await
}
