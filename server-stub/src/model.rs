//! The server's rows and how they are read: properties, locks, codes and
//! placements (a code on one lock), plus the state a placement shows.

use keyway_core::api::{CodeOnLock, CodeState, CodeStatus, CodeView, GuestType, PolicySettings};
use keyway_core::policy::{ModelConstraint, PropertyNumber};
use keyway_core::protocol::{LockId, LockKeys, RootKey, SlotEntry};
use keyway_core::{AccessPoint, Code, CodeKind, Community, Origin, Schedule};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};
use crate::store::ts;

/// Reads a column, mapping a missing or mistyped one to an internal error.
pub fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name)
        .map_err(|e| Error::internal("reading a row", e))
}

/// A flag column.
pub fn flag_col(row: &AnyRow, name: &str) -> Result<bool> {
    Ok(col::<i64>(row, name)? != 0)
}

/// A property.
#[derive(Debug, Clone)]
pub struct PropertyRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The policy settings.
    pub policy: PolicySettings,
}

impl PropertyRow {
    /// The policy engine's view of the settings.
    pub fn community(&self) -> Community {
        self.policy.community()
    }
}

/// Validates policy settings from a request.
pub fn validate_policy(policy: &PolicySettings) -> Result<()> {
    if let Some(bad) = policy
        .affiliated_numbers
        .iter()
        .find(|n| PropertyNumber::parse(n).is_err())
    {
        return Err(Error::invalid(format!(
            "affiliated number `{}` is not 1 to 10 digits",
            bad.chars().take(12).collect::<String>()
        )));
    }
    if !(4..=8).contains(&policy.one_time_pin_length) {
        return Err(Error::invalid("one_time_pin_length must be 4 to 8"));
    }
    Ok(())
}

/// Loads a property.
pub async fn load_property(conn: &mut AnyConnection, id: &str) -> Result<PropertyRow> {
    let row = sqlx::query("SELECT id, name, time_zone, policy FROM properties WHERE id = $1")
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("property"))?;
    Ok(PropertyRow {
        id: col(&row, "id")?,
        name: col(&row, "name")?,
        time_zone: col(&row, "time_zone")?,
        policy: serde_json::from_str(&col::<String>(&row, "policy")?)?,
    })
}

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
}

const LOCK_COLUMNS: &str = "id, property_id, name, access_point, unit_id, capacity, enter_key, constraints, root_key, desired_version, confirmed_version, seen_version, needs_recovery, attention, audit_ack, epoch, change_seq";

fn u32_col(row: &AnyRow, name: &str) -> Result<u32> {
    u32::try_from(col::<i64>(row, name)?).map_err(|e| Error::internal(name, e))
}

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
            constraints: serde_json::from_str(&col::<String>(row, "constraints")?)?,
            root_key: col(row, "root_key")?,
            desired_version: u32_col(row, "desired_version")?,
            confirmed_version: u32_col(row, "confirmed_version")?,
            seen_version: u32_col(row, "seen_version")?,
            needs_recovery: flag_col(row, "needs_recovery")?,
            attention: col(row, "attention")?,
            audit_ack: u32_col(row, "audit_ack")?,
            epoch: col(row, "epoch")?,
            change_seq: col(row, "change_seq")?,
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
}

