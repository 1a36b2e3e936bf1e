//! Locks: what each door is, its root key (sealed), and its reconciliation
//! state (desired, confirmed and seen versions, recovery, attention, the
//! audit acknowledgement, its life).

use std::collections::HashMap;

use keyway_codes::AccessPoint;
use keyway_codes::policy::ModelConstraint;
use keyway_protocol::{LockId, LockKeys, RootKey};
use sqlx::any::AnyRow;

use super::batch::{Insert, Value, bound};
use super::row::{col, flag_col, json_col, placeholders, u32_col};
use super::{Context, Write, flag};
use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};

/// A lock and its reconciliation state.
#[derive(Debug, Clone)]
pub struct LockRow {
    /// The lock id (16 hex digits).
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Name.
    pub name: String,
    /// Kind of door.
    pub access_point: AccessPoint,
    /// Unit, for unit doors.
    pub unit_id: Option<String>,
    /// Slots.
    pub capacity: u16,
    /// Enter key.
    pub enter_key: bool,
    /// Model constraints.
    pub constraints: Vec<ModelConstraint>,
    /// The root key, sealed with the data key.
    pub root_key: String,
    /// Version of the desired table.
    pub desired_version: u32,
    /// Version the lock confirmed.
    pub confirmed_version: u32,
    /// Highest version any receipt reported.
    pub seen_version: u32,
    /// The next job must be a recovery job.
    pub needs_recovery: bool,
    /// Why a person must look at the lock.
    pub attention: Option<String>,
    /// Highest audit sequence number stored, in the lock's current life.
    pub audit_ack: u32,
    /// The lock's current life (16 hex digits), once a status named it.
    pub epoch: Option<String>,
    /// Change counter value of the last change.
    pub change_seq: i64,
    /// How many backup codes the lock keeps (`docs/backup-codes.md`).
    pub backup_pool: u8,
}

const LOCK_COLUMNS: &str = "id, property_id, name, access_point, unit_id, capacity, enter_key, constraints, root_key, desired_version, confirmed_version, seen_version, needs_recovery, attention, audit_ack, epoch, change_seq, backup_pool";

impl LockRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let access_point: String = col(row, "access_point")?;
        Ok(Self {
            id: col(row, "id")?,
            property_id: col(row, "property_id")?,
            name: col(row, "name")?,
            access_point: access_point
                .parse()
                .map_err(|e| Error::internal("access point", e))?,
            unit_id: col(row, "unit_id")?,
            capacity: u16::try_from(col::<i64>(row, "capacity")?).unwrap_or(u16::MAX),
            enter_key: flag_col(row, "enter_key")?,
            constraints: json_col(row, "constraints")?,
            root_key: col(row, "root_key")?,
            desired_version: u32_col(row, "desired_version")?,
            confirmed_version: u32_col(row, "confirmed_version")?,
            seen_version: u32_col(row, "seen_version")?,
            needs_recovery: flag_col(row, "needs_recovery")?,
            attention: col(row, "attention")?,
            audit_ack: u32_col(row, "audit_ack")?,
            epoch: col(row, "epoch")?,
            change_seq: col(row, "change_seq")?,
            backup_pool: u8::try_from(col::<i64>(row, "backup_pool")?)
                .map_err(|e| Error::internal("backup pool", e))?,
        })
    }

    /// The lock's protocol id.
    pub fn lock_id(&self) -> Result<LockId> {
        self.id.parse().map_err(|e| Error::internal("lock id", e))
    }

    /// Whether the server wants something of the lock: another table than the
    /// confirmed one, or a rebuild. (A lock that needs a person's attention is
    /// left alone until they act.)
    pub fn work_pending(&self) -> bool {
        self.attention.is_none()
            && (self.desired_version > self.confirmed_version || self.needs_recovery)
    }

    /// The version sync names as the target, when there is work.
    pub fn target_version(&self) -> Option<u32> {
        self.work_pending().then_some(self.desired_version)
    }

    /// The lock's sealing keys.
    pub fn keys(&self, key: &DataKey) -> Result<LockKeys> {
        Ok(LockKeys::derive(&self.keys_root(key)?, self.lock_id()?))
    }

    /// The lock's root key, opened from its cell.
    pub fn keys_root(&self, key: &DataKey) -> Result<RootKey> {
        let hex = key.open_str(Cell::new("locks", "root_key", &self.id), &self.root_key)?;
        RootKey::from_hex(&hex).map_err(|e| Error::internal("root key", e))
    }

    /// Whether this is a door of unit `unit_id`.
    pub fn is_unit_door_of(&self, unit_id: &str) -> bool {
        self.access_point == AccessPoint::UnitDoor && self.unit_id.as_deref() == Some(unit_id)
    }
}

