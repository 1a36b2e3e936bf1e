//! How the Portal puts things into words: codes and their state on each
//! lock, refusals with the policy's reasons, audit entries, times in the
//! property's time zone, and the short notices shown after an action.
//! Presentation only: what a caller may see was decided by the operation
//! that produced the view.

use jiff::Timestamp;
use keyway_api::{CodeState, CodeStatus, CodeView};
use keyway_codes::CodeKind;
use keyway_codes::Schedule;

use crate::error::Error;

/// An instant in the property's time zone, to the minute.
pub fn time(at: Timestamp, time_zone: &str) -> String {
    at.in_tz(time_zone)
        .map(|z| z.strftime("%Y-%m-%d %H:%M").to_string())
        .unwrap_or_else(|_| at.to_string())
}

/// One lock's state of a code, in words.
#[derive(Debug, Clone)]
pub struct LockLine {
    /// The lock's name.
    pub name: String,
    /// The state, in words.
    pub state: &'static str,
    /// Whether the state is settled and good (active, disabled).
    pub settled: bool,
    /// The lock's refusal, for a failed code.
    pub reason: Option<String>,
}

/// A code as a row of a page.
#[derive(Debug, Clone)]
pub struct CodeLine {
    /// The code's id.
    pub id: String,
    /// What it is ("Courier PIN").
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// The digits, when the caller may see them.
    pub value: Option<String>,
    /// Whether it is meant to open its doors (✓), or not (✗).
    pub active: bool,
    /// Its overall status, in words.
    pub status: &'static str,
    /// When it ends, for a code with a window.
    pub ends: Option<String>,
    /// When it last changed.
    pub updated: String,
    /// Its state on each lock.
    pub locks: Vec<LockLine>,
    /// Whether it can still be disabled, enabled or given new digits.
    pub live: bool,
}

impl CodeLine {
    /// The line of `code`, times in `time_zone`.
    pub fn of(code: &CodeView, time_zone: &str) -> Self {
        Self {
            id: code.id.clone(),
            kind: kind_word(code.kind),
            name: code.name.clone().unwrap_or_default(),
            value: code.value.clone(),
            active: code.status == CodeStatus::Active,
            status: status_word(code.status),
            ends: match &code.schedule {
                Schedule::Window(w) => Some(time(w.until(), time_zone)),
                _ => None,
            },
            updated: time(code.updated_at, time_zone),
            locks: code
                .locks
                .iter()
                .map(|l| LockLine {
                    name: l.lock_name.clone(),
                    state: state_word(l.state),
                    settled: matches!(l.state, CodeState::Active | CodeState::Disabled),
                    reason: l.reason.clone(),
                })
                .collect(),
            live: matches!(code.status, CodeStatus::Active | CodeStatus::Disabled),
        }
    }

    /// Whether the code is switched off (it can be enabled again).
    pub fn disabled(&self) -> bool {
        self.status == status_word(CodeStatus::Disabled)
    }
}

/// What kind of code, in words.
pub fn kind_word(kind: CodeKind) -> &'static str {
    match kind {
        CodeKind::Resident => "Resident code",
        CodeKind::Guest => "Guest code",
        CodeKind::Carrier => "Carrier code",
        CodeKind::Courier => "Courier PIN",
        CodeKind::Staff => "Staff PIN",
        CodeKind::Backup => "Backup code",
        CodeKind::OneTime => "One-time PIN",
    }
}

/// A code's overall status, in words.
pub fn status_word(status: CodeStatus) -> &'static str {
    match status {
        CodeStatus::Active => "Active",
        CodeStatus::Disabled => "Deactivated",
        CodeStatus::Deleted => "Deleted",
        CodeStatus::Expired => "Expired",
        CodeStatus::Used => "Used",
        CodeStatus::Failed => "Refused by the lock",
    }
}

/// A one-time PIN's state as the recipient page says it: sent (and still
/// usable), used, expired, or replaced by a newer one.
pub fn one_time_word(status: CodeStatus) -> &'static str {
    match status {
        CodeStatus::Active => "Sent",
        CodeStatus::Deleted => "Replaced",
        other => status_word(other),
    }
}

/// A code's state on one lock, in words.
pub fn state_word(state: CodeState) -> &'static str {
    match state {
        CodeState::Requested => "Requested",
        CodeState::Pending => "Pending: waits for a phone at the door",
        CodeState::Active => "Active",
        CodeState::Disabling => "Being deactivated",
        CodeState::Disabled => "Deactivated",
        CodeState::Removing => "Being removed",
        CodeState::Removed => "Removed",
        CodeState::Expired => "Expired",
        CodeState::Used => "Used",
        CodeState::Failed => "Refused by the lock",
    }
}

