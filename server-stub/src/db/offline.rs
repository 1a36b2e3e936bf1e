//! Offline codes: a code's offline code on one door, by the id the lock
//! knows it by, its sealed digits, its window's end, its first use, and its
//! revocation wanted and confirmed (`docs/lock-protocol.md`, "Offline codes").

use keyway_api::CodeState;
use keyway_codes::Code;
use keyway_protocol::{OfflineClass, OfflineCodeId, OfflineKind};
use sqlx::any::AnyRow;

use super::batch::{Insert, Value, bound};
use super::row::{any_of, col, enum_col, enum_str, flag_col};
use super::{Context, Write, flag};
use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};

/// A code's offline code on one door.
#[derive(Debug, Clone)]
pub struct OfflineRow {
    /// Id.
    pub id: String,
    /// The code.
    pub code_id: String,
    /// The lock.
    pub lock_id: String,
    /// What the lock knows it by.
    pub offline: OfflineCodeId,
    /// When its window ends (Unix seconds).
    pub ends_at: i64,
    /// The digits, sealed for their cell.
    pub value: String,
    /// The first use a lock reported (Unix seconds, the lock's clock).
    pub first_used_at: Option<i64>,
    /// Desired: the lock refuses it.
    pub want_revoked: bool,
    /// Confirmed by a job the lock applied.
    pub conf_revoked: bool,
    /// Why it stopped: `deleted`, `expired`, `used`.
    pub ending: Option<String>,
}

const COLUMNS: &str = "id, code_id, lock_id, kind, class, start_hour, idx, ends_at, value, first_used_at, want_revoked, conf_revoked, ending";

impl OfflineRow {
    fn from_row(row: &AnyRow) -> Result<Self> {
        let kind: OfflineKind = enum_col(row, "kind")?;
        let class: OfflineClass = enum_col(row, "class")?;
        let start = u32::try_from(col::<i64>(row, "start_hour")?)
            .map_err(|e| Error::internal("start_hour", e))?;
        let index = u8::try_from(col::<i64>(row, "idx")?).map_err(|e| Error::internal("idx", e))?;
        Ok(Self {
            id: col(row, "id")?,
            code_id: col(row, "code_id")?,
            lock_id: col(row, "lock_id")?,
            offline: OfflineCodeId::new(kind, class, start, index)
                .map_err(|e| Error::internal("stored offline code", e))?,
            ends_at: col(row, "ends_at")?,
            value: col(row, "value")?,
            first_used_at: col(row, "first_used_at")?,
            want_revoked: flag_col(row, "want_revoked")?,
            conf_revoked: flag_col(row, "conf_revoked")?,
            ending: col(row, "ending")?,
        })
    }

    /// The digits.
    pub fn code(&self, key: &DataKey) -> Result<Code> {
        let text = key.open_str(Cell::new("offline_codes", "value", &self.id), &self.value)?;
        Code::parse(&text).map_err(|e| Error::internal("stored offline code", e))
    }

    /// Its state on its door at `now` (Unix seconds).
    pub fn state(&self, now: i64) -> CodeState {
        let used = self.offline.kind() == OfflineKind::OneTime && self.first_used_at.is_some();
        match self.ending.as_deref() {
            Some("deleted") if self.conf_revoked || now >= self.ends_at => CodeState::Removed,
            Some("deleted") => CodeState::Removing,
            Some("expired") => CodeState::Expired,
            _ if used => CodeState::Used,
            _ if now >= self.ends_at => CodeState::Expired,
            _ => CodeState::Active,
        }
    }
}

impl Insert for OfflineRow {
    const TABLE: &'static str = "offline_codes";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "code_id",
        "lock_id",
        "kind",
        "class",
        "start_hour",
        "idx",
        "ends_at",
        "value",
        "first_used_at",
        "want_revoked",
        "conf_revoked",
        "ending",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.code_id).into(),
            (&self.lock_id).into(),
            enum_str(&self.offline.kind()).into(),
            enum_str(&self.offline.class()).into(),
            i64::from(self.offline.start_hour()).into(),
            i64::from(self.offline.index()).into(),
            self.ends_at.into(),
            (&self.value).into(),
            self.first_used_at.into(),
            self.want_revoked.into(),
            self.conf_revoked.into(),
            self.ending.clone().into(),
        ])
    }
}