async fn fetch(cx: &mut impl Context, sql: String, binds: Vec<Value>) -> Result<Vec<LockRow>> {
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter().map(LockRow::from_row).collect()
}

/// One lock of a property (`not_found` otherwise).
pub async fn load(cx: &mut impl Context, property_id: &str, lock_id: &str) -> Result<LockRow> {
    let sql = format!("SELECT {LOCK_COLUMNS} FROM locks WHERE id = $1 AND property_id = $2");
    fetch(cx, sql, vec![lock_id.into(), property_id.into()])
        .await?
        .pop()
        .ok_or_else(|| Error::not_found("lock"))
}

/// Every lock of a property, in change order.
pub async fn all(cx: &mut impl Context, property_id: &str) -> Result<Vec<LockRow>> {
    let sql =
        format!("SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 ORDER BY change_seq, id");
    fetch(cx, sql, vec![property_id.into()]).await
}

/// The property's package room doors.
pub async fn package_rooms(cx: &mut impl Context, property_id: &str) -> Result<Vec<LockRow>> {
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 AND access_point = 'package_room' ORDER BY change_seq, id"
    );
    fetch(cx, sql, vec![property_id.into()]).await
}

/// The property's locks changed after `after` and up to `upto`, in change order.
pub async fn changed(
    cx: &mut impl Context,
    property_id: &str,
    after: i64,
    upto: i64,
) -> Result<Vec<LockRow>> {
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 AND change_seq > $2 AND change_seq <= $3 ORDER BY change_seq, id"
    );
    fetch(cx, sql, vec![property_id.into(), after.into(), upto.into()]).await
}

/// The doors a unit's residents use, changed after `after` and up to
/// `upto`: the unit's own doors and the property's shared ones (entrances,
/// amenities, and the package room, whose sealed jobs residents relay),
/// in change order. Two index probes, never a scan of the property's locks.
pub async fn unit_and_shared(
    cx: &mut impl Context,
    property_id: &str,
    unit_id: &str,
    after: i64,
    upto: i64,
) -> Result<Vec<LockRow>> {
    // By unit alone, so the unit's index is the only one that fits; unit ids
    // are unique, and the property is checked below.
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE unit_id = $1 AND change_seq > $2 AND change_seq <= $3"
    );
    let own = fetch(cx, sql, vec![unit_id.into(), after.into(), upto.into()]).await?;
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 AND access_point IN ('community_entrance', 'amenity', 'package_room') AND change_seq > $2 AND change_seq <= $3"
    );
    let shared = fetch(cx, sql, vec![property_id.into(), after.into(), upto.into()]).await?;
    let mut locks: Vec<LockRow> = own.into_iter().chain(shared).collect();
    locks.retain(|lock| lock.property_id == property_id);
    locks.sort_by(|a, b| (a.change_seq, &a.id).cmp(&(b.change_seq, &b.id)));
    locks.dedup_by(|a, b| a.id == b.id);
    Ok(locks)
}