/// An audit entry's kind, in words.
pub fn audit_word(kind: &str) -> &'static str {
    match kind {
        "code_added" => "Code added",
        "code_removed" => "Code removed",
        "code_enabled" => "Code reactivated",
        "code_disabled" => "Code deactivated",
        "code_used" => "Code used at the keypad",
        "card_added" => "Key card added",
        "card_deleted" => "Key card removed",
        "card_used" => "Key card used at the reader",
        "offline_code_added" => "Offline guest code issued (no job needed)",
        "offline_code_revoked" => "Offline guest code revoked (sent with the next visit)",
        "offline_code_used" => "Offline guest code used at the keypad",
        "offline_code_denied" => "Offline guest code refused (revoked or spent)",
        "one_time_consumed" => "One-time PIN used",
        "wrong_code" => "Wrong code entered",
        "wrong_card" => "Unknown key card held to the reader",
        "denied" => "Code or key card refused (deactivated, outside its schedule or spent)",
        "lockout_started" => "Keypad and card reader locked after wrong entries",
        "lockout_ended" => "Keypad and card reader unlocked",
        "clock_set" => "Lock clock set",
        "lock_job_applied" | "job_applied" => "Changes applied by the lock",
        "lock_job_refused" | "job_refused" => "Changes refused by the lock",
        "recovery_started" => "Lock table rebuilt",
        "lock_reset" => "Lock lost its storage",
        "power_restored" => "Power restored",
        "backup_pool_set" => "Backup codes to keep changed",
        "backup_added" => "Backup code added to the lock's pool",
        "backup_handed_out" => "Backup code handed out for a code not yet on the lock",
        "backup_pool_short" => "Backup pool short: no free slot",
        "backup_used_unissued" => "A backup code nobody was given opened the door",
        _ => "Other event",
    }
}

/// The audit kinds the lock page filters by.
pub const AUDIT_KINDS: &[&str] = &[
    "code_added",
    "code_removed",
    "code_enabled",
    "code_disabled",
    "code_used",
    "card_added",
    "card_used",
    "offline_code_used",
    "offline_code_denied",
    "one_time_consumed",
    "wrong_code",
    "wrong_card",
    "denied",
    "lockout_started",
    "lockout_ended",
    "lock_job_applied",
    "lock_job_refused",
    "recovery_started",
    "lock_reset",
    "power_restored",
    "backup_handed_out",
    "backup_used_unissued",
];

/// One broken rule, in words, with its stable id.
#[derive(Debug, Clone)]
pub struct Reason {
    /// The rule's id (`sequential`, `duplicate_on_lock`, …).
    pub rule: String,
    /// What to do about it.
    pub message: String,
}

/// A refusal shown next to the field it is about.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// The stable code (`policy_violation`, `invalid_format`, …).
    pub code: &'static str,
    /// The sentence.
    pub message: String,
    /// The policy's reasons, one per broken rule.
    pub reasons: Vec<Reason>,
}

impl Refusal {
    /// The refusal an error makes.
    pub fn of(error: &Error) -> Self {
        let reasons: Vec<Reason> = error
            .rejection
            .as_ref()
            .map(|r| {
                r.violations
                    .iter()
                    .map(|v| Reason {
                        rule: v.rule.id().to_owned(),
                        message: v.message.clone(),
                    })
                    .collect()
            })
            .unwrap_or_default();
        let message = if reasons.is_empty() {
            sentence(&error.detail)
        } else {
            "This code was refused:".to_owned()
        };
        Self {
            code: error.code,
            message,
            reasons,
        }
    }
}

/// A detail as a sentence: capitalised, ending with a full stop.
fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The notice for `?done=…` after an action: fixed sentences only, never
/// text from the address.
pub fn notice(done: Option<&str>) -> Option<&'static str> {
    Some(match done? {
        "created" => "Created.",
        "code" => "The new code is saved. The doors get it at the next visit of a phone.",
        "pin" => "The PIN is saved. The doors get it at the next visit of a phone.",
        "key-card" => "The key card is assigned.",
        "sent" => "The one-time PIN was generated and the notification is queued.",
        "disabled" => "Deactivated. The doors stop accepting it at the next visit of a phone.",
        "enabled" => "Reactivated.",
        "deleted" => "Deleted. The doors forget it at the next visit of a phone.",
        "backup-pool" => {
            "Saved. The lock loads or drops backup codes at the next visit of a phone."
        }
        "policy" => "The policy is saved. New codes follow it; existing codes stay.",
        "signed-out" => "You are signed out.",
        "password-set" => "Your password is set. Sign in with it.",
        "password-changed" => "Your password is changed and every session ended. Sign in again.",
        _ => return None,
    })
}