async fn fetch(cx: &mut impl Context, clause: &str, binds: Vec<Value>) -> Result<Vec<OfflineRow>> {
    let sql = format!("SELECT {COLUMNS} FROM offline_codes WHERE {clause}");
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter().map(OfflineRow::from_row).collect()
}

/// Writes a row's mutable columns back.
pub async fn save(w: &mut Write, row: &OfflineRow) -> Result<()> {
    sqlx::query(
        "UPDATE offline_codes SET first_used_at = $1, want_revoked = $2, conf_revoked = $3, ending = $4 WHERE id = $5",
    )
    .bind(row.first_used_at)
    .bind(flag(row.want_revoked))
    .bind(flag(row.conf_revoked))
    .bind(row.ending.clone())
    .bind(row.id.clone())
    .execute(w.conn())
    .await?;
    Ok(())
}

/// A code's offline codes, by lock.
pub async fn of_code(cx: &mut impl Context, code_id: &str) -> Result<Vec<OfflineRow>> {
    fetch(cx, "code_id = $1 ORDER BY id", vec![code_id.into()]).await
}

/// The offline codes of several codes.
pub async fn of_codes(cx: &mut impl Context, code_ids: &[&str]) -> Result<Vec<OfflineRow>> {
    let Some((any, binds)) = any_of("code_id", code_ids) else {
        return Ok(Vec::new());
    };
    fetch(cx, &format!("{any} ORDER BY id"), binds).await
}

/// A lock's offline codes whose window ends after `after`, deleted or not.
pub async fn on_lock_ending_after(
    cx: &mut impl Context,
    lock_id: &str,
    after: i64,
) -> Result<Vec<OfflineRow>> {
    fetch(
        cx,
        "lock_id = $1 AND ends_at > $2 ORDER BY id",
        vec![lock_id.into(), after.into()],
    )
    .await
}

/// The lock's offline code named `offline`, if the server issued it.
pub async fn on_lock(
    cx: &mut impl Context,
    lock_id: &str,
    offline: &OfflineCodeId,
) -> Result<Option<OfflineRow>> {
    Ok(fetch(
        cx,
        "lock_id = $1 AND kind = $2 AND class = $3 AND start_hour = $4 AND idx = $5",
        vec![
            lock_id.into(),
            enum_str(&offline.kind()).into(),
            enum_str(&offline.class()).into(),
            i64::from(offline.start_hour()).into(),
            i64::from(offline.index()).into(),
        ],
    )
    .await?
    .pop())
}

/// The revocations the lock has not confirmed, for windows that end after
/// `after`.
pub async fn unconfirmed_revocations(
    cx: &mut impl Context,
    lock_id: &str,
    after: i64,
) -> Result<Vec<OfflineRow>> {
    fetch(
        cx,
        "lock_id = $1 AND want_revoked = 1 AND conf_revoked = 0 AND ends_at > $2 ORDER BY id",
        vec![lock_id.into(), after.into()],
    )
    .await
}

/// Marks revocations confirmed (a job that carried them was applied);
/// returns their codes.
pub async fn confirm_revoked(w: &mut Write, ids: &[String]) -> Result<Vec<String>> {
    let mut codes = Vec::new();
    for id in ids {
        sqlx::query("UPDATE offline_codes SET conf_revoked = 1 WHERE id = $1 AND want_revoked = 1")
            .bind(id.clone())
            .execute(w.conn())
            .await?;
        let row: Option<(String,)> =
            sqlx::query_as("SELECT code_id FROM offline_codes WHERE id = $1")
                .bind(id.clone())
                .fetch_optional(w.conn())
                .await?;
        codes.extend(row.map(|(code,)| code));
    }
    Ok(codes)
}

/// Forgets every confirmation of the lock (it lost its storage, and with it
/// its list of revoked and spent codes).
pub async fn forget_confirmations(w: &mut Write, lock_id: &str) -> Result<()> {
    sqlx::query("UPDATE offline_codes SET conf_revoked = 0 WHERE lock_id = $1")
        .bind(lock_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}
