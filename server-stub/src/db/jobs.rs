//! Sealed jobs (kept 30 days): base, target, recovery flag, a keyed MAC of
//! the expected digest, the effect (the target table) and the outcome.

use super::batch::{Insert, Value};
use super::{Context, Write};
use crate::error::{Error, Result};

/// A recorded job: what it was sealed to do.
#[derive(Debug, Clone)]
pub struct JobRecord {
    /// Id (32 hex digits).
    pub id: String,
    /// The version it applies to (-1: any, a recovery).
    pub base: i64,
    /// The version it brings the lock to.
    pub target: u32,
    /// A recovery job (clear all, then the whole table).
    pub recovery: bool,
    /// Keyed MAC of the target table's digest.
    pub digest_mac: String,
    /// Each placement's target presence and enablement.
    pub effects: Vec<(String, bool, bool)>,
    /// The offline codes (row ids) it revokes.
    pub revokes: Vec<String>,
    /// `applied`, `refused:<reason>`, `version_mismatch`, or none yet.
    pub outcome: Option<String>,
}

/// id, base, target, recovery, digest_mac, effects, outcome, revokes.
type JobColumns = (
    String,
    i64,
    i64,
    i64,
    String,
    String,
    Option<String>,
    String,
);

fn job_record(row: JobColumns) -> Result<JobRecord> {
    let (id, base, target, recovery, digest_mac, effects, outcome, revokes) = row;
    Ok(JobRecord {
        id,
        base,
        target: u32::try_from(target).map_err(|e| Error::internal("job target", e))?,
        recovery: recovery != 0,
        digest_mac,
        effects: serde_json::from_str(&effects)?,
        revokes: serde_json::from_str(&revokes)?,
        outcome,
    })
}

/// The job `job_id` (hex) of `lock_id`, if the server sealed it.
pub async fn load(cx: &mut impl Context, lock_id: &str, job_id: &str) -> Result<Option<JobRecord>> {
    let row: Option<JobColumns> = sqlx::query_as(
        "SELECT id, base, target, recovery, digest_mac, effects, outcome, revokes FROM jobs WHERE id = $1 AND lock_id = $2",
    )
    .bind(job_id.to_owned())
    .bind(lock_id.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    row.map(job_record).transpose()
}

/// The newest job of `lock_id` whose target table has this digest MAC at `version`.
pub async fn reaching(
    cx: &mut impl Context,
    lock_id: &str,
    digest_mac: &str,
    version: u32,
) -> Result<Option<JobRecord>> {
    let row: Option<JobColumns> = sqlx::query_as(
        "SELECT id, base, target, recovery, digest_mac, effects, outcome, revokes FROM jobs WHERE lock_id = $1 AND target = $2 AND digest_mac = $3 ORDER BY issued_at DESC",
    )
    .bind(lock_id.to_owned())
    .bind(i64::from(version))
    .bind(digest_mac.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    row.map(job_record).transpose()
}

/// Records what became of a job.
pub async fn set_outcome(w: &mut Write, job_id: &str, outcome: &str) -> Result<()> {
    sqlx::query("UPDATE jobs SET outcome = $1 WHERE id = $2")
        .bind(outcome.to_owned())
        .bind(job_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}

/// A job just sealed.
#[derive(Debug, Clone)]
pub struct NewJob {
    /// Id (32 hex digits).
    pub id: String,
    /// The lock.
    pub lock_id: String,
    /// The version it applies to (-1: any).
    pub base: i64,
    /// The version it brings the lock to.
    pub target: u32,
    /// A recovery job.
    pub recovery: bool,
    /// Keyed MAC of the target table's digest.
    pub digest_mac: String,
    /// Each placement's target presence and enablement.
    pub effects: Vec<(String, bool, bool)>,
    /// The offline codes (row ids) it revokes.
    pub revokes: Vec<String>,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
}

impl Insert for NewJob {
    const TABLE: &'static str = "jobs";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "lock_id",
        "base",
        "target",
        "recovery",
        "digest_mac",
        "effects",
        "revokes",
        "issued_at",
        "expires_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.lock_id).into(),
            self.base.into(),
            i64::from(self.target).into(),
            self.recovery.into(),
            (&self.digest_mac).into(),
            serde_json::to_string(&self.effects)?.into(),
            serde_json::to_string(&self.revokes)?.into(),
            self.issued_at.into(),
            self.expires_at.into(),
        ])
    }
}

/// Forgets jobs issued before `before`.
pub async fn forget_issued_before(cx: &mut impl Context, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM jobs WHERE issued_at < $1")
        .bind(before)
        .execute(cx.conn())
        .await?;
    Ok(())
}