/// Names of locks by id.
pub async fn names(cx: &mut impl Context, ids: &[&str]) -> Result<HashMap<String, String>> {
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT id, name FROM locks WHERE id IN ({})",
        placeholders(ids.len())
    );
    let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
    for id in ids {
        query = query.bind((*id).to_owned());
    }
    Ok(query.fetch_all(cx.conn()).await?.into_iter().collect())
}

/// A new lock.
#[derive(Debug, Clone)]
pub struct NewLock {
    /// The lock id (16 hex digits).
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Name.
    pub name: String,
    /// Kind of door.
    pub access_point: AccessPoint,
    /// Unit, for unit doors.
    pub unit_id: Option<String>,
    /// Slots.
    pub capacity: u16,
    /// Enter key.
    pub enter_key: bool,
    /// Model constraints.
    pub constraints: Vec<ModelConstraint>,
    /// The root key, sealed for its cell.
    pub root_key: String,
    /// Desired, confirmed and seen version (0 for a new door; a bulk load
    /// of delivered codes starts at 1).
    pub version: u32,
    /// Change counter value.
    pub change_seq: i64,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewLock {
    const TABLE: &'static str = "locks";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "name",
        "access_point",
        "unit_id",
        "capacity",
        "enter_key",
        "constraints",
        "root_key",
        "desired_version",
        "confirmed_version",
        "seen_version",
        "change_seq",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        let version = i64::from(self.version);
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.name).into(),
            self.access_point.as_str().into(),
            self.unit_id.clone().into(),
            i64::from(self.capacity).into(),
            self.enter_key.into(),
            serde_json::to_string(&self.constraints)?.into(),
            (&self.root_key).into(),
            version.into(),
            version.into(),
            version.into(),
            self.change_seq.into(),
            self.created_at.into(),
        ])
    }
}

/// Inserts a lock; false when its id is taken.
pub async fn insert_new(w: &mut Write, lock: &NewLock) -> Result<bool> {
    let columns = <NewLock as Insert>::COLUMNS.join(", ");
    let sql = format!(
        "INSERT INTO locks ({columns}) VALUES ({})",
        placeholders(<NewLock as Insert>::COLUMNS.len())
    );
    match bound(sql, lock.values()?).execute(w.conn()).await {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Saves a lock's reconciliation state.
pub async fn save_state(w: &mut Write, lock: &LockRow) -> Result<()> {
    sqlx::query(
        "UPDATE locks SET desired_version = $1, confirmed_version = $2, seen_version = $3, needs_recovery = $4, attention = $5, audit_ack = $6, epoch = $7, change_seq = $8 WHERE id = $9",
    )
    .bind(i64::from(lock.desired_version))
    .bind(i64::from(lock.confirmed_version))
    .bind(i64::from(lock.seen_version))
    .bind(flag(lock.needs_recovery))
    .bind(lock.attention.clone())
    .bind(i64::from(lock.audit_ack))
    .bind(lock.epoch.clone())
    .bind(lock.change_seq)
    .bind(lock.id.clone())
    .execute(w.conn())
    .await?;
    Ok(())
}

/// Sets how many backup codes `lock_id` keeps.
pub async fn set_backup_pool(w: &mut Write, lock_id: &str, size: u8) -> Result<()> {
    sqlx::query("UPDATE locks SET backup_pool = $1 WHERE id = $2")
        .bind(i64::from(size))
        .bind(lock_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}

/// The desired table of a lock moved in this write: raise its desired
/// version (the next visit seals the job) and let sync report it.
pub async fn touch(w: &mut Write, lock_id: &str) -> Result<()> {
    let seq = w.seq();
    sqlx::query(
        "UPDATE locks SET desired_version = CASE WHEN desired_version > confirmed_version THEN desired_version + 1 ELSE confirmed_version + 1 END, attention = NULL, change_seq = $1 WHERE id = $2",
    )
    .bind(seq)
    .bind(lock_id.to_owned())
    .execute(w.conn())
    .await?;
    Ok(())
}
