//! Sync and receipts: `GET /v1/sync?cursor=` returns what changed since the
//! cursor (codes, tombstones, locks with their versions, pending work and
//! advertising keys) at a cost that follows the number of changes (indexed
//! change counters), and `POST /v1/receipts` settles job receipts carried
//! back from locks. Also a lock's audit trail.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_core::api::{
    AuditEntry, AuditList, LockSync, ReceiptBatch, ReceiptBatchResponse, ReceiptResult, Role,
    SyncResponse, Tombstone, decode_bytes,
};
use keyway_core::protocol::seal::envelope_lock_id;
use keyway_core::protocol::{Receipt, ReplyTo};
use serde::Deserialize;
use sqlx::AnyConnection;

use super::{ApiPath, ApiQuery};
use crate::app::{App, parse_body};
use crate::auth::{Caller, Idem, rate_limit};
use crate::crypto::hex;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{
    CodeRow, LockRow, code_views, load_codes_where, load_lock, load_locks_where,
    unit_and_shared_locks, upto_clause,
};
use crate::store::ts;

/// Most codes (and most locks) in one sync page.
pub const PAGE: usize = 200;

/// `?cursor=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct SyncQuery {
    /// The cursor from the previous sync; absent for the first.
    pub cursor: Option<String>,
}

fn parse_cursor(cursor: Option<&str>) -> Result<i64> {
    match cursor {
        None | Some("") => Ok(0),
        Some(text) => text.parse::<i64>().ok().filter(|c| *c >= 0).ok_or_else(|| {
            Error::new(
                ErrorKind::Invalid,
                "invalid_cursor",
                "the cursor is not one this server gave out; sync from the start",
            )
        }),
    }
}

async fn codes_between(
    conn: &mut AnyConnection,
    caller: &Caller,
    after: i64,
    upto: Option<i64>,
    limit: Option<usize>,
) -> Result<Vec<CodeRow>> {
    let upto_sql = upto_clause(upto);
    let limit_clause = limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default();
    let rows = match caller.role {
        Role::Resident => {
            // By unit alone, so that the unit's index is the only one that
            // fits, even for PostgreSQL's generic plan (with the property in
            // the query it walked the property's codes); unit ids are unique
            // and the property is checked below.
            let clause = format!(
                "unit_id = $1 AND kind IN ('resident', 'guest') AND change_seq > $2{upto_sql} ORDER BY change_seq, id{limit_clause}"
            );
            let mut rows = load_codes_where(
                conn,
                &clause,
                &[caller.unit_id.clone().unwrap_or_default()],
                Some(after),
            )
            .await?;
            rows.retain(|row| row.property_id == caller.property_id);
            rows
        }
        Role::Staff | Role::Manager => {
            let clause = format!(
                "property_id = $1 AND change_seq > $2{upto_sql} ORDER BY change_seq, id{limit_clause}"
            );
            load_codes_where(
                conn,
                &clause,
                std::slice::from_ref(&caller.property_id),
                Some(after),
            )
            .await?
        }
    };
    Ok(rows)
}

async fn locks_between(
    conn: &mut AnyConnection,
    caller: &Caller,
    after: i64,
    upto: Option<i64>,
    limit: Option<usize>,
) -> Result<Vec<LockRow>> {
    let mut locks = match caller.role {
        Role::Resident => {
            let unit = caller.unit_id.clone().unwrap_or_default();
            unit_and_shared_locks(conn, &caller.property_id, &unit, after, upto).await?
        }
        Role::Staff | Role::Manager => {
            let clause = format!("AND change_seq > {after}{}", upto_clause(upto));
            load_locks_where(conn, &caller.property_id, &clause, &[]).await?
        }
    };
    locks.retain(|l| caller.may_reach_lock(l));
    if let Some(limit) = limit {
        locks.truncate(limit);
    }
    Ok(locks)
}

