//! Codes for a door no phone has reached: Mia has Unit 4B keep two backup
//! codes, which Alice's phone loads on its way past; away from home, Alice
//! gives the dog walker a guest code that works offline, and it opens the
//! door with no phone carrying anything; a courier whose delivery window
//! began before any phone reached the door gets a backup code that opens it
//! once; when Alice's phone passes again it relays the lock's events, and
//! she is told of both uses, in the app and, as she asked, by email.

use jiff::{SignedDuration, Timestamp};
use keyway_api::{BackupPool, CodeState, CodeStatus, GuestType, LockList, LockView, NotifyOnUse};
use keyway_client::{Client, ClientEvent, LocalCode, NewCode};
use keyway_codes::schedule::{Schedule, Window};
use keyway_lock::Entry;
use keyway_testkit::corridor::{AT_HOME, AWAY};
use keyway_testkit::property::TIME_ZONE;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use super::{Door, Scene, delivered, denied, granted, states};
use crate::story::{Stop, Story};

/// Where Alice asks to be told of uses.
const ALICE_EMAIL: &str = "alice@example.org";

/// The dog walker's code and the courier's: what the last step checks.
struct AwayCodes {
    walker: LocalCode,
    courier: LocalCode,
}

impl Scene<'_> {
    /// Plays the steps of codes for a door no phone has reached.
    pub(super) async fn away(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        self.backup_pool(story, phone).await?;
        let walker = self.offline_guest(story, phone).await?;
        let courier = self.backup_code(story, phone).await?;
        self.told(story, phone, &AwayCodes { walker, courier })
            .await
    }

    /// Step 11: Mia turns Unit 4B's backup codes on; Alice's phone loads
    /// them as it passes, then she leaves.
    async fn backup_pool(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        story.step(
            "Mia has Unit 4B keep two backup codes; Alice's phone loads them on its way past",
        );
        let unit = self.lock(Door::Unit);
        let path = format!("/v1/manage/locks/{unit}/backup-pool");
        let view: LockView = self
            .mia
            .write(Method::PUT, &path, json!({"size": 2}))
            .await?;
        story.say("Mia sets Unit 4B's pool of backup codes to 2");
        story.check(
            view.backup_pool.size == 2 && view.backup_pool.ready == 0 && view.job_pending,
            "the server drew them: a job waits to load them on the lock, none ready yet",
            format!("{:?}, job pending {}", view.backup_pool, view.job_pending),
        )?;
        self.walk(story, AT_HOME, "Alice walks past her door")?;
        let report = self.deliver(story, phone).await?;
        let pool = self.pool(unit).await?;
        story.check(
            delivered(&report, unit) && pool.ready == 2 && pool.handed_out == 0,
            "Unit 4B confirmed them: 2 backup codes ready, none handed out (nobody sees their digits)",
            format!("{pool:?}"),
        )?;
        self.walk(story, AWAY, "Alice leaves for the day, far out of range")
    }

    /// Step 12: a temporary guest code that works offline opens Unit 4B
    /// with no phone near it.
    async fn offline_guest(&self, story: &mut Story, phone: &Client) -> Result<LocalCode, Stop> {
        story.step(
            "Away from home, Alice gives the dog walker a code that works offline: Unit 4B opens with no phone near it",
        );
        let contact = phone.set_contact(Some(ALICE_EMAIL.into()), None).await?;
        story.say(format!(
            "Alice asks to be told by email, at {}, when the dog walker's code is used",
            contact.email.as_deref().unwrap_or("?")
        ));
        let unit = self.lock(Door::Unit);
        let before = self.door_traffic(unit)?;
        let now = Timestamp::now();
        let window = Window::new(now, now.checked_add(SignedDuration::from_hours(3))?)?;
        let mut new = NewCode::guest(GuestType::Temporary, Some(Schedule::Window(window)));
        new.name = Some("Dog walker".into());
        new.offline = true;
        new.notify_on_use = Some(NotifyOnUse::Email);
        let walker = phone.generate_code(new).await?;
        let offline = walker.offline.iter().find(|o| o.lock_id == unit);
        let digits = offline.and_then(|o| o.value.clone()).unwrap_or_default();
        if let Some(o) = offline {
            story.say(format!(
                "the server derived Unit 4B's own offline code {digits}, accepted {} to {}",
                local_time(o.starts_at),
                local_time(o.ends_at)
            ));
        }
        story.check(
            walker.status == CodeStatus::Active
                && walker.locks.is_empty()
                && digits.len() == 8
                && offline.is_some_and(|o| o.state == CodeState::Active),
            "active at once: 8 digits for Unit 4B, with no slot and no job to carry",
            format!(
                "{:?}, {} lock(s), {:?}",
                walker.status,
                walker.locks.len(),
                walker.offline
            ),
        )?;
        phone.sync().await?;
        let door = phone.doors()?.into_iter().find(|d| d.lock_id == unit);
        story.check(
            door.as_ref()
                .is_some_and(|d| !d.job_waiting && d.target_version.is_none()),
            "no job waits for a phone at Unit 4B",
            format!("{door:?}"),
        )?;
        story.say("the dog walker types the offline code at the door");
        let offline_grant = |e: &Option<Entry>| matches!(e, Some(Entry::GrantedOffline { .. }));
        self.expect_entry(
            story,
            Door::Unit,
            &digits,
            offline_grant,
            "Unit 4B opens for it",
        )?;
        let after = self.door_traffic(unit)?;
        story.check(
            after == before,
            "no phone reached the door meanwhile: no connection, the lock's version unchanged",
            format!("{before:?} -> {after:?}"),
        )?;
        Ok(walker)
    }

    /// Step 13: a delivery code whose window began stays pending; a backup
    /// code opens the door once in its place.
    async fn backup_code(&self, story: &mut Story, phone: &Client) -> Result<LocalCode, Stop> {
        story.step(
            "A courier's delivery window began before any phone reached Unit 4B: a backup code opens it once",
        );
        let unit = self.lock(Door::Unit);
        let now = Timestamp::now();
        let window = Window::new(
            now.checked_sub(SignedDuration::from_mins(5))?,
            now.checked_add(SignedDuration::from_hours(2))?,
        )?;
        let mut new = NewCode::guest(GuestType::Delivery, Some(Schedule::Window(window)));
        new.name = Some("Courier".into());
        let courier = phone.generate_code(new).await?;
        let own = courier.value.clone().unwrap_or_default();
        story.say(format!(
            "Alice gives the courier {own}, for deliveries from 5 minutes ago for 2 hours: {}",
            states(&courier)
        ));
        story.check(
            courier.state_on(unit) == Some(CodeState::Pending),
            "pending on Unit 4B: its job waits for a phone, and Alice is away",
            states(&courier),
        )?;
        let backup = phone.request_backup(&courier.id, unit).await?;
        let digits = backup.value.clone().unwrap_or_default();
        story.say(format!(
            "Alice asks for a backup code for {}: {digits}",
            backup.lock_name
        ));
        story.check(
            backup.state == CodeState::Active && digits.len() == 8 && digits != own,
            "8 digits Unit 4B already holds, good for one entry",
            format!("{:?}, {} digits", backup.state, digits.len()),
        )?;
        let pool = self.pool(unit).await?;
        story.check(
            pool.handed_out == 1 && pool.ready == 1,
            "Mia's view of the pool: 1 handed out, 1 still ready",
            format!("{pool:?}"),
        )?;
        let once = |e: &Option<Entry>| matches!(e, Some(Entry::Granted { consumed: true, .. }));
        let opens = "the courier types it: Unit 4B opens, once";
        self.expect_entry(story, Door::Unit, &digits, once, opens)?;
        // The fourth refusal at Unit 4B in the story (a fifth would start
        // the keypad's lockout, and answer locked_out instead).
        let used = |e: &_| denied(e, "already_used");
        let again = "typed again, it is refused";
        self.expect_entry(story, Door::Unit, &digits, used, again)?;
        Ok(courier)
    }

    /// Step 14: Alice's phone passes the door, relays its events, and she
    /// is told of both uses; the courier's code arrives and its backup is
    /// retired.
    async fn told(&self, story: &mut Story, phone: &Client, codes: &AwayCodes) -> Result<(), Stop> {
        story.step(
            "Alice's phone passes Unit 4B and relays its events: she is told of both uses, in the app and by email",
        );
        let unit = self.lock(Door::Unit);
        let mut events = phone.subscribe();
        self.walk(story, AT_HOME, "Alice comes home")?;
        let report = self.deliver(story, phone).await?;
        phone.sync().await?;
        let told = uses_told(&mut events);
        for (_, sentence) in &told {
            story.say(format!("the app: \"{sentence}\""));
        }
        let told_of = |id: &str| told.iter().filter(|(c, _)| c == id).count();
        story.check(
            delivered(&report, unit)
                && told_of(&codes.walker.id) == 1
                && told_of(&codes.courier.id) == 1,
            "the app was told once of each: the dog walker's code and the courier's",
            format!("{told:?}"),
        )?;
        let uses = phone.uses(100)?;
        let kind_of = |id: &str| {
            uses.iter()
                .find(|u| u.code_id == id && u.lock_id == unit)
                .map(|u| u.kind.clone())
        };
        let kinds = (kind_of(&codes.walker.id), kind_of(&codes.courier.id));
        story.check(
            kinds.0.as_deref() == Some("offline_code_used")
                && kinds.1.as_deref() == Some("backup_code_used"),
            "the phone keeps both uses: the offline code's, and the courier's through its backup code",
            format!("{kinds:?}"),
        )?;
        let walker_sentence = told
            .iter()
            .find(|(c, _)| *c == codes.walker.id)
            .map(|(_, s)| s.clone())
            .unwrap_or_default();
        let digits = codes
            .walker
            .offline
            .iter()
            .find(|o| o.lock_id == unit)
            .and_then(|o| o.value.clone())
            .unwrap_or_default();
        self.emailed(story, &walker_sentence, &digits).await?;
        self.courier_settled(story, phone, &codes.courier)
    }

    /// The courier's code reached the door, its backup is spent, and its
    /// own digits open the door now.
    fn courier_settled(
        &self,
        story: &mut Story,
        phone: &Client,
        courier: &LocalCode,
    ) -> Result<(), Stop> {
        let unit = self.lock(Door::Unit);
        let courier = phone.code(&courier.id)?;
        let backup = courier.backups.first();
        story.check(
            courier.state_on(unit) == Some(CodeState::Active)
                && backup.is_some_and(|b| b.state == CodeState::Used && b.value.is_none()),
            "the courier's code reached Unit 4B in the same visit; its backup code is used and retired (its digits no longer shown)",
            format!("{}, backups {:?}", states(&courier), courier.backups),
        )?;
        let own = courier.value.clone().unwrap_or_default();
        self.expect_entry(
            story,
            Door::Unit,
            &own,
            granted,
            "the courier's own digits open Unit 4B now",
        )
    }

    /// Checks that the use went to Alice by email, as the app said it, and
    /// without the code's `digits`.
    async fn emailed(&self, story: &mut Story, sentence: &str, digits: &str) -> Result<(), Stop> {
        let mine = |m: &&Value| m["channel"] == "email" && m["to"] == ALICE_EMAIL;
        let mut notice = None;
        for _ in 0..100 {
            notice = self.world.deliveries().iter().find(mine).cloned();
            if notice.is_some() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        let body = notice
            .as_ref()
            .and_then(|m| m["body"].as_str())
            .unwrap_or_default()
            .to_owned();
        story.say(format!("delivery log: email to {ALICE_EMAIL}: \"{body}\""));
        story.check(
            !sentence.is_empty()
                && !digits.is_empty()
                && body.starts_with(&format!("{sentence}."))
                && !body.contains(digits),
            "the email says the same as the app, with no code in it",
            &body,
        )
    }

    /// A door's connections and slot-table version, from the simulator.
    fn door_traffic(&self, lock: &str) -> Result<(u64, u32), Stop> {
        let connections = self.world.sim.stats(lock)?.connections;
        let version = self.world.sim.lock(lock)?.version;
        Ok((connections, version))
    }

    /// A lock's pool of backup codes, as Mia sees it.
    async fn pool(&self, lock: &str) -> Result<BackupPool, Stop> {
        let list: LockList = self.mia.get("/v1/manage/locks").await?;
        list.locks
            .into_iter()
            .find(|l| l.lock_id == lock)
            .map(|l| l.backup_pool)
            .ok_or_else(|| Stop(format!("no lock {lock} in Mia's list")))
    }
}

/// The uses the app was told of: (code id, "Dog walker's code opened
/// Unit 4B at 09:14").
fn uses_told(events: &mut Receiver<ClientEvent>) -> Vec<(String, String)> {
    let mut told = Vec::new();
    loop {
        match events.try_recv() {
            Ok(ClientEvent::CodeUsed {
                code_id,
                code_name,
                lock_name,
                at,
                ..
            }) => told.push((code_id, opened(code_name.as_deref(), &lock_name, at))),
            Ok(_) | Err(TryRecvError::Lagged(_)) => {}
            Err(_) => break,
        }
    }
    told
}

/// "Dog walker's code opened Unit 4B at 09:14", as the app says it (the
/// lock's time in the property's zone, with the day when not today).
fn opened(code_name: Option<&str>, lock_name: &str, at: Timestamp) -> String {
    let zone = jiff::tz::TimeZone::get(TIME_ZONE).unwrap_or(jiff::tz::TimeZone::UTC);
    keyway_api::use_sentence(code_name, lock_name, at, &zone)
}

/// A time in the property's zone, as said.
fn local_time(at: Timestamp) -> String {
    at.in_tz(TIME_ZONE)
        .map_or_else(|_| at.to_string(), |t| t.strftime("%a %H:%M").to_string())
}
