//! Codes (a credential that may sit on several locks), their placements on
//! locks ([`placements`]), the deleted courier and staff PINs, and the API
//! views of codes ([`views`]).

pub mod placements;
pub mod views;

use std::collections::HashSet;

use keyway_api::{CodeStatus, GuestType};
use keyway_codes::{Code, CodeKind, Origin, Schedule};
use sqlx::any::AnyRow;

use super::batch::{Insert, Value, bound};
use super::row::{col, enum_col, enum_str, flag_col, json_col};
use super::{Context, Write, limit_of};
use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};

pub use placements::{Holds, Placement};
pub use views::{code_view, code_views};

/// A code (a credential that may sit on several locks).
#[derive(Debug, Clone)]
pub struct CodeRow {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Kind.
    pub kind: CodeKind,
    /// Origin.
    pub origin: Origin,
    /// `unit`, `carrier`, `courier`, `staff` or `recipient`.
    pub holder_type: String,
    /// The holder's id.
    pub holder_id: Option<String>,
    /// Unit, for resident and guest codes.
    pub unit_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Guest type.
    pub guest_type: Option<GuestType>,
    /// The sealed digits.
    pub value: String,
    /// Schedule.
    pub schedule: Schedule,
    /// One-time.
    pub one_time: bool,
    /// Enabled.
    pub enabled: bool,
    /// Status.
    pub status: CodeStatus,
    /// Created.
    pub created_at: i64,
    /// Updated.
    pub updated_at: i64,
    /// Change counter.
    pub change_seq: i64,
}

const CODE_COLUMNS: &str = "id, property_id, kind, origin, holder_type, holder_id, unit_id, name, guest_type, value, schedule, one_time, enabled, status, created_at, updated_at, change_seq";

impl CodeRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let guest: Option<String> = col(row, "guest_type")?;
        Ok(Self {
            id: col(row, "id")?,
            property_id: col(row, "property_id")?,
            kind: enum_col(row, "kind")?,
            origin: enum_col(row, "origin")?,
            holder_type: col(row, "holder_type")?,
            holder_id: col(row, "holder_id")?,
            unit_id: col(row, "unit_id")?,
            name: col(row, "name")?,
            guest_type: guest.map(|g| super::row::parse_enum(&g)).transpose()?,
            value: col(row, "value")?,
            schedule: json_col(row, "schedule")?,
            one_time: flag_col(row, "one_time")?,
            enabled: flag_col(row, "enabled")?,
            status: enum_col(row, "status")?,
            created_at: col(row, "created_at")?,
            updated_at: col(row, "updated_at")?,
            change_seq: col(row, "change_seq")?,
        })
    }

    /// The digits.
    pub fn code(&self, key: &DataKey) -> Result<Code> {
        Code::parse(&key.open_str(Cell::new("codes", "value", &self.id), &self.value)?)
            .map_err(|e| Error::internal("stored code", e))
    }
}

async fn fetch(cx: &mut impl Context, clause: &str, binds: Vec<Value>) -> Result<Vec<CodeRow>> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM codes WHERE {clause}");
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter().map(CodeRow::from_row).collect()
}

/// One code of a property (`not_found` otherwise).
pub async fn load(cx: &mut impl Context, property_id: &str, code_id: &str) -> Result<CodeRow> {
    fetch(
        cx,
        "id = $1 AND property_id = $2",
        vec![code_id.into(), property_id.into()],
    )
    .await?
    .pop()
    .ok_or_else(|| Error::not_found("code"))
}

/// A unit's resident and guest codes that are not deleted, in change order.
pub async fn of_unit(
    cx: &mut impl Context,
    property_id: &str,
    unit_id: &str,
) -> Result<Vec<CodeRow>> {
    fetch(
        cx,
        "property_id = $1 AND unit_id = $2 AND kind IN ('resident', 'guest') AND status <> 'deleted' ORDER BY change_seq",
        vec![property_id.into(), unit_id.into()],
    )
    .await
}

/// Every code of a property that is not deleted, in change order.
pub async fn of_property(cx: &mut impl Context, property_id: &str) -> Result<Vec<CodeRow>> {
    fetch(
        cx,
        "property_id = $1 AND status <> 'deleted' ORDER BY change_seq",
        vec![property_id.into()],
    )
    .await
}

