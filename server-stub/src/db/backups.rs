//! Backup codes handed out (`docs/backup-codes.md`): which of a lock's
//! backup codes stands in for which code, for which unit, since when, and
//! how the hand-out ended. The backup codes themselves are codes of kind
//! `backup` held by their lock ([`crate::db::codes`]).

use sqlx::any::AnyRow;

use super::batch::{Insert, Value, bound};
use super::row::{any_of, col};
use super::{Context, Write};
use crate::error::Result;

/// Why a hand-out ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// The code itself reached the lock.
    Delivered,
    /// The backup code opened the door.
    Used,
    /// The code was deleted, expired or used up.
    CodeEnded,
    /// The lock refused the code.
    Failed,
    /// The lock lost the backup code (its storage was reset).
    Lost,
}

impl Ending {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Delivered => "delivered",
            Self::Used => "used",
            Self::CodeEnded => "code_ended",
            Self::Failed => "failed",
            Self::Lost => "lost",
        }
    }
}

/// A backup code handed out.
#[derive(Debug, Clone)]
pub struct Handout {
    /// Id.
    pub id: String,
    /// The backup code (a code of kind `backup`).
    pub backup_code_id: String,
    /// The code it stands in for.
    pub code_id: String,
    /// The lock.
    pub lock_id: String,
    /// The code's unit, for unit codes.
    pub unit_id: Option<String>,
    /// Unix seconds.
    pub handed_at: i64,
    /// Unix seconds, once it ended.
    pub ended_at: Option<i64>,
    /// Why it ended ([`Ending::as_str`]).
    pub ending: Option<String>,
}

const COLUMNS: &str = "id, backup_code_id, code_id, lock_id, unit_id, handed_at, ended_at, ending";

impl Handout {
    fn from_row(row: &AnyRow) -> Result<Self> {
        Ok(Self {
            id: col(row, "id")?,
            backup_code_id: col(row, "backup_code_id")?,
            code_id: col(row, "code_id")?,
            lock_id: col(row, "lock_id")?,
            unit_id: col(row, "unit_id")?,
            handed_at: col(row, "handed_at")?,
            ended_at: col(row, "ended_at")?,
            ending: col(row, "ending")?,
        })
    }

    /// Not ended yet.
    pub fn is_open(&self) -> bool {
        self.ended_at.is_none()
    }
}

impl Insert for Handout {
    const TABLE: &'static str = "backup_handouts";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "backup_code_id",
        "code_id",
        "lock_id",
        "unit_id",
        "handed_at",
        "ended_at",
        "ending",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.backup_code_id).into(),
            (&self.code_id).into(),
            (&self.lock_id).into(),
            self.unit_id.clone().into(),
            self.handed_at.into(),
            self.ended_at.into(),
            self.ending.clone().into(),
        ])
    }
}

async fn fetch(cx: &mut impl Context, clause: &str, binds: Vec<Value>) -> Result<Vec<Handout>> {
    let sql = format!("SELECT {COLUMNS} FROM backup_handouts WHERE {clause}");
    let rows = bound(sql, binds).fetch_all(cx.conn()).await?;
    rows.iter().map(Handout::from_row).collect()
}

/// The hand-outs of several codes (the codes stood in for), newest first.
pub async fn of_codes(cx: &mut impl Context, code_ids: &[&str]) -> Result<Vec<Handout>> {
    let Some((any, binds)) = any_of("code_id", code_ids) else {
        return Ok(Vec::new());
    };
    fetch(cx, &format!("{any} ORDER BY handed_at DESC, id"), binds).await
}

/// A code's hand-outs, newest first.
pub async fn of_code(cx: &mut impl Context, code_id: &str) -> Result<Vec<Handout>> {
    of_codes(cx, &[code_id]).await
}

/// Every hand-out of a lock's backup codes, open or ended.
pub async fn of_lock(cx: &mut impl Context, lock_id: &str) -> Result<Vec<Handout>> {
    fetch(
        cx,
        "lock_id = $1 ORDER BY handed_at DESC, id",
        vec![lock_id.into()],
    )
    .await
}

/// The hand-out of a backup code, if it was handed out.
pub async fn of_backup(cx: &mut impl Context, backup_code_id: &str) -> Result<Option<Handout>> {
    Ok(
        fetch(cx, "backup_code_id = $1", vec![backup_code_id.into()])
            .await?
            .pop(),
    )
}

/// Ends a hand-out (once: an ended one keeps its first ending).
pub async fn end(w: &mut Write, id: &str, ending: Ending, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE backup_handouts SET ended_at = $1, ending = $2 WHERE id = $3 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(ending.as_str().to_owned())
    .bind(id.to_owned())
    .execute(w.conn())
    .await?;
    Ok(())
}
