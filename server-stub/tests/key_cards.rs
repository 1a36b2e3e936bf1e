//! Couriers' key cards on the locks, against the real server and the real
//! lock firmware: a card assigned through the API reaches the package room
//! with the courier's PIN as a slot holding the card's key (never its id),
//! follows the PIN's enabled state, is replaced by a reassignment and leaves
//! with the PIN; and as an attacker would try it: another property's doors,
//! a resident assigning a card, one card for two couriers.

mod support;

use jiff::Timestamp;
use keyway_api::decode_bytes;
use keyway_codes::{AccessPoint, CodeKind};
use keyway_lock::{DenyReason, Entry, Lock, LockConfig};
use keyway_protocol::provisioning::ProvisioningFile;
use keyway_protocol::{CardKey, Credential, LockKeys, Op};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, visit};

/// A courier with a PIN at the fixture's property; (courier id, PIN id).
fn courier(f: &Fixture, token: &str, name: &str, pin: &str) -> (String, String) {
    let courier = f.ok(
        token,
        Method::POST,
        "/v1/manage/couriers",
        json!({ "name": name }),
    );
    let id = courier["id"].as_str().unwrap().to_owned();
    let code = f.ok(
        token,
        Method::PUT,
        &format!("/v1/manage/couriers/{id}/pin"),
        json!({"mode": "pick", "code": pin}),
    );
    (id, code["id"].as_str().unwrap().to_owned())
}

fn assign(f: &Fixture, token: &str, courier: &str, pin: &str, card: &str) -> (StatusCode, Value) {
    f.write(
        token,
        Method::POST,
        &format!("/v1/manage/couriers/{courier}/key-card"),
        json!({ "pin": pin, "key_card_id": card }),
    )
}

fn card(lock: &mut Lock, card_id: &str) -> Entry {
    lock.present_card(card_id, Timestamp::now())
}

fn denied(reason: DenyReason) -> Entry {
    Entry::Denied { reason }
}

/// How many slots of `lock` hold a key card.
fn card_slots(lock: &Lock) -> usize {
    let slots = &lock.state().slots;
    slots
        .iter()
        .filter(|(_, s)| s.entry.credential.card().is_some())
        .count()
}

/// The keys of a provisioned lock of `file` (in the fixture's directory).
fn keys(f: &Fixture, file: &str, lock_id: &str) -> (LockKeys, ProvisioningFile) {
    let text = std::fs::read_to_string(f.dir.path().join(file)).unwrap();
    let file = ProvisioningFile::parse(&text).unwrap();
    let lock = file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == lock_id)
        .unwrap();
    (LockKeys::derive(&lock.root_key, lock.lock_id), file)
}

