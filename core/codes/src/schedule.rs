//! When a code opens a door: always, within a window, or on a weekly recurrence
//! in the property's time zone.
//!
//! Recurring windows are wall-clock times in an IANA time zone, evaluated with
//! `jiff` and its bundled time-zone database (so the phone, the server and a
//! lock agree on every rule, across daylight-saving changes). A daily window
//! whose end is not after its start runs overnight (22:00-06:00 belongs to the
//! day it starts on).

use std::fmt;
use std::str::FromStr;

use jiff::Timestamp;
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// When a code is valid.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Schedule {
    /// Valid at every instant.
    Always,
    /// Valid from one instant until another.
    Window(Window),
    /// Valid on some weekdays during a daily wall-clock window.
    Recurring(Recurring),
}

impl Schedule {
    /// Whether the code is valid at `at`.
    pub fn is_active_at(&self, at: Timestamp) -> bool {
        match self {
            Self::Always => true,
            Self::Window(window) => window.contains(at),
            Self::Recurring(recurring) => recurring.is_active_at(at),
        }
    }

    /// Whether the schedule can never be active again after `at` (a window
    /// that has closed). A code in that state is `expired`.
    pub fn has_ended_by(&self, at: Timestamp) -> bool {
        matches!(self, Self::Window(window) if at >= window.until)
    }
}

/// Why a schedule is not valid. Its machine code is `invalid_schedule`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A window must start before it ends.
    #[error("a window must start before it ends")]
    EmptyWindow,
    /// A recurring schedule needs at least one weekday.
    #[error("pick at least one weekday")]
    NoWeekdays,
    /// The daily window starts and ends at the same time.
    #[error("the daily window must not start and end at the same time")]
    EmptyDailyWindow,
    /// Daily times are whole minutes.
    #[error("daily start and end times are whole minutes (like 08:30)")]
    NotWholeMinutes,
    /// The time zone is not in the IANA database.
    #[error("unknown time zone `{0}`; use an IANA name like America/New_York")]
    UnknownTimeZone(String),
    /// A weekday name that is not mon..sun.
    #[error("unknown weekday `{0}`; use mon, tue, wed, thu, fri, sat, sun")]
    UnknownWeekday(String),
}

impl ScheduleError {
    /// The stable machine code of every schedule error.
    pub const CODE: &'static str = "invalid_schedule";
}

/// A half-open interval `[from, until)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "WindowFields")]
pub struct Window {
    from: Timestamp,
    until: Timestamp,
}

#[derive(Deserialize)]
struct WindowFields {
    from: Timestamp,
    until: Timestamp,
}

impl TryFrom<WindowFields> for Window {
    type Error = ScheduleError;

    fn try_from(fields: WindowFields) -> Result<Self, Self::Error> {
        Self::new(fields.from, fields.until)
    }
}

impl Window {
    /// A window from `from` (included) until `until` (excluded).
    pub fn new(from: Timestamp, until: Timestamp) -> Result<Self, ScheduleError> {
        if from < until {
            Ok(Self { from, until })
        } else {
            Err(ScheduleError::EmptyWindow)
        }
    }

    /// The first valid instant.
    pub fn from(&self) -> Timestamp {
        self.from
    }

    /// The first instant after the window.
    pub fn until(&self) -> Timestamp {
        self.until
    }

    /// Whether `at` is inside the window.
    pub fn contains(&self, at: Timestamp) -> bool {
        self.from <= at && at < self.until
    }
}

/// A set of weekdays.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Weekdays(u8);

const DAY_NAMES: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];

impl Weekdays {
    /// Monday to Friday.
    pub const WORKDAYS: Weekdays = Weekdays(0b0001_1111);
    /// Saturday and Sunday.
    pub const WEEKEND: Weekdays = Weekdays(0b0110_0000);
    /// Every day.
    pub const EVERY_DAY: Weekdays = Weekdays(0b0111_1111);

    /// The set holding `days`.
    pub fn of(days: impl IntoIterator<Item = Weekday>) -> Self {
        days.into_iter().fold(Self(0), |set, day| set.with(day))
    }

    /// The set from its bits (bit 0 is Monday, bit 6 Sunday; higher bits ignored).
    pub fn from_bits(bits: u8) -> Self {
        Self(bits & 0x7f)
    }

    /// The bits (bit 0 is Monday).
    pub fn bits(self) -> u8 {
        self.0
    }

    /// The set with `day` added.
    pub fn with(self, day: Weekday) -> Self {
        Self(self.0 | 1 << day.to_monday_zero_offset())
    }

