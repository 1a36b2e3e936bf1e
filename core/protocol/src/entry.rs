//! A slot's entry: its credential (a keypad code or a key card), kind,
//! flags and schedule, and their bytes, which a `put` operation carries and
//! the slot-table digest hashes (`docs/lock-protocol.md`, "Job body").

use jiff::civil::Time;
use serde::{Deserialize, Serialize};

use crate::credential::{CardKey, Credential};
use crate::job::timestamp;
use crate::wire::{DecodeError, Reader, Writer};
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::{Recurring, Schedule, Weekdays, Window};

/// What a slot holds.
///
/// In JSON and TOML (scenario files, the simulator's state) the credential
/// is one field: `code` (the digits), `card_key` (32 hex digits), or `card`
/// (a card's id, hashed to its key when read; written back as `card_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EntryForm", into = "EntryForm")]
pub struct SlotEntry {
    /// What opens the door from this slot: a code or a key card.
    pub credential: Credential,
    /// Whose credential it is.
    pub kind: CodeKind,
    /// When the credential opens the door.
    pub schedule: Schedule,
    /// Whether the credential currently opens the door at all.
    pub enabled: bool,
    /// Whether the first use consumes the credential.
    pub one_time: bool,
}

/// [`SlotEntry`] as JSON and TOML spell it.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryForm {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    code: Option<Code>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card_key: Option<CardKey>,
    #[serde(default, skip_serializing)]
    card: Option<String>,
    kind: CodeKind,
    schedule: Schedule,
    enabled: bool,
    one_time: bool,
}

impl TryFrom<EntryForm> for SlotEntry {
    type Error = String;

    fn try_from(form: EntryForm) -> Result<Self, Self::Error> {
        let card = match form.card {
            Some(id) => Some(CardKey::of(&id).map_err(|e| e.to_string())?),
            None => None,
        };
        let credential = match (form.code, form.card_key, card) {
            (Some(code), None, None) => Credential::Code(code),
            (None, Some(key), None) | (None, None, Some(key)) => Credential::Card(key),
            _ => return Err("give exactly one of `code`, `card` and `card_key`".into()),
        };
        Ok(Self {
            credential,
            kind: form.kind,
            schedule: form.schedule,
            enabled: form.enabled,
            one_time: form.one_time,
        })
    }
}

impl From<SlotEntry> for EntryForm {
    fn from(entry: SlotEntry) -> Self {
        Self {
            code: entry.credential.code().copied(),
            card_key: entry.credential.card().copied(),
            card: None,
            kind: entry.kind,
            schedule: entry.schedule,
            enabled: entry.enabled,
            one_time: entry.one_time,
        }
    }
}

pub(crate) fn kind_byte(kind: CodeKind) -> u8 {
    match kind {
        CodeKind::Resident => 1,
        CodeKind::Guest => 2,
        CodeKind::Carrier => 3,
        CodeKind::Courier => 4,
        CodeKind::Staff => 5,
        CodeKind::OneTime => 6,
        CodeKind::Backup => 7,
    }
}

fn kind_from_byte(b: u8) -> Result<CodeKind, DecodeError> {
    CodeKind::ALL
        .into_iter()
        .find(|k| kind_byte(*k) == b)
        .ok_or_else(|| DecodeError::invalid("kind", format!("unknown code kind {b}")))
}

const SCHEDULE_ALWAYS: u8 = 0;
const SCHEDULE_WINDOW: u8 = 1;
const SCHEDULE_RECURRING: u8 = 2;

const FLAG_ENABLED: u8 = 0b01;
const FLAG_ONE_TIME: u8 = 0b10;

/// Encodes a slot entry; the slot table digest hashes the same bytes.
pub(crate) fn encode_entry(entry: &SlotEntry, out: &mut Vec<u8>) {
    entry.credential.encode(out);
    out.put_u8(kind_byte(entry.kind));
    let mut flags = 0;
    if entry.enabled {
        flags |= FLAG_ENABLED;
    }
    if entry.one_time {
        flags |= FLAG_ONE_TIME;
    }
    out.put_u8(flags);
    encode_schedule(&entry.schedule, out);
}

/// Decodes a slot entry; any bytes give a value or an error, never a panic.
pub(crate) fn decode_entry(r: &mut Reader<'_>) -> Result<SlotEntry, DecodeError> {
    let credential = Credential::decode(r)?;
    let kind = kind_from_byte(r.u8("kind")?)?;
    let flags = r.u8("flags")?;
    if flags & !(FLAG_ENABLED | FLAG_ONE_TIME) != 0 {
        return Err(DecodeError::invalid(
            "flags",
            format!("unknown bits {flags:#04x}"),
        ));
    }
    let schedule = decode_schedule(r)?;
    Ok(SlotEntry {
        credential,
        kind,
        schedule,
        enabled: flags & FLAG_ENABLED != 0,
        one_time: flags & FLAG_ONE_TIME != 0,
    })
}

fn minute_of_day(t: Time) -> u16 {
    (t.hour() as u16) * 60 + t.minute() as u16
}

