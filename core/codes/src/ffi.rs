//! How this crate's types cross the FFI (feature `uniffi`): instants as the
//! platform's own (`SystemTime`: `java.time.Instant`, `Date`, `datetime`),
//! weekdays as an enum, and a [`Schedule`] through [`ScheduleFields`], its
//! unchecked shape, checked on the way in exactly as the JSON form is. A
//! schedule the app builds wrong never reaches Rust: the call fails with
//! uniffi's lift error before it runs.

use std::time::SystemTime;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};

use crate::schedule::{Recurring, Schedule, ScheduleError, Weekdays, Window};

uniffi::custom_type!(Timestamp, SystemTime, {
    remote,
    lower: |at| to_system_time(at),
    try_lift: |at| Ok(Timestamp::try_from(at)?),
});

fn to_system_time(at: Timestamp) -> SystemTime {
    let since = at.duration_since(Timestamp::UNIX_EPOCH);
    let magnitude = std::time::Duration::try_from(since.abs()).unwrap_or_default();
    if since.is_negative() {
        SystemTime::UNIX_EPOCH - magnitude
    } else {
        SystemTime::UNIX_EPOCH + magnitude
    }
}

/// A day of the week (jiff's, mirrored for the FFI).
#[uniffi::remote(Enum)]
pub enum Weekday {
    Monday,
    Tuesday,
    Wednesday,
    Thursday,
    Friday,
    Saturday,
    Sunday,
}

/// The seven days, Monday first.
const WEEK: [Weekday; 7] = [
    Weekday::Monday,
    Weekday::Tuesday,
    Weekday::Wednesday,
    Weekday::Thursday,
    Weekday::Friday,
    Weekday::Saturday,
    Weekday::Sunday,
];

/// The name a schedule's custom type has on the foreign side, where the
/// apps build [`ScheduleFields`] (there called `Schedule`).
pub type CheckedSchedule = Schedule;

uniffi::custom_type!(CheckedSchedule, ScheduleFields, {
    lower: |schedule| ScheduleFields::from(&schedule),
    try_lift: |fields| Ok(Schedule::try_from(fields)?),
});

/// When a code opens its doors, as apps write it: checked (a window that
/// starts before it ends, at least one weekday, whole minutes, a known time
/// zone) when it crosses into Rust.
#[derive(Debug, Clone, PartialEq, Eq, uniffi::Enum)]
#[uniffi(name = "Schedule")]
pub enum ScheduleFields {
    /// At every instant.
    Always,
    /// From one instant until another (temporary and delivery guest codes).
    Window {
        /// The first valid instant.
        from: Timestamp,
        /// The first instant after the window.
        until: Timestamp,
    },
    /// On some weekdays during a daily wall-clock window (recurring guest
    /// codes); an `end` not after `start` runs overnight.
    Recurring {
        /// The days.
        weekdays: Vec<Weekday>,
        /// Daily opening, `HH:MM`.
        start: String,
        /// Daily closing, `HH:MM`.
        end: String,
        /// IANA time zone (`America/New_York`): the property's for a
        /// resident's guests (the session's `property.time_zone`).
        time_zone: String,
    },
}

impl From<&Schedule> for ScheduleFields {
    fn from(schedule: &Schedule) -> Self {
        match schedule {
            Schedule::Always => Self::Always,
            Schedule::Window(window) => Self::Window {
                from: window.from(),
                until: window.until(),
            },
            Schedule::Recurring(recurring) => Self::Recurring {
                weekdays: WEEK
                    .into_iter()
                    .filter(|day| recurring.weekdays().contains(*day))
                    .collect(),
                start: recurring.start().strftime("%H:%M").to_string(),
                end: recurring.end().strftime("%H:%M").to_string(),
                time_zone: recurring.time_zone().to_owned(),
            },
        }
    }
}

impl TryFrom<ScheduleFields> for Schedule {
    type Error = ScheduleError;

    fn try_from(fields: ScheduleFields) -> Result<Self, ScheduleError> {
        match fields {
            ScheduleFields::Always => Ok(Self::Always),
            ScheduleFields::Window { from, until } => Window::new(from, until).map(Self::Window),
            ScheduleFields::Recurring {
                weekdays,
                start,
                end,
                time_zone,
            } => {
                let time = |text: &str| {
                    Time::strptime("%H:%M", text).map_err(|_| ScheduleError::NotWholeMinutes)
                };
                Recurring::new(
                    Weekdays::of(weekdays),
                    time(&start)?,
                    time(&end)?,
                    &time_zone,
                )
                .map(Self::Recurring)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_crosses_and_comes_back_the_same() {
        let window = Schedule::Window(
            Window::new(
                Timestamp::from_second(1_800_000_000).unwrap(),
                Timestamp::from_second(1_800_086_400).unwrap(),
            )
            .unwrap(),
        );
        let recurring = Schedule::Recurring(
            Recurring::new(
                Weekdays::WEEKEND,
                Time::constant(22, 0, 0, 0),
                Time::constant(6, 30, 0, 0),
                "Europe/Paris",
            )
            .unwrap(),
        );
        for schedule in [Schedule::Always, window, recurring] {
            let fields = ScheduleFields::from(&schedule);
            assert_eq!(Schedule::try_from(fields).unwrap(), schedule);
        }
    }

    #[test]
    fn a_schedule_an_app_built_wrong_is_refused_with_its_reason() {
        let at = Timestamp::from_second(1_800_000_000).unwrap();
        let empty = ScheduleFields::Window {
            from: at,
            until: at,
        };
        assert_eq!(Schedule::try_from(empty), Err(ScheduleError::EmptyWindow));
        let recurring = |weekdays: Vec<Weekday>, start: &str, zone: &str| {
            Schedule::try_from(ScheduleFields::Recurring {
                weekdays,
                start: start.into(),
                end: "17:00".into(),
                time_zone: zone.into(),
            })
        };
        assert_eq!(
            recurring(vec![], "09:00", "UTC"),
            Err(ScheduleError::NoWeekdays)
        );
        assert_eq!(
            recurring(vec![Weekday::Monday], "9 o'clock", "UTC"),
            Err(ScheduleError::NotWholeMinutes)
        );
        assert!(matches!(
            recurring(vec![Weekday::Monday], "09:00", "Mars/Base"),
            Err(ScheduleError::UnknownTimeZone(_))
        ));
    }

    #[test]
    fn instants_before_and_after_the_epoch_keep_their_value() {
        for seconds in [-86_400, 0, 1_800_000_000] {
            let at = Timestamp::from_second(seconds).unwrap();
            assert_eq!(Timestamp::try_from(to_system_time(at)).unwrap(), at);
        }
    }
}