/// Loads one lock of a property.
pub async fn load_lock(
    conn: &mut AnyConnection,
    property_id: &str,
    lock_id: &str,
) -> Result<LockRow> {
    let sql = format!("SELECT {LOCK_COLUMNS} FROM locks WHERE id = $1 AND property_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lock_id.to_owned())
        .bind(property_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("lock"))?;
    LockRow::from_row(&row)
}

/// Loads locks of a property by a WHERE clause over `locks` ($1 is the property).
pub async fn load_locks_where(
    conn: &mut AnyConnection,
    property_id: &str,
    clause: &str,
    extra: &[String],
) -> Result<Vec<LockRow>> {
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 {clause} ORDER BY change_seq, id"
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(property_id.to_owned());
    for value in extra {
        query = query.bind(value.clone());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(LockRow::from_row).collect()
}

/// ` AND change_seq <= N` when a sync page ends at `N`, else nothing.
pub fn upto_clause(upto: Option<i64>) -> String {
    upto.map(|u| format!(" AND change_seq <= {u}"))
        .unwrap_or_default()
}

/// The doors a unit's residents use, changed after `after` (and up to
/// `upto`): the unit's own doors and the property's shared ones (entrances,
/// amenities, and the package room, whose sealed jobs residents relay),
/// ordered like sync reads them. Two index probes, never a scan
/// of the property's locks.
pub async fn unit_and_shared_locks(
    conn: &mut AnyConnection,
    property_id: &str,
    unit_id: &str,
    after: i64,
    upto: Option<i64>,
) -> Result<Vec<LockRow>> {
    let upto = upto_clause(upto);
    // By unit alone, so the unit's index is the only one that fits; unit ids
    // are unique, and the property is checked below.
    let sql =
        format!("SELECT {LOCK_COLUMNS} FROM locks WHERE unit_id = $1 AND change_seq > $2{upto}");
    let own = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(unit_id.to_owned())
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
    let sql = format!(
        "SELECT {LOCK_COLUMNS} FROM locks WHERE property_id = $1 AND access_point IN ('community_entrance', 'amenity', 'package_room') AND change_seq > $2{upto}"
    );
    let shared = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(property_id.to_owned())
        .bind(after)
        .fetch_all(&mut *conn)
        .await?;
    let mut locks = own
        .iter()
        .chain(&shared)
        .map(LockRow::from_row)
        .collect::<Result<Vec<_>>>()?;
    locks.retain(|lock| lock.property_id == property_id);
    locks.sort_by(|a, b| (a.change_seq, &a.id).cmp(&(b.change_seq, &b.id)));
    locks.dedup_by(|a, b| a.id == b.id);
    Ok(locks)
}

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

/// Serialises a snake_case enum to its JSON string without quotes.
pub fn enum_str<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Parses a snake_case enum from its name.
pub fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| Error::internal("stored enum", e))
}