fn time_from_minutes(minutes: u16, field: &'static str) -> Result<Time, DecodeError> {
    if minutes >= 24 * 60 {
        return Err(DecodeError::invalid(
            field,
            format!("minute {minutes} is past midnight"),
        ));
    }
    Time::new((minutes / 60) as i8, (minutes % 60) as i8, 0, 0)
        .map_err(|_| DecodeError::invalid(field, "bad time"))
}

fn encode_schedule(schedule: &Schedule, out: &mut Vec<u8>) {
    match schedule {
        Schedule::Always => out.put_u8(SCHEDULE_ALWAYS),
        Schedule::Window(w) => {
            out.put_u8(SCHEDULE_WINDOW);
            out.put_i64(w.from().as_second());
            out.put_i64(w.until().as_second());
        }
        Schedule::Recurring(r) => {
            out.put_u8(SCHEDULE_RECURRING);
            out.put_u8(r.weekdays().bits());
            out.put_u16(minute_of_day(r.start()));
            out.put_u16(minute_of_day(r.end()));
            let tz = r.time_zone().as_bytes();
            out.put_u8(tz.len() as u8);
            out.extend_from_slice(tz);
        }
    }
}

fn decode_schedule(r: &mut Reader<'_>) -> Result<Schedule, DecodeError> {
    let bad =
        |e: keyway_codes::schedule::ScheduleError| DecodeError::invalid("schedule", e.to_string());
    match r.u8("schedule_type")? {
        SCHEDULE_ALWAYS => Ok(Schedule::Always),
        SCHEDULE_WINDOW => {
            let from = timestamp(r.i64("window_from")?, "window_from")?;
            let until = timestamp(r.i64("window_until")?, "window_until")?;
            Window::new(from, until).map(Schedule::Window).map_err(bad)
        }
        SCHEDULE_RECURRING => {
            let bits = r.u8("weekdays")?;
            if bits & 0x80 != 0 {
                return Err(DecodeError::invalid("weekdays", "bit 7 is reserved"));
            }
            let start = time_from_minutes(r.u16("start_minute")?, "start_minute")?;
            let end = time_from_minutes(r.u16("end_minute")?, "end_minute")?;
            let tz_len = usize::from(r.u8("time_zone_length")?);
            let tz = std::str::from_utf8(r.take(tz_len, "time_zone")?)
                .map_err(|_| DecodeError::invalid("time_zone", "not UTF-8"))?;
            Recurring::new(Weekdays::from_bits(bits), start, end, tz)
                .map(Schedule::Recurring)
                .map_err(bad)
        }
        other => Err(DecodeError::invalid(
            "schedule_type",
            format!("unknown schedule {other}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn card_entry() -> SlotEntry {
        SlotEntry {
            credential: Credential::Card(CardKey::of("card-0042").unwrap()),
            kind: CodeKind::Courier,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        }
    }

    #[test]
    fn entries_read_a_code_a_card_id_or_a_card_key_and_write_the_key() {
        let json = serde_json::to_value(card_entry()).unwrap();
        assert_eq!(json["card_key"], CardKey::of("card-0042").unwrap().to_hex());
        assert!(json.get("card").is_none() && json.get("code").is_none());
        assert_eq!(
            serde_json::from_value::<SlotEntry>(json).unwrap(),
            card_entry()
        );
        let by_id = serde_json::json!({"card": "card-0042", "kind": "courier",
            "schedule": {"type": "always"}, "enabled": true, "one_time": false});
        assert_eq!(
            serde_json::from_value::<SlotEntry>(by_id).unwrap(),
            card_entry()
        );
        let code = serde_json::json!({"code": "4817", "kind": "resident",
            "schedule": {"type": "always"}, "enabled": true, "one_time": false});
        let entry: SlotEntry = serde_json::from_value(code.clone()).unwrap();
        assert_eq!(
            entry.credential,
            Credential::Code(Code::parse("4817").unwrap())
        );
        assert_eq!(serde_json::to_value(entry).unwrap(), code);
        for bad in [
            serde_json::json!({"kind": "courier", "schedule": {"type": "always"},
                "enabled": true, "one_time": false}),
            serde_json::json!({"code": "4817", "card": "card-0042", "kind": "courier",
                "schedule": {"type": "always"}, "enabled": true, "one_time": false}),
            serde_json::json!({"card": "", "kind": "courier",
                "schedule": {"type": "always"}, "enabled": true, "one_time": false}),
        ] {
            assert!(serde_json::from_value::<SlotEntry>(bad).is_err());
        }
    }

    #[test]
    fn a_card_entry_is_tag_key_kind_flags_schedule() {
        let mut bytes = Vec::new();
        encode_entry(&card_entry(), &mut bytes);
        assert_eq!(bytes.len(), 1 + 16 + 1 + 1 + 1);
        assert_eq!(bytes[0], 0x81);
        assert_eq!(&bytes[1..17], CardKey::of("card-0042").unwrap().as_bytes());
        assert_eq!(bytes[17..], [4, 1, 0]);
        let mut r = Reader::new(&bytes);
        assert_eq!(decode_entry(&mut r).unwrap(), card_entry());
        assert_eq!(r.remaining(), 0);
    }
}