/// A unit's resident and guest codes changed after `after` and up to
/// `upto`, in change order, at most `limit`. By unit alone, so that the
/// unit's index is the only one that fits, even for PostgreSQL's generic
/// plan (with the property in the query it walked the property's codes);
/// unit ids are unique, and the caller checks the property.
pub async fn changed_of_unit(
    cx: &mut impl Context,
    unit_id: &str,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<Vec<CodeRow>> {
    let clause = format!(
        "unit_id = $1 AND kind IN ('resident', 'guest') AND change_seq > $2 AND change_seq <= $3 ORDER BY change_seq, id{}",
        limit_of(limit)
    );
    fetch(cx, &clause, vec![unit_id.into(), after.into(), upto.into()]).await
}

/// A property's codes changed after `after` and up to `upto`, in change
/// order, at most `limit`.
pub async fn changed_of_property(
    cx: &mut impl Context,
    property_id: &str,
    after: i64,
    upto: i64,
    limit: Option<usize>,
) -> Result<Vec<CodeRow>> {
    let clause = format!(
        "property_id = $1 AND change_seq > $2 AND change_seq <= $3 ORDER BY change_seq, id{}",
        limit_of(limit)
    );
    fetch(
        cx,
        &clause,
        vec![property_id.into(), after.into(), upto.into()],
    )
    .await
}

/// The codes with these ids (any property: callers pass ids they read from
/// the property's own rows).
pub async fn by_ids(cx: &mut impl Context, ids: &[&str]) -> Result<Vec<CodeRow>> {
    let Some((any, binds)) = super::row::any_of("id", ids) else {
        return Ok(Vec::new());
    };
    fetch(cx, &any, binds).await
}

/// A holder's codes that have not ended (active or disabled), newest first.
pub async fn of_holder(
    cx: &mut impl Context,
    property_id: &str,
    holder_type: &str,
    holder_id: &str,
) -> Result<Vec<CodeRow>> {
    fetch(
        cx,
        "property_id = $1 AND holder_type = $2 AND holder_id = $3 AND status IN ('active', 'disabled') ORDER BY created_at DESC",
        vec![property_id.into(), holder_type.into(), holder_id.into()],
    )
    .await
}

/// A holder's codes, ended ones too, newest first, at most `limit`.
pub async fn history_of_holder(
    cx: &mut impl Context,
    property_id: &str,
    holder_type: &str,
    holder_id: &str,
    limit: i64,
) -> Result<Vec<CodeRow>> {
    fetch(
        cx,
        "property_id = $1 AND holder_type = $2 AND holder_id = $3 ORDER BY created_at DESC, id LIMIT $4",
        vec![
            property_id.into(),
            holder_type.into(),
            holder_id.into(),
            limit.into(),
        ],
    )
    .await
}

/// The ids of a unit's codes.
pub async fn ids_of_unit(cx: &mut impl Context, unit_id: &str) -> Result<HashSet<String>> {
    let rows: Vec<(String,)> = sqlx::query_as("SELECT id FROM codes WHERE unit_id = $1")
        .bind(unit_id.to_owned())
        .fetch_all(cx.conn())
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The live courier and staff PINs of a property whose value has this MAC.
pub async fn live_pins_with_mac(
    cx: &mut impl Context,
    property_id: &str,
    mac: &str,
) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM codes WHERE property_id = $1 AND value_mac = $2 AND kind IN ('courier', 'staff') AND status IN ('active', 'disabled')",
    )
    .bind(property_id.to_owned())
    .bind(mac.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The property's codes (active or disabled) whose window ended by `now`.
pub async fn ended_by(cx: &mut impl Context, property_id: &str, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT id FROM codes WHERE property_id = $1 AND status IN ('active', 'disabled') AND ends_at IS NOT NULL AND ends_at <= $2",
    )
    .bind(property_id.to_owned())
    .bind(now)
    .fetch_all(cx.conn())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// The properties with a code (active or disabled) whose window ended by `now`.
pub async fn properties_with_ended(cx: &mut impl Context, now: i64) -> Result<Vec<String>> {
    let rows: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT property_id FROM codes WHERE status IN ('active', 'disabled') AND ends_at IS NOT NULL AND ends_at <= $1",
    )
    .bind(now)
    .fetch_all(cx.conn())
    .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}

/// A new code.
#[derive(Debug, Clone)]
pub struct NewCodeRow {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Kind.
    pub kind: CodeKind,
    /// Origin.
    pub origin: Origin,
    /// `unit`, `carrier`, `courier`, `staff` or `recipient`.
    pub holder_type: String,
    /// The holder's id.
    pub holder_id: String,
    /// Unit, for resident and guest codes.
    pub unit_id: Option<String>,
    /// Name.
    pub name: Option<String>,
    /// Guest type.
    pub guest_type: Option<GuestType>,
    /// The digits, sealed for their cell.
    pub value: String,
    /// Keyed MAC of the digits (duplicate lookups).
    pub value_mac: String,
    /// Schedule.
    pub schedule: Schedule,
    /// One-time.
    pub one_time: bool,
    /// When a window closes for good (Unix seconds).
    pub ends_at: Option<i64>,
    /// Created and updated (Unix seconds).
    pub created_at: i64,
    /// Change counter.
    pub change_seq: i64,
}

impl Insert for NewCodeRow {
    const TABLE: &'static str = "codes";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "kind",
        "origin",
        "holder_type",
        "holder_id",
        "unit_id",
        "name",
        "guest_type",
        "value",
        "value_mac",
        "schedule",
        "one_time",
        "enabled",
        "status",
        "ends_at",
        "created_at",
        "updated_at",
        "change_seq",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            enum_str(&self.kind).into(),
            enum_str(&self.origin).into(),
            (&self.holder_type).into(),
            (&self.holder_id).into(),
            self.unit_id.clone().into(),
            self.name.clone().into(),
            self.guest_type.map(|g| enum_str(&g)).into(),
            (&self.value).into(),
            (&self.value_mac).into(),
            serde_json::to_string(&self.schedule)?.into(),
            self.one_time.into(),
            true.into(),
            "active".into(),
            self.ends_at.into(),
            self.created_at.into(),
            self.created_at.into(),
            self.change_seq.into(),
        ])
    }
}