impl CodeRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let guest: Option<String> = col(row, "guest_type")?;
        Ok(Self {
            id: col(row, "id")?,
            property_id: col(row, "property_id")?,
            kind: parse_enum(&col::<String>(row, "kind")?)?,
            origin: parse_enum(&col::<String>(row, "origin")?)?,
            holder_type: col(row, "holder_type")?,
            holder_id: col(row, "holder_id")?,
            unit_id: col(row, "unit_id")?,
            name: col(row, "name")?,
            guest_type: guest.map(|g| parse_enum(&g)).transpose()?,
            value: col(row, "value")?,
            schedule: serde_json::from_str(&col::<String>(row, "schedule")?)?,
            one_time: flag_col(row, "one_time")?,
            enabled: flag_col(row, "enabled")?,
            status: parse_enum(&col::<String>(row, "status")?)?,
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

/// Loads one code of a property.
pub async fn load_code(
    conn: &mut AnyConnection,
    property_id: &str,
    code_id: &str,
) -> Result<CodeRow> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM codes WHERE id = $1 AND property_id = $2");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(code_id.to_owned())
        .bind(property_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?
        .ok_or_else(|| Error::not_found("code"))?;
    CodeRow::from_row(&row)
}

/// Loads codes by a clause over `codes` with string parameters from $1.
pub async fn load_codes_where(
    conn: &mut AnyConnection,
    clause: &str,
    params: &[String],
    seq_after: Option<i64>,
) -> Result<Vec<CodeRow>> {
    let sql = format!("SELECT {CODE_COLUMNS} FROM codes WHERE {clause}");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for p in params {
        query = query.bind(p.clone());
    }
    if let Some(seq) = seq_after {
        query = query.bind(seq);
    }
    let rows = query.fetch_all(&mut *conn).await?;
    rows.iter().map(CodeRow::from_row).collect()
}

/// A code on one lock.
#[derive(Debug, Clone)]
pub struct Placement {
    /// Id.
    pub id: String,
    /// The code.
    pub code_id: String,
    /// The lock.
    pub lock_id: String,
    /// Slot.
    pub slot: u16,
    /// Sealed digits.
    pub value: String,
    /// Kind.
    pub kind: CodeKind,
    /// Schedule.
    pub schedule: Schedule,
    /// One-time.
    pub one_time: bool,
    /// Desired: on the lock.
    pub want_present: bool,
    /// Desired: enabled.
    pub want_enabled: bool,
    /// Confirmed by the lock: on it.
    pub conf_present: bool,
    /// Confirmed by the lock: enabled.
    pub conf_enabled: bool,
    /// Why it left: `deleted`, `expired`, `used`, `failed`, `replaced`.
    pub ending: Option<String>,
    /// The lock's refusal code, for `failed`.
    pub reason: Option<String>,
    /// The placement this one replaces (a code change).
    pub replaces: Option<String>,
    /// Created, Unix microseconds.
    pub created_at: i64,
}

const PLACEMENT_COLUMNS: &str = "id, code_id, lock_id, slot, value, kind, schedule, one_time, want_present, want_enabled, conf_present, conf_enabled, ending, reason, replaces, created_at";

impl Placement {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: col(row, "id")?,
            code_id: col(row, "code_id")?,
            lock_id: col(row, "lock_id")?,
            slot: u16::try_from(col::<i64>(row, "slot")?)
                .map_err(|e| Error::internal("slot", e))?,
            value: col(row, "value")?,
            kind: parse_enum(&col::<String>(row, "kind")?)?,
            schedule: serde_json::from_str(&col::<String>(row, "schedule")?)?,
            one_time: flag_col(row, "one_time")?,
            want_present: flag_col(row, "want_present")?,
            want_enabled: flag_col(row, "want_enabled")?,
            conf_present: flag_col(row, "conf_present")?,
            conf_enabled: flag_col(row, "conf_enabled")?,
            ending: col(row, "ending")?,
            reason: col(row, "reason")?,
            replaces: col(row, "replaces")?,
            created_at: col(row, "created_at")?,
        })
    }

    /// The state the app shows.
    pub fn state(&self) -> CodeState {
        let ending = self.ending.as_deref();
        match (self.want_present, self.conf_present) {
            (true, false) => CodeState::Pending,
            (true, true) if self.want_enabled == self.conf_enabled => {
                if self.want_enabled {
                    CodeState::Active
                } else {
                    CodeState::Disabled
                }
            }
            (true, true) if !self.want_enabled => CodeState::Disabling,
            (true, true) => CodeState::Pending,
            (false, present) => match ending {
                Some("expired") => CodeState::Expired,
                Some("used") => CodeState::Used,
                Some("failed") if !present => CodeState::Failed,
                _ if present => CodeState::Removing,
                _ => CodeState::Removed,
            },
        }
    }

    /// Whether it occupies its slot (wanted or still on the lock).
    pub fn live(&self) -> bool {
        self.want_present || self.conf_present
    }

    /// The slot entry with the given enabled flag.
    pub fn entry(&self, key: &DataKey, enabled: bool) -> Result<SlotEntry> {
        Ok(SlotEntry {
            code: Code::parse(
                &key.open_str(Cell::new("placements", "value", &self.id), &self.value)?,
            )
            .map_err(|e| Error::internal("stored code", e))?,
            kind: self.kind,
            schedule: self.schedule.clone(),
            enabled,
            one_time: self.one_time,
        })
    }

    /// Writes the mutable columns back (desired, confirmed, ending, state).
    pub async fn save(&self, conn: &mut AnyConnection) -> Result<()> {
        sqlx::query(
            "UPDATE placements SET want_present = $1, want_enabled = $2, conf_present = $3, conf_enabled = $4, live = $5, ending = $6, reason = $7, state = $8 WHERE id = $9",
        )
        .bind(i64::from(self.want_present))
        .bind(i64::from(self.want_enabled))
        .bind(i64::from(self.conf_present))
        .bind(i64::from(self.conf_enabled))
        .bind(i64::from(self.live()))
        .bind(self.ending.clone())
        .bind(self.reason.clone())
        .bind(enum_str(&self.state()))
        .bind(self.id.clone())
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}

