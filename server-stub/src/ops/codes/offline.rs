//! Offline guest codes (`docs/lock-protocol.md`, "Offline codes"): the
//! server derives, for each door of a guest code, 8 digits that door accepts
//! with no job inside a window of whole hours; a deletion queues a
//! revocation for the next visit; the lock's events report first uses.
//!
//! Only the server derives them: it holds each lock's root key, and the
//! offline key (`key("offline")`) leaves it in no answer.

use jiff::Timestamp;
use keyway_api::{CodeState, GuestType};
use keyway_codes::policy::takes_offline_codes;
use keyway_codes::{Code, Schedule};
use keyway_protocol::offline::OFFLINE_LIST_CAPACITY;
use keyway_protocol::{OfflineCodeId, OfflineKey, OfflineKind};

use crate::clock::now_secs;
use crate::crypto::{Cell, new_id};
use crate::db::audit::{self, ServerEntry};
use crate::db::codes::{self, placements};
use crate::db::locks::{self, LockRow};
use crate::db::offline::{self, OfflineRow};
use crate::db::{Context, Write};
use crate::error::{Error, Result};

/// How long after its window's end, on the server's clock, an offline code
/// still counts on its lock: a lock whose clock runs up to a day slow keeps
/// it that much longer (revocations are sent, and the lock's list counted,
/// until then).
pub const LOCK_CLOCK_MARGIN_SECS: i64 = 86_400;

/// What a guest code asks of its offline codes: their kind and the span their
/// window must cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OfflineRequest {
    /// One-time (delivery) or reusable inside the window.
    pub kind: OfflineKind,
    /// The span to cover.
    pub from: Timestamp,
    /// Its end.
    pub until: Timestamp,
}

/// What "works offline" asks for a guest code of `guest` type with its
/// (checked) `schedule`: temporary codes cover their window, delivery codes
/// theirs with a one-time code, recurring codes their first occurrence
/// (later ones need their slot code). Permanent codes cannot work offline.
pub fn request_for(
    guest: GuestType,
    schedule: &Schedule,
    now: Timestamp,
) -> Result<OfflineRequest> {
    let (kind, window) = match (guest, schedule) {
        (GuestType::Temporary, Schedule::Window(w)) => (OfflineKind::Window, *w),
        (GuestType::Delivery, Schedule::Window(w)) => (OfflineKind::OneTime, *w),
        (GuestType::Recurring, Schedule::Recurring(r)) => (
            OfflineKind::Window,
            r.next_occurrence(now)
                .ok_or_else(|| Error::schedule("the recurrence has no next occurrence"))?,
        ),
        _ => {
            return Err(Error::unprocessable(
                "offline_unsupported",
                "only temporary, recurring and delivery guest codes work offline",
            ));
        }
    };
    if window.until() <= now {
        return Err(Error::schedule("the window has already ended"));
    }
    Ok(OfflineRequest {
        kind,
        from: window.from(),
        until: window.until(),
    })
}

/// One door's offline code, chosen before anything is written.
#[derive(Debug, Clone)]
pub struct Planned {
    lock_id: String,
    offline: OfflineCodeId,
    digits: Code,
}

impl Planned {
    /// The digits.
    pub fn digits(&self) -> &Code {
        &self.digits
    }

    /// When its window ends.
    pub fn ends_at(&self) -> i64 {
        self.offline.ends_at().as_second()
    }
}

