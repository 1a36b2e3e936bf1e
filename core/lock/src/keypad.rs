//! The keypad: digits typed one at a time, with or without an enter key, and
//! the wrong-attempt lockout it shares with the card reader.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// One key on the keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Key {
    /// A digit 0-9.
    Digit(u8),
    /// The enter key (`#`), on keypads that have one.
    Enter,
    /// Clears what was typed (`*`).
    Clear,
}

/// How many wrong entries lock the keypad, and for how long.
///
/// Every `max_wrong` wrong entries (an unknown code, or a known one the lock
/// refuses) start a lockout; a success in between resets nothing. A lockout
/// lasts `first_lockout_seconds`, doubled for each lockout that started in
/// the trailing 24 hours, at most `max_lockout_seconds`. So however the
/// entries are paced and whatever successes come between them, no 24 hours
/// see more than [`LockoutPolicy::max_wrong_per_day`] wrong entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    /// Wrong entries that start a lockout.
    pub max_wrong: u32,
    /// The first lockout's length; each lockout that started in the trailing
    /// day doubles it.
    pub first_lockout_seconds: u32,
    /// The longest lockout.
    #[serde(default = "one_day")]
    pub max_lockout_seconds: u32,
}

fn one_day() -> u32 {
    DAY_SECONDS as u32
}

/// The window the escalation (and the daily bound) counts lockouts in.
const DAY_SECONDS: i64 = 86_400;

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_wrong: 5,
            first_lockout_seconds: 60,
            max_lockout_seconds: one_day(),
        }
    }
}

impl LockoutPolicy {
    /// The length of a lockout that follows `previous` lockouts started in
    /// the trailing day.
    pub fn lockout_seconds(&self, previous: u32) -> u32 {
        let factor = 1u64 << previous.min(32);
        (u64::from(self.first_lockout_seconds) * factor).min(u64::from(self.max_lockout_seconds))
            as u32
    }

    /// The most wrong entries the keypad evaluates in any 24 hours.
    ///
    /// Within a day, the k-th lockout that starts in it lasts at least
    /// `lockout_seconds(k - 1)` (the escalation counts at least the lockouts
    /// of this day), so lockout k can start only once the k - 1 before it have
    /// run out. At most `max_wrong` wrong entries come before each lockout and
    /// none after the last one that fits (they would start another), so the
    /// bound is `max_wrong` times the number of lockouts that can start in a
    /// day, or `max_wrong - 1` if none can be completed.
    pub fn max_wrong_per_day(&self) -> u32 {
        if self.max_wrong == 0 {
            return 0;
        }
        let mut started = 0u32;
        let mut elapsed: i64 = 0;
        while elapsed < DAY_SECONDS && started < 10_000 {
            started += 1;
            elapsed += i64::from(self.lockout_seconds(started - 1).max(1));
        }
        started.saturating_mul(self.max_wrong)
    }
}

/// Why the lock refused a code or a key card it recognised or did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// No slot holds the code.
    UnknownCode,
    /// No slot holds the key card.
    UnknownCard,
    /// The code or card is disabled.
    Disabled,
    /// The slot's schedule does not include this instant.
    OutsideSchedule,
    /// A one-time code or card that was used already.
    AlreadyUsed,
    /// An offline code a job revoked.
    Revoked,
    /// A one-time offline code whose use the lock has no room to record.
    OfflineListFull,
}

/// What the lock did with a finished keypad entry or a presented key card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Entry {
    /// The door opened for the code or card in `slot`.
    Granted {
        /// The slot whose code or card matched.
        slot: u16,
        /// The code or card was one-time and is now spent.
        consumed: bool,
    },
    /// The door opened for the offline code `code`.
    GrantedOffline {
        /// Which offline code matched.
        code: keyway_protocol::OfflineCodeId,
        /// The code was one-time and is now spent until its window ends.
        consumed: bool,
    },
    /// The door stayed shut.
    Denied {
        /// Why.
        reason: DenyReason,
    },
    /// The keypad is locked out until `until`.
    LockedOut {
        /// When it accepts codes again.
        until: Timestamp,
    },
}

/// The keypad's persistent state: wrong entries and lockouts survive a power
/// cut, and nothing but time takes them back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeypadState {
    /// Wrong entries since the last lockout started.
    #[serde(default)]
    pub wrong_since_lockout: u32,
    /// When the lockouts of the trailing day started, oldest first.
    #[serde(default)]
    pub recent_lockouts: Vec<Timestamp>,
    /// The end of the current lockout.
    pub locked_until: Option<Timestamp>,
    /// Digits typed so far (lost on power loss, like a real keypad's buffer).
    #[serde(skip)]
    pub typed: Vec<u8>,
}

impl KeypadState {
    /// Whether the keypad is locked out at `now`.
    pub fn is_locked_out(&self, now: Timestamp) -> bool {
        self.locked_until.is_some_and(|until| now < until)
    }

    /// Counts a wrong entry; returns the lockout end and length if this one
    /// started a lockout.
    pub(crate) fn wrong(
        &mut self,
        policy: &LockoutPolicy,
        now: Timestamp,
    ) -> Option<(Timestamp, u32)> {
        let day_ago = now
            .saturating_sub(SignedDuration::from_secs(DAY_SECONDS))
            .unwrap_or(now);
        // A clock set backwards keeps every lockout: "later than now" is
        // still within the day for escalation.
        self.recent_lockouts.retain(|started| *started > day_ago);
        self.wrong_since_lockout += 1;
        if self.wrong_since_lockout < policy.max_wrong {
            return None;
        }
        let previous = u32::try_from(self.recent_lockouts.len()).unwrap_or(u32::MAX);
        let seconds = policy.lockout_seconds(previous);
        let until = now
            .saturating_add(SignedDuration::from_secs(i64::from(seconds)))
            .unwrap_or(now);
        self.wrong_since_lockout = 0;
        self.recent_lockouts.push(now);
        self.locked_until = Some(until);
        Some((until, seconds))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockouts_double_and_are_capped() {
        let policy = LockoutPolicy::default();
        assert_eq!(policy.lockout_seconds(0), 60);
        assert_eq!(policy.lockout_seconds(1), 120);
        assert_eq!(policy.lockout_seconds(3), 480);
        assert_eq!(policy.lockout_seconds(40), 86_400);
    }

    #[test]
    fn the_daily_bound_of_the_default_policy() {
        // 60 s, 120 s, ... : ten lockouts take 61,380 s, the eleventh starts
        // inside the day and outlasts it.
        assert_eq!(LockoutPolicy::default().max_wrong_per_day(), 55);
        let strict = LockoutPolicy {
            max_wrong: 3,
            first_lockout_seconds: 3_600,
            max_lockout_seconds: 86_400,
        };
        // 1 h, 2 h, 4 h, 8 h (15 h), then 16 h: five lockouts start in a day.
        assert_eq!(strict.max_wrong_per_day(), 15);
    }
}
