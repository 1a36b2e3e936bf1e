//! `keyway demo`: the whole Keyway story in one command, checked step by
//! step. The server and the lock simulator run inside this process (their
//! libraries) on a temporary SQLite file and a private D-Bus bus; the
//! resident's phone is the real phone core (`keyway_client`) talking
//! to the simulated locks through btleplug, the manager is the server's
//! manager API. Every expectation is checked; the first step that does not
//! behave stops the demo with exit code 1.

mod manage;
mod world;

use std::fmt::Display;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use jiff::Timestamp;
use jiff::civil::{Date, Time};
use keyway_api::{CarrierView, CodeState, CodeStatus, CodeView, CourierView, GuestType};
use keyway_ble_sim::Sim;
use keyway_ble_sim::harness;
use keyway_ble_sim::radio::Position;
use keyway_client::{
    Client, ClientConfig, ClientError, ClientEvent, DeliveryReport, LocalCode, NewCode,
};
use keyway_codes::policy::Rule;
use keyway_codes::schedule::{Recurring, Schedule, Weekdays};
use keyway_lock::Entry;
use reqwest::Method;
use serde::Serialize;
use serde_json::{Value, json};

use self::manage::ManagerApi;
use self::world::{ENTRANCE_X, PACKAGE_ROOM_X, Property, UNIT_X, World};
use crate::output::{BLUETOOTH, Failure, REFUSED, SUCCESS, print_json};
use crate::render;
use crate::settings::GlobalArgs;

/// The property's time zone.
const TIME_ZONE: &str = "America/New_York";

/// `keyway demo`.
#[derive(Debug, Args)]
pub(crate) struct DemoArgs {
    /// Where the courier's QR codes and a copy of the delivery log are
    /// written [default: <temporary directory>/keyway-demo].
    #[arg(long, value_name = "DIR")]
    out_dir: Option<PathBuf>,
}

/// Plays the demo; returns 0 when every step behaved, 1 when one did not,
/// 5 when no D-Bus bus can be started for the simulated Bluetooth.
pub(crate) fn run(args: DemoArgs, global: &GlobalArgs) -> ExitCode {
    let json = global.json;
    // libdbus (under btleplug) reads DBUS_SYSTEM_BUS_ADDRESS once per
    // process: point it at a private bus before any thread starts.
    let bus = match keyway_ble_sim::bus::PrivateBus::start() {
        Ok(bus) => bus,
        Err(e) => {
            return Failure {
                exit: BLUETOOTH,
                ..Failure::new("bus_unavailable", e.to_string())
            }
            .report(json);
        }
    };
    harness::set_system_bus_address(bus.address());
    let runtime = match harness::runtime() {
        Ok(runtime) => runtime,
        Err(e) => return Failure::new("internal", format!("cannot start: {e}")).report(json),
    };
    let out_dir = args
        .out_dir
        .unwrap_or_else(|| std::env::temp_dir().join("keyway-demo"));
    let mut story = Story::new(json);
    let address = bus.address().to_owned();
    let result = runtime.block_on(play(&mut story, &address, &out_dir));
    drop(runtime);
    drop(bus);
    story.finish(result, &out_dir)
}

/// Why the demo stopped early.
#[derive(Debug)]
struct Stop(String);

impl<E: Display> From<E> for Stop {
    fn from(e: E) -> Self {
        Self(e.to_string())
    }
}

/// One step, as `--json` reports it.
#[derive(Debug, Serialize)]
struct StepRecord {
    title: String,
    checks: Vec<String>,
    ok: bool,
    failure: Option<String>,
}

/// The narrator: prints each step, each thing that happens and each check.
struct Story {
    json: bool,
    started: Instant,
    steps: Vec<StepRecord>,
    checks: usize,
}

impl Story {
    fn new(json: bool) -> Self {
        Self {
            json,
            started: Instant::now(),
            steps: Vec::new(),
            checks: 0,
        }
    }

    fn step(&mut self, title: &str) {
        self.steps.push(StepRecord {
            title: title.to_owned(),
            checks: Vec::new(),
            ok: true,
            failure: None,
        });
        if !self.json {
            println!("\n{:>2}. {title}", self.steps.len());
        }
    }

    fn say(&self, text: impl Display) {
        if !self.json {
            println!("    {text}");
        }
    }