/// Chooses the offline code of each door, or says why a door cannot have
/// one: its model cannot (`offline_unsupported`), no window of whole hours up
/// to a week covers the span (`offline_window`), the door already holds
/// [`OFFLINE_LIST_CAPACITY`] offline codes whose windows have not ended or
/// both codes of this kind and window (`offline_limit`), or the digits of
/// every free index equal a code on the door or another offline code that
/// the door may compare at some instant of the window (`offline_conflict`).
pub async fn plan(
    cx: &mut impl Context,
    locks: &[LockRow],
    request: &OfflineRequest,
) -> Result<Vec<Planned>> {
    let key = cx.key().clone();
    let now = now_secs();
    // Whether every door can take one at all comes first: it does not
    // depend on the window or on what the doors hold.
    if let Some(lock) = locks
        .iter()
        .find(|l| !takes_offline_codes(l.enter_key, &l.constraints))
    {
        return Err(Error::conflict(
            "offline_unsupported",
            format!(
                "the door \"{}\" cannot take offline codes: its keypad needs an enter key and a model that accepts any 8-digit code",
                lock.name
            ),
        ));
    }
    let mut out = Vec::with_capacity(locks.len());
    for lock in locks {
        let window = OfflineCodeId::covering(request.kind, request.from, request.until, 0)
            .ok_or_else(|| {
                Error::unprocessable(
                    "offline_window",
                    "an offline code covers at most a week (168 hours from midnight UTC); shorten the window or turn off works offline",
                )
            })?;
        let live =
            offline::on_lock_ending_after(cx, &lock.id, now - LOCK_CLOCK_MARGIN_SECS).await?;
        if live.len() >= OFFLINE_LIST_CAPACITY {
            return Err(Error::conflict(
                "offline_limit",
                format!(
                    "the door \"{}\" already has {OFFLINE_LIST_CAPACITY} offline codes; try again once some windows have ended",
                    lock.name
                ),
            ));
        }
        let offline_key = OfflineKey::derive(&lock.keys_root(&key)?, lock.lock_id()?);
        let mut table: Vec<Code> = Vec::new();
        for p in placements::live(cx, &lock.id).await? {
            table.extend(p.entry(&key, true)?.credential.code());
        }
        let mut free = false;
        let mut chosen = None;
        for index in 0..=keyway_protocol::offline::MAX_OFFLINE_INDEX {
            let id = window
                .with_index(index)
                .map_err(|e| Error::internal("offline index", e))?;
            if offline::on_lock(cx, &lock.id, &id).await?.is_some() {
                continue;
            }
            free = true;
            let digits = offline_key.code(&id);
            let clash = table.contains(&digits)
                || id
                    .overlapping()
                    .any(|other| offline_key.code(&other) == digits);
            if !clash {
                chosen = Some((id, digits));
                break;
            }
        }
        let Some((offline, digits)) = chosen else {
            return Err(if free {
                Error::conflict(
                    "offline_conflict",
                    format!(
                        "the offline code for \"{}\" would equal another code of that door; try another window",
                        lock.name
                    ),
                )
            } else {
                Error::conflict(
                    "offline_limit",
                    format!(
                        "the door \"{}\" already has two offline codes for this window; choose another window",
                        lock.name
                    ),
                )
            });
        };
        out.push(Planned {
            lock_id: lock.id.clone(),
            offline,
            digits,
        });
    }
    Ok(out)
}

/// Writes the planned offline codes of code `code_id`.
pub async fn insert(w: &mut Write, code_id: &str, planned: &[Planned], actor: &str) -> Result<()> {
    let key = w.key().clone();
    for p in planned {
        let id = new_id("off");
        let row = OfflineRow {
            value: key.seal_str(Cell::new("offline_codes", "value", &id), p.digits.as_str())?,
            id,
            code_id: code_id.to_owned(),
            lock_id: p.lock_id.clone(),
            offline: p.offline,
            ends_at: p.ends_at(),
            first_used_at: None,
            want_revoked: false,
            conf_revoked: false,
            ending: None,
        };
        crate::db::insert(w, &[row]).await?;
        let detail = p.offline.to_string();
        let entry = ServerEntry {
            kind: "offline_code_added",
            slot: None,
            code_id: Some(code_id),
            actor: Some(actor),
            detail: Some(&detail),
        };
        audit::record(w, &p.lock_id, entry).await?;
    }
    Ok(())
}

