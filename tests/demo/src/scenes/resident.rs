//! The resident's scenes: Alice logs in, her custom code is refused with
//! every reason, she generates a code that goes from requested to pending
//! to active as her phone reaches the locks, the keypads grant it, she
//! changes it, and she gives the dog walker a recurring guest code.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use jiff::civil::Time;
use keyway_api::{CodeState, GuestType};
use keyway_client::{Client, ClientConfig, ClientError, ClientEvent, LocalCode, NewCode};
use keyway_codes::policy::Rule;
use keyway_codes::schedule::{Recurring, Schedule, Weekdays};
use keyway_testkit::corridor::UNIT_X;
use keyway_testkit::property::TIME_ZONE;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Door, Scene, all_on, delivered, denied, granted, states};
use crate::story::{Stop, Story};

impl Scene<'_> {
    /// Mia turns on 6-digit and custom codes (the end of step 1).
    pub(super) async fn policy(&self, story: &mut Story) -> Result<(), Stop> {
        let policy: Value = self
            .mia
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
        )
    }

    /// Step 2: Alice logs in on her phone (its store in `dir`).
    pub(super) async fn log_in(&self, story: &mut Story, dir: &Path) -> Result<Client, Stop> {
        story.step("Alice logs in on her phone");
        let mut config = ClientConfig::new(&self.world.server_url, dir, "Alice's phone");
        config.delivery.scan_time = Duration::from_millis(1000);
        let phone = Client::open(config)?;
        phone.set_transport(Arc::new(self.world.bluetooth().await?));
        let token = self
            .world
            .property
            .tokens
            .get("alice")
            .ok_or_else(|| Stop("the property has no Alice".into()))?;
        let session = phone.login(token).await?;
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
        Ok(phone)
    }

    /// Step 3: a custom code refused with every reason.
    pub(super) async fn refused(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        story.step("Alice's custom code is refused, with every reason");
        let mut pick = NewCode::resident();
        pick.lock_ids = Some(vec![
            self.lock(Door::Unit).to_owned(),
            self.lock(Door::Entrance).to_owned(),
        ]);
        story.say("Alice picks 1234 for her door and the main entrance");
        let rules = refused_rules(story, &phone.pick_code("1234", pick).await);
        story.check(
            rules == [Rule::CustomNotAllowed],
            "refused on the phone for that alone, whatever the digits: custom codes are not allowed on community doors",
            format!("{rules:?}"),
        )?;
        story.say("Alice picks 1234 for her own door");
        let rules = refused_rules(story, &phone.pick_code("1234", NewCode::resident()).await);
        story.check(
            rules == [Rule::Sequential, Rule::CommonPin],
            "refused: a sequence, and a common PIN",
            format!("{rules:?}"),
        )?;
        story.say("Alice picks 1440 for her own door");
        let rules = refused_rules(story, &phone.pick_code("1440", NewCode::resident()).await);
        story.check(
            rules == [Rule::PropertyNumber],
            "refused: 1440 is the street number",
            format!("{rules:?}"),
        )?;
        story.check(
            phone.outbox()?.is_empty() && phone.codes()?.is_empty(),
            "nothing was queued or created",
            "a queued request",
        )
    }

    /// Step 4: a generated code, requested, then pending, then active.
    pub(super) async fn generated(
        &self,
        story: &mut Story,
        phone: &Client,
    ) -> Result<LocalCode, Stop> {
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
        story.check(
            requested,
            "requested first: queued on the phone before the server answered",
            "no requested state",
        )?;
        let value = code.value.clone().unwrap_or_default();
        story.say(format!("the server drew {value}: {}", states(&code)));
        story.check(
            all_on(&code, CodeState::Pending) && code.locks.len() == 2,
            "pending on Unit 4B and the Main entrance: sealed jobs wait for a phone in range",
            states(&code),
        )?;
        story.say("Alice is at the street door, 100 m from her lock");
        let report = self.deliver(story, phone).await?;
        let code = phone.code(&code.id)?;
        story.check(
            all_on(&code, CodeState::Pending) && !delivered(&report, self.lock(Door::Unit)),
            "out of range: nothing delivered, still pending",
            states(&code),
        )?;
        self.walk(story, UNIT_X + 2.0, "Alice walks up to her door (2 m)")?;
        self.deliver(story, phone).await?;
        let code = phone.code(&code.id)?;
        story.check(
            all_on(&code, CodeState::Active),
            "active on Unit 4B and the Main entrance",
            states(&code),
        )?;
        Ok(code)
    }

    /// Step 5: the keypads grant the code.
    pub(super) fn keypads(&self, story: &mut Story, code: &LocalCode) -> Result<(), Stop> {
        story.step("The keypads grant Alice's code");
        let value = code.value.clone().unwrap_or_default();
        self.expect_entry(story, Door::Unit, &value, granted, "Unit 4B opens")?;
        self.expect_entry(
            story,
            Door::Entrance,
            &value,
            granted,
            "the Main entrance opens",
        )?;
        let wrong = if value == "5829" { "5830" } else { "5829" };
        // At the entrance: every refusal counts toward a keypad's lockout
        // (five since the last one), and the later steps need Unit 4B's.
        self.expect_entry(
            story,
            Door::Entrance,
            wrong,
            |e| denied(e, "unknown_code"),
            "a wrong code stays shut",
        )
    }

    /// Step 6: a code change; the old code opens until the lock confirms.
    pub(super) async fn changed(
        &self,
        story: &mut Story,
        phone: &Client,
        code: &LocalCode,
    ) -> Result<(), Stop> {
        story.step("Alice changes her code: the old one opens until the lock confirms, then never");
        let old = code.value.clone().unwrap_or_default();
        let changed = phone.change_code(&code.id, None, None).await?;
        let new = changed.value.clone().unwrap_or_default();
        story.say(format!("the server drew {new}: {}", states(&changed)));
        story.check(
            all_on(&changed, CodeState::Pending) && changed.locks.iter().all(|l| l.previous_active),
            "pending, and the previous code still opens both doors",
            states(&changed),
        )?;
        let unknown = |e: &_| denied(e, "unknown_code");
        let still = "the old code still opens Unit 4B";
        self.expect_entry(story, Door::Unit, &old, granted, still)?;
        let not_yet = "the new code is not on the lock yet";
        self.expect_entry(story, Door::Unit, &new, unknown, not_yet)?;
        self.deliver(story, phone).await?;
        let changed = phone.code(&code.id)?;
        story.check(
            all_on(&changed, CodeState::Active) && changed.locks.iter().all(|l| !l.previous_active),
            "the locks confirmed the swap: active, one job each",
            states(&changed),
        )?;
        let refused = "the old code is refused";
        self.expect_entry(story, Door::Unit, &old, unknown, refused)?;
        self.expect_entry(
            story,
            Door::Unit,
            &new,
            granted,
            "the new code opens Unit 4B",
        )
    }

    /// Step 7: a recurring guest code, open only in its window.
    pub(super) async fn recurring(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
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
        let value = walker.value.clone().unwrap_or_default();
        story.say(format!(
            "generated {value} (guest codes are always generated): {}",
            states(&walker)
        ));
        self.deliver(story, phone).await?;
        let walker = phone.code(&walker.id)?;
        story.check(
            all_on(&walker, CodeState::Active),
            "active on Unit 4B",
            states(&walker),
        )?;
        let inside = self.set_lock_clock(story, Door::Unit, tomorrow, (10, 30))?;
        let opens = format!("opens at {inside}, inside the window");
        self.expect_entry(story, Door::Unit, &value, granted, opens)?;
        let outside = self.set_lock_clock(story, Door::Unit, tomorrow, (13, 0))?;
        let shut = format!("stays shut at {outside}, outside the window");
        let closed = |e: &_| denied(e, "outside_schedule");
        self.expect_entry(story, Door::Unit, &value, closed, shut)?;
        self.reset_lock_clock(story, Door::Unit)
    }
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
