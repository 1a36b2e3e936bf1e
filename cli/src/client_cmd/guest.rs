//! Guest codes: their kinds, windows and recurring schedules in the
//! property's time zone.

use super::*;

pub(super) async fn guest(args: GuestArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let session = session_of(&client)?;
    let tz = time_zone(&session);
    let window_args = args.from.is_some() || args.until.is_some();
    let recurring_args = args.days.is_some() || args.start.is_some() || args.end.is_some();
    let (guest_type, schedule) = match args.kind {
        GuestKind::Permanent => {
            if window_args || recurring_args {
                return Err(Failure::usage(
                    "invalid_argument",
                    "a permanent guest code takes no schedule",
                ));
            }
            (GuestType::Permanent, None)
        }
        GuestKind::Temporary | GuestKind::Delivery => {
            if recurring_args {
                return Err(Failure::usage(
                    "invalid_argument",
                    "--days, --start and --end are for recurring codes",
                ));
            }
            let guest = if matches!(args.kind, GuestKind::Temporary) {
                GuestType::Temporary
            } else {
                GuestType::Delivery
            };
            let schedule = match (&args.from, &args.until) {
                (_, Some(until)) => {
                    let now = Timestamp::now();
                    let from = match &args.from {
                        Some(from) => parse_instant(from, &tz, now)?,
                        None => now,
                    };
                    let until = parse_instant(until, &tz, now)?;
                    let window = Window::new(from, until)
                        .map_err(|e| Failure::usage("invalid_schedule", e.to_string()))?;
                    Some(Schedule::Window(window))
                }
                (Some(_), None) => {
                    return Err(Failure::usage("invalid_argument", "--from needs --until"));
                }
                (None, None) if guest == GuestType::Temporary => {
                    return Err(Failure::usage(
                        "invalid_argument",
                        "a temporary guest code needs --until",
                    ));
                }
                (None, None) => None,
            };
            (guest, schedule)
        }
        GuestKind::Recurring => {
            if window_args {
                return Err(Failure::usage(
                    "invalid_argument",
                    "--from and --until are for temporary and delivery codes",
                ));
            }
            let (Some(days), Some(start), Some(end)) = (&args.days, &args.start, &args.end) else {
                return Err(Failure::usage(
                    "invalid_argument",
                    "a recurring guest code needs --days, --start and --end",
                ));
            };
            let days: Weekdays =
                days.parse()
                    .map_err(|e: keyway_codes::schedule::ScheduleError| {
                        Failure::usage("invalid_schedule", e.to_string())
                    })?;
            let recurring = Recurring::new(
                days,
                parse_time(start)?,
                parse_time(end)?,
                &session.property.time_zone,
            )
            .map_err(|e| Failure::usage("invalid_schedule", e.to_string()))?;
            (GuestType::Recurring, Some(Schedule::Recurring(recurring)))
        }
    };
    let mut new = NewCode::guest(guest_type, schedule);
    new.offline = args.offline;
    place(&client, &mut new, args.placement)?;
    let code = client.generate_code(new).await?;
    show_request(&client, &code, "Guest code", global.json)
}

fn parse_time(text: &str) -> Result<Time, Failure> {
    text.trim().parse::<Time>().map_err(|_| {
        Failure::usage(
            "invalid_schedule",
            format!("`{text}` is not a time of day like 09:00"),
        )
    })
}

/// An instant: RFC 3339 (`2026-11-24T18:00:00Z`), a date and time in the
/// property's zone (`2026-11-24 18:00`), or `+DURATION` from now (`+2h`).
fn parse_instant(text: &str, tz: &TimeZone, now: Timestamp) -> Result<Timestamp, Failure> {
    let text = text.trim();
    let bad = || {
        Failure::usage(
            "invalid_schedule",
            format!(
                "`{text}` is not an instant: use 2026-11-24T18:00:00Z, 2026-11-24 18:00 or +2h"
            ),
        )
    };
    if text == "now" {
        return Ok(now);
    }
    if let Some(rest) = text.strip_prefix('+') {
        let span: Span = rest.parse().map_err(|_| bad())?;
        return now.checked_add(span).map_err(|_| bad());
    }
    if let Ok(at) = text.parse::<Timestamp>() {
        return Ok(at);
    }
    let civil: DateTime = text.parse().map_err(|_| bad())?;
    civil
        .to_zoned_datetime(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|_| bad())
}