/// Ends a code's offline codes with `ending`; a deleted one whose window has
/// not ended is revoked at its lock's next visit. Returns the locks to touch.
pub async fn end(w: &mut Write, code_id: &str, ending: &str) -> Result<Vec<String>> {
    let now = now_secs();
    let mut locks = Vec::new();
    for mut row in offline::of_code(w, code_id).await? {
        if row.ending.is_some() {
            continue;
        }
        row.ending = Some(ending.to_owned());
        if ending == "deleted" && row.ends_at > now - LOCK_CLOCK_MARGIN_SECS {
            row.want_revoked = true;
            locks.push(row.lock_id.clone());
            let detail = row.offline.to_string();
            let entry = ServerEntry {
                kind: "offline_code_revoked",
                code_id: Some(code_id),
                detail: Some(&detail),
                ..ServerEntry::default()
            };
            audit::record(w, &row.lock_id, entry).await?;
        }
        offline::save(w, &row).await?;
    }
    Ok(locks)
}

/// Whether code `code_id` has an offline code a door may still accept (so
/// it cannot be disabled or changed: the door needs no job to accept it).
pub async fn has_live(cx: &mut impl Context, code_id: &str) -> Result<bool> {
    let now = now_secs();
    Ok(offline::of_code(cx, code_id)
        .await?
        .iter()
        .any(|row| row.ending.is_none() && row.ends_at > now))
}

/// The refusal of a disable, enable or change of a code with live offline codes.
pub fn not_changeable() -> Error {
    Error::conflict(
        "offline_code",
        "an offline code cannot be disabled or changed: its doors accept it with no job; delete it instead",
    )
}

/// A lock reported the use of offline code `offline` at `at`: its first use
/// starts its life ("in use since"); a one-time code is used, and the code
/// is used once every door's one-time code is. Returns the code, if the
/// server issued it.
pub async fn record_use(
    w: &mut Write,
    lock_id: &str,
    offline: &OfflineCodeId,
    at: i64,
    touched: &mut Vec<String>,
) -> Result<Option<String>> {
    let Some(mut row) = offline::on_lock(w, lock_id, offline).await? else {
        return Ok(None);
    };
    if row.first_used_at.is_none_or(|first| at < first) {
        row.first_used_at = Some(at);
        offline::save(w, &row).await?;
        touched.push(row.code_id.clone());
    }
    if offline.kind() == OfflineKind::OneTime {
        let now = now_secs();
        let all = offline::of_code(w, &row.code_id).await?;
        let property_id = w.property_id().to_owned();
        let code = codes::load(w, &property_id, &row.code_id).await?;
        let spent = all
            .iter()
            .all(|r| r.first_used_at.is_some() || r.state(now) != CodeState::Active);
        let slot_code = !placements::of_code(w, &row.code_id).await?.is_empty();
        if spent && !slot_code && code.status == keyway_api::CodeStatus::Active {
            codes::set_status(w, &row.code_id, "used").await?;
            touched.push(row.code_id.clone());
        }
    }
    Ok(Some(row.code_id))
}

/// The lock started a new life: it lost its list of revoked and spent
/// offline codes. Every revocation is sent again, and its one-time codes are
/// ended there (it cannot know which were spent): revoked in the same job.
pub async fn lock_reset(w: &mut Write, lock: &LockRow, touched: &mut Vec<String>) -> Result<()> {
    offline::forget_confirmations(w, &lock.id).await?;
    let now = now_secs();
    let mut any = false;
    for mut row in offline::on_lock_ending_after(w, &lock.id, now - LOCK_CLOCK_MARGIN_SECS).await? {
        any |= row.want_revoked;
        if row.offline.kind() != OfflineKind::OneTime || row.want_revoked {
            continue;
        }
        row.want_revoked = true;
        row.ending.get_or_insert_with(|| "expired".to_owned());
        offline::save(w, &row).await?;
        touched.push(row.code_id.clone());
        any = true;
    }
    if any {
        locks::touch(w, &lock.id).await?;
    }
    Ok(())
}

/// The revocations the next job for `lock` carries.
pub async fn pending_revocations(cx: &mut impl Context, lock_id: &str) -> Result<Vec<OfflineRow>> {
    offline::unconfirmed_revocations(cx, lock_id, now_secs() - LOCK_CLOCK_MARGIN_SECS).await
}