    /// Passes when `ok`; otherwise reports `what` with `got` and stops.
    fn check(&mut self, ok: bool, what: impl Display, got: impl Display) -> Result<(), Stop> {
        let what = what.to_string();
        if ok {
            self.checks += 1;
            if !self.json {
                println!("    \u{2713} {what}");
            }
            if let Some(step) = self.steps.last_mut() {
                step.checks.push(what);
            }
            Ok(())
        } else {
            let failure = format!("{what}: got {got}");
            if !self.json {
                println!("    \u{2717} {failure}");
            }
            if let Some(step) = self.steps.last_mut() {
                step.ok = false;
                step.failure = Some(failure.clone());
            }
            Err(Stop(failure))
        }
    }

    fn finish(self, result: Result<(), Stop>, out_dir: &Path) -> ExitCode {
        let seconds = self.started.elapsed().as_secs_f64();
        let ok = result.is_ok();
        if self.json {
            print_json(&json!({
                "ok": ok,
                "steps": self.steps,
                "checks": self.checks,
                "seconds": (seconds * 10.0).round() / 10.0,
                "out_dir": out_dir,
                "error": result.as_ref().err().map(|s| s.0.clone()),
            }));
        } else {
            match &result {
                Ok(()) => println!(
                    "\nEvery step behaved: {} steps, {} checks, {seconds:.1} s. Files: {}",
                    self.steps.len(),
                    self.checks,
                    out_dir.display()
                ),
                Err(Stop(message)) => {
                    println!("\nThe demo stopped at step {}: {message}", self.steps.len());
                }
            }
        }
        ExitCode::from(if ok { SUCCESS } else { REFUSED })
    }
}

/// The story.
async fn play(story: &mut Story, bus: &str, out_dir: &Path) -> Result<(), Stop> {
    if !story.json {
        println!("Keyway demo: Maple Court, three simulated Bluetooth locks, Alice's phone.");
        println!(
            "The server and the locks run inside this command; the phone reaches the locks through btleplug and a simulated BlueZ."
        );
    }
    std::fs::create_dir_all(out_dir)
        .map_err(|e| Stop(format!("cannot create {}: {e}", out_dir.display())))?;

    // 1. The operator and the manager set up the property.
    story.step("The operator and the manager set up the property");
    let (dir, key) = World::fresh_dir()?;
    let property = World::set_up(dir.path(), &key).await?;
    story.say(
        "operator: created Maple Court (America/New_York); 1440 and 94110 are affiliated numbers",
    );
    story.say(
        "operator: locks Unit 4B (unit door), Main entrance (community entrance), Package room",
    );
    story.say("operator: users Alice (resident of 4B) and Mia (manager), each with an API token");
    let world = World::start(dir, &key, &property, bus).await?;
    story.say(format!(
        "server on {} (SQLite in {}); the locks stand along a corridor at {UNIT_X} m, {ENTRANCE_X} m and {PACKAGE_ROOM_X} m",
        world.server_url,
        world.dir.path().display()
    ));
    let result = scenes(story, &world, &property, out_dir).await;
    let log = out_dir.join("deliveries.jsonl");
    let _ = std::fs::copy(&world.delivery_log, &log);
    world.stop().await;
    result
}

