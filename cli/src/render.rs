//! How the client's data looks on the terminal and in `--json`: codes with
//! their state on each lock, doors, delivery and sync reports, events, and
//! the spinner shown during long steps (scanning, delivering).

use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use keyway_api::{CodeOnLock, CodeState, CodeStatus, GuestType, OfflineCodeView};
use keyway_client::{CodeUse, DeliveryReport, Door, LocalCode, LockVisit, SyncReport};
use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::schedule::Schedule;
use serde::Serialize;

use crate::output::ReportedViolation;

/// A use as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct UseJson<'a> {
    id: &'a str,
    code_id: &'a str,
    code_name: Option<&'a str>,
    lock_id: &'a str,
    lock_name: &'a str,
    at: Timestamp,
    kind: &'a str,
}

impl<'a> From<&'a CodeUse> for UseJson<'a> {
    fn from(used: &'a CodeUse) -> Self {
        Self {
            id: &used.id,
            code_id: &used.code_id,
            code_name: used.code_name.as_deref(),
            lock_id: &used.lock_id,
            lock_name: &used.lock_name,
            at: used.at,
            kind: &used.kind,
        }
    }
}

/// "Dog walker's code opened Unit 4B at 09:14" (the time in `tz`, with the
/// day when it is not today).
pub(crate) fn use_text(
    code_name: Option<&str>,
    lock_name: &str,
    at: Timestamp,
    tz: &TimeZone,
) -> String {
    keyway_api::use_sentence(code_name, lock_name, at, tz)
}

/// A code as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct CodeJson<'a> {
    id: &'a str,
    server_id: Option<&'a str>,
    kind: CodeKind,
    origin: Option<Origin>,
    name: Option<&'a str>,
    guest_type: Option<GuestType>,
    unit_id: Option<&'a str>,
    value: Option<&'a str>,
    schedule: &'a Schedule,
    enabled: bool,
    status: CodeStatus,
    locks: &'a [CodeOnLock],
    offline: &'a [OfflineCodeView],
    pending: Option<&'static str>,
    failure: Option<FailureJson<'a>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// A refused request, as `--json` prints it.
#[derive(Debug, Serialize)]
struct FailureJson<'a> {
    op: &'static str,
    code: &'a str,
    detail: &'a str,
    violations: Vec<ReportedViolation>,
}

impl<'a> From<&'a LocalCode> for CodeJson<'a> {
    fn from(c: &'a LocalCode) -> Self {
        Self {
            id: &c.id,
            server_id: c.server_id.as_deref(),
            kind: c.kind,
            origin: c.origin,
            name: c.name.as_deref(),
            guest_type: c.guest_type,
            unit_id: c.unit_id.as_deref(),
            value: c.value.as_deref(),
            schedule: &c.schedule,
            enabled: c.enabled,
            status: c.status,
            locks: &c.locks,
            offline: &c.offline,
            pending: c.pending.map(|p| p.as_str()),
            failure: c.failure.as_ref().map(|f| FailureJson {
                op: f.op.as_str(),
                code: &f.code,
                detail: &f.detail,
                violations: f.violations.iter().map(Into::into).collect(),
            }),
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// A door as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct DoorJson<'a> {
    lock_id: &'a str,
    name: &'a str,
    access_point: AccessPoint,
    unit_id: Option<&'a str>,
    enter_key: bool,
    confirmed_version: u32,
    target_version: Option<u32>,
    job_waiting: bool,
}

impl<'a> From<&'a Door> for DoorJson<'a> {
    fn from(d: &'a Door) -> Self {
        Self {
            lock_id: &d.lock_id,
            name: &d.name,
            access_point: d.access_point,
            unit_id: d.unit_id.as_deref(),
            enter_key: d.enter_key,
            confirmed_version: d.confirmed_version,
            target_version: d.target_version,
            job_waiting: d.job_waiting,
        }
    }
}

/// One lock's delivery, as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct LockDeliveryJson<'a> {
    lock_id: &'a str,
    name: &'a str,
    outcome: &'a str,
    receipts: u32,
}