    /// Whether `day` is in the set.
    pub fn contains(self, day: Weekday) -> bool {
        self.0 & (1 << day.to_monday_zero_offset()) != 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    fn names(self) -> impl Iterator<Item = &'static str> {
        DAY_NAMES
            .into_iter()
            .enumerate()
            .filter(move |(i, _)| self.0 & (1 << i) != 0)
            .map(|(_, name)| name)
    }
}

impl fmt::Debug for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

impl fmt::Display for Weekdays {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.names().collect();
        f.write_str(&names.join(","))
    }
}

impl FromStr for Weekdays {
    type Err = ScheduleError;

    /// Parses `mon,wed,fri`, `workdays`, `weekend` or `every_day`.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "workdays" | "weekdays" => return Ok(Self::WORKDAYS),
            "weekend" => return Ok(Self::WEEKEND),
            "every_day" | "daily" => return Ok(Self::EVERY_DAY),
            _ => {}
        }
        s.split(',').map(str::trim).try_fold(Self(0), |set, name| {
            let index = DAY_NAMES
                .iter()
                .position(|day| day.eq_ignore_ascii_case(name))
                .ok_or_else(|| ScheduleError::UnknownWeekday(name.chars().take(20).collect()))?;
            Ok(Self(set.0 | 1 << index))
        })
    }
}

impl Serialize for Weekdays {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.names())
    }
}

impl<'de> Deserialize<'de> for Weekdays {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let names = Vec::<String>::deserialize(deserializer)?;
        names.join(",").parse().map_err(serde::de::Error::custom)
    }
}

/// Some weekdays, a daily wall-clock window, and the time zone they are read in.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "RecurringFields")]
pub struct Recurring {
    weekdays: Weekdays,
    start: Time,
    end: Time,
    time_zone: String,
    #[serde(skip)]
    tz: TimeZone,
}

impl PartialEq for Recurring {
    fn eq(&self, other: &Self) -> bool {
        (self.weekdays, self.start, self.end, &self.time_zone)
            == (other.weekdays, other.start, other.end, &other.time_zone)
    }
}

impl Eq for Recurring {}

#[derive(Deserialize)]
struct RecurringFields {
    weekdays: Weekdays,
    start: Time,
    end: Time,
    time_zone: String,
}

impl TryFrom<RecurringFields> for Recurring {
    type Error = ScheduleError;

    fn try_from(f: RecurringFields) -> Result<Self, Self::Error> {
        Self::new(f.weekdays, f.start, f.end, &f.time_zone)
    }
}

impl Recurring {
    /// Valid on `weekdays` from `start` until `end` (wall-clock, whole minutes)
    /// in the IANA zone `time_zone`. An `end` not after `start` runs overnight.
    pub fn new(
        weekdays: Weekdays,
        start: Time,
        end: Time,
        time_zone: &str,
    ) -> Result<Self, ScheduleError> {
        if weekdays.is_empty() {
            return Err(ScheduleError::NoWeekdays);
        }
        if start == end {
            return Err(ScheduleError::EmptyDailyWindow);
        }
        let whole = |t: Time| t.second() == 0 && t.subsec_nanosecond() == 0;
        if !whole(start) || !whole(end) {
            return Err(ScheduleError::NotWholeMinutes);
        }
        let tz = TimeZone::get(time_zone)
            .map_err(|_| ScheduleError::UnknownTimeZone(time_zone.chars().take(64).collect()))?;
        Ok(Self {
            weekdays,
            start,
            end,
            time_zone: time_zone.to_owned(),
            tz,
        })
    }

    /// The weekdays the window opens on.
    pub fn weekdays(&self) -> Weekdays {
        self.weekdays
    }

    /// The daily opening time.
    pub fn start(&self) -> Time {
        self.start
    }

    /// The daily closing time.
    pub fn end(&self) -> Time {
        self.end
    }

    /// The IANA time zone name.
    pub fn time_zone(&self) -> &str {
        &self.time_zone
    }