async fn scenes(
    story: &mut Story,
    world: &World,
    property: &Property,
    out_dir: &Path,
) -> Result<(), Stop> {
    let mia = ManagerApi::new(&world.server_url, &property.mia)?;
    let policy: Value = mia
        .write(
            Method::PUT,
            "/v1/manage/policy",
            json!({
                "six_digit_codes": true,
                "custom_codes": true,
                "affiliated_numbers": ["1440", "94110"],
                "one_time_pin_length": 6,
                "common_pins_builtin": true
            }),
        )
        .await?;
    story.say("Mia turns on 6-digit codes and residents' custom codes");
    story.check(
        policy["six_digit_codes"] == true && policy["custom_codes"] == true,
        "the policy allows 4- and 6-digit codes and custom codes",
        &policy,
    )?;

    // 2. Alice logs in on her phone.
    story.step("Alice logs in on her phone");
    let phone_dir = tempfile::tempdir()?;
    let mut config = ClientConfig::new(&world.server_url, phone_dir.path(), "Alice's phone");
    config.delivery.scan_time = Duration::from_millis(1000);
    let phone = Client::open(config)?;
    phone.set_transport(Arc::new(world.bluetooth().await?));
    let session = phone.login(&property.alice).await?;
    let doors = phone.doors()?;
    let names: Vec<&str> = doors.iter().map(|d| d.name.as_str()).collect();
    story.say(format!(
        "{} logged in; her doors: {}",
        session.user.name,
        names.join(", ")
    ));
    story.check(
        doors.len() == 3,
        "she sees her unit door, the main entrance, and the package room (whose sealed jobs her phone relays)",
        format!("{names:?}"),
    )?;

    // 3. A custom code refused with every reason.
    story.step("Alice's custom code is refused, with every reason");
    let both_doors = Some(vec![property.unit.clone(), property.entrance.clone()]);
    let mut pick = NewCode::resident();
    pick.lock_ids = both_doors.clone();
    story.say("Alice picks 1234 for her door and the main entrance");
    let refused = phone.pick_code("1234", pick).await;
    let rules = refused_rules(story, &refused);
    story.check(
        rules == [Rule::CustomNotAllowed],
        "refused on the phone for that alone, whatever the digits: custom codes are not allowed on community doors",
        format!("{rules:?}"),
    )?;
    story.say("Alice picks 1234 for her own door");
    let refused = phone.pick_code("1234", NewCode::resident()).await;
    let rules = refused_rules(story, &refused);
    story.check(
        rules == [Rule::Sequential, Rule::CommonPin],
        "refused: a sequence, and a common PIN",
        format!("{rules:?}"),
    )?;
    story.say("Alice picks 1440 for her own door");
    let refused = phone.pick_code("1440", NewCode::resident()).await;
    let rules = refused_rules(story, &refused);
    story.check(
        rules == [Rule::PropertyNumber],
        "refused: 1440 is the street number",
        format!("{rules:?}"),
    )?;
    story.check(
        phone.outbox()?.is_empty() && phone.codes()?.is_empty(),
        "nothing was queued or created",
        "a queued request",
    )?;

    // 4. A generated code: requested, pending, active.
    story.step(
        "Alice generates a code: requested, then pending, then active when her phone is in range",
    );
    let mut events = phone.subscribe();
    let mut new = NewCode::resident();
    new.name = Some("Alice".into());
    let code = phone.generate_code(new).await?;
    let mut requested = false;
    while let Ok(event) = events.try_recv() {
        if let ClientEvent::CodeChanged { code: c } = event
            && c.id == code.id
            && c.locks.iter().all(|l| l.state == CodeState::Requested)
        {
            requested = true;
        }
    }
    let value = code.value.clone().unwrap_or_default();
    story.check(
        requested,
        "requested first: queued on the phone before the server answered",
        "no requested state",
    )?;
    story.say(format!("the server drew {value}: {}", states(&code)));
    story.check(
        all_on(&code, CodeState::Pending) && code.locks.len() == 2,
        "pending on Unit 4B and the Main entrance: sealed jobs wait for a phone in range",
        states(&code),
    )?;
    story.say("Alice is at the street door, 100 m from her lock");
    let report = deliver(story, &phone).await?;
    let code = phone.code(&code.id)?;
    story.check(
        all_on(&code, CodeState::Pending) && !delivered(&report, &property.unit),
        "out of range: nothing delivered, still pending",
        states(&code),
    )?;
    walk(
        story,
        &world.sim,
        UNIT_X + 2.0,
        "Alice walks up to her door (2 m)",
    )?;
    deliver(story, &phone).await?;
    let code = phone.code(&code.id)?;
    story.check(
        all_on(&code, CodeState::Active),
        "active on Unit 4B and the Main entrance",
        states(&code),
    )?;

    // 5. The keypad grants it.
    story.step("The keypads grant Alice's code");
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &value,
        granted,
        "Unit 4B opens",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.entrance, "Main entrance"),
        &value,
        granted,
        "the Main entrance opens",
    )?;
    let wrong = if value == "5829" { "5830" } else { "5829" };
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        wrong,
        |e| denied(e, "unknown_code"),
        "a wrong code stays shut",
    )?;

    // 6. A code change: the old code works until the lock confirms.
    story.step("Alice changes her code: the old one opens until the lock confirms, then never");
    let changed = phone.change_code(&code.id, None, None).await?;
    let new_value = changed.value.clone().unwrap_or_default();
    story.say(format!("the server drew {new_value}: {}", states(&changed)));
    story.check(
        all_on(&changed, CodeState::Pending) && changed.locks.iter().all(|l| l.previous_active),
        "pending, and the previous code still opens both doors",
        states(&changed),
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &value,
        granted,
        "the old code still opens Unit 4B",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &new_value,
        |e| denied(e, "unknown_code"),
        "the new code is not on the lock yet",
    )?;
    deliver(story, &phone).await?;
    let changed = phone.code(&code.id)?;
    story.check(
        all_on(&changed, CodeState::Active) && changed.locks.iter().all(|l| !l.previous_active),
        "the locks confirmed the swap: active, one job each",
        states(&changed),
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &value,
        |e| denied(e, "unknown_code"),
        "the old code is refused",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &new_value,
        granted,
        "the new code opens Unit 4B",
    )?;

    // 7. A recurring guest code, open only in its window.
    let tomorrow = Timestamp::now().in_tz(TIME_ZONE)?.date().tomorrow()?;
    let weekday = tomorrow.weekday();
    story.step(&format!(
        "A recurring guest code for the dog walker: {weekday:?}s 09:00-12:00, and only then"
    ));
    let schedule = Recurring::new(
        Weekdays::of([weekday]),
        Time::new(9, 0, 0, 0)?,
        Time::new(12, 0, 0, 0)?,
        TIME_ZONE,
    )?;
    let mut guest = NewCode::guest(GuestType::Recurring, Some(Schedule::Recurring(schedule)));
    guest.name = Some("Dog walker".into());
    let walker = phone.generate_code(guest).await?;
    let walker_value = walker.value.clone().unwrap_or_default();
    story.say(format!(
        "generated {walker_value} (guest codes are always generated): {}",
        states(&walker)
    ));
    deliver(story, &phone).await?;
    let walker = phone.code(&walker.id)?;
    story.check(
        all_on(&walker, CodeState::Active),
        "active on Unit 4B",
        states(&walker),
    )?;
    let inside = set_lock_clock(story, &world.sim, &property.unit, tomorrow, 10, 30)?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &walker_value,
        granted,
        format!("opens at {inside}, inside the window"),
    )?;
    let outside = set_lock_clock(story, &world.sim, &property.unit, tomorrow, 13, 0)?;
    expect_entry(
        story,
        &world.sim,
        (&property.unit, "Unit 4B"),
        &walker_value,
        |e| denied(e, "outside_schedule"),
        format!("stays shut at {outside}, outside the window"),
    )?;
    world.sim.set_clock(&property.unit, Timestamp::now())?;
    story.say("the lock's clock is set back to now");

    // 8. A carrier code, carried by a resident's phone.
    story.step("Mia creates a carrier code for UPS; Alice's phone carries it to the package room");
    let ups: CarrierView = mia
        .write(
            Method::POST,
            "/v1/manage/carriers",
            json!({"name": "UPS", "mode": "generate"}),
        )
        .await?;
    let carrier = ups
        .code
        .clone()
        .ok_or_else(|| Stop("the carrier has no code".into()))?;
    let carrier_value = carrier.value.clone().unwrap_or_default();
    story.say(format!(
        "UPS's access code is {carrier_value}: {}",
        view_states(&carrier)
    ));
    story.check(
        carrier_value.len() == 4 && !carrier_value.starts_with('0'),
        "4 digits, not starting with 0",
        &carrier_value,
    )?;
    walk(
        story,
        &world.sim,
        PACKAGE_ROOM_X - 1.0,
        "Alice walks down to the package room",
    )?;
    deliver(story, &phone).await?;
    let carriers: Vec<CarrierView> = mia.get("/v1/manage/carriers").await?;
    let carrier = carriers
        .into_iter()
        .find(|c| c.id == ups.id)
        .and_then(|c| c.code)
        .ok_or_else(|| Stop("UPS vanished".into()))?;
    story.check(
        view_on(&carrier, &property.package_room) == Some(CodeState::Active),
        "active on the package room, settled from the receipt Alice's phone carried back",
        view_states(&carrier),
    )?;
    let secret = phone
        .codes()?
        .iter()
        .any(|c| c.value.as_deref() == Some(carrier_value.as_str()));
    story.check(
        !secret,
        "Alice's phone carried the sealed job but cannot read the carrier's code",
        "the code is on her phone",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &carrier_value,
        granted,
        "the package room opens for UPS",
    )?;
    let renewed: CodeView = mia
        .write(
            Method::PUT,
            &format!("/v1/manage/carriers/{}/code", ups.id),
            json!({"mode": "generate"}),
        )
        .await?;
    let renewed_value = renewed.value.clone().unwrap_or_default();
    story.say(format!("Mia changes UPS's code to {renewed_value}"));
    deliver(story, &phone).await?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &renewed_value,
        granted,
        "the new carrier code opens",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &carrier_value,
        |e| denied(e, "unknown_code"),
        "the old carrier code no longer does",
    )?;

    // 9. A courier PIN with its QR code.
    story.step("Mia creates a courier PIN and its QR code");
    let courier: CourierView = mia
        .write(
            Method::POST,
            "/v1/manage/couriers",
            json!({"name": "FedEx route 7"}),
        )
        .await?;
    let pin: CodeView = mia
        .write(
            Method::PUT,
            &format!("/v1/manage/couriers/{}/pin", courier.id),
            json!({"mode": "generate"}),
        )
        .await?;
    let pin_value = pin.value.clone().unwrap_or_default();
    story.say(format!("FedEx route 7's PIN is {pin_value}"));
    story.check(pin_value.len() == 6, "a 6-digit PIN", &pin_value)?;
    let svg = mia
        .bytes(&format!("/v1/manage/couriers/{}/qr?format=svg", courier.id))
        .await?;
    let png = mia
        .bytes(&format!("/v1/manage/couriers/{}/qr?format=png", courier.id))
        .await?;
    let svg_path = out_dir.join("courier-qr.svg");
    let png_path = out_dir.join("courier-qr.png");
    std::fs::write(&svg_path, &svg)?;
    std::fs::write(&png_path, &png)?;
    story.say(format!(
        "QR code written to {} and {}",
        svg_path.display(),
        png_path.display()
    ));
    story.check(
        String::from_utf8_lossy(&svg).contains("<svg") && png.starts_with(b"\x89PNG"),
        "the QR code is an SVG and a PNG image",
        format!("{} and {} bytes", svg.len(), png.len()),
    )?;
    deliver(story, &phone).await?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &pin_value,
        granted,
        "the courier's PIN opens the package room",
    )?;

    // 10. A one-time PIN by email and SMS.
    story.step("Mia sends Bob a one-time PIN by email and SMS: it opens once");
    let bob: Value = mia
        .write(
            Method::POST,
            "/v1/manage/recipients",
            json!({"name": "Bob Rivera", "email": "bob@example.org", "phone": "+15555550142"}),
        )
        .await?;
    let bob_id = bob["id"].as_str().unwrap_or_default().to_owned();
    let once: CodeView = mia
        .write(
            Method::POST,
            &format!("/v1/manage/recipients/{bob_id}/one-time-pin"),
            json!({"notify": "both"}),
        )
        .await?;
    let once_value = once.value.clone().unwrap_or_default();
    let expires = match &once.schedule {
        Schedule::Window(w) => Some(w.until()),
        _ => None,
    };
    let hours = expires
        .map(|t| (t.as_second() - Timestamp::now().as_second()) as f64 / 3600.0)
        .unwrap_or(0.0);
    story.check(
        (23.9..=24.0).contains(&hours),
        "it expires in 24 hours (the default)",
        format!("{hours:.2} h"),
    )?;
    let messages = wait_for_messages(world, 2).await;
    for m in &messages {
        story.say(format!(
            "delivery log: {} to {}: \"{}\"",
            m["channel"].as_str().unwrap_or("?"),
            m["to"].as_str().unwrap_or("?"),
            m["body"].as_str().unwrap_or("?")
        ));
    }
    let pins: Vec<String> = messages
        .iter()
        .filter_map(|m| m["body"].as_str().and_then(pin_in))
        .collect();
    let channels: Vec<&str> = messages
        .iter()
        .filter_map(|m| m["channel"].as_str())
        .collect();
    story.check(
        channels.contains(&"email")
            && channels.contains(&"sms")
            && pins.len() == 2
            && pins.iter().all(|p| *p == once_value),
        "the same PIN went out by email and by SMS",
        format!("{channels:?} {pins:?}"),
    )?;
    deliver(story, &phone).await?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &once_value,
        |e| matches!(e, Some(Entry::Granted { consumed: true, .. })),
        "it opens the package room once",
    )?;
    expect_entry(
        story,
        &world.sim,
        (&property.package_room, "Package room"),
        &once_value,
        |e| denied(e, "already_used"),
        "the second time it is refused",
    )?;
    deliver(story, &phone).await?;
    let settled: CodeView = mia.get(&format!("/v1/codes/{}", once.id)).await?;
    story.check(
        settled.status == CodeStatus::Used,
        "the lock's report reached the server: the PIN is used",
        format!("{:?}", settled.status),
    )?;
    Ok(())
}

