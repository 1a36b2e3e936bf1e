//! Usage notifications, end to end (issue 17): a guest code is delivered to
//! the simulated unit door through btleplug, typed at its keypad, and when
//! the resident's phone passes again it relays the lock's events; the
//! resident's phone core tells the app once ("Dog walker's code opened
//! Unit 4B"), not again on a later sync nor after a restart, and the
//! server's outbox tells her by email and SMS, as she asked; the manager's
//! front desk receives the signed `code.used` webhook, again after it
//! answered 500 the first time. Each test runs
//! in its own process (one D-Bus system bus per process).

use keyway_api::{CodeState, GuestType, NotifyOnUse};
use keyway_client::{Client, ClientEvent, NewCode};
use keyway_server::webhooks::sign::verify;
use keyway_testkit::receiver::WebhookReceiver;
use keyway_testkit::world::{AT_HOME, World};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::sync::broadcast::Receiver;

/// The `CodeUsed` events waiting in `events`: (code id, code name, lock name).
fn uses_in(events: &mut Receiver<ClientEvent>) -> Vec<(String, Option<String>, String)> {
    let mut out = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ClientEvent::CodeUsed {
            code_id,
            code_name,
            lock_name,
            ..
        } = event
        {
            out.push((code_id, code_name, lock_name));
        }
    }
    out
}

/// Alice's dog walker's guest code, delivered to her unit door; its id and
/// digits.
fn dog_walker(w: &World, alice: &Client) -> (String, String) {
    let mut new = NewCode::guest(GuestType::Permanent, None);
    new.name = Some("Dog walker".to_owned());
    new.notify_on_use = Some(NotifyOnUse::Both);
    let code = w.rt.block_on(alice.generate_code(new)).unwrap();
    w.walk_to(AT_HOME);
    w.deliver(alice);
    let unit = w.lock("unit_4b");
    assert_eq!(
        alice.code(&code.id).unwrap().state_on(&unit),
        Some(CodeState::Active)
    );
    (code.id, code.value.unwrap())
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 240000)]

    #[test]
    fn the_residents_phone_is_told_once_when_the_dog_walkers_code_opens_the_door() {
        let w = World::start();
        let unit = w.lock("unit_4b");
        // The manager's front-desk system follows code uses; it answers
        // the first delivery with 500.
        let desk = WebhookReceiver::start(&[500]).unwrap();
        let hook = w.ok(
            "mia",
            Method::POST,
            "/v1/manage/webhooks",
            Some(json!({"url": desk.url, "events": ["code.used"], "description": "Front desk"})),
        );
        let secret = hook["secret"].as_str().unwrap().to_owned();
        let alice = w.phone("alice");
        let mut events = alice.subscribe();
        // She also asked to be told by email and SMS.
        let contact = w.rt.block_on(alice.set_contact(
            Some("alice@example.org".to_owned()),
            Some("+1 555 555 0142".to_owned()),
        )).unwrap();
        assert_eq!(contact.phone.as_deref(), Some("+15555550142"));
        let (id, digits) = dog_walker(&w, &alice);
        assert!(uses_in(&mut events).is_empty());

        assert_eq!(w.keypad(&unit, &digits), "granted");
        // Alice's phone passes the door again: it carries the lock's events.
        let report = w.deliver(&alice);
        assert!(report.locks.iter().any(|l| l.lock_id == unit), "{report:?}");
        let told = uses_in(&mut events);
        assert_eq!(
            told,
            [(id.clone(), Some("Dog walker".to_owned()), "Unit 4B".to_owned())],
            "once, under the id the app knows the code by"
        );
        let kept = alice.uses(10).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].code_id, id);
        assert_eq!(kept[0].lock_id, unit);
        // The server's outbox sent the same news by email and SMS, without
        // the digits.
        let sent = w.deliveries(2);
        let told: Vec<&serde_json::Value> = sent
            .iter()
            .filter(|m| m["body"].as_str().is_some_and(|b| b.starts_with("Dog walker's code opened Unit 4B at ")))
            .collect();
        assert_eq!(told.len(), 2, "{sent:?}");
        let mut to: Vec<&str> = told.iter().map(|m| m["to"].as_str().unwrap()).collect();
        to.sort_unstable();
        assert_eq!(to, ["+15555550142", "alice@example.org"]);
        assert!(told.iter().all(|m| !m["body"].as_str().unwrap().contains(&digits)));
        // The front desk got the signed code.used event: refused once, then
        // delivered again after the backoff.
        let got = desk.wait_for(2);
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].status, got[1].status), (500, 200));
        assert_eq!(got[0].delivery, got[1].delivery);
        assert!(got[1].at - got[0].at >= std::time::Duration::from_millis(140));
        let now = jiff::Timestamp::now().as_second();
        for r in &got {
            assert_eq!(r.event, "code.used");
            assert!(verify(secret.as_bytes(), &r.signature, &r.body, now, 300), "{r:?}");
            assert!(!r.body.contains(&digits));
        }
        let body: Value = serde_json::from_str(&got[1].body).unwrap();
        assert_eq!(body["data"]["use"]["code"]["name"], "Dog walker");
        assert_eq!(body["data"]["use"]["lock"]["name"], "Unit 4B");

        // Not again on a later sync, nor after the app restarts.
        w.rt.block_on(alice.sync()).unwrap();
        assert!(uses_in(&mut events).is_empty());
        let config = alice.config().clone();
        drop(alice);
        let again = Client::open(config).unwrap();
        let mut events = again.subscribe();
        w.rt.block_on(again.sync()).unwrap();
        assert!(uses_in(&mut events).is_empty());
        assert_eq!(again.uses(10).unwrap().len(), 1);

        // A second use is a second event.
        assert_eq!(w.keypad(&unit, &digits), "granted");
        w.walk_to(AT_HOME);
        again.set_transport(std::sync::Arc::new(
            w.rt.block_on(keyway_delivery::ble::BleTransport::new()).unwrap(),
        ));
        w.deliver(&again);
        assert_eq!(uses_in(&mut events).len(), 1);
    }
}