impl<'a> From<&'a LockVisit> for LockDeliveryJson<'a> {
    fn from(d: &'a LockVisit) -> Self {
        Self {
            lock_id: &d.lock_id,
            name: &d.name,
            outcome: d.outcome.code(),
            receipts: d.outcome.receipts(),
        }
    }
}

/// A delivery round, as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct DeliveryJson<'a> {
    heard: u32,
    locks: Vec<LockDeliveryJson<'a>>,
    receipts_uploaded: u32,
    synced: bool,
}

impl<'a> From<&'a DeliveryReport> for DeliveryJson<'a> {
    fn from(r: &'a DeliveryReport) -> Self {
        Self {
            heard: r.heard,
            locks: r.locks.iter().map(Into::into).collect(),
            receipts_uploaded: r.receipts_uploaded,
            synced: r.synced,
        }
    }
}

/// A sync, as `--json` prints it.
#[derive(Debug, Serialize)]
pub(crate) struct SyncJson {
    sent: u32,
    refused: u32,
    queued: u32,
    receipts_uploaded: u32,
    pages: u32,
}

impl From<&SyncReport> for SyncJson {
    fn from(r: &SyncReport) -> Self {
        Self {
            sent: r.sent,
            refused: r.refused,
            queued: r.queued,
            receipts_uploaded: r.receipts_uploaded,
            pages: r.pages,
        }
    }
}

/// What a state means to the person looking at it.
pub(crate) fn describe_state(on: &CodeOnLock) -> String {
    let mut text = match on.state {
        CodeState::Requested => {
            "requested: queued on this computer, goes out with the next sync".to_owned()
        }
        CodeState::Pending => {
            "pending: waiting for a phone within ~30 ft (9 m) of the lock".to_owned()
        }
        CodeState::Active => "active".to_owned(),
        CodeState::Disabling => "disabling: still opens until the lock confirms".to_owned(),
        CodeState::Disabled => "disabled".to_owned(),
        CodeState::Removing => "removing: still opens until the lock confirms".to_owned(),
        CodeState::Removed => "removed".to_owned(),
        CodeState::Expired => "expired".to_owned(),
        CodeState::Used => "used".to_owned(),
        CodeState::Failed => format!(
            "failed ({}): the previous code stays active",
            on.reason.as_deref().unwrap_or("refused by the lock")
        ),
    };
    if on.previous_active {
        text.push_str("; the previous code opens it until the lock confirms");
    }
    text
}

fn kind_name(code: &LocalCode) -> String {
    match (code.kind, code.guest_type) {
        (CodeKind::Guest, Some(guest)) => format!("{} guest", guest_name(guest)),
        (kind, _) => kind.as_str().replace('_', "-"),
    }
}

/// The stable name of a guest type.
pub(crate) fn guest_name(guest: GuestType) -> &'static str {
    match guest {
        GuestType::Permanent => "permanent",
        GuestType::Temporary => "temporary",
        GuestType::Recurring => "recurring",
        GuestType::Delivery => "delivery",
    }
}

/// When a schedule opens, in the property's time zone.
pub(crate) fn describe_schedule(schedule: &Schedule, tz: &TimeZone) -> String {
    let at = |t: Timestamp| {
        t.to_zoned_datetime(tz.clone())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    };
    match schedule {
        Schedule::Always => "always".to_owned(),
        Schedule::Window(w) => format!("from {} until {}", at(w.from()), at(w.until())),
        Schedule::Recurring(r) => format!(
            "{} {}-{} ({})",
            r.weekdays(),
            r.start().strftime("%H:%M"),
            r.end().strftime("%H:%M"),
            r.time_zone()
        ),
    }
}

