//! A lock's audit events as receipts and statuses carry them: each stored
//! once, by the lock's life and sequence number, with the code its slot held;
//! a code, a guest code that works offline or a key card that opened the
//! door is a use ([`crate::ops::uses`]); a one-time PIN's use ends the PIN
//! everywhere.

use keyway_protocol::{AuditEvent, AuditKind, Epoch};

use super::end_code;
use crate::db::Write;
use crate::db::audit::{self, LockEvent};
use crate::db::codes::placements;
use crate::db::locks::LockRow;
use crate::db::offline;
use crate::error::Result;

/// The name, slot and detail an event is stored with. Events never carry a
/// code, only slots.
fn describe(kind: AuditKind) -> (&'static str, Option<u16>, Option<String>) {
    match kind {
        AuditKind::CodeUsed { slot } => ("code_used", Some(slot), None),
        AuditKind::OneTimeConsumed { slot } => ("one_time_consumed", Some(slot), None),
        AuditKind::WrongCode { count } => (
            "wrong_code",
            None,
            Some(format!("{count} since the last lockout")),
        ),
        AuditKind::Denied { slot } => ("denied", Some(slot), None),
        AuditKind::LockoutStarted { seconds } => {
            ("lockout_started", None, Some(format!("{seconds} s")))
        }
        AuditKind::LockoutEnded => ("lockout_ended", None, None),
        AuditKind::ClockSet { previous } => {
            ("clock_set", None, Some(format!("previous {previous}")))
        }
        AuditKind::JobApplied { version } => {
            ("lock_job_applied", None, Some(format!("version {version}")))
        }
        AuditKind::JobRefused { reason } => {
            ("lock_job_refused", None, Some(reason.code().to_owned()))
        }
        AuditKind::PowerRestored => ("power_restored", None, None),
        AuditKind::CardUsed { slot } => ("card_used", Some(slot), None),
        AuditKind::WrongCard { count } => (
            "wrong_card",
            None,
            Some(format!("{count} since the last lockout")),
        ),
        AuditKind::OfflineCodeUsed { code } => ("offline_code_used", None, Some(code.to_string())),
        AuditKind::OfflineCodeDenied { code } => {
            ("offline_code_denied", None, Some(code.to_string()))
        }
        AuditKind::Unknown { code, .. } => ("unknown", None, Some(format!("type {code}"))),
    }
}

/// Stores events of the lock's life `epoch` (each once) and settles one-time
/// PINs that were used. With `advance_ack`, events of the lock's current life
/// advance its acknowledgement (the next job lets the lock forget them); a
/// status asked for with another life's position must not, or the lock would
/// forget events the server never saw. True when any event was new.
pub async fn store_events(
    w: &mut Write,
    lock: &mut LockRow,
    epoch: Epoch,
    events: &[AuditEvent],
    advance_ack: bool,
    touched: &mut Vec<String>,
) -> Result<bool> {
    let epoch_hex = epoch.to_string();
    let current_life = lock.epoch.as_deref() == Some(epoch_hex.as_str());
    let mut any_new = false;
    for event in events {
        let (kind, slot, mut detail) = describe(event.kind);
        let placement = match slot {
            Some(slot) if current_life => placements::confirmed_in_slot(w, &lock.id, slot).await?,
            _ => None,
        };
        let offline_row = match event.kind {
            AuditKind::OfflineCodeUsed { code } | AuditKind::OfflineCodeDenied { code } => {
                let row = offline::on_lock(w, &lock.id, &code).await?;
                if row.is_none() {
                    // The lock accepts any candidate of the moment: one the
                    // server never issued was guessed.
                    detail = Some(format!("{code}, never issued"));
                }
                row
            }
            _ => None,
        };
        let event_row = LockEvent {
            epoch: epoch_hex.clone(),
            lock_seq: event.seq,
            at: event.at.as_second(),
            kind,
            slot,
            code_id: placement
                .as_ref()
                .map(|p| p.code_id.clone())
                .or_else(|| offline_row.as_ref().map(|r| r.code_id.clone())),
            detail,
        };
        let inserted = audit::record_event(w, &lock.id, &event_row).await?;
        if current_life && advance_ack {
            lock.audit_ack = lock.audit_ack.max(event.seq);
        }
        if !inserted {
            continue;
        }
        any_new = true;
        if let (
            AuditKind::CodeUsed { .. }
            | AuditKind::OneTimeConsumed { .. }
            | AuditKind::CardUsed { .. },
            Some(p),
        ) = (event.kind, &placement)
        {
            let opened = crate::ops::uses::Opened {
                code_id: &p.code_id,
                epoch: &epoch_hex,
                lock_seq: event.seq,
                at: event.at.as_second(),
                kind,
            };
            crate::ops::uses::record(w, lock, opened).await?;
        }
        if let (AuditKind::OneTimeConsumed { .. }, Some(p)) = (event.kind, placement) {
            end_code(w, &p.code_id, "used", touched).await?;
        }
        if let AuditKind::OfflineCodeUsed { code } = event.kind {
            let at = event.at.as_second();
            let used =
                crate::ops::codes::offline::record_use(w, &lock.id, &code, at, touched).await?;
            if let Some(code_id) = used {
                let opened = crate::ops::uses::Opened {
                    code_id: &code_id,
                    epoch: &epoch_hex,
                    lock_seq: event.seq,
                    at,
                    kind,
                };
                crate::ops::uses::record(w, lock, opened).await?;
            }
        }
    }
    Ok(any_new)
}
