//! "How Do I Update or Customize My Access Codes?", end to end: a resident
//! generates and picks 4- and 6-digit codes (six only once the community
//! enables them) on the real phone core; a code stays Pending until the
//! phone is within range of the Bluetooth lock (real btleplug, simulated
//! BlueZ and radio), then turns Active and opens the keypad; a changed code
//! keeps the old one working until the phone reaches the lock. Each test
//! runs in its own process (one D-Bus system bus per process).

use keyway_api::CodeState;
use keyway_client::{ClientError, LocalCode, NewCode};
use keyway_codes::policy::Rule;
use keyway_testkit::world::{AT_HOME, AWAY, World};
use reqwest::Method;
use serde_json::json;

fn all(code: &LocalCode, state: CodeState) -> bool {
    !code.locks.is_empty() && code.locks.iter().all(|l| l.state == state)
}

fn rules(error: &ClientError) -> Vec<Rule> {
    error.violations().iter().map(|v| v.rule).collect()
}

fn enable_six_digits(w: &World) {
    w.ok(
        "mia",
        Method::PUT,
        "/v1/manage/policy",
        Some(json!({
            "six_digit_codes": true,
            "custom_codes": true,
            "affiliated_numbers": ["1440", "94110"],
            "one_time_pin_length": 6,
            "common_pins_builtin": true
        })),
    );
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 240000)]

    #[test]
    fn four_and_six_digit_codes_stay_pending_out_of_range_and_turn_active_in_range() {
        let w = World::start();
        let unit = w.lock("unit_4b");
        let entrance = w.lock("entrance");
        let alice = w.phone("alice");

        // Six digits are refused until the community enables them.
        let mut six = NewCode::resident();
        six.length = Some(6);
        let err = w.rt.block_on(alice.generate_code(six.clone())).unwrap_err();
        assert_eq!(rules(&err), [Rule::Length], "{err}");
        let err = w.rt.block_on(alice.pick_code("482915", NewCode::resident())).unwrap_err();
        assert_eq!(rules(&err), [Rule::Length], "{err}");
        assert!(alice.outbox().unwrap().is_empty(), "a refusal queues nothing");

        // Generate a Code: four digits, on the unit door and the entrance.
        let generated = w.rt.block_on(alice.generate_code(NewCode::resident())).unwrap();
        let value = generated.value.clone().unwrap();
        assert_eq!(value.len(), 4);
        assert!(all(&generated, CodeState::Pending), "{generated:?}");
        assert_eq!(generated.locks.len(), 2);
        // Pick a Code: a custom 4-digit code on the unit door; a duplicate
        // of the code already on the door is refused.
        let err = w.rt.block_on(alice.pick_code(&value, NewCode::resident())).unwrap_err();
        assert!(rules(&err).contains(&Rule::DuplicateOnLock), "{err}");
        let mine = if value == "5938" { "7260" } else { "5938" };
        let picked = w.rt.block_on(alice.pick_code(mine, NewCode::resident())).unwrap();
        assert_eq!(picked.state_on(&unit), Some(CodeState::Pending));
        assert_eq!(picked.state_on(&entrance), None, "custom codes stay off community doors");

        // Out of range: the phone hears the locks but does not deliver.
        w.walk_to(AWAY);
        let report = w.deliver(&alice);
        assert_ne!(World::outcome(&report, &unit).as_deref(), Some("delivered"), "{report:?}");
        assert!(all(&alice.code(&generated.id).unwrap(), CodeState::Pending));
        assert!(all(&alice.code(&picked.id).unwrap(), CodeState::Pending));
        assert_eq!(w.keypad(&unit, &value), "denied:unknown_code");

        // Within ~30 ft: delivered, active, the keypads open.
        w.walk_to(AT_HOME);
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &unit).as_deref(), Some("delivered"), "{report:?}");
        assert_eq!(World::outcome(&report, &entrance).as_deref(), Some("delivered"));
        assert!(all(&alice.code(&generated.id).unwrap(), CodeState::Active));
        assert!(all(&alice.code(&picked.id).unwrap(), CodeState::Active));
        assert_eq!(w.keypad(&unit, &value), "granted");
        assert_eq!(w.keypad(&entrance, &value), "granted");
        assert_eq!(w.keypad(&unit, mine), "granted");
        assert_eq!(w.keypad(&entrance, mine), "denied:unknown_code");

        // The community enables six-digit codes: generate and pick six.
        enable_six_digits(&w);
        w.rt.block_on(alice.sync()).unwrap();
        let long = w.rt.block_on(alice.generate_code(six)).unwrap();
        let long_value = long.value.clone().unwrap();
        assert_eq!(long_value.len(), 6);
        let six_pick = if long_value == "482915" { "739164" } else { "482915" };
        let custom = w.rt.block_on(alice.pick_code(six_pick, NewCode::resident())).unwrap();
        assert!(all(&custom, CodeState::Pending));
        w.deliver(&alice);
        assert!(all(&alice.code(&long.id).unwrap(), CodeState::Active));
        assert!(all(&alice.code(&custom.id).unwrap(), CodeState::Active));
        assert_eq!(w.keypad(&unit, &long_value), "granted");
        assert_eq!(w.keypad(&unit, six_pick), "granted");
    }

    #[test]
    fn a_changed_code_keeps_the_old_one_until_the_phone_reaches_the_lock() {
        let w = World::start();
        let unit = w.lock("unit_4b");
        let alice = w.phone("alice");
        let code = w.rt.block_on(alice.pick_code("5938", NewCode::resident())).unwrap();
        w.walk_to(AT_HOME);
        w.deliver(&alice);
        assert!(all(&alice.code(&code.id).unwrap(), CodeState::Active));

        // Alice updates her code away from home: Pending, the old one stays.
        w.walk_to(AWAY);
        let changed = w.rt.block_on(alice.change_code(&code.id, Some("6047"), None)).unwrap();
        assert_eq!(changed.value.as_deref(), Some("6047"));
        assert!(all(&changed, CodeState::Pending));
        assert!(changed.locks.iter().all(|l| l.previous_active));
        w.deliver(&alice);
        assert!(all(&alice.code(&code.id).unwrap(), CodeState::Pending), "still out of range");
        assert_eq!(w.keypad(&unit, "5938"), "granted", "the current code is not deleted yet");
        assert_eq!(w.keypad(&unit, "6047"), "denied:unknown_code");

        // Back within range: the swap lands in one job.
        w.walk_to(AT_HOME);
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &unit).as_deref(), Some("delivered"));
        let settled = alice.code(&code.id).unwrap();
        assert!(all(&settled, CodeState::Active));
        assert!(settled.locks.iter().all(|l| !l.previous_active));
        assert_eq!(w.keypad(&unit, "6047"), "granted");
        assert_eq!(w.keypad(&unit, "5938"), "denied:unknown_code");

        // A generated change, with the server drawing the digits.
        let drawn = w.rt.block_on(alice.change_code(&code.id, None, None)).unwrap();
        let drawn_value = drawn.value.clone().unwrap();
        assert_ne!(drawn_value, "6047");
        w.deliver(&alice);
        assert_eq!(w.keypad(&unit, &drawn_value), "granted");
        assert_eq!(w.keypad(&unit, "6047"), "denied:unknown_code");
    }
}
