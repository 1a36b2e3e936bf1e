//! The phone core against a real server: login, local policy checks, the
//! outbox offline and online, refusals, restarts, events. Bluetooth is in
//! `delivery.rs` and the kill test in `kill.rs` (separate processes).

use std::time::Duration;

use keyway_core::api::{CodeState, CodeStatus, GuestType};
use keyway_core::client::{Client, ClientConfig, ClientError, ClientEvent, NewCode, PendingOp};
use keyway_core::policy::Rule;
use keyway_core::schedule::{Schedule, Window};
use keyway_tests::fixture::{Fixture, FixtureOptions};

fn world() -> Fixture {
    Fixture::start(FixtureOptions::server_only()).expect("fixture")
}

fn client(f: &Fixture, dir: &std::path::Path) -> Client {
    let mut config = ClientConfig::new(&f.info.server_url, dir, "test phone");
    config.retry.attempts = 2;
    config.request_timeout = Duration::from_secs(10);
    Client::open(config).expect("open")
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The server's view of Alice's codes, straight from the API.
fn server_codes(f: &Fixture) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/codes", f.info.server_direct_url))
        .bearer_auth(&f.info.tokens["alice"])
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["codes"].as_array().unwrap().clone()
}

#[test]
fn a_resident_logs_in_and_sees_doors_and_every_violated_rule() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    assert!(matches!(
        phone.check_code("4821", &NewCode::resident()),
        Err(ClientError::NotLoggedIn)
    ));
    let session = rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    assert_eq!(
        session.user.unit_id.as_deref(),
        Some(f.info.units["4B"].as_str())
    );
    let doors = phone.doors().unwrap();
    let ids: Vec<&str> = doors.iter().map(|d| d.lock_id.as_str()).collect();
    assert!(ids.contains(&f.info.locks["unit_4b"].as_str()));
    assert!(ids.contains(&f.info.locks["entrance"].as_str()));
    assert!(
        ids.contains(&f.info.locks["package_room"].as_str()),
        "residents relay the package room's sealed jobs"
    );

    // 1234 is refused on the phone, with every rule, before any request.
    let err = rt
        .block_on(phone.pick_code("1234", NewCode::resident()))
        .unwrap_err();
    let rules: Vec<Rule> = err.violations().iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::Sequential, Rule::CommonPin]);
    assert_eq!(err.code(), "policy_violation");
    assert!(
        phone.outbox().unwrap().is_empty(),
        "a refused pick queues nothing"
    );
    // An affiliated number, and a custom code on the community door.
    let err = phone.check_code("1440", &NewCode::resident()).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::PropertyNumber)
    );
    let mut shared = NewCode::resident();
    shared.lock_ids = Some(vec![f.info.locks["entrance"].clone()]);
    let err = phone.check_code("4821", &shared).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::CustomNotAllowed)
    );
    assert!(matches!(
        phone.check_code("12a4", &NewCode::resident()),
        Err(ClientError::InvalidFormat(_))
    ));
}

#[test]
fn picks_and_generated_codes_go_pending_and_duplicates_are_caught_locally() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let mut events = phone.subscribe();

    let picked = rt
        .block_on(phone.pick_code("4821", NewCode::resident()))
        .unwrap();
    assert!(picked.server_id.is_some());
    assert_eq!(picked.value.as_deref(), Some("4821"));
    assert_eq!(
        picked.state_on(&f.info.locks["unit_4b"]),
        Some(CodeState::Pending)
    );
    assert!(phone.outbox().unwrap().is_empty());
    // The app saw it requested, then pending.
    let mut states = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ClientEvent::CodeChanged(code) = event
            && code.id == picked.id
        {
            states.push(code.state_on(&f.info.locks["unit_4b"]).unwrap());
        }
    }
    assert_eq!(states, vec![CodeState::Requested, CodeState::Pending]);

    // The same digits again: the phone knows they are on the door.
    let err = phone.check_code("4821", &NewCode::resident()).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::DuplicateOnLock)
    );

    let generated = rt
        .block_on(phone.generate_code(NewCode::resident()))
        .unwrap();
    assert_eq!(generated.value.as_ref().map(String::len), Some(4));
    assert_eq!(
        generated.state_on(&f.info.locks["entrance"]),
        Some(CodeState::Pending),
        "generated resident codes also go on the community door"
    );
    let window = Window::new(
        jiff::Timestamp::now(),
        jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48),
    )
    .unwrap();
    let guest = rt
        .block_on(phone.generate_code(NewCode::guest(
            GuestType::Temporary,
            Some(Schedule::Window(window)),
        )))
        .unwrap();
    assert_eq!(guest.guest_type, Some(GuestType::Temporary));
    assert!(matches!(guest.schedule, Schedule::Window(_)));
    let err = rt
        .block_on(phone.generate_code(NewCode::guest(GuestType::Recurring, None)))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");

    // Change, disable, enable, delete, each reflected at the server.
    let changed = rt
        .block_on(phone.change_code(&picked.id, Some("5930"), None))
        .unwrap();
    assert_eq!(changed.id, picked.id, "the id on the phone never changes");
    assert_eq!(changed.value.as_deref(), Some("5930"));
    let disabled = rt.block_on(phone.disable_code(&picked.id)).unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.status, CodeStatus::Disabled);
    let enabled = rt.block_on(phone.enable_code(&picked.id)).unwrap();
    assert!(enabled.enabled);
    rt.block_on(phone.delete_code(&guest.id)).unwrap();
    let at_server = server_codes(&f);
    assert_eq!(
        at_server.len(),
        2,
        "the deleted guest code is gone: {at_server:?}"
    );
    let server_picked = at_server
        .iter()
        .find(|c| c["id"] == picked.server_id.clone().unwrap().as_str())
        .unwrap();
    assert_eq!(server_picked["value"], "5930");
    assert_eq!(server_picked["enabled"], true);
    assert!(
        phone.code(&guest.id).is_err(),
        "a tombstone removes it on the phone"
    );
}

