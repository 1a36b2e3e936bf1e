//! The story's scenes on a running world, and what they share: the
//! property's doors, the resident's phone (the real phone core on
//! btleplug), the manager's API, walking the phone along the corridor,
//! typing on keypads and setting lock clocks. The resident's scenes
//! (`resident`), the building's (`building`), then codes for a door no
//! phone has reached (`away`).

mod away;
mod building;
mod resident;

use std::fmt::Display;
use std::path::Path;

use jiff::Timestamp;
use jiff::civil::Date;
use keyway_api::{CodeState, CodeView};
use keyway_ble_sim::radio::Position;
use keyway_client::{Client, DeliveryReport, LocalCode};
use keyway_lock::Entry;
use keyway_testkit::live::LiveWorld;
use keyway_testkit::property::TIME_ZONE;

use crate::manage::ManagerApi;
use crate::story::{Stop, Story};

/// A door of Maple Court.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Door {
    /// Alice's unit door.
    Unit,
    /// The main entrance.
    Entrance,
    /// The package room.
    PackageRoom,
}

impl Door {
    /// The lock's key in the property.
    fn key(self) -> &'static str {
        match self {
            Self::Unit => "unit_4b",
            Self::Entrance => "entrance",
            Self::PackageRoom => "package_room",
        }
    }

    /// Its name.
    fn name(self) -> &'static str {
        match self {
            Self::Unit => "Unit 4B",
            Self::Entrance => "Main entrance",
            Self::PackageRoom => "Package room",
        }
    }
}

/// What every scene works with.
pub(crate) struct Scene<'a> {
    /// The world.
    world: &'a LiveWorld,
    /// Mia, the manager, through the API.
    mia: ManagerApi,
    /// Where files go.
    out_dir: &'a Path,
}

/// Plays every scene after the set-up, in order.
pub(crate) async fn play(story: &mut Story, world: &LiveWorld, out_dir: &Path) -> Result<(), Stop> {
    let token = world
        .property
        .tokens
        .get("mia")
        .ok_or_else(|| Stop("the property has no manager".into()))?;
    let scene = Scene {
        world,
        mia: ManagerApi::new(&world.server_url, token)?,
        out_dir,
    };
    scene.policy(story).await?;
    let phone_dir = tempfile::tempdir()?;
    let phone = scene.log_in(story, phone_dir.path()).await?;
    scene.refused(story, &phone).await?;
    let code = scene.generated(story, &phone).await?;
    scene.keypads(story, &code)?;
    scene.changed(story, &phone, &code).await?;
    scene.recurring(story, &phone).await?;
    scene.carrier(story, &phone).await?;
    scene.courier(story, &phone).await?;
    scene.one_time_pin(story, &phone).await?;
    scene.away(story, &phone).await
}