/// Prints a refusal's rules and returns them.
fn refused_rules(story: &Story, refused: &Result<LocalCode, ClientError>) -> Vec<Rule> {
    match refused {
        Err(ClientError::PolicyViolation { rejection }) => {
            for v in &rejection.violations {
                story.say(format!("  {:22} {}", v.rule.id(), v.message));
            }
            rejection.violations.iter().map(|v| v.rule).collect()
        }
        Err(other) => {
            story.say(format!("  unexpected error: {other}"));
            Vec::new()
        }
        Ok(_) => {
            story.say("  accepted!");
            Vec::new()
        }
    }
}

fn states(code: &LocalCode) -> String {
    code.locks
        .iter()
        .map(|l| format!("{} {:?}", l.lock_name, l.state).to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn view_states(code: &CodeView) -> String {
    code.locks
        .iter()
        .map(|l| format!("{} {:?}", l.lock_name, l.state).to_lowercase())
        .collect::<Vec<_>>()
        .join(", ")
}

fn view_on(code: &CodeView, lock: &str) -> Option<CodeState> {
    code.locks
        .iter()
        .find(|l| l.lock_id == lock)
        .map(|l| l.state)
}

fn all_on(code: &LocalCode, state: CodeState) -> bool {
    !code.locks.is_empty() && code.locks.iter().all(|l| l.state == state)
}

fn delivered(report: &DeliveryReport, lock: &str) -> bool {
    report
        .locks
        .iter()
        .any(|l| l.lock_id == lock && l.outcome.code() == "delivered")
}

/// One round of what the app does in the background: a sync (the phone
/// learns which sealed jobs wait), then a delivery round with a spinner;
/// prints what happened at each lock.
async fn deliver(story: &Story, phone: &Client) -> Result<DeliveryReport, Stop> {
    let bar = render::spinner("The phone syncs, scans for locks and delivers", story.json);
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

fn walk(story: &Story, sim: &Sim, x: f64, what: &str) -> Result<(), Stop> {
    sim.move_phone(Position { x, y: 0.0 })?;
    story.say(format!("{what} (x = {x} m)"));
    Ok(())
}

fn type_code(
    story: &Story,
    sim: &Sim,
    lock: &str,
    name: &str,
    code: &str,
) -> Result<Option<Entry>, Stop> {
    let entry = sim.enter_code(lock, code)?;
    story.say(format!("keypad of {name}: {code}# -> {}", describe(&entry)));
    Ok(entry)
}

/// Types `code` on a keypad and checks what the lock answered with `expect`.
fn expect_entry(
    story: &mut Story,
    sim: &Sim,
    (lock, name): (&str, &str),
    code: &str,
    expect: impl Fn(&Option<Entry>) -> bool,
    what: impl Display,
) -> Result<(), Stop> {
    let entry = type_code(story, sim, lock, name, code)?;
    story.check(expect(&entry), what, describe(&entry))
}

fn describe(entry: &Option<Entry>) -> String {
    match entry {
        Some(Entry::Granted { consumed: true, .. }) => "granted (one-time: now spent)".into(),
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

fn granted(entry: &Option<Entry>) -> bool {
    matches!(entry, Some(Entry::Granted { .. }))
}

fn denied(entry: &Option<Entry>, reason: &str) -> bool {
    describe(entry) == format!("denied ({reason})")
}

/// Sets a lock's clock to `date` at `hour:minute` in the property's zone.
fn set_lock_clock(
    story: &Story,
    sim: &Sim,
    lock: &str,
    date: Date,
    hour: i8,
    minute: i8,
) -> Result<String, Stop> {
    let at = date.at(hour, minute, 0, 0).in_tz(TIME_ZONE)?;
    sim.set_clock(lock, at.timestamp())?;
    let label = at.strftime("%A %H:%M").to_string();
    story.say(format!("the lock's clock is set to {label}"));
    Ok(label)
}

/// Waits (at most 10 s) for `count` messages in the delivery log.
async fn wait_for_messages(world: &World, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let messages = world.deliveries();
        if messages.len() >= count {
            return messages;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    world.deliveries()
}

/// The 6-digit PIN in a message.
fn pin_in(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}
