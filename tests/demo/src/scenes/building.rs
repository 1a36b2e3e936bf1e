//! The building's scenes: Mia's carrier code for UPS, carried to the package
//! room by Alice's phone; a courier PIN with its QR code; a one-time PIN
//! sent to Bob by email and SMS that opens once.

use std::time::Duration;

use jiff::Timestamp;
use keyway_api::{CarrierView, CodeState, CodeStatus, CodeView, CourierView};
use keyway_client::Client;
use keyway_codes::schedule::Schedule;
use keyway_lock::Entry;
use keyway_testkit::corridor::PACKAGE_ROOM_X;
use reqwest::Method;
use serde_json::{Value, json};

use super::{Door, Scene, denied, granted, view_on, view_states};
use crate::story::{Stop, Story};

impl Scene<'_> {
    /// Step 8: a carrier code, carried by a resident's phone.
    pub(super) async fn carrier(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        story.step(
            "Mia creates a carrier code for UPS; Alice's phone carries it to the package room",
        );
        let body = json!({"name": "UPS", "mode": "generate"});
        let ups: CarrierView = self
            .mia
            .write(Method::POST, "/v1/manage/carriers", body)
            .await?;
        let code = ups
            .code
            .clone()
            .ok_or_else(|| Stop("the carrier has no code".into()))?;
        let value = code.value.clone().unwrap_or_default();
        story.say(format!(
            "UPS's access code is {value}: {}",
            view_states(&code)
        ));
        story.check(
            value.len() == 4 && !value.starts_with('0'),
            "4 digits, not starting with 0",
            &value,
        )?;
        let down = "Alice walks down to the package room";
        self.walk(story, PACKAGE_ROOM_X - 1.0, down)?;
        self.deliver(story, phone).await?;
        let carriers: Vec<CarrierView> = self.mia.get("/v1/manage/carriers").await?;
        let code = carriers
            .into_iter()
            .find(|c| c.id == ups.id)
            .and_then(|c| c.code)
            .ok_or_else(|| Stop("UPS vanished".into()))?;
        story.check(
            view_on(&code, self.lock(Door::PackageRoom)) == Some(CodeState::Active),
            "active on the package room, settled from the receipt Alice's phone carried back",
            view_states(&code),
        )?;
        let secret = phone
            .codes()?
            .iter()
            .any(|c| c.value.as_deref() == Some(value.as_str()));
        story.check(
            !secret,
            "Alice's phone carried the sealed job but cannot read the carrier's code",
            "the code is on her phone",
        )?;
        let opens = "the package room opens for UPS";
        self.expect_entry(story, Door::PackageRoom, &value, granted, opens)?;
        let path = format!("/v1/manage/carriers/{}/code", ups.id);
        let body = json!({"mode": "generate"});
        let renewed: CodeView = self.mia.write(Method::PUT, &path, body).await?;
        let renewed = renewed.value.clone().unwrap_or_default();
        story.say(format!("Mia changes UPS's code to {renewed}"));
        self.deliver(story, phone).await?;
        let new_opens = "the new carrier code opens";
        self.expect_entry(story, Door::PackageRoom, &renewed, granted, new_opens)?;
        let unknown = |e: &_| denied(e, "unknown_code");
        let old_shut = "the old carrier code no longer does";
        self.expect_entry(story, Door::PackageRoom, &value, unknown, old_shut)
    }

    /// Step 9: a courier PIN with its QR code.
    pub(super) async fn courier(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        story.step("Mia creates a courier PIN and its QR code");
        let body = json!({"name": "FedEx route 7"});
        let courier: CourierView = self
            .mia
            .write(Method::POST, "/v1/manage/couriers", body)
            .await?;
        let path = format!("/v1/manage/couriers/{}/pin", courier.id);
        let pin: CodeView = self
            .mia
            .write(Method::PUT, &path, json!({"mode": "generate"}))
            .await?;
        let pin = pin.value.clone().unwrap_or_default();
        story.say(format!("FedEx route 7's PIN is {pin}"));
        story.check(pin.len() == 6, "a 6-digit PIN", &pin)?;
        let qr = format!("/v1/manage/couriers/{}/qr", courier.id);
        let svg = self.mia.bytes(&format!("{qr}?format=svg")).await?;
        let png = self.mia.bytes(&format!("{qr}?format=png")).await?;
        let svg_path = self.out_dir.join("courier-qr.svg");
        let png_path = self.out_dir.join("courier-qr.png");
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
        self.deliver(story, phone).await?;
        let opens = "the courier's PIN opens the package room";
        self.expect_entry(story, Door::PackageRoom, &pin, granted, opens)
    }

    /// Step 10: a one-time PIN by email and SMS.
    pub(super) async fn one_time_pin(&self, story: &mut Story, phone: &Client) -> Result<(), Stop> {
        story.step("Mia sends Bob a one-time PIN by email and SMS: it opens once");
        let body =
            json!({"name": "Bob Rivera", "email": "bob@example.org", "phone": "+15555550142"});
        let bob: Value = self
            .mia
            .write(Method::POST, "/v1/manage/recipients", body)
            .await?;
        let bob_id = bob["id"].as_str().unwrap_or_default();
        let path = format!("/v1/manage/recipients/{bob_id}/one-time-pin");
        let once: CodeView = self
            .mia
            .write(Method::POST, &path, json!({"notify": "both"}))
            .await?;
        let value = once.value.clone().unwrap_or_default();
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
        self.messages_carry(story, &value).await?;
        self.deliver(story, phone).await?;
        let once_only =
            |e: &Option<Entry>| matches!(e, Some(Entry::Granted { consumed: true, .. }));
        let opens = "it opens the package room once";
        self.expect_entry(story, Door::PackageRoom, &value, once_only, opens)?;
        let used = |e: &_| denied(e, "already_used");
        let second = "the second time it is refused";
        self.expect_entry(story, Door::PackageRoom, &value, used, second)?;
        self.deliver(story, phone).await?;
        let settled: CodeView = self.mia.get(&format!("/v1/codes/{}", once.id)).await?;
        story.check(
            settled.status == CodeStatus::Used,
            "the lock's report reached the server: the PIN is used",
            format!("{:?}", settled.status),
        )
    }

    /// Checks that the same PIN went out by email and by SMS.
    async fn messages_carry(&self, story: &mut Story, pin: &str) -> Result<(), Stop> {
        let messages = self.wait_for_messages(2).await;
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
                && pins.iter().all(|p| p == pin),
            "the same PIN went out by email and by SMS",
            format!("{channels:?} {pins:?}"),
        )
    }

    /// Waits (at most 10 s) for `count` messages in the delivery log.
    async fn wait_for_messages(&self, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let messages = self.world.deliveries();
            if messages.len() >= count {
                return messages;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.world.deliveries()
    }
}

/// The 6-digit PIN in a message.
fn pin_in(body: &str) -> Option<String> {
    body.split(|c: char| !c.is_ascii_digit())
        .find(|run| run.len() == 6)
        .map(str::to_owned)
}