#[test]
fn offline_requests_wait_as_requested_and_go_out_once_on_sync() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();

    f.net.set_up(false);
    let picked = rt
        .block_on(phone.pick_code("6047", NewCode::resident()))
        .unwrap();
    assert_eq!(picked.server_id, None);
    assert_eq!(picked.value.as_deref(), Some("6047"));
    assert_eq!(
        picked.state_on(&f.info.locks["unit_4b"]),
        Some(CodeState::Requested)
    );
    assert_eq!(picked.pending, Some(PendingOp::Create));
    // Offline, a generated code on the unit door only is drawn on the phone.
    let mut unit_only = NewCode::resident();
    unit_only.lock_ids = Some(vec![f.info.locks["unit_4b"].clone()]);
    let drawn = rt.block_on(phone.generate_code(unit_only)).unwrap();
    let digits = drawn.value.clone().expect("drawn on the phone");
    assert_eq!(digits.len(), 4);
    // With the community door, only the server may draw: no digits yet.
    let waiting = rt
        .block_on(phone.generate_code(NewCode::resident()))
        .unwrap();
    assert_eq!(waiting.value, None);
    assert_eq!(
        waiting.state_on(&f.info.locks["entrance"]),
        Some(CodeState::Requested)
    );
    assert!(matches!(
        rt.block_on(phone.sync()),
        Err(ClientError::Network { .. })
    ));
    assert_eq!(phone.outbox().unwrap().len(), 3);
    assert_eq!(phone.is_online(), Some(false));
    // A restart keeps everything.
    drop(phone);
    let phone = client(&f, dir.path());
    assert_eq!(phone.outbox().unwrap().len(), 3);
    assert_eq!(
        phone.code(&picked.id).unwrap().value.as_deref(),
        Some("6047")
    );

    f.net.set_up(true);
    let report = rt.block_on(phone.sync()).unwrap();
    assert_eq!(report.sent, 3);
    assert!(phone.outbox().unwrap().is_empty());
    for id in [&picked.id, &drawn.id, &waiting.id] {
        let code = phone.code(id).unwrap();
        assert!(code.server_id.is_some());
        assert_eq!(
            code.state_on(&f.info.locks["unit_4b"]),
            Some(CodeState::Pending)
        );
        assert!(code.value.is_some());
    }
    assert_eq!(phone.code(&drawn.id).unwrap().value, Some(digits));
    // A second sync sends nothing again; the server holds each code once.
    assert_eq!(rt.block_on(phone.sync()).unwrap().sent, 0);
    assert_eq!(server_codes(&f).len(), 3);
}

#[test]
fn a_request_the_server_refuses_later_shows_as_failed_until_dismissed() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    // Offline, Alice picks digits; meanwhile another phone of hers takes them.
    f.net.set_up(false);
    let queued = rt
        .block_on(phone.pick_code("7315", NewCode::resident()))
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut other_config = ClientConfig::new(&f.info.server_direct_url, other_dir.path(), "tablet");
    other_config.retry.attempts = 1;
    let other = Client::open(other_config).unwrap();
    rt.block_on(other.login(&f.info.tokens["alice"])).unwrap();
    rt.block_on(other.pick_code("7315", NewCode::resident()))
        .unwrap();
    f.net.set_up(true);
    let report = rt.block_on(phone.sync()).unwrap();
    assert_eq!(report.refused, 1);
    let failed = phone.code(&queued.id).unwrap();
    assert_eq!(failed.status, CodeStatus::Failed);
    let failure = failed.failure.expect("failure shown");
    assert_eq!(failure.code, "policy_violation");
    assert!(
        failure
            .violations
            .iter()
            .any(|v| v.rule == Rule::DuplicateOnLock)
    );
    phone.dismiss_failure(&queued.id).unwrap();
    assert!(phone.code(&queued.id).is_err());
    assert!(phone.outbox().unwrap().is_empty());
    // Bob has no door: the server's refusal comes back as the call's error
    // and leaves nothing behind.
    let bob_dir = tempfile::tempdir().unwrap();
    let bob = client(&f, bob_dir.path());
    rt.block_on(bob.login(&f.info.tokens["bob"])).unwrap();
    let err = rt
        .block_on(bob.generate_code(NewCode::guest(GuestType::Permanent, None)))
        .unwrap_err();
    assert_eq!(err.code(), "no_locks", "{err}");
    assert!(bob.codes().unwrap().is_empty());
    assert!(bob.outbox().unwrap().is_empty());
}
