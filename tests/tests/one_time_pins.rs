//! "One-Time Access PIN", "Recipient Forgot PIN" and "Looking Up a
//! Recipient's PIN", end to end: staff send a single-entry PIN by email,
//! SMS or both (default expiry 24 hours, or a chosen date) into the
//! server's delivery log; a resident's phone carries the sealed job to the
//! simulated package room through btleplug; the keypad opens once, refuses
//! the second time and after the expiry; the lock's report marks the PIN
//! used at the server. Forgot-PIN answers the same for known and unknown
//! addresses and sends a new PIN only to a known one. Each test runs in its
//! own process (one D-Bus system bus per process).

use jiff::{SignedDuration, Timestamp};
use keyway_testkit::world::{AT_PACKAGE_ROOM, World, pin_in, state_on};
use reqwest::Method;
use serde_json::{Value, json};

fn recipient(w: &World, name: &str, email: Option<&str>, phone: Option<&str>) -> String {
    w.ok(
        "sam",
        Method::POST,
        "/v1/manage/recipients",
        Some(json!({"name": name, "email": email, "phone": phone})),
    )["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn until(code: &Value) -> Timestamp {
    code["schedule"]["until"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("a window: {code}"))
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 240000)]

    #[test]
    fn a_one_time_pin_by_email_and_sms_expires_in_24_hours_and_opens_once() {
        let w = World::start();
        let room = w.lock("package_room");
        let bob = recipient(&w, "Bob Rivera", Some("bob@example.org"), Some("+15555550142"));
        let before = Timestamp::now();
        let pin = w.ok(
            "sam",
            Method::POST,
            &format!("/v1/manage/recipients/{bob}/one-time-pin"),
            Some(json!({"notify": "both"})),
        );
        let value = pin["value"].as_str().unwrap().to_owned();
        let id = pin["id"].as_str().unwrap().to_owned();
        assert_eq!(pin["kind"], "one_time");
        assert_eq!(value.len(), 6);
        let expiry = until(&pin).duration_since(before);
        assert!(
            expiry >= SignedDuration::from_hours(24) - SignedDuration::from_secs(60)
                && expiry <= SignedDuration::from_hours(24) + SignedDuration::from_secs(60),
            "default expiry 24 h: {expiry:?}"
        );

        // The notification goes out on both channels with the same PIN.
        let messages = w.deliveries(2);
        let mut channels: Vec<&str> = messages.iter().filter_map(|m| m["channel"].as_str()).collect();
        channels.sort_unstable();
        assert_eq!(channels, ["email", "sms"], "{messages:?}");
        for m in &messages {
            assert_eq!(m["body"].as_str().and_then(pin_in).as_deref(), Some(value.as_str()));
        }
        assert!(messages.iter().any(|m| m["to"] == "bob@example.org"));
        assert!(messages.iter().any(|m| m["to"] == "+15555550142"));

        // Looking up the recipient's PIN while it is active.
        let looked_up = w.ok("sam", Method::GET, &format!("/v1/manage/recipients/{bob}/pin"), None);
        assert_eq!(looked_up["value"], value.as_str());

        // A resident's phone carries it to the package room.
        let alice = w.phone("alice");
        w.walk_to(AT_PACKAGE_ROOM);
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"), "{report:?}");
        assert_eq!(w.keypad(&room, &value), "granted");
        assert_eq!(w.keypad(&room, &value), "denied:already_used");
        // The lock's report travels back with the next visit: used.
        let report = w.deliver(&alice);
        // (its status settles the use; the same visit takes the spent PIN off the lock)
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"), "{report:?}");
        let settled = w.ok("sam", Method::GET, &format!("/v1/codes/{id}"), None);
        assert_eq!(settled["status"], "used", "{settled}");
        let (status, _) = w.call("sam", Method::GET, &format!("/v1/manage/recipients/{bob}/pin"), None);
        assert_eq!(status, 404, "a used PIN is no longer looked up");
    }

    #[test]
    fn a_one_time_pin_with_a_chosen_expiry_is_refused_after_it() {
        let w = World::start();
        let room = w.lock("package_room");
        let carol = recipient(&w, "Carol", Some("carol@example.org"), None);
        // A past expiry, or SMS to someone without a number, is refused.
        let (status, problem) = w.call(
            "sam",
            Method::POST,
            &format!("/v1/manage/recipients/{carol}/one-time-pin"),
            Some(json!({"expires_at": Timestamp::now().checked_sub(SignedDuration::from_hours(1)).unwrap().to_string()})),
        );
        assert_eq!((status, problem["code"].as_str()), (422, Some("invalid_schedule")), "{problem}");
        let (status, problem) = w.call(
            "sam",
            Method::POST,
            &format!("/v1/manage/recipients/{carol}/one-time-pin"),
            Some(json!({"notify": "sms"})),
        );
        assert_eq!((status, problem["code"].as_str()), (422, Some("no_contact")), "{problem}");

        let chosen = Timestamp::now().checked_add(SignedDuration::from_hours(2)).unwrap();
        let pin = w.ok(
            "sam",
            Method::POST,
            &format!("/v1/manage/recipients/{carol}/one-time-pin"),
            Some(json!({"notify": "email", "expires_at": chosen.to_string()})),
        );
        assert_eq!(until(&pin).as_second(), chosen.as_second());
        let value = pin["value"].as_str().unwrap().to_owned();
        let messages = w.deliveries(1);
        assert_eq!(messages.len(), 1, "email only: {messages:?}");
        assert_eq!(messages[0]["channel"], "email");

        let alice = w.phone("alice");
        w.walk_to(AT_PACKAGE_ROOM);
        w.deliver(&alice);
        assert_eq!(state_on(&w.ok("sam", Method::GET, &format!("/v1/codes/{}", pin["id"].as_str().unwrap()), None), &room), "active");
        // Three hours later on the lock's own clock: past the chosen expiry.
        w.set_clock(&room, Timestamp::now().checked_add(SignedDuration::from_hours(3)).unwrap());
        assert_eq!(w.keypad(&room, &value), "denied:outside_schedule");
        // Within it, it opens (once).
        w.set_clock(&room, Timestamp::now().checked_add(SignedDuration::from_hours(1)).unwrap());
        assert_eq!(w.keypad(&room, &value), "granted");
    }

    #[test]
    fn forgot_pin_answers_the_same_for_any_address_and_sends_a_new_pin_to_a_known_one() {
        let w = World::start();
        let room = w.lock("package_room");
        recipient(&w, "Dana", Some("dana@example.org"), Some("+15555550199"));
        let property = w.f.info.property_id.clone();
        let known = w.forgot_pin(json!({"property_id": property, "email": "dana@example.org"}));
        let unknown = w.forgot_pin(json!({"property_id": property, "email": "nobody@example.org"}));
        let by_phone = w.forgot_pin(json!({"property_id": property, "phone": "+15555550100"}));
        assert_eq!(known.0, 202, "{known:?}");
        assert_eq!(known, unknown, "the same answer whether or not the address is known");
        assert_eq!(known, by_phone);

        // Only the known address gets a message, with a new single-use PIN.
        let messages = w.deliveries(1);
        std::thread::sleep(std::time::Duration::from_secs(2));
        let messages_later = w.deliveries(1);
        assert_eq!(messages.len(), 1, "{messages:?}");
        assert_eq!(messages_later.len(), 1, "nothing for unknown addresses: {messages_later:?}");
        assert_eq!(messages[0]["to"], "dana@example.org");
        let pin = messages[0]["body"].as_str().and_then(pin_in).expect("a PIN in the email");

        let alice = w.phone("alice");
        w.walk_to(AT_PACKAGE_ROOM);
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"), "{report:?}");
        assert_eq!(w.keypad(&room, &pin), "granted");
        assert_eq!(w.keypad(&room, &pin), "denied:already_used");
    }
}
