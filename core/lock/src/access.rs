//! The door's two readers, the keypad and the key-card reader, and the one
//! decision both take: granted only for an enabled slot whose schedule
//! admits the lock's clock (a one-time credential once), and every entry
//! that does not open the door counted against one lockout budget.

use jiff::Timestamp;

use keyway_codes::code::MAX_CODE_LEN;
use keyway_protocol::offline::OFFLINE_CODE_LEN;
use keyway_protocol::{AuditKind, CardKey, OfflineCodeId, OfflineKind};

use crate::{DenyReason, Entry, Key, Lock};

/// Which reader an entry came from: it names the audit events of a success
/// and of an unknown credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reader {
    Keypad,
    Card,
}

impl Lock {
    /// Presses one key; returns what happened when an entry is complete.
    pub fn press(&mut self, key: Key, now: Timestamp) -> Option<Entry> {
        if let Some(locked) = self.locked_out(now) {
            self.state.keypad.typed.clear();
            return Some(locked);
        }
        match key {
            Key::Clear => {
                self.state.keypad.typed.clear();
                None
            }
            Key::Digit(d) if d <= 9 => {
                self.state.keypad.typed.push(b'0' + d);
                if self.config.enter_key {
                    // Keep typing; a buffer longer than any code is already wrong.
                    if self.state.keypad.typed.len() > MAX_CODE_LEN {
                        return Some(self.finish_entry(now));
                    }
                    return None;
                }
                let typed = &self.state.keypad.typed;
                let slots = &self.state.slots;
                let longest = slots.longest_code().unwrap_or(MAX_CODE_LEN);
                (slots.holds_code(typed) || typed.len() >= longest).then(|| self.finish_entry(now))
            }
            Key::Digit(_) => None,
            Key::Enter if self.config.enter_key && !self.state.keypad.typed.is_empty() => {
                Some(self.finish_entry(now))
            }
            Key::Enter => None,
        }
    }

    /// Types `digits` and, on keypads with one, the enter key. Returns the first
    /// complete entry's outcome (`None` if the digits finished no entry).
    pub fn enter_code(&mut self, digits: &str, now: Timestamp) -> Option<Entry> {
        self.state.keypad.typed.clear();
        for d in digits.bytes() {
            let key = if d.is_ascii_digit() {
                Key::Digit(d - b'0')
            } else {
                continue;
            };
            if let Some(entry) = self.press(key, now) {
                return Some(entry);
            }
        }
        self.press(Key::Enter, now)
    }

    /// A key card held to the reader, by the id the reader read: the lock
    /// hashes it to its card key and decides as for a typed code. An id no
    /// card slot holds (or one that is no card id at all) is a wrong entry
    /// on the keypad's budget; during a lockout the card is refused
    /// uncounted. Neither the id nor the key is kept or recorded.
    pub fn present_card(&mut self, card_id: &str, now: Timestamp) -> Entry {
        if let Some(locked) = self.locked_out(now) {
            return locked;
        }
        let found = CardKey::of(card_id)
            .ok()
            .and_then(|key| self.state.slots.find_card(&key));
        self.decide(found, Reader::Card, now)
    }

    /// The lockout answer while one runs; records its end once it is over.
    fn locked_out(&mut self, now: Timestamp) -> Option<Entry> {
        let until = self.state.keypad.locked_until?;
        if now < until {
            return Some(Entry::LockedOut { until });
        }
        self.state.keypad.locked_until = None;
        self.record(AuditKind::LockoutEnded, now);
        None
    }

    fn finish_entry(&mut self, now: Timestamp) -> Entry {
        let typed = std::mem::take(&mut self.state.keypad.typed);
        // Every 8-digit entry derives all offline candidates, whatever the
        // slots hold, so its time depends on its length alone.
        let offline = if self.config.enter_key && typed.len() == OFFLINE_CODE_LEN {
            self.offline_key.matching(&typed, now)
        } else {
            None
        };
        let found = self.state.slots.find_code(&typed);
        match (found, offline) {
            (None, Some(code)) => self.decide_offline(code, now),
            _ => self.decide(found, Reader::Keypad, now),
        }
    }

    /// The decision on an entry that matched the offline code `code` (and
    /// no slot): granted unless revoked or spent; a one-time code is spent
    /// by its use, which the lock must be able to record.
    fn decide_offline(&mut self, code: OfflineCodeId, now: Timestamp) -> Entry {
        if let Some(reason) = self.state.offline.refusal(&code) {
            return self.refuse(AuditKind::OfflineCodeDenied { code }, reason, now);
        }
        let one_time = code.kind() == OfflineKind::OneTime;
        if one_time && !self.state.offline.spend(code, now) {
            return self.refuse(
                AuditKind::OfflineCodeDenied { code },
                DenyReason::OfflineListFull,
                now,
            );
        }
        self.record(AuditKind::OfflineCodeUsed { code }, now);
        Entry::GrantedOffline {
            code,
            consumed: one_time,
        }
    }

    /// The decision on an entry that matched `found` (or no slot).
    fn decide(&mut self, found: Option<u16>, reader: Reader, now: Timestamp) -> Entry {
        let Some((slot, stored)) =
            found.and_then(|slot| self.state.slots.get(slot).map(|s| (slot, s.clone())))
        else {
            let count = self.state.keypad.wrong_since_lockout + 1;
            let (event, reason) = match reader {
                Reader::Keypad => (AuditKind::WrongCode { count }, DenyReason::UnknownCode),
                Reader::Card => (AuditKind::WrongCard { count }, DenyReason::UnknownCard),
            };
            return self.refuse(event, reason, now);
        };
        let deny = if !stored.entry.enabled {
            Some(DenyReason::Disabled)
        } else if stored.consumed {
            Some(DenyReason::AlreadyUsed)
        } else if !stored.entry.schedule.is_active_at(now) {
            Some(DenyReason::OutsideSchedule)
        } else {
            None
        };
        if let Some(reason) = deny {
            return self.refuse(AuditKind::Denied { slot }, reason, now);
        }
        let consumed = stored.entry.one_time;
        if consumed {
            if let Some(s) = self.state.slots.get_mut(slot) {
                s.consumed = true;
            }
            self.record(AuditKind::OneTimeConsumed { slot }, now);
        } else if reader == Reader::Card {
            self.record(AuditKind::CardUsed { slot }, now);
        } else {
            self.record(AuditKind::CodeUsed { slot }, now);
        }
        Entry::Granted { slot, consumed }
    }

    /// An entry that did not open the door: recorded, and counted against the
    /// budget the keypad and the card reader share, whatever successes came
    /// before it.
    fn refuse(&mut self, event: AuditKind, reason: DenyReason, now: Timestamp) -> Entry {
        self.record(event, now);
        match self.state.keypad.wrong(&self.config.lockout, now) {
            Some((until, seconds)) => {
                self.record(AuditKind::LockoutStarted { seconds }, now);
                Entry::LockedOut { until }
            }
            None => Entry::Denied { reason },
        }
    }
}
