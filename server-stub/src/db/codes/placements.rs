//! Placements: a code on one lock, in one slot, with what the server wants
//! there (`want_*`) and what the lock confirmed (`conf_*`). A courier's key
//! card is a placement of the courier's PIN that puts the card's key in a
//! slot of its own ([`Holds::Card`]).

use keyway_api::CodeState;
use keyway_codes::{Code, CodeKind, Schedule};
use keyway_protocol::{CardKey, Credential, SlotEntry};
use serde::{Deserialize, Serialize};
use sqlx::any::AnyRow;

use super::super::batch::{Insert, Value, bound};
use super::super::row::{any_of, col, enum_col, enum_str, flag_col, json_col};
use super::super::{Context, Write, flag};
use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};

/// What a placement puts in its slot (column `credential`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holds {
    /// The code's digits.
    Code,
    /// The holder's key card: `value` is its card key, 32 hex digits.
    Card,
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
    /// Sealed digits, or a sealed card key.
    pub value: String,
    /// Whether `value` is digits or a card key.
    pub holds: Holds,
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

const PLACEMENT_COLUMNS: &str = "id, code_id, lock_id, slot, value, credential, kind, schedule, one_time, want_present, want_enabled, conf_present, conf_enabled, ending, reason, replaces, created_at";

impl Placement {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: col(row, "id")?,
            code_id: col(row, "code_id")?,
            lock_id: col(row, "lock_id")?,
            slot: u16::try_from(col::<i64>(row, "slot")?)
                .map_err(|e| Error::internal("slot", e))?,
            value: col(row, "value")?,
            holds: enum_col(row, "credential")?,
            kind: enum_col(row, "kind")?,
            schedule: json_col(row, "schedule")?,
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
        let value = key.open_str(Cell::new("placements", "value", &self.id), &self.value)?;
        let credential = match self.holds {
            Holds::Code => Credential::Code(
                Code::parse(&value).map_err(|e| Error::internal("stored code", e))?,
            ),
            Holds::Card => Credential::Card(
                CardKey::from_hex(&value)
                    .ok_or_else(|| Error::internal("stored card key", "not 32 hex digits"))?,
            ),
        };
        Ok(SlotEntry {
            credential,
            kind: self.kind,
            schedule: self.schedule.clone(),
            enabled,
            one_time: self.one_time,
        })
    }
}

impl Insert for Placement {
    const TABLE: &'static str = "placements";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code_id",
        "lock_id",
        "slot",
        "value",
        "credential",
        "kind",
        "schedule",
        "one_time",
        "want_present",
        "want_enabled",
        "conf_present",
        "conf_enabled",
        "live",
        "ending",
        "reason",
        "state",
        "replaces",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.code_id).into(),
            (&self.lock_id).into(),
            i64::from(self.slot).into(),
            (&self.value).into(),
            enum_str(&self.holds).into(),
            enum_str(&self.kind).into(),
            serde_json::to_string(&self.schedule)?.into(),
            self.one_time.into(),
            self.want_present.into(),
            self.want_enabled.into(),
            self.conf_present.into(),
            self.conf_enabled.into(),
            self.live().into(),
            self.ending.clone().into(),
            self.reason.clone().into(),
            enum_str(&self.state()).into(),
            self.replaces.clone().into(),
            self.created_at.into(),
        ])
    }
}

async fn fetch(cx: &mut impl Context, clause: &str, binds: Vec<Value>) -> Result<Vec<Placement>> {
    let sql = format!("SELECT {PLACEMENT_COLUMNS} FROM placements WHERE {clause}");
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter().map(Placement::from_row).collect()
}

/// Writes a placement's mutable columns back (desired, confirmed, ending, state).
pub async fn save(w: &mut Write, p: &Placement) -> Result<()> {
    sqlx::query(
        "UPDATE placements SET want_present = $1, want_enabled = $2, conf_present = $3, conf_enabled = $4, live = $5, ending = $6, reason = $7, state = $8 WHERE id = $9",
    )
    .bind(flag(p.want_present))
    .bind(flag(p.want_enabled))
    .bind(flag(p.conf_present))
    .bind(flag(p.conf_enabled))
    .bind(flag(p.live()))
    .bind(p.ending.clone())
    .bind(p.reason.clone())
    .bind(enum_str(&p.state()))
    .bind(p.id.clone())
    .execute(w.conn())
    .await?;
    Ok(())
}

/// The live placements of a lock (wanted or on it), by slot.
pub async fn live(cx: &mut impl Context, lock_id: &str) -> Result<Vec<Placement>> {
    fetch(
        cx,
        "lock_id = $1 AND live = 1 ORDER BY slot",
        vec![lock_id.into()],
    )
    .await
}

/// Every placement of a code, oldest first.
pub async fn of_code(cx: &mut impl Context, code_id: &str) -> Result<Vec<Placement>> {
    fetch(
        cx,
        "code_id = $1 ORDER BY created_at, id",
        vec![code_id.into()],
    )
    .await
}

/// Every placement of several codes, oldest first.
pub async fn of_codes(cx: &mut impl Context, code_ids: &[&str]) -> Result<Vec<Placement>> {
    let Some((any, binds)) = any_of("code_id", code_ids) else {
        return Ok(Vec::new());
    };
    fetch(cx, &format!("{any} ORDER BY created_at, id"), binds).await
}

/// A placement by id.
pub async fn load(cx: &mut impl Context, id: &str) -> Result<Option<Placement>> {
    Ok(fetch(cx, "id = $1", vec![id.into()]).await?.pop())
}

/// The placement confirmed in `slot` of the lock (the newest, if a change
/// left two).
pub async fn confirmed_in_slot(
    cx: &mut impl Context,
    lock_id: &str,
    slot: u16,
) -> Result<Option<Placement>> {
    Ok(fetch(
        cx,
        "lock_id = $1 AND slot = $2 AND conf_present = 1 ORDER BY created_at DESC",
        vec![lock_id.into(), i64::from(slot).into()],
    )
    .await?
    .into_iter()
    .next())
}

/// The slots of a lock that live placements hold, ascending.
pub async fn used_slots(cx: &mut impl Context, lock_id: &str) -> Result<Vec<i64>> {
    let used: Vec<(i64,)> =
        sqlx::query_as("SELECT slot FROM placements WHERE lock_id = $1 AND live = 1 ORDER BY slot")
            .bind(lock_id.to_owned())
            .fetch_all(cx.conn())
            .await?;
    Ok(used.into_iter().map(|(slot,)| slot).collect())
}

/// The one-time PINs the lock confirmed holding.
pub async fn one_time_codes_on(cx: &mut impl Context, lock_id: &str) -> Result<Vec<String>> {
    let held: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT code_id FROM placements WHERE lock_id = $1 AND one_time = 1 AND conf_present = 1",
    )
    .bind(lock_id.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(held.into_iter().map(|(id,)| id).collect())
}
