//! What the phone panel shows of the phone core, in the resident's words:
//! each code with its state on each door, its offline codes and backup
//! codes, the doors it has not reached (where a backup code can stand in),
//! the uses sync brought ("Dog walker's code opened Unit 4B at 09:14"), and
//! a refused backup code's reason.

use jiff::tz::TimeZone;
use keyway_api::{BackupCodeView, CodeState, OfflineCodeView};
use keyway_client::{ClientError, CodeUse, LocalCode};
use keyway_codes::CodeKind;

/// The phone core as the dashboard shows it.
#[derive(Debug, Clone)]
pub(super) struct PhoneView {
    pub(super) who: String,
    pub(super) rounds: u64,
    pub(super) codes: Vec<CodeLine>,
    pub(super) visits: Vec<String>,
    /// The newest uses of the resident's codes, newest first.
    pub(super) uses: Vec<String>,
    pub(super) error: Option<String>,
}

/// One of the phone's codes. The resident sees their own digits in the app,
/// so the bench's phone panel does too.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CodeLine {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) value: String,
    pub(super) states: String,
    /// Its offline codes and backup codes, one line per door each.
    pub(super) extras: Vec<String>,
    /// The doors a guest code has not reached yet, as (lock id, name): a
    /// backup code may open them meanwhile.
    pub(super) not_reached: Vec<(String, String)>,
}

/// The phone's codes as the panel lists them.
pub(super) fn line(code: &LocalCode, zone: &TimeZone) -> CodeLine {
    let states: Vec<String> = code
        .locks
        .iter()
        .map(|l| format!("{}: {:?}", l.lock_name, l.state))
        .collect();
    let name = code
        .name
        .clone()
        .unwrap_or_else(|| format!("{:?} code", code.kind));
    let extras = code
        .offline
        .iter()
        .map(|o| offline_line(o, zone))
        .chain(code.backups.iter().map(backup_line))
        .collect();
    let not_reached = if code.kind == CodeKind::Guest && code.server_id.is_some() {
        code.locks
            .iter()
            .filter(|l| l.state == CodeState::Pending)
            .map(|l| (l.lock_id.clone(), l.lock_name.clone()))
            .collect()
    } else {
        Vec::new()
    };
    CodeLine {
        id: code.id.clone(),
        value: code.value.clone().unwrap_or_default(),
        name,
        states: if states.is_empty() {
            format!("{:?}", code.status)
        } else {
            states.join(", ")
        },
        extras,
        not_reached,
    }
}

/// "Unit 4B: 48151623 works offline Mon 09:00 to 13:00, one-time (active)".
fn offline_line(offline: &OfflineCodeView, zone: &TimeZone) -> String {
    let starts = offline.starts_at.to_zoned_datetime(zone.clone());
    let ends = offline.ends_at.to_zoned_datetime(zone.clone());
    let until = if ends.date() == starts.date() {
        ends.strftime("%H:%M")
    } else {
        ends.strftime("%a %H:%M")
    };
    format!(
        "{}: {} works offline {} to {until}{} ({})",
        offline.lock_name,
        offline.value.as_deref().unwrap_or("········"),
        starts.strftime("%a %H:%M"),
        if offline.one_time { ", one-time" } else { "" },
        state_word(offline.state),
    )
}

/// "Unit 4B: backup code 61803398 (active: opens the door once)", or
/// without its digits once it no longer opens the door.
fn backup_line(backup: &BackupCodeView) -> String {
    match (&backup.value, backup.state) {
        (Some(value), CodeState::Active) => format!(
            "{}: backup code {value} (active: opens the door once)",
            backup.lock_name
        ),
        (_, state) => format!("{}: backup code ({})", backup.lock_name, state_word(state)),
    }
}

fn state_word(state: CodeState) -> String {
    format!("{state:?}").to_lowercase()
}

/// "Dog walker's code opened Unit 4B at 09:14" (the lock's time in the
/// property's zone, with the day when it was not today, as the server's
/// email says it), and how: an offline code, a backup code.
pub(super) fn use_line(used: &CodeUse, zone: &TimeZone) -> String {
    let said = keyway_api::use_sentence(used.code_name.as_deref(), &used.lock_name, used.at, zone);
    let how = match used.kind.as_str() {
        "offline_code_used" => " (its offline code)",
        "backup_code_used" => " (with a backup code)",
        "card_used" => " (a key card)",
        _ => "",
    };
    format!("{said}{how}")
}

/// Why no backup code was handed out, in the resident's words.
pub(super) fn backup_refusal(error: &ClientError) -> String {
    let words = match error.code() {
        "backup_not_needed" => "the code is on this door already: its own digits open it",
        "backup_not_due" => {
            "the code does not open the door now; a backup code stands in only while it should"
        }
        "backup_unavailable" => {
            "this door keeps no backup codes; the building's manager can turn them on"
        }
        "backup_pool_empty" => {
            "no backup code has reached this door yet; the next phone that passes it loads them"
        }
        "backup_limit" => {
            "as many backup codes as this door allows are handed out; they come back as the codes reach the door"
        }
        "backup_guest_only" => "backup codes stand in for guest codes only",
        "code_ended" => "the code is disabled or has ended",
        "forbidden" => "only the code's holders may have a backup code for it",
        "not_found" => "the code is not meant for this door",
        "network" => "the server cannot be reached; try again once the phone is online",
        _ => return error.to_string(),
    };
    words.to_owned()
}

#[cfg(test)]
mod tests {
    use jiff::Timestamp;

    use super::*;

    fn used(kind: &str, at: Timestamp, name: Option<&str>) -> CodeUse {
        CodeUse {
            id: "use_1".into(),
            code_id: "cod_1".into(),
            code_name: name.map(str::to_owned),
            lock_id: "6b77000000000001".into(),
            lock_name: "Unit 4B".into(),
            at,
            kind: kind.into(),
        }
    }

    #[test]
    fn a_use_reads_as_the_servers_notice_with_how_it_opened() {
        let zone = TimeZone::get("America/New_York").unwrap();
        let now = Timestamp::now();
        let hm = now
            .to_zoned_datetime(zone.clone())
            .strftime("%H:%M")
            .to_string();
        let line = use_line(&used("offline_code_used", now, Some("Dog walker")), &zone);
        assert_eq!(
            line,
            format!("Dog walker's code opened Unit 4B at {hm} (its offline code)")
        );
        let line = use_line(&used("backup_code_used", now, None), &zone);
        assert_eq!(
            line,
            format!("A code opened Unit 4B at {hm} (with a backup code)")
        );
        let old: Timestamp = "2025-01-06T14:14:00Z".parse().unwrap();
        let line = use_line(&used("code_used", old, Some("Courier")), &zone);
        assert_eq!(line, "Courier's code opened Unit 4B at 09:14 on Mon 6 Jan");
    }

    #[test]
    fn refusals_read_in_words_and_unknown_ones_as_the_server_said() {
        let refused = |code: &str| ClientError::Refused {
            status: 409,
            code: code.into(),
            detail: "the server's own words".into(),
        };
        assert!(backup_refusal(&refused("backup_unavailable")).contains("keeps no backup codes"));
        assert!(backup_refusal(&refused("backup_pool_empty")).contains("next phone"));
        assert!(
            backup_refusal(&refused("something_new")).contains("the server's own words"),
            "{}",
            backup_refusal(&refused("something_new"))
        );
    }
}
