//! A lock's clock: the host's time plus an offset, or frozen at a reading, so
//! QA can move time for schedules and lockouts without waiting.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

/// One lock's simulated clock. Persisted with the lock, like a battery-backed
/// real-time clock that keeps its setting through a power cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SimClock {
    /// Seconds added to the host's clock while running.
    pub offset_seconds: i64,
    /// The reading while frozen.
    pub frozen_at: Option<Timestamp>,
}

impl SimClock {
    /// A clock reading `start` (the host's time when `None`), frozen or running.
    pub fn new(start: Option<Timestamp>, frozen: bool) -> Self {
        let host = Timestamp::now();
        let start = start.unwrap_or(host);
        if frozen {
            Self {
                offset_seconds: 0,
                frozen_at: Some(start),
            }
        } else {
            Self {
                offset_seconds: start.as_second() - host.as_second(),
                frozen_at: None,
            }
        }
    }

    /// The current reading, to the second.
    pub fn now(&self) -> Timestamp {
        let reading = self.frozen_at.unwrap_or_else(|| {
            Timestamp::now()
                .saturating_add(SignedDuration::from_secs(self.offset_seconds))
                .unwrap_or(Timestamp::MAX)
        });
        Timestamp::from_second(reading.as_second()).unwrap_or(reading)
    }

    /// Moves the clock forward (or back, when negative) by `seconds`.
    pub fn advance(&mut self, seconds: i64) {
        match &mut self.frozen_at {
            Some(at) => {
                *at = at
                    .saturating_add(SignedDuration::from_secs(seconds))
                    .unwrap_or(*at);
            }
            None => self.offset_seconds = self.offset_seconds.saturating_add(seconds),
        }
    }

    /// Sets the reading, keeping the mode.
    pub fn set(&mut self, to: Timestamp) {
        match &mut self.frozen_at {
            Some(at) => *at = to,
            None => self.offset_seconds = to.as_second() - Timestamp::now().as_second(),
        }
    }

    /// Freezes the clock at its reading, or lets it run from there.
    pub fn set_frozen(&mut self, frozen: bool) {
        let now = self.now();
        *self = Self::new(Some(now), frozen);
    }

    /// Whether the clock is frozen.
    pub fn is_frozen(&self) -> bool {
        self.frozen_at.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frozen_clocks_move_only_when_told() {
        let start = Timestamp::from_second(1_800_000_000).unwrap();
        let mut clock = SimClock::new(Some(start), true);
        assert_eq!(clock.now(), start);
        clock.advance(61);
        assert_eq!(clock.now().as_second(), 1_800_000_061);
        clock.set_frozen(false);
        assert!(clock.now().as_second() >= 1_800_000_061);
        assert!(!clock.is_frozen());
    }
}