/// A code as text: a headline, then its state on each lock.
pub(crate) fn code_text(code: &LocalCode, tz: &TimeZone) -> String {
    let mut out = format!(
        "{}  {}  {}",
        code.id,
        kind_name(code),
        code.value.as_deref().unwrap_or("(digits not drawn yet)")
    );
    if let Some(name) = &code.name {
        out.push_str(&format!("  \"{name}\""));
    }
    // An active code's story is in its per-lock states below; other
    // statuses say what happened to the code as a whole.
    let status = match code.status {
        CodeStatus::Active if !code.enabled => Some("disabled"),
        CodeStatus::Active => None,
        CodeStatus::Disabled => Some("disabled"),
        CodeStatus::Deleted => Some("deleted"),
        CodeStatus::Expired => Some("expired"),
        CodeStatus::Used => Some("used"),
        CodeStatus::Failed => Some("failed"),
    };
    if let Some(status) = status {
        out.push_str(&format!("  [{status}]"));
    }
    if !matches!(code.schedule, Schedule::Always) {
        out.push_str(&format!(
            "\n    opens {}",
            describe_schedule(&code.schedule, tz)
        ));
    }
    if let Some(op) = code.pending {
        out.push_str(&format!("\n    queued: {} (not sent yet)", op.as_str()));
    }
    if let Some(failure) = &code.failure {
        out.push_str(&format!(
            "\n    refused {} ({}): {}",
            failure.op.as_str(),
            failure.code,
            failure.detail
        ));
        for v in &failure.violations {
            out.push_str(&format!("\n      {}  {}", v.rule.id(), v.message));
        }
    }
    let width = code
        .locks
        .iter()
        .map(|l| l.lock_name.chars().count())
        .max()
        .unwrap_or(0);
    for lock in &code.locks {
        out.push_str(&format!(
            "\n    {:width$}  {}",
            lock.lock_name,
            describe_state(lock)
        ));
    }
    for offline in &code.offline {
        out.push_str(&format!("\n    {}", describe_offline(offline, tz)));
    }
    out
}

/// A door's offline code: its digits, the exact window, and its state.
pub(crate) fn describe_offline(offline: &OfflineCodeView, tz: &TimeZone) -> String {
    let at = |t: Timestamp| {
        t.to_zoned_datetime(tz.clone())
            .strftime("%a %Y-%m-%d %H:%M")
            .to_string()
    };
    let state = match offline.state {
        CodeState::Active if offline.first_used_at.is_some() => "in use",
        CodeState::Active => "active, no visit needed",
        CodeState::Used => "used",
        CodeState::Removing => "deleted: a phone must visit the door to revoke it",
        CodeState::Removed => "revoked",
        CodeState::Expired => "expired",
        _ => "unknown",
    };
    let mut out = format!(
        "{} offline: {}{}  from {} until {}  ({state})",
        offline.lock_name,
        offline.value.as_deref().unwrap_or("(digits hidden)"),
        if offline.one_time { "  one-time" } else { "" },
        at(offline.starts_at),
        at(offline.ends_at),
    );
    if let Some(first) = offline.first_used_at {
        out.push_str(&format!("  first used {}", at(first)));
    }
    out
}

/// What a delivery outcome means.
pub(crate) fn describe_outcome(outcome: &str) -> &str {
    match outcome {
        "delivered" => "delivered: the lock took what the server sealed for this visit",
        "checked" => "checked: the server settled its status and had nothing to send",
        "out_of_range" => "out of range: come within ~30 ft (9 m)",
        "server_unreachable" => "the server is unreachable: a visit needs it, try again online",
        "connection_lost" => "the connection dropped; the next delivery resumes it",
        "timed_out" => "the lock did not answer in time",
        "lock_refused" => "the lock refused the job (the server will settle it)",
        other => other,
    }
}

/// A spinner on stderr for a long step; hidden when stderr is not a
/// terminal or when `hidden` (JSON output).
pub(crate) fn spinner(message: &str, hidden: bool) -> ProgressBar {
    if hidden {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
        bar.set_style(style);
    }
    bar.set_message(message.to_owned());
    if !bar.is_hidden() {
        bar.enable_steady_tick(Duration::from_millis(100));
    }
    bar
}