#[test]
fn a_key_card_rides_on_the_couriers_pin_to_the_package_room() {
    let f = Fixture::new();
    let (mia, sam) = (f.login("mia", "desk"), f.login("sam", "desk"));
    let (fedex, pin_id) = courier(&f, &mia, "FedEx route 7", "604817");
    let mut room = f.firmware(&f.package_room);
    visit(&f, &sam, &mut room);

    let (status, carded) = assign(&f, &sam, &fedex, "604817", "  card-0042 ");
    assert_eq!(status, StatusCode::OK, "{carded}");
    assert_eq!(carded["key_card_id"], "card-0042", "trimmed");
    assert_eq!(carded["pin"]["locks"].as_array().unwrap().len(), 1);
    assert_eq!(
        carded["pin"]["locks"][0]["state"], "active",
        "the PIN's own state"
    );
    assert_eq!(
        card(&mut room, "card-0042"),
        denied(DenyReason::UnknownCard)
    );

    // The job carries the card's key, never its id, as a courier's slot.
    let (keys, _) = keys(&f, "maple.json", &f.package_room);
    let delivered = visit(&f, &sam, &mut room);
    let sealed = decode_bytes(delivered.answer["jobs"][0].as_str().unwrap()).unwrap();
    let job = keys.open_job(&sealed).unwrap();
    let body = job.encode();
    assert!(!body.windows(9).any(|w| w == b"card-0042"));
    let key = CardKey::of("card-0042").unwrap();
    let put = job.ops.iter().find_map(|op| match op {
        Op::Put { entry, .. } => Some(entry.clone()),
        _ => None,
    });
    let put = put.expect("a put of the card");
    assert_eq!(put.credential, Credential::Card(key));
    assert_eq!(
        (put.kind, put.enabled, put.one_time),
        (CodeKind::Courier, true, false)
    );
    assert!(
        !serde_json::to_string(room.state())
            .unwrap()
            .contains("card-0042")
    );

    // The reader opens for it, not for another card; the PIN still opens.
    let granted = |e: Entry| matches!(e, Entry::Granted { .. });
    assert!(granted(card(&mut room, "card-0042")));
    assert_eq!(
        card(&mut room, "card-0043"),
        denied(DenyReason::UnknownCard)
    );
    assert!(granted(
        room.enter_code("604817", Timestamp::now()).unwrap()
    ));
    // Other doors never get a courier's card.
    let mut entrance = f.firmware(&f.entrance);
    visit(&f, &sam, &mut entrance);
    assert_eq!(card_slots(&entrance), 0);

    // The uses reach the server's audit log by slot, without the card.
    visit(&f, &sam, &mut room);
    let (_, audit) = f.get(&mia, &format!("/v1/locks/{}/audit", f.package_room));
    let text = audit.to_string();
    assert!(
        text.contains("card_used") && text.contains("wrong_card"),
        "{text}"
    );
    assert!(!text.contains("card-004"), "{text}");

    // The PIN's disable and enable take the card along.
    f.ok(
        &mia,
        Method::POST,
        &format!("/v1/codes/{pin_id}/disable"),
        json!({}),
    );
    visit(&f, &sam, &mut room);
    assert_eq!(card(&mut room, "card-0042"), denied(DenyReason::Disabled));
    f.ok(
        &mia,
        Method::POST,
        &format!("/v1/codes/{pin_id}/enable"),
        json!({}),
    );
    visit(&f, &sam, &mut room);
    assert!(granted(card(&mut room, "card-0042")));

    // New digits for the PIN leave the card's slot alone.
    f.ok(
        &mia,
        Method::PUT,
        &format!("/v1/manage/couriers/{fedex}/pin"),
        json!({"mode": "pick", "code": "715294"}),
    );
    visit(&f, &sam, &mut room);
    assert!(granted(card(&mut room, "card-0042")));
    assert!(granted(
        room.enter_code("715294", Timestamp::now()).unwrap()
    ));

    // Reassigning replaces the card: one card slot, the new card.
    let (status, _) = assign(&f, &sam, &fedex, "715294", "card-0077");
    assert_eq!(status, StatusCode::OK);
    assert!(
        granted(card(&mut room, "card-0042")),
        "until the lock confirms"
    );
    visit(&f, &sam, &mut room);
    assert_eq!(
        card(&mut room, "card-0042"),
        denied(DenyReason::UnknownCard)
    );
    assert!(granted(card(&mut room, "card-0077")));
    assert_eq!(card_slots(&room), 1);
    // The same card again changes nothing on the lock.
    let version = room.state().version;
    assert_eq!(
        assign(&f, &sam, &fedex, "715294", "card-0077").0,
        StatusCode::OK
    );
    visit(&f, &sam, &mut room);
    assert_eq!(room.state().version, version);

    // Deleting the PIN takes the card off the lock and off the courier.
    f.ok(
        &mia,
        Method::DELETE,
        &format!("/v1/codes/{pin_id}"),
        json!({}),
    );
    visit(&f, &sam, &mut room);
    // That is the fifth refusal at this door: the lockout it starts counts
    // cards and codes alike.
    let entry = card(&mut room, "card-0077");
    assert!(matches!(entry, Entry::LockedOut { .. }), "{entry:?}");
    let later = Timestamp::now() + jiff::SignedDuration::from_mins(2);
    assert_eq!(
        room.present_card("card-0077", later),
        denied(DenyReason::UnknownCard)
    );
    assert_eq!(card_slots(&room), 0);
    let (_, couriers) = f.get(&mia, "/v1/manage/couriers");
    assert_eq!(couriers[0]["key_card_id"], Value::Null);

    let logs = f.server().log_lines().join("\n");
    assert!(!logs.contains("card-00"), "no card id in the server's logs");
}