impl Scene<'_> {
    /// A door's lock id.
    fn lock(&self, door: Door) -> &str {
        self.world
            .property
            .locks
            .get(door.key())
            .map_or("", String::as_str)
    }

    /// One round of what the app does in the background: a sync (the phone
    /// learns which sealed jobs wait), then a delivery round with a
    /// spinner; prints what happened at each lock.
    async fn deliver(&self, story: &Story, phone: &Client) -> Result<DeliveryReport, Stop> {
        let bar = story.spinner("The phone syncs, scans for locks and delivers");
        let synced = phone.sync().await;
        let report = match synced {
            Ok(_) => phone.deliver_nearby().await,
            Err(e) => Err(e),
        };
        bar.finish_and_clear();
        let report = report?;
        let visits: Vec<String> = report
            .locks
            .iter()
            .map(|l| format!("{}: {}", l.name, l.outcome.code()))
            .collect();
        story.say(format!(
            "the phone heard {} lock(s){}",
            report.heard,
            if visits.is_empty() {
                String::new()
            } else {
                format!(" - {}", visits.join(", "))
            }
        ));
        Ok(report)
    }

    /// Walks the phone to `x` metres along the corridor.
    fn walk(&self, story: &Story, x: f64, what: &str) -> Result<(), Stop> {
        self.world.sim.move_phone(Position { x, y: 0.0 })?;
        story.say(format!("{what} (x = {x} m)"));
        Ok(())
    }

    /// Types `code` on a door's keypad and checks the lock's answer with
    /// `expect`.
    fn expect_entry(
        &self,
        story: &mut Story,
        door: Door,
        code: &str,
        expect: impl Fn(&Option<Entry>) -> bool,
        what: impl Display,
    ) -> Result<(), Stop> {
        let entry = self.world.sim.enter_code(self.lock(door), code)?;
        let got = describe(&entry);
        story.say(format!("keypad of {}: {code}# -> {got}", door.name()));
        story.check(expect(&entry), what, got)
    }

    /// Sets a door's clock to `date` at `hour:minute` in the property's
    /// zone; the time as said.
    fn set_lock_clock(
        &self,
        story: &Story,
        door: Door,
        date: Date,
        (hour, minute): (i8, i8),
    ) -> Result<String, Stop> {
        let at = date.at(hour, minute, 0, 0).in_tz(TIME_ZONE)?;
        self.world.sim.set_clock(self.lock(door), at.timestamp())?;
        let label = at.strftime("%A %H:%M").to_string();
        story.say(format!("the lock's clock is set to {label}"));
        Ok(label)
    }

    /// Sets a door's clock back to now.
    fn reset_lock_clock(&self, story: &Story, door: Door) -> Result<(), Stop> {
        self.world
            .sim
            .set_clock(self.lock(door), Timestamp::now())?;
        story.say("the lock's clock is set back to now");
        Ok(())
    }
}

/// What a keypad entry did, as said.
fn describe(entry: &Option<Entry>) -> String {
    match entry {
        Some(
            Entry::Granted { consumed: true, .. } | Entry::GrantedOffline { consumed: true, .. },
        ) => "granted (one-time: now spent)".into(),
        Some(Entry::GrantedOffline { .. }) => "granted (an offline code)".into(),
        Some(Entry::Granted { .. }) => "granted".into(),
        Some(Entry::Denied { reason }) => format!(
            "denied ({})",
            serde_json::to_value(reason)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
        Some(Entry::LockedOut { .. }) => "locked out".into(),
        None => "no entry".into(),
    }
}

/// The lock opened.
fn granted(entry: &Option<Entry>) -> bool {
    matches!(
        entry,
        Some(Entry::Granted { .. } | Entry::GrantedOffline { .. })
    )
}

/// The lock stayed shut for `reason`.
fn denied(entry: &Option<Entry>, reason: &str) -> bool {
    describe(entry) == format!("denied ({reason})")
}

/// A phone's code's state on each lock, as said.
fn states(code: &LocalCode) -> String {
    code.locks
        .iter()
        .map(|l| format!("{} {:?}", l.lock_name, l.state).to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A server's code's state on each lock, as said.
fn view_states(code: &CodeView) -> String {
    code.locks
        .iter()
        .map(|l| format!("{} {:?}", l.lock_name, l.state).to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A server's code's state on one lock.
fn view_on(code: &CodeView, lock: &str) -> Option<CodeState> {
    code.locks
        .iter()
        .find(|l| l.lock_id == lock)
        .map(|l| l.state)
}

/// Whether a phone's code is in `state` on every one of its locks.
fn all_on(code: &LocalCode, state: CodeState) -> bool {
    !code.locks.is_empty() && code.locks.iter().all(|l| l.state == state)
}

/// Whether a delivery round delivered at `lock`.
fn delivered(report: &DeliveryReport, lock: &str) -> bool {
    report
        .locks
        .iter()
        .any(|l| l.lock_id == lock && l.outcome.code() == "delivered")
}
