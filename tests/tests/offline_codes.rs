//! Offline guest codes, end to end: a resident's phone core asks the real
//! server for a guest code that works offline; the simulated lock, which no
//! phone has visited since, opens for its digits at once (the phone carries
//! nothing); a delivery code opens once and is refused the second time; a
//! phone passing later relays the lock's events and the server shows the
//! code used. Each test runs in its own process (one D-Bus system bus per
//! process).

use keyway_api::{CodeState, CodeStatus, GuestType};
use keyway_client::NewCode;
use keyway_testkit::world::{AT_HOME, AWAY, World};

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 240000)]

    #[test]
    fn an_offline_delivery_code_opens_the_door_before_any_visit_once_and_the_next_visit_reports_it() {
        let w = World::start();
        let unit = w.lock("unit_4b");
        let alice = w.phone("alice");
        w.walk_to(AWAY);

        let mut new = NewCode::guest(GuestType::Delivery, None);
        new.offline = true;
        let code = w.rt.block_on(alice.generate_code(new)).expect("created");
        assert_eq!(code.status, CodeStatus::Active);
        assert!(code.locks.is_empty(), "no slot, no job: {code:?}");
        let offline = code.offline.iter().find(|o| o.lock_id == unit).expect("the unit door's");
        assert!(offline.one_time);
        assert_eq!(offline.state, CodeState::Active);
        let digits = offline.value.clone().expect("the resident sees the digits");
        assert_eq!(digits.len(), 8);
        // Nothing waits for a phone at the door.
        let door = alice.doors().expect("doors");
        let door = door.iter().find(|d| d.lock_id == unit).unwrap();
        assert!(!door.job_waiting && door.target_version.is_none(), "{door:?}");

        // The courier types it: the lock, unvisited, opens once.
        assert_eq!(w.keypad(&unit, &digits), "granted_offline");
        assert_eq!(w.keypad(&unit, &digits), "denied:already_used");
        // Another door has other digits.
        assert_eq!(w.keypad(&w.lock("entrance"), &digits), "denied:unknown_code");

        // Later a phone passes: the lock's events reach the server.
        w.walk_to(AT_HOME);
        let report = w.deliver(&alice);
        assert!(World::outcome(&report, &unit).is_some(), "{report:?}");
        w.rt.block_on(alice.sync()).expect("sync");
        let code = alice.code(&code.id).expect("the code");
        assert_eq!(code.status, CodeStatus::Used, "{code:?}");
        let offline = code.offline.iter().find(|o| o.lock_id == unit).unwrap();
        assert_eq!(offline.state, CodeState::Used);
        assert!(offline.first_used_at.is_some());
    }
}