/// Gives a code new digits (sealed, with their MAC) in this write.
pub async fn set_value(
    w: &mut Write,
    code_id: &str,
    sealed: String,
    mac: String,
    origin: Origin,
    now: i64,
) -> Result<()> {
    let seq = w.seq();
    sqlx::query(
        "UPDATE codes SET value = $1, value_mac = $2, origin = $3, change_seq = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(sealed)
    .bind(mac)
    .bind(enum_str(&origin))
    .bind(seq)
    .bind(now)
    .bind(code_id.to_owned())
    .execute(w.conn())
    .await?;
    Ok(())
}

/// Enables or disables a code (status `active` or `disabled`) in this write.
pub async fn set_enabled(w: &mut Write, code_id: &str, enabled: bool, now: i64) -> Result<()> {
    let seq = w.seq();
    sqlx::query(
        "UPDATE codes SET enabled = $1, status = $2, change_seq = $3, updated_at = $4 WHERE id = $5",
    )
    .bind(super::flag(enabled))
    .bind(if enabled { "active" } else { "disabled" })
    .bind(seq)
    .bind(now)
    .bind(code_id.to_owned())
    .execute(w.conn())
    .await?;
    Ok(())
}

/// Sets the status of a code of the written property, stamped with this write.
pub async fn set_status(w: &mut Write, code_id: &str, status: &str) -> Result<()> {
    let (seq, property_id) = (w.seq(), w.property_id().to_owned());
    sqlx::query("UPDATE codes SET status = $1 WHERE id = $2 AND property_id = $3")
        .bind(status.to_owned())
        .bind(code_id.to_owned())
        .bind(property_id)
        .execute(w.conn())
        .await?;
    sqlx::query("UPDATE codes SET change_seq = $1 WHERE id = $2")
        .bind(seq)
        .bind(code_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}

/// Marks codes as changed in this write, so sync reports them.
pub async fn stamp(w: &mut Write, code_ids: &[String], now: i64) -> Result<()> {
    let seq = w.seq();
    for id in code_ids {
        sqlx::query("UPDATE codes SET change_seq = $1, updated_at = $2 WHERE id = $3")
            .bind(seq)
            .bind(now)
            .bind(id.clone())
            .execute(w.conn())
            .await?;
    }
    Ok(())
}

/// Whether a deleted courier or staff PIN of the property had this MAC.
pub async fn is_deleted_pin(cx: &mut impl Context, property_id: &str, mac: &str) -> Result<bool> {
    let row: Option<(i64,)> =
        sqlx::query_as("SELECT 1 FROM deleted_pins WHERE property_id = $1 AND value_mac = $2")
            .bind(property_id.to_owned())
            .bind(mac.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(row.is_some())
}

/// Remembers a deleted courier or staff PIN of the written property by its MAC.
pub async fn remember_deleted_pin(w: &mut Write, mac: String, now: i64) -> Result<()> {
    let property_id = w.property_id().to_owned();
    sqlx::query(
        "INSERT INTO deleted_pins (property_id, value_mac, deleted_at) VALUES ($1, $2, $3) ON CONFLICT (property_id, value_mac) DO NOTHING",
    )
    .bind(property_id)
    .bind(mac)
    .bind(now)
    .execute(w.conn())
    .await?;
    Ok(())
}