    /// The first daily window that has not ended at `after` (the one
    /// running at `after`, or the next to open), as instants. Wall-clock
    /// times skipped or repeated by a daylight-saving change resolve as
    /// `jiff`'s compatible disambiguation does.
    pub fn next_occurrence(&self, after: Timestamp) -> Option<Window> {
        let today = self.tz.to_datetime(after).date();
        // From yesterday: an overnight window that opened then may still run.
        (-1..=8).find_map(|offset| {
            let day = today.checked_add(jiff::Span::new().days(offset)).ok()?;
            if !self.weekdays.contains(day.weekday()) {
                return None;
            }
            let end_day = if self.start < self.end {
                day
            } else {
                day.tomorrow().ok()?
            };
            let at = |date: jiff::civil::Date, time: Time| {
                self.tz.to_timestamp(date.to_datetime(time)).ok()
            };
            let window = Window::new(at(day, self.start)?, at(end_day, self.end)?).ok()?;
            (window.until() > after).then_some(window)
        })
    }

    /// Whether `at` falls in a window.
    pub fn is_active_at(&self, at: Timestamp) -> bool {
        let local = self.tz.to_datetime(at);
        let (day, time) = (local.weekday(), local.time());
        if self.start < self.end {
            self.weekdays.contains(day) && self.start <= time && time < self.end
        } else {
            (self.weekdays.contains(day) && time >= self.start)
                || (self.weekdays.contains(day.previous()) && time < self.end)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn time(h: i8, m: i8) -> Time {
        Time::new(h, m, 0, 0).unwrap()
    }

    #[test]
    fn always_and_window() {
        assert!(Schedule::Always.is_active_at(ts("1970-01-01T00:00:00Z")));
        let window = Window::new(ts("2026-06-01T10:00:00Z"), ts("2026-06-02T10:00:00Z")).unwrap();
        let schedule = Schedule::Window(window);
        assert!(!schedule.is_active_at(ts("2026-06-01T09:59:59Z")));
        assert!(schedule.is_active_at(ts("2026-06-01T10:00:00Z")));
        assert!(!schedule.is_active_at(ts("2026-06-02T10:00:00Z")));
        assert!(schedule.has_ended_by(ts("2026-06-02T10:00:00Z")));
        assert!(!schedule.has_ended_by(ts("2026-06-01T10:00:00Z")));
        assert_eq!(
            Window::new(ts("2026-06-02T10:00:00Z"), ts("2026-06-02T10:00:00Z")),
            Err(ScheduleError::EmptyWindow)
        );
    }

    #[test]
    fn the_next_occurrence_is_the_running_or_next_window() {
        // Tuesdays and Thursdays 22:00-02:00 in Berlin (UTC+2 in June).
        let r = Recurring::new(
            Weekdays::of([Weekday::Tuesday, Weekday::Thursday]),
            time(22, 0),
            time(2, 0),
            "Europe/Berlin",
        )
        .unwrap();
        // 2026-06-02 is a Tuesday.
        let next = r.next_occurrence(ts("2026-06-01T12:00:00Z")).unwrap();
        assert_eq!(
            (next.from(), next.until()),
            (ts("2026-06-02T20:00:00Z"), ts("2026-06-03T00:00:00Z"))
        );
        // Wednesday 01:00 in Berlin: Tuesday's window still runs.
        let running = r.next_occurrence(ts("2026-06-02T23:00:00Z")).unwrap();
        assert_eq!(running, next);
        // Wednesday 02:00 in Berlin: the next is Thursday's.
        let later = r.next_occurrence(ts("2026-06-03T00:00:00Z")).unwrap();
        assert_eq!(later.from(), ts("2026-06-04T20:00:00Z"));
        for hour in 0..200 {
            let at = ts("2026-06-01T00:00:00Z") + jiff::SignedDuration::from_hours(hour);
            let w = r.next_occurrence(at).unwrap();
            assert!(w.until() > at && r.is_active_at(w.from()));
            assert_eq!(r.is_active_at(at), w.contains(at), "{at}");
        }
    }

    #[test]
    fn recurring_follows_wall_clock_across_daylight_saving() {
        // Weekdays 08:00-18:00 in New York. 2026-03-08 is the spring change
        // (EST -5 -> EDT -4), 2026-11-01 the autumn change.
        let r = Recurring::new(
            Weekdays::WORKDAYS,
            time(8, 0),
            time(18, 0),
            "America/New_York",
        )
        .unwrap();
        // Friday before the change: 08:00 EST is 13:00Z.
        assert!(!r.is_active_at(ts("2026-03-06T12:59:00Z")));
        assert!(r.is_active_at(ts("2026-03-06T13:00:00Z")));
        // Monday after the change: 08:00 EDT is 12:00Z.
        assert!(!r.is_active_at(ts("2026-03-09T11:59:00Z")));
        assert!(r.is_active_at(ts("2026-03-09T12:00:00Z")));
        assert!(r.is_active_at(ts("2026-03-09T21:59:00Z")));
        assert!(!r.is_active_at(ts("2026-03-09T22:00:00Z")));
        // Monday after the autumn change: back to 13:00Z.
        assert!(!r.is_active_at(ts("2026-11-02T12:30:00Z")));
        assert!(r.is_active_at(ts("2026-11-02T13:00:00Z")));
        // Saturday is not a workday.
        assert!(!r.is_active_at(ts("2026-03-07T15:00:00Z")));
    }

    #[test]
    fn a_window_inside_the_spring_gap_opens_when_the_clock_jumps() {
        // 02:30 does not exist on 2026-03-08 in New York: the window opens at 03:00 EDT.
        let r = Recurring::new(
            Weekdays::EVERY_DAY,
            time(2, 30),
            time(4, 0),
            "America/New_York",
        )
        .unwrap();
        assert!(!r.is_active_at(ts("2026-03-08T06:59:00Z"))); // 01:59 EST
        assert!(r.is_active_at(ts("2026-03-08T07:00:00Z"))); // 03:00 EDT
        assert!(!r.is_active_at(ts("2026-03-08T08:00:00Z"))); // 04:00 EDT
    }

    #[test]
    fn overnight_windows_belong_to_the_day_they_start() {
        // Fridays 22:00 until 06:00 Saturday, Berlin (CET +1 in January).
        let fri = Weekdays::of([Weekday::Friday]);
        let r = Recurring::new(fri, time(22, 0), time(6, 0), "Europe/Berlin").unwrap();
        assert!(r.is_active_at(ts("2026-01-09T21:00:00Z"))); // Fri 22:00
        assert!(r.is_active_at(ts("2026-01-10T04:59:00Z"))); // Sat 05:59
        assert!(!r.is_active_at(ts("2026-01-10T05:00:00Z"))); // Sat 06:00
        assert!(!r.is_active_at(ts("2026-01-10T21:00:00Z"))); // Sat 22:00
        assert!(!r.is_active_at(ts("2026-01-09T04:00:00Z"))); // Fri 05:00, Thu not listed
    }

    #[test]
    fn invalid_recurrences_are_refused() {
        let tz = "Europe/Paris";
        assert_eq!(
            Recurring::new(Weekdays::default(), time(8, 0), time(9, 0), tz),
            Err(ScheduleError::NoWeekdays)
        );
        assert_eq!(
            Recurring::new(Weekdays::WEEKEND, time(8, 0), time(8, 0), tz),
            Err(ScheduleError::EmptyDailyWindow)
        );
        assert_eq!(
            Recurring::new(
                Weekdays::WEEKEND,
                Time::new(8, 0, 30, 0).unwrap(),
                time(9, 0),
                tz
            ),
            Err(ScheduleError::NotWholeMinutes)
        );
        assert!(matches!(
            Recurring::new(Weekdays::WEEKEND, time(8, 0), time(9, 0), "Mars/Olympus"),
            Err(ScheduleError::UnknownTimeZone(_))
        ));
    }

    #[test]
    fn weekdays_parse_and_print() {
        let days: Weekdays = "mon,WED,fri".parse().unwrap();
        assert_eq!(days.to_string(), "mon,wed,fri");
        assert!(days.contains(Weekday::Wednesday) && !days.contains(Weekday::Tuesday));
        assert_eq!("workdays".parse::<Weekdays>().unwrap(), Weekdays::WORKDAYS);
        assert!("mon,funday".parse::<Weekdays>().is_err());
    }

    #[test]
    fn schedules_round_trip_through_json_and_validate() {
        let r =
            Recurring::new(Weekdays::WEEKEND, time(9, 30), time(17, 0), "Europe/Paris").unwrap();
        let schedule = Schedule::Recurring(r);
        let json = serde_json::to_string(&schedule).unwrap();
        assert_eq!(
            json,
            r#"{"type":"recurring","weekdays":["sat","sun"],"start":"09:30:00","end":"17:00:00","time_zone":"Europe/Paris"}"#
        );
        assert_eq!(serde_json::from_str::<Schedule>(&json).unwrap(), schedule);
        let bad =
            r#"{"type":"window","from":"2026-06-02T00:00:00Z","until":"2026-06-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<Schedule>(bad).is_err());
        let bad_tz = json.replace("Europe/Paris", "Nowhere/Land");
        assert!(serde_json::from_str::<Schedule>(&bad_tz).is_err());
    }
}
