//! The keypad: digits typed one at a time, with or without an enter key, and
//! the wrong-attempt lockout.

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

/// How many wrong codes lock the keypad, and for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockoutPolicy {
    /// Wrong codes in a row that start a lockout.
    pub max_wrong: u32,
    /// The first lockout's length; each further lockout without a successful
    /// entry in between doubles it.
    pub first_lockout_seconds: u32,
}

impl Default for LockoutPolicy {
    fn default() -> Self {
        Self {
            max_wrong: 5,
            first_lockout_seconds: 60,
        }
    }
}

impl LockoutPolicy {
    /// The length of the lockout after `previous` lockouts in a row (capped at
    /// one day).
    pub fn lockout_seconds(&self, previous: u32) -> u32 {
        let factor = 1u64 << previous.min(20);
        (u64::from(self.first_lockout_seconds) * factor).min(86_400) as u32
    }
}

/// Why the keypad refused a code it recognised or did not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenyReason {
    /// No slot holds the code.
    UnknownCode,
    /// The code is disabled.
    Disabled,
    /// The code's schedule does not include this instant.
    OutsideSchedule,
    /// A one-time code that was used already.
    AlreadyUsed,
}

/// What the keypad did with a finished entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Entry {
    /// The door opened for the code in `slot`.
    Granted {
        /// The slot whose code matched.
        slot: u16,
        /// The code was one-time and is now spent.
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

/// The keypad's persistent state: wrong attempts and lockouts survive a power cut.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeypadState {
    /// Wrong codes since the last success or lockout.
    pub wrong_in_a_row: u32,
    /// Lockouts since the last successful entry.
    pub lockouts_in_a_row: u32,
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

    /// Records a wrong code; returns the lockout end if this one started a lockout.
    pub(crate) fn wrong(
        &mut self,
        policy: &LockoutPolicy,
        now: Timestamp,
    ) -> Option<(Timestamp, u32)> {
        self.wrong_in_a_row += 1;
        if self.wrong_in_a_row < policy.max_wrong {
            return None;
        }
        let seconds = policy.lockout_seconds(self.lockouts_in_a_row);
        let until = now
            .saturating_add(SignedDuration::from_secs(i64::from(seconds)))
            .unwrap_or(now);
        self.wrong_in_a_row = 0;
        self.lockouts_in_a_row += 1;
        self.locked_until = Some(until);
        Some((until, seconds))
    }

    /// Records a successful entry.
    pub(crate) fn success(&mut self) {
        self.wrong_in_a_row = 0;
        self.lockouts_in_a_row = 0;
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
}
