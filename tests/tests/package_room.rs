//! The package room's workflows from the product pages, end to end: the
//! manager's API on the real server, phones on the real phone core carrying
//! sealed jobs through btleplug to the simulated package-room lock, and its
//! keypad and key-card reader. "How to change your carrier access codes"; "Creating a PIN for a
//! Courier" (with QR code and key card), "Customizing a Courier or Staff
//! PIN" (refused when duplicate), "Deactivating a PIN", "Deleting a PIN"
//! (never reusable). Each test runs in its own process (one D-Bus system
//! bus per process).

use keyway_testkit::world::{AT_PACKAGE_ROOM, World, rules, state_on};
use reqwest::Method;
use serde_json::{Value, json};

fn carrier_code(w: &World, carrier_id: &str) -> Value {
    let carriers = w.ok("mia", Method::GET, "/v1/manage/carriers", None);
    carriers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == carrier_id)
        .map(|c| c["code"].clone())
        .unwrap_or(Value::Null)
}

fn code(w: &World, id: &str) -> Value {
    w.ok("mia", Method::GET, &format!("/v1/codes/{id}"), None)
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 240000)]

    #[test]
    fn changing_a_carrier_access_code_opens_with_the_new_one_only() {
        let w = World::start();
        let room = w.lock("package_room");

        // The page's rules: 4 digits, not repetitive, no leading 0, nothing
        // affiliated with the property. Every broken rule is listed.
        for (pick, expected) in [
            ("0481", vec!["leading_zero"]),
            ("7777", vec!["all_same_digits", "common_pin"]),
            ("1440", vec!["property_number"]),
            ("94110", vec!["length", "property_number"]),
        ] {
            let (status, problem) = w.call(
                "mia",
                Method::POST,
                "/v1/manage/carriers",
                Some(json!({"name": "UPS", "mode": "pick", "code": pick})),
            );
            assert_eq!(status, 422, "{pick}: {problem}");
            assert_eq!(problem["code"], "policy_violation");
            for rule in &expected {
                assert!(rules(&problem).contains(&(*rule).to_owned()), "{pick}: {problem}");
            }
        }
        let carriers = w.ok("mia", Method::GET, "/v1/manage/carriers", None);
        assert_eq!(carriers, json!([]), "a refusal creates nothing");

        let ups = w.ok(
            "mia",
            Method::POST,
            "/v1/manage/carriers",
            Some(json!({"name": "UPS", "mode": "generate"})),
        );
        let id = ups["id"].as_str().unwrap().to_owned();
        let first = ups["code"]["value"].as_str().unwrap().to_owned();
        assert_eq!(first.len(), 4);
        assert!(!first.starts_with('0'));
        assert_eq!(state_on(&ups["code"], &room), "pending");

        // A resident's phone relays the sealed job to the package room.
        let alice = w.phone("alice");
        w.walk_to(AT_PACKAGE_ROOM);
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"), "{report:?}");
        assert_eq!(state_on(&carrier_code(&w, &id), &room), "active");
        assert!(
            alice.codes().unwrap().iter().all(|c| c.value.as_deref() != Some(first.as_str())),
            "the resident never sees the carrier's code"
        );
        assert_eq!(w.keypad(&room, &first), "granted");

        // Change it: the manager picks 5938.
        let changed = w.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/carriers/{id}/code"),
            Some(json!({"mode": "pick", "code": "5938"})),
        );
        assert_eq!(changed["id"], ups["code"]["id"], "the code keeps its id");
        assert_eq!(changed["value"], "5938");
        assert_eq!(state_on(&changed, &room), "pending");
        // Until the lock confirms, the old code opens and the new one does not.
        assert_eq!(w.keypad(&room, &first), "granted");
        assert_eq!(w.keypad(&room, "5938"), "denied:unknown_code");
        let report = w.deliver(&alice);
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"));
        let settled = carrier_code(&w, &id);
        assert_eq!(state_on(&settled, &room), "active");
        assert_eq!(settled["locks"][0]["previous_active"], false);
        assert_eq!(w.keypad(&room, "5938"), "granted");
        assert_eq!(w.keypad(&room, &first), "denied:unknown_code");
    }

    #[test]
    fn courier_pins_are_created_customized_deactivated_reactivated_and_deleted() {
        let w = World::start();
        let room = w.lock("package_room");
        let courier = |name: &str| {
            w.ok("mia", Method::POST, "/v1/manage/couriers", Some(json!({"name": name})))["id"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let fedex = courier("FedEx route 7");
        let dhl = courier("DHL");
        // A courier without a PIN has no QR code.
        let (status, problem) = w.call(
            "mia",
            Method::GET,
            &format!("/v1/manage/couriers/{fedex}/qr?format=svg"),
            None,
        );
        assert_eq!((status, problem["code"].as_str()), (409, Some("no_active_pin")));

        // Generate PIN: six digits.
        let pin = w.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/couriers/{fedex}/pin"),
            Some(json!({"mode": "generate"})),
        );
        let pin_id = pin["id"].as_str().unwrap().to_owned();
        let generated = pin["value"].as_str().unwrap().to_owned();
        assert_eq!(generated.len(), 6);
        assert_eq!(pin["kind"], "courier");
        assert_eq!(state_on(&pin, &room), "pending");
        let dhl_pin = w.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/couriers/{dhl}/pin"),
            Some(json!({"mode": "pick", "code": "583920"})),
        );
        assert_eq!(dhl_pin["value"], "583920");

        // Customizing: the system confirms it is not a duplicate.
        let (status, problem) = w.call(
            "mia",
            Method::PUT,
            &format!("/v1/manage/couriers/{fedex}/pin"),
            Some(json!({"mode": "pick", "code": "583920"})),
        );
        assert_eq!(status, 422, "{problem}");
        assert_eq!(rules(&problem), ["duplicate_on_lock"], "{problem}");
        let custom = w.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/couriers/{fedex}/pin"),
            Some(json!({"mode": "pick", "code": "604817"})),
        );
        assert_eq!(custom["id"], pin_id.as_str());
        assert_eq!(custom["value"], "604817");

        // The QR code (keyway:courier:<id>:<pin>) as SVG and PNG.
        let svg = reqwest::blocking::Client::new()
            .get(format!("{}/v1/manage/couriers/{fedex}/qr?format=svg", w.f.info.server_direct_url))
            .bearer_auth(&w.f.info.tokens["mia"])
            .send()
            .unwrap();
        assert_eq!(svg.status().as_u16(), 200);
        assert!(svg.text().unwrap().contains("<svg"));
        let png = reqwest::blocking::Client::new()
            .get(format!("{}/v1/manage/couriers/{fedex}/qr?format=png", w.f.info.server_direct_url))
            .bearer_auth(&w.f.info.tokens["mia"])
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"));
        // A key card is assigned with the courier's PIN, never without it.
        let (status, problem) = w.call(
            "mia",
            Method::POST,
            &format!("/v1/manage/couriers/{fedex}/key-card"),
            Some(json!({"pin": "583920", "key_card_id": "card-0042"})),
        );
        assert_eq!((status, problem["code"].as_str()), (422, Some("pin_mismatch")));
        let carded = w.ok(
            "mia",
            Method::POST,
            &format!("/v1/manage/couriers/{fedex}/key-card"),
            Some(json!({"pin": "604817", "key_card_id": "card-0042"})),
        );
        assert_eq!(carded["key_card_id"], "card-0042");

        // Staff carry the jobs; both PINs open the package room.
        let sam = w.phone("sam");
        w.walk_to(AT_PACKAGE_ROOM);
        let report = w.deliver(&sam);
        assert_eq!(World::outcome(&report, &room).as_deref(), Some("delivered"));
        assert_eq!(state_on(&code(&w, &pin_id), &room), "active");
        assert_eq!(w.keypad(&room, "604817"), "granted");
        assert_eq!(w.keypad(&room, "583920"), "granted");
        assert_eq!(w.keypad(&room, &generated), "denied:unknown_code", "replaced by the custom PIN");
        // The key card came along with the PIN. (Every refusal counts toward
        // the door's lockout, so this test spends them sparingly.)
        assert_eq!(w.card(&room, "card-0042"), "granted");

        // Deactivate: kept, refused at the keypad once the lock confirms.
        let disabling = w.ok("mia", Method::POST, &format!("/v1/codes/{pin_id}/disable"), Some(json!({})));
        assert_eq!(state_on(&disabling, &room), "disabling");
        assert_eq!(w.keypad(&room, "604817"), "granted", "until the lock confirms");
        w.deliver(&sam);
        assert_eq!(state_on(&code(&w, &pin_id), &room), "disabled");
        assert_eq!(w.keypad(&room, "604817"), "denied:disabled");
        // Reactivate.
        w.ok("mia", Method::POST, &format!("/v1/codes/{pin_id}/enable"), Some(json!({})));
        w.deliver(&sam);
        assert_eq!(state_on(&code(&w, &pin_id), &room), "active");
        assert_eq!(w.keypad(&room, "604817"), "granted");
        assert_eq!(w.card(&room, "card-0042"), "granted", "the card follows the PIN");

        // Delete: gone from the lock, and never usable again at the property.
        let removing = w.ok("mia", Method::DELETE, &format!("/v1/codes/{pin_id}"), None);
        assert_eq!(state_on(&removing, &room), "removing");
        w.deliver(&sam);
        assert_eq!(w.keypad(&room, "604817"), "denied:unknown_code");
        assert_eq!(w.card(&room, "card-0042"), "denied:unknown_card", "the card left with the PIN");
        for courier in [&fedex, &dhl] {
            let (status, problem) = w.call(
                "mia",
                Method::PUT,
                &format!("/v1/manage/couriers/{courier}/pin"),
                Some(json!({"mode": "pick", "code": "604817"})),
            );
            assert_eq!(status, 422, "{problem}");
            assert!(rules(&problem).contains(&"deleted_pin_reuse".to_owned()), "{problem}");
        }
        assert_eq!(w.keypad(&room, "583920"), "granted", "the other courier is untouched");
    }
}