/// What changed since the cursor, for the calling device.
#[utoipa::path(get, path = "/v1/sync", tag = "sync", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncResponse), (status = 400, body = keyway_core::api::Problem)))]
pub async fn sync(
    State(app): State<App>,
    caller: Caller,
    ApiQuery(query): ApiQuery<SyncQuery>,
) -> Result<Json<SyncResponse>> {
    let after = parse_cursor(query.cursor.as_deref())?;
    // One read transaction: the head and the rows come from one snapshot, so
    // a page never holds half of a write.
    let mut tx = app.store.begin_read().await?;
    let (head,): (i64,) = sqlx::query_as("SELECT change_seq FROM properties WHERE id = $1")
        .bind(caller.property_id.clone())
        .fetch_one(&mut *tx)
        .await?;
    if after > head {
        return Err(Error::new(
            ErrorKind::Invalid,
            "invalid_cursor",
            "the cursor is ahead of this server; sync from the start",
        ));
    }
    // Find where this page ends: a whole change (all rows of one counter
    // value) is never split across pages.
    let mut cutoff = head;
    let first_codes = codes_between(&mut tx, &caller, after, None, Some(PAGE)).await?;
    if first_codes.len() == PAGE
        && let Some(last) = first_codes.last()
    {
        cutoff = cutoff.min(last.change_seq);
    }
    let first_locks = locks_between(&mut tx, &caller, after, None, Some(PAGE)).await?;
    if first_locks.len() == PAGE
        && let Some(last) = first_locks.last()
    {
        cutoff = cutoff.min(last.change_seq);
    }
    let code_rows = if cutoff == head && first_codes.len() < PAGE {
        first_codes
    } else {
        codes_between(&mut tx, &caller, after, Some(cutoff), None).await?
    };
    let lock_rows = if cutoff == head && first_locks.len() < PAGE {
        first_locks
    } else {
        locks_between(&mut tx, &caller, after, Some(cutoff), None).await?
    };
    let mut codes = Vec::new();
    let mut tombstones = Vec::new();
    let visible: Vec<(&CodeRow, bool)> = code_rows
        .iter()
        .filter(|row| caller.may_use_code(row))
        .map(|row| (row, caller.may_see_value(row)))
        .collect();
    for ((row, _), view) in visible
        .iter()
        .zip(code_views(&mut tx, &app.key, &visible).await?)
    {
        let gone = row.status == keyway_core::api::CodeStatus::Deleted
            && view.locks.iter().all(|l| {
                l.state == keyway_core::api::CodeState::Removed
                    || l.state == keyway_core::api::CodeState::Failed
            });
        if gone {
            tombstones.push(Tombstone { id: row.id.clone() });
        } else {
            codes.push(view);
        }
    }
    let locks = lock_rows
        .into_iter()
        .map(|lock| {
            Ok(LockSync {
                advert_key: lock.keys(&app.key)?.advert_key().to_hex(),
                target_version: lock.target_version(),
                lock_id: lock.id,
                name: lock.name,
                access_point: lock.access_point,
                unit_id: lock.unit_id,
                enter_key: lock.enter_key,
                constraints: lock.constraints,
                confirmed_version: lock.confirmed_version,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    tx.commit().await?;
    Ok(Json(SyncResponse {
        cursor: cutoff.to_string(),
        has_more: cutoff < head,
        codes,
        tombstones,
        locks,
    }))
}

/// Most receipts in one batch.
pub const MAX_RECEIPTS: usize = 256;
/// Receipt batches a user may send per minute.
pub const RECEIPT_BATCHES_PER_MINUTE: i64 = 60;

/// What one receipt is, found out before the write lock is taken.
enum Checked {
    /// Answered already: a stable code (`accepted` for a receipt whose job
    /// the server settled before).
    Answered(Option<String>, &'static str),
    /// A genuine receipt of a job not settled yet.
    ToSettle(Box<(LockRow, Receipt)>),
}

/// Settles sealed job receipts carried back from locks. Each gets a result;
/// a receipt whose job is settled already is `accepted` again and settles
/// nothing. Every receipt is opened and looked up before the property's
/// write lock is taken, and only receipts of unsettled jobs take it.
#[utoipa::path(post, path = "/v1/receipts", tag = "sync", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body = ReceiptBatch,
    responses((status = 200, body = ReceiptBatchResponse), (status = 429, body = keyway_core::api::Problem)))]
pub async fn post_receipts(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let batch: ReceiptBatch = parse_body(&body)?;
    if batch.receipts.len() > MAX_RECEIPTS {
        return Err(Error::invalid(format!(
            "at most {MAX_RECEIPTS} receipts per batch"
        )));
    }
    rate_limit(
        &app,
        &format!("receipts:{}", caller.user_id),
        60,
        RECEIPT_BATCHES_PER_MINUTE,
    )
    .await?;
    let mut checked = Vec::with_capacity(batch.receipts.len());
    {
        let mut conn = app.store.pool.acquire().await?;
        for text in &batch.receipts {
            checked.push(check_receipt(&app, &caller, &mut conn, text).await?);
        }
    }
    if !checked.iter().any(|c| matches!(c, Checked::ToSettle(..))) {
        let results = checked
            .into_iter()
            .enumerate()
            .map(|(index, c)| match c {
                Checked::Answered(lock_id, status) => ReceiptResult {
                    index,
                    lock_id,
                    status: status.to_owned(),
                },
                Checked::ToSettle(..) => unreachable!("none to settle"),
            })
            .collect();
        return Ok(crate::app::json_response(
            StatusCode::OK,
            serde_json::to_string(&ReceiptBatchResponse { results })?,
        ));
    }
    let key = app.key.clone();
    app.idempotent(&caller, &idem, &body, StatusCode::OK, move |w| {
        Box::pin(async move {
            let mut results = Vec::with_capacity(checked.len());
            for (index, c) in checked.into_iter().enumerate() {
                let (lock_id, status) = match c {
                    Checked::Answered(lock_id, status) => (lock_id, status),
                    Checked::ToSettle(boxed) => {
                        let (lock, receipt) = *boxed;
                        let lock_id = lock.id.clone();
                        (Some(lock_id), settle_one(&key, w, lock, &receipt).await)
                    }
                };
                results.push(ReceiptResult {
                    index,
                    lock_id,
                    status: status.to_owned(),
                });
            }
            Ok(serde_json::to_value(ReceiptBatchResponse { results })?)
        })
    })
    .await
}

/// Opens a receipt and finds its job, without writing anything.
async fn check_receipt(
    app: &App,
    caller: &Caller,
    conn: &mut AnyConnection,
    text: &str,
) -> Result<Checked> {
    let Some(bytes) = decode_bytes(text) else {
        return Ok(Checked::Answered(None, "malformed"));
    };
    let Ok(lock_id) = envelope_lock_id(&bytes) else {
        return Ok(Checked::Answered(None, "malformed"));
    };
    let lock_id = lock_id.to_string();
    let answered = |code| Ok(Checked::Answered(Some(lock_id.clone()), code));
    let lock = match load_lock(conn, &caller.property_id, &lock_id).await {
        Ok(lock) if caller.may_reach_lock(&lock) => lock,
        Ok(_) | Err(_) => return answered("unknown_lock"),
    };
    let receipt = match lock.keys(&app.key)?.open_receipt(&bytes) {
        Ok(receipt) => receipt,
        Err(e) => return answered(e.code()),
    };
    let ReplyTo::Job(job_id) = receipt.reply_to else {
        return answered("status_needs_visit");
    };
    match crate::reconcile::settle::load_job(conn, &lock.id, &hex(&job_id.0)).await? {
        None => answered("unknown_job"),
        Some(job) if job.outcome.is_some() => answered("accepted"),
        Some(_) => Ok(Checked::ToSettle(Box::new((lock, receipt)))),
    }
}

/// Settles one receipt inside the write (a savepoint, so one that fails
/// leaves no partial change); its result code.
async fn settle_one(
    key: &crate::crypto::DataKey,
    w: &mut crate::store::WriteTx,
    lock: LockRow,
    receipt: &Receipt,
) -> &'static str {
    let result = async {
        // Reloaded under the lock: another write may have moved it.
        let mut lock = load_lock(&mut w.tx, &lock.property_id, &lock.id).await?;
        let mut savepoint = sqlx::Connection::begin(&mut *w.tx).await?;
        crate::reconcile::settle_receipt(&mut savepoint, key, w.seq, &mut lock, receipt).await?;
        savepoint.commit().await?;
        Result::<()>::Ok(())
    }
    .await;
    match result {
        Ok(()) => "accepted",
        Err(e) => {
            log::warn!("settling a receipt failed: {}", e.code);
            "internal"
        }
    }
}

/// source, epoch, lock_seq, at, kind, slot, code_id, detail.
type AuditRow = (
    String,
    Option<String>,
    Option<i64>,
    i64,
    String,
    Option<i64>,
    Option<String>,
    Option<String>,
);

/// `?after=&limit=` for the audit trail.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct AuditQuery {
    /// Only entries recorded after this position (the `recorded` counter).
    pub after: Option<i64>,
    /// At most this many (default and maximum 500).
    pub limit: Option<i64>,
}

/// A lock's audit trail: every change the server made and every event the
/// lock reported. Staff and managers; residents for their own unit's door.
#[utoipa::path(get, path = "/v1/locks/{id}/audit", tag = "locks", security(("bearer" = [])),
    params(("id" = String, Path, description = "Lock id"), AuditQuery),
    responses((status = 200, body = AuditList)))]
