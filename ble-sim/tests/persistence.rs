//! A restarted simulator resumes every lock from its state file, and a power
//! cycle keeps what was committed.

use keyway_ble_sim::harness;
use keyway_ble_sim::radio::RadioConfig;
use keyway_ble_sim::sim::Sim;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_lock::Entry;
use keyway_protocol::{Op, SlotEntry};
use keyway_testkit::standalone;

#[test]
fn a_restarted_simulator_resumes_each_lock() {
    let dir = tempfile::tempdir().unwrap();
    let lock = standalone::test_lock("Unit 5", true);
    let id = lock.lock_id.to_string();
    let mut config = standalone::test_config(vec![(lock.clone(), 1.0)], RadioConfig::default());
    config.state_dir = Some(dir.path().to_owned());
    let ops = vec![Op::Put {
        slot: 3,
        entry: SlotEntry {
            credential: keyway_protocol::Credential::Code(Code::parse("9471").unwrap()),
            kind: CodeKind::Guest,
            schedule: Schedule::Always,
            enabled: true,
            one_time: true,
        },
    }];
    {
        let sim = Sim::new(&config).unwrap();
        harness::deliver_directly(&sim, &lock, ops, jiff::SignedDuration::from_hours(1)).unwrap();
        sim.advance_clock(&id, 3600).unwrap();
        assert!(matches!(
            sim.enter_code(&id, "9471").unwrap(),
            Some(Entry::Granted { consumed: true, .. })
        ));
    }
    let sim = Sim::new(&config).unwrap();
    let view = sim.lock(&id).unwrap();
    assert_eq!(view.version, 1);
    assert_eq!(view.slots.len(), 1);
    assert!(view.slots[0].consumed, "the one-time code stays used");
    assert_eq!(
        view.clock.as_second(),
        standalone::test_epoch().as_second() + 3600
    );
    assert_eq!(view.audit.len(), 2, "{:?}", view.audit);
    sim.power(&id, true, true).unwrap();
    let view = sim.lock(&id).unwrap();
    assert_eq!((view.version, view.audit.len()), (1, 3));
    // Only the state file is in the directory: no temporary files left behind.
    let files: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(files, [std::ffi::OsString::from(format!("lock-{id}.json"))]);
}