#[test]
fn a_card_lands_only_on_its_own_propertys_locks_and_on_no_second_courier() {
    let f = Fixture::new();
    let (mia, zed) = (f.login("mia", "desk"), f.login("zed", "desk"));
    let spec = keyway_server::admin::LockSpec::new("Oak packages", AccessPoint::PackageRoom, None);
    let oak_room = f
        .admin()
        .lock(&f.other_property, &spec, "oak.json")
        .unwrap()
        .lock_id;
    let (fedex, _) = courier(&f, &mia, "FedEx", "604817");
    let (dhl, _) = courier(&f, &mia, "DHL", "583920");
    assert_eq!(
        assign(&f, &mia, &fedex, "604817", "card-0042").0,
        StatusCode::OK
    );

    // Zed, Oak Tower's manager, cannot reach Maple Court's courier.
    let (status, problem) = assign(&f, &zed, &fedex, "604817", "card-0099");
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    // Maple Court's card is not on Oak's package room.
    let (oak_keys, oak_file) = keys(&f, "oak.json", &oak_room);
    let provisioned = oak_file
        .locks
        .iter()
        .find(|l| l.lock_id.to_string() == oak_room);
    let mut oak = Lock::new(
        LockConfig::from(provisioned.unwrap()),
        &provisioned.unwrap().root_key,
    );
    visit(&f, &zed, &mut oak);
    assert_eq!(card(&mut oak, "card-0042"), denied(DenyReason::UnknownCard));
    assert_eq!(oak.state().slots.len(), 0);
    // Oak Tower's own courier may hold a card of that id: only its doors get it.
    let (oak_courier, _) = courier(&f, &zed, "Oak courier", "730195");
    assert_eq!(
        assign(&f, &zed, &oak_courier, "730195", "card-0042").0,
        StatusCode::OK
    );
    let delivered = visit(&f, &zed, &mut oak);
    let sealed = decode_bytes(delivered.answer["jobs"][0].as_str().unwrap()).unwrap();
    assert_eq!(
        oak_keys.open_job(&sealed).unwrap().ops.len(),
        2,
        "the PIN and the card"
    );
    assert!(matches!(card(&mut oak, "card-0042"), Entry::Granted { .. }));
    let mut room = f.firmware(&f.package_room);
    visit(&f, &mia, &mut room);
    assert_eq!(card_slots(&room), 1, "Maple Court's one card");

    // A card another courier of the property holds is refused, not sent to
    // the lock (which would refuse the whole job).
    let (status, problem) = assign(&f, &mia, &dhl, "583920", "card-0042");
    assert_eq!(
        (status, problem["code"].as_str()),
        (StatusCode::CONFLICT, Some("key_card_taken"))
    );
    // A resident cannot assign one, even knowing the PIN.
    let alice = f.login("alice", "phone");
    let (status, _) = assign(&f, &alice, &dhl, "583920", "card-0055");
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Ids no reader sends are refused before anything is looked at.
    for bad in ["", "   ", "card\n0042", &"x".repeat(65)] {
        let (status, problem) = assign(&f, &mia, &dhl, "583920", bad);
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}: {problem}");
    }
    let (_, couriers) = f.get(&mia, "/v1/manage/couriers");
    let dhl_view = couriers
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == dhl.as_str());
    assert_eq!(dhl_view.unwrap()["key_card_id"], Value::Null);
    visit(&f, &mia, &mut room);
    assert_eq!(card_slots(&room), 1);
}