pub async fn lock_audit(
    State(app): State<App>,
    caller: Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditList>> {
    let mut conn = app.store.pool.acquire().await?;
    let lock = load_lock(&mut conn, &caller.property_id, &id).await?;
    let allowed = caller.is_staff()
        || (lock.access_point == keyway_core::AccessPoint::UnitDoor
            && lock.unit_id.is_some()
            && lock.unit_id == caller.unit_id);
    if !allowed {
        return Err(Error::forbidden(
            "only staff, managers and the unit's residents see this door's audit trail",
        ));
    }
    let limit = q.limit.unwrap_or(500).clamp(1, 500);
    let rows: Vec<AuditRow> = sqlx::query_as(
        "SELECT source, epoch, lock_seq, at, kind, slot, code_id, detail FROM audit_log WHERE lock_id = $1 AND recorded_seq > $2 ORDER BY recorded_seq, at, lock_seq LIMIT $3",
    )
    .bind(lock.id.clone())
    .bind(q.after.unwrap_or(0))
    .bind(limit)
    .fetch_all(&mut *conn)
    .await?;
    let entries = rows
        .into_iter()
        .map(
            |(source, epoch, lock_seq, at, kind, slot, code_id, detail)| AuditEntry {
                source,
                epoch: epoch.filter(|e| !e.is_empty()),
                lock_seq: lock_seq.and_then(|s| u32::try_from(s).ok()),
                at: ts(at),
                kind,
                slot: slot.and_then(|s| u16::try_from(s).ok()),
                code_id,
                detail,
            },
        )
        .collect();
    Ok(Json(AuditList { entries }))
}