/// The live placements of a lock (wanted or on it), by slot.
pub async fn live_placements(conn: &mut AnyConnection, lock_id: &str) -> Result<Vec<Placement>> {
    let sql = format!(
        "SELECT {PLACEMENT_COLUMNS} FROM placements WHERE lock_id = $1 AND live = 1 ORDER BY slot"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(lock_id.to_owned())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(Placement::from_row).collect()
}

/// Every placement of a code, oldest first.
pub async fn code_placements(conn: &mut AnyConnection, code_id: &str) -> Result<Vec<Placement>> {
    let sql = format!(
        "SELECT {PLACEMENT_COLUMNS} FROM placements WHERE code_id = $1 ORDER BY created_at, id"
    );
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(code_id.to_owned())
        .fetch_all(&mut *conn)
        .await?;
    rows.iter().map(Placement::from_row).collect()
}

/// Loads placements by id.
pub async fn load_placement(conn: &mut AnyConnection, id: &str) -> Result<Option<Placement>> {
    let sql = format!("SELECT {PLACEMENT_COLUMNS} FROM placements WHERE id = $1");
    let row = sqlx::query(sqlx::AssertSqlSafe(sql))
        .bind(id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(Placement::from_row).transpose()
}

/// Inserts a new placement.
pub async fn insert_placement(conn: &mut AnyConnection, p: &Placement) -> Result<()> {
    sqlx::query(
        "INSERT INTO placements (id, code_id, lock_id, slot, value, kind, schedule, one_time, want_present, want_enabled, conf_present, conf_enabled, live, ending, reason, state, replaces, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
    )
    .bind(p.id.clone())
    .bind(p.code_id.clone())
    .bind(p.lock_id.clone())
    .bind(i64::from(p.slot))
    .bind(p.value.clone())
    .bind(enum_str(&p.kind))
    .bind(serde_json::to_string(&p.schedule)?)
    .bind(i64::from(p.one_time))
    .bind(i64::from(p.want_present))
    .bind(i64::from(p.want_enabled))
    .bind(i64::from(p.conf_present))
    .bind(i64::from(p.conf_enabled))
    .bind(i64::from(p.live()))
    .bind(p.ending.clone())
    .bind(p.reason.clone())
    .bind(enum_str(&p.state()))
    .bind(p.replaces.clone())
    .bind(p.created_at)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Lock names by id, for views.
pub async fn lock_name(conn: &mut AnyConnection, lock_id: &str) -> Result<String> {
    let row: Option<(String,)> = sqlx::query_as("SELECT name FROM locks WHERE id = $1")
        .bind(lock_id.to_owned())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(n,)| n).unwrap_or_default())
}

/// `$1, $2, …, $n`.
fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The API view of a code; `reveal` decides whether the digits are shown.
pub async fn code_view(
    conn: &mut AnyConnection,
    key: &DataKey,
    code: &CodeRow,
    reveal: bool,
) -> Result<CodeView> {
    let mut views = code_views(conn, key, &[(code, reveal)]).await?;
    views
        .pop()
        .ok_or_else(|| Error::internal("viewing a code", "no view"))
}

/// The API views of several codes (each with whether its digits are shown),
/// in order, in two queries whatever their number: a sync page or a list
/// costs what it returns, not a round trip per code and lock.
pub async fn code_views(
    conn: &mut AnyConnection,
    key: &DataKey,
    codes: &[(&CodeRow, bool)],
) -> Result<Vec<CodeView>> {
    let mut views = Vec::with_capacity(codes.len());
    // Within both databases' limits on bound parameters.
    for chunk in codes.chunks(500) {
        views.extend(code_views_of_chunk(conn, key, chunk).await?);
    }
    Ok(views)
}

async fn code_views_of_chunk(
    conn: &mut AnyConnection,
    key: &DataKey,
    codes: &[(&CodeRow, bool)],
) -> Result<Vec<CodeView>> {
    let sql = format!(
        "SELECT {PLACEMENT_COLUMNS} FROM placements WHERE code_id IN ({}) ORDER BY created_at, id",
        placeholders(codes.len())
    );
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for (code, _) in codes {
        query = query.bind(code.id.clone());
    }
    let rows = query.fetch_all(&mut *conn).await?;
    let mut placements: std::collections::HashMap<String, Vec<Placement>> =
        std::collections::HashMap::new();
    for row in &rows {
        let placement = Placement::from_row(row)?;
        placements
            .entry(placement.code_id.clone())
            .or_default()
            .push(placement);
    }
    let lock_ids: std::collections::BTreeSet<&str> = placements
        .values()
        .flatten()
        .map(|p| p.lock_id.as_str())
        .collect();
    let mut names = std::collections::HashMap::new();
    if !lock_ids.is_empty() {
        let sql = format!(
            "SELECT id, name FROM locks WHERE id IN ({})",
            placeholders(lock_ids.len())
        );
        let mut query = sqlx::query_as::<_, (String, String)>(sqlx::AssertSqlSafe(sql));
        for id in &lock_ids {
            query = query.bind((*id).to_owned());
        }
        names.extend(query.fetch_all(&mut *conn).await?);
    }
    codes
        .iter()
        .map(|(code, reveal)| {
            let none = Vec::new();
            let on_code = placements.get(&code.id).unwrap_or(&none);
            view_of(key, code, on_code, &names, *reveal)
        })
        .collect()
}

/// One code's view from its placements (oldest first) and the lock names.
fn view_of(
    key: &DataKey,
    code: &CodeRow,
    placements: &[Placement],
    names: &std::collections::HashMap<String, String>,
    reveal: bool,
) -> Result<CodeView> {
    let mut lock_ids: Vec<&str> = Vec::new();
    for p in placements {
        if !lock_ids.contains(&p.lock_id.as_str()) {
            lock_ids.push(&p.lock_id);
        }
    }
    let mut locks = Vec::with_capacity(lock_ids.len());
    for lock_id in lock_ids {
        let on_lock: Vec<&Placement> = placements.iter().filter(|p| p.lock_id == lock_id).collect();
        let Some(newest) = on_lock.last() else {
            continue;
        };
        let previous_active = on_lock[..on_lock.len() - 1]
            .iter()
            .any(|p| p.conf_present && p.conf_enabled);
        locks.push(CodeOnLock {
            lock_id: lock_id.to_owned(),
            lock_name: names.get(lock_id).cloned().unwrap_or_default(),
            state: newest.state(),
            reason: newest.reason.clone(),
            previous_active,
        });
    }
    let value = if reveal {
        Some(code.code(key)?.as_str().to_owned())
    } else {
        None
    };
    Ok(CodeView {
        id: code.id.clone(),
        kind: code.kind,
        origin: code.origin,
        name: code.name.clone(),
        guest_type: code.guest_type,
        unit_id: code.unit_id.clone(),
        holder_id: code.holder_id.clone(),
        value,
        schedule: code.schedule.clone(),
        enabled: code.enabled,
        status: code.status,
        locks,
        created_at: ts(code.created_at),
        updated_at: ts(code.updated_at),
    })
}
