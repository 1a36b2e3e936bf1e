//! Delivery through the real btleplug, against the simulated BlueZ and the
//! simulated locks. The test plays the server (`keyway_ble_sim::played`): it
//! issues challenges, checks statuses, seals jobs for the lock's session and
//! opens receipts. Each test runs in its own process (rusty-fork) with its own
//! dbus-daemon on a private socket in a temporary directory: libdbus keeps
//! one system bus address per process.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use keyway_ble_sim::harness::Harness;
use keyway_ble_sim::played::{Plan, PlayedServer};
use keyway_ble_sim::radio::{CutPoint, Faults, Position, PowerCut, RadioConfig};
use keyway_ble_sim::scenario::event_type;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_delivery::ble::BleTransport;
use keyway_delivery::{
    Backoff, DeliveryConfig, DeliveryEngine, DeliveryFailure, DeliveryOutcome, LockSighting,
    LockTransport, TransportError, VisitReport,
};
use keyway_lock::{DenyReason, Entry};
use keyway_protocol::digest_of;
use keyway_protocol::frame::frame_count;
use keyway_protocol::provisioning::ProvisionedLock;
use keyway_protocol::{ErrorCode, Message, Op, Outcome, Receipt, SlotEntry};
use keyway_testkit::standalone;

/// A simulated lock 2 m from the phone, served on this process's bus, a
/// btleplug transport, and the played server.
struct Rig {
    h: Harness,
    transport: Arc<BleTransport>,
    lock: ProvisionedLock,
    server: PlayedServer,
    /// The server's idea of the lock's table.
    table: BTreeMap<u16, SlotEntry>,
    version: u32,
}

fn forked<F: std::future::Future<Output = ()>>(body: impl FnOnce(String) -> F) {
    standalone::on_system_bus(body).expect("dbus-daemon runs");
}

async fn rig(address: &str, radio: RadioConfig) -> Rig {
    let (h, lock) = standalone::one_lock(address, "Unit 7", 2.0, radio)
        .await
        .unwrap();
    let transport = Arc::new(h.transport().await.unwrap());
    let server = h.played_server();
    Rig {
        h,
        transport,
        lock,
        server,
        table: BTreeMap::new(),
        version: 0,
    }
}

fn config(attempts: u32) -> DeliveryConfig {
    DeliveryConfig {
        scan_time: Duration::from_millis(150),
        connect_timeout: Duration::from_secs(5),
        response_timeout: Duration::from_secs(5),
        attempts,
        backoff: Backoff {
            initial: Duration::from_millis(20),
            max: Duration::from_millis(100),
            jitter: 0.5,
        },
        ..DeliveryConfig::default()
    }
}

fn entry(code: &str, one_time: bool) -> SlotEntry {
    SlotEntry {
        credential: keyway_protocol::Credential::Code(Code::parse(code).unwrap()),
        kind: if one_time {
            CodeKind::OneTime
        } else {
            CodeKind::Resident
        },
        schedule: Schedule::Always,
        enabled: true,
        one_time,
    }
}

/// `n` puts of distinct 6-digit codes; `salt` varies the codes between jobs.
fn puts(n: u16, salt: u32) -> Vec<Op> {
    (0..n)
        .map(|slot| Op::Put {
            slot,
            entry: entry(
                &format!(
                    "{:06}",
                    100_000 + (salt * 7_919 + u32::from(slot) * 104_729) % 900_000
                ),
                false,
            ),
        })
        .collect()
}

impl Rig {
    fn id(&self) -> String {
        self.lock.lock_id.to_string()
    }

    fn engine(&self, attempts: u32) -> DeliveryEngine {
        DeliveryEngine::new(self.transport.clone(), config(attempts))
    }

    /// What the next visits get.
    fn plan(&self, plan: Plan) {
        self.server.plan(self.lock.lock_id, plan);
    }

    async fn visit(&self, engine: &DeliveryEngine) -> VisitReport {
        let seen = self.sighting().await;
        engine.visit(&seen, &self.server).await
    }

    fn open(&self, report: &VisitReport) -> Vec<Receipt> {
        assert!(
            matches!(report.outcome, DeliveryOutcome::Delivered { .. }),
            "not delivered: {report:?}"
        );
        self.server
            .receipts(self.lock.lock_id, &report.outcome)
            .unwrap()
    }

    /// Applies ops to the server's model of the table.
    fn expect_applied(&mut self, ops: &[Op]) {
        for op in ops {
            match op {
                Op::Put { slot, entry } => {
                    self.table.insert(*slot, entry.clone());
                }
                Op::Remove { slot } => {
                    self.table.remove(slot);
                }
                _ => unreachable!("tests only put and remove"),
            }
        }
        self.version += 1;
    }

    fn expected_digest(&self) -> String {
        hex(&digest_of(self.table.iter().map(|(s, e)| (*s, e))))
    }

    fn view(&self) -> keyway_ble_sim::sim::LockView {
        self.h.sim.lock(&self.id()).unwrap()
    }

    fn events(&self, kind: &str) -> usize {
        self.view()
            .audit
            .iter()
            .filter(|e| event_type(e) == kind)
            .count()
    }

    async fn sighting(&self) -> LockSighting {
        self.server
            .sighting(&self.engine(1), self.lock.lock_id)
            .await
            .unwrap()
            .expect("the lock is heard and recognised")
    }
}

/// Waits until BlueZ has no device left (temporary devices expire).
async fn gone(h: &Harness) {
    for _ in 0..100 {
        if h.bluez().devices().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("devices never expired: {:?}", h.bluez().devices());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// A sealed job with byte `i` flipped.
fn flip(i: usize) -> keyway_ble_sim::played::Mutate {
    Arc::new(move |mut sealed: Vec<u8>| {
        if let Some(b) = sealed.get_mut(i) {
            *b ^= 0xff;
        }
        sealed
    })
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 120000)]

    #[test]
    fn a_visit_carries_twenty_changes_in_one_connection_and_two_round_trips() {
        forked(|bus| async move {
            let mut rig = rig(&bus, RadioConfig::default()).await;
            let ops = puts(20, 1);
            rig.plan(Plan::seal(ops.clone()));
            let report = rig.visit(&rig.engine(1)).await;
            let receipts = rig.open(&report);
            assert_eq!(receipts.len(), 1);
            assert_eq!(receipts[0].outcome, Outcome::Applied);
            let (job, _) = rig.server.last_job(rig.lock.lock_id).unwrap();
            assert_eq!(receipts[0].reply_to, keyway_protocol::ReplyTo::Job(job.job_id));
            rig.expect_applied(&ops);
            assert_eq!(hex(&receipts[0].digest), rig.expected_digest());
            let view = rig.view();
            assert_eq!(view.version, 1);
            assert_eq!(view.slots.len(), 20);
            assert_eq!(view.stats.connections, 1, "one connection");
            assert_eq!(view.stats.round_trips, 2, "status, then jobs");
        });
    }

    #[test]
    fn a_lock_with_nothing_to_do_is_checked_in_one_round_trip() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            let report = rig.visit(&rig.engine(1)).await;
            assert_eq!(report.outcome, DeliveryOutcome::Checked);
            let view = rig.view();
            assert_eq!((view.stats.connections, view.stats.round_trips), (1, 1));
            assert_eq!(view.version, 0);
            assert_eq!(rig.server.statuses(rig.lock.lock_id).len(), 1);
        });
    }

    #[test]
    fn any_single_flipped_byte_in_a_sealed_job_is_rejected_and_the_lock_unchanged() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            let engine = rig.engine(1);
            let ops = puts(3, 3);
            rig.plan(Plan::seal(ops.clone()));
            let len = {
                // One genuine seal to learn the envelope's length.
                let report = rig.visit(&engine).await;
                assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied);
                rig.server.last_job(rig.lock.lock_id).unwrap().1.len()
            };
            let before = rig.view();
            for i in 0..len {
                rig.plan(Plan::Seal { ops: puts(3, 30), expires_in: 3_600, mutate: Some(flip(i)) });
                let report = rig.visit(&engine).await;
                match &report.outcome {
                    // The lock id bytes: the phone will not route it to this lock.
                    DeliveryOutcome::Failed(DeliveryFailure::InvalidJobs { .. }) => {
                        assert!((1..9).contains(&i), "byte {i}");
                    }
                    DeliveryOutcome::Failed(DeliveryFailure::LockRefused { error }) => {
                        assert!(
                            matches!(error, ErrorCode::BadSeal | ErrorCode::MalformedMessage),
                            "byte {i}: {error:?}"
                        );
                    }
                    other => panic!("byte {i}: {other:?}"),
                }
            }
            let after = rig.view();
            assert_eq!((after.version, &after.digest), (before.version, &before.digest));
            assert_eq!(rig.events("job_applied"), 1, "not one more: {:?}", after.audit);
            // The genuine job still applies.
            rig.plan(Plan::seal(puts(3, 30)));
            let report = rig.visit(&engine).await;
            assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied);
        });
    }

    #[test]
    fn a_job_from_an_earlier_visit_has_no_effect_soon_or_late() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            let engine = rig.engine(1);
            rig.plan(Plan::seal(puts(2, 4)));
            let first = rig.visit(&engine).await;
            assert_eq!(rig.open(&first)[0].outcome, Outcome::Applied);
            rig.plan(Plan::seal(vec![Op::Remove { slot: 0 }]));
            let second = rig.visit(&engine).await;
            let DeliveryOutcome::Delivered { receipts: original } = &second.outcome else {
                panic!("{second:?}");
            };
            let (_, kept) = rig.server.last_job(rig.lock.lock_id).unwrap();
            let state = rig.view();

            // Right away: the lock remembers the job and answers with the very
            // same receipt, doing nothing.
            rig.plan(Plan::Replay);
            let replay = rig.visit(&engine).await;
            let DeliveryOutcome::Delivered { receipts } = &replay.outcome else {
                panic!("{replay:?}");
            };
            assert_eq!(receipts, original, "byte for byte the first receipt");
            let now = rig.view();
            assert_eq!((now.version, &now.digest), (state.version, &state.digest));
            assert_eq!(rig.events("job_applied"), 2);

            // Long after (beyond the lock's memory of recent receipts): refused,
            // it was sealed for another session.
            for salt in 0..18 {
                rig.plan(Plan::seal(vec![Op::Remove { slot: 9 + salt }]));
                assert_eq!(rig.visit(&engine).await.outcome.code(), "delivered");
            }
            let state = rig.view();
            rig.plan(Plan::Envelopes(vec![kept]));
            let replay = rig.visit(&rig.engine(3)).await;
            assert_eq!(replay.outcome.code(), "lock_refused", "{replay:?}");
            assert_eq!(replay.attempts, 3, "every attempt a new visit, each refused");
            let now = rig.view();
            assert_eq!((now.version, &now.digest), (state.version, &state.digest));
            assert_eq!(rig.events("job_applied"), 20);
        });
    }

    #[test]
    fn cutting_the_link_after_every_frame_leaves_all_or_none_and_a_retry_completes_once() {
        forked(|bus| async move {
            // MTU 23: the 20-operation job takes many frames.
            let radio = RadioConfig { mtu: 23, ..RadioConfig::default() };
            let mut rig = rig(&bus, radio).await;
            let once = rig.engine(1);
            let retrying = rig.engine(4);
            // The status request's frames, then the job's.
            let status_frames = frame_count(
                Message::StatusRequest { challenge: [0; 16], since_seq: 0 }.encode().len(),
                23,
            ) as u32;
            rig.plan(Plan::seal(puts(20, 0)));
            let probe = rig.visit(&once).await;
            rig.open(&probe);
            rig.expect_applied(&puts(20, 0));
            let job = rig.server.last_job(rig.lock.lock_id).unwrap().1;
            let frames = status_frames + frame_count(Message::Jobs(vec![job]).encode().len(), 23) as u32;
            assert!(frames > 10, "{frames} frames");
            for cut in 1..=frames {
                let ops = puts(20, cut);
                let base = rig.version;
                let before = rig.view();
                let applied_before = rig.events("job_applied");
                rig.plan(Plan::seal(ops.clone()));
                rig.h.sim.set_faults(&rig.id(), Faults { drop_after_frames: Some(cut), ..Faults::default() }).unwrap();

                let report = rig.visit(&once).await;
                assert_eq!(
                    report.outcome,
                    DeliveryOutcome::Failed(DeliveryFailure::ConnectionLost),
                    "cut after frame {cut}"
                );
                let mid = rig.view();
                let mut expected = rig.table.clone();
                for op in &ops {
                    if let Op::Put { slot, entry } = op {
                        expected.insert(*slot, entry.clone());
                    }
                }
                let after_digest = hex(&digest_of(expected.iter().map(|(s, e)| (*s, e))));
                if cut < frames {
                    assert_eq!((mid.version, &mid.digest), (base, &before.digest), "none, cut {cut}");
                } else {
                    assert_eq!((mid.version, &mid.digest), (base + 1, &after_digest), "all, cut {cut}");
                }

                // The next visit finds the lock where it is and completes, once.
                let report = rig.visit(&retrying).await;
                if cut < frames {
                    assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied, "cut {cut}");
                } else {
                    assert_eq!(report.outcome, DeliveryOutcome::Checked, "cut {cut}");
                }
                rig.expect_applied(&ops);
                let done = rig.view();
                assert_eq!(done.version, base + 1);
                assert_eq!(done.digest, rig.expected_digest());
                assert_eq!(rig.events("job_applied"), applied_before + 1, "exactly once, cut {cut}");
            }
        });
    }

    #[test]
    fn a_power_cut_mid_job_leaves_all_or_none_and_a_retry_completes_once() {
        forked(|bus| async move {
            let radio = RadioConfig { mtu: 23, ..RadioConfig::default() };
            let mut rig = rig(&bus, radio).await;
            let once = rig.engine(1);
            let retrying = rig.engine(4);
            let status_frames = frame_count(
                Message::StatusRequest { challenge: [0; 16], since_seq: 0 }.encode().len(),
                23,
            ) as u32;
            rig.plan(Plan::seal(puts(20, 0)));
            rig.open(&rig.visit(&once).await);
            rig.expect_applied(&puts(20, 0));
            let job = rig.server.last_job(rig.lock.lock_id).unwrap().1;
            let frames = status_frames + frame_count(Message::Jobs(vec![job]).encode().len(), 23) as u32;
            for (after_frames, at) in [
                (status_frames + 1, CutPoint::BeforeCommit),
                (frames, CutPoint::BeforeCommit),
                (frames, CutPoint::AfterCommit),
            ] {
                let ops = puts(20, after_frames + at as u32);
                let base = rig.version;
                rig.plan(Plan::seal(ops.clone()));
                rig.h.sim.set_faults(
                    &rig.id(),
                    Faults { power_cut: Some(PowerCut { after_frames, at }), ..Faults::default() },
                ).unwrap();
                let report = rig.visit(&once).await;
                assert_eq!(report.outcome.code(), "connection_lost");
                let whole = at == CutPoint::AfterCommit;
                assert_eq!(rig.view().version, base + u32::from(whole), "{after_frames} {at:?}");
                let report = rig.visit(&retrying).await;
                if whole {
                    assert_eq!(report.outcome, DeliveryOutcome::Checked);
                } else {
                    assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied);
                }
                rig.expect_applied(&ops);
                assert_eq!(rig.view().digest, rig.expected_digest());
                assert_eq!(rig.events("job_applied") as u32, rig.version);
            }
            assert_eq!(rig.events("power_restored"), 3);
        });
    }

    #[test]
    fn a_one_time_code_opens_once_then_is_denied() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            rig.plan(Plan::seal(vec![Op::Put { slot: 4, entry: entry("731904", true) }]));
            let engine = rig.engine(2);
            assert_eq!(rig.open(&rig.visit(&engine).await)[0].outcome, Outcome::Applied);
            let id = rig.id();
            assert_eq!(
                rig.h.sim.enter_code(&id, "731904").unwrap(),
                Some(Entry::Granted { slot: 4, consumed: true })
            );
            assert_eq!(
                rig.h.sim.enter_code(&id, "731904").unwrap(),
                Some(Entry::Denied { reason: DenyReason::AlreadyUsed })
            );
            // The lock asks phones to visit, and its status reports the use.
            let seen = rig.sighting().await;
            assert!(seen.events_pending);
            assert_eq!(engine.visit(&seen, &rig.server).await.outcome, DeliveryOutcome::Checked);
            let (receipt, sealed) = rig.server.statuses(rig.lock.lock_id).pop().unwrap();
            let kinds: Vec<String> = receipt.events.iter().map(event_type).collect();
            assert!(kinds.contains(&"one_time_consumed".to_owned()), "{kinds:?}");
            assert!(kinds.contains(&"denied".to_owned()), "{kinds:?}");
            // A status cannot be passed off as the answer to another challenge.
            let keys = rig.server.keys(rig.lock.lock_id).unwrap();
            assert_eq!(keys.open_status(&sealed, [0; 16]).unwrap_err().code(), "wrong_reply");
        });
    }

    #[test]
    fn wrong_attempts_lock_the_keypad_and_it_recovers() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            rig.plan(Plan::seal(vec![Op::Put { slot: 0, entry: entry("582046", false) }]));
            rig.visit(&rig.engine(2)).await;
            let id = rig.id();
            let sim = &rig.h.sim;
            for _ in 0..4 {
                assert_eq!(
                    sim.enter_code(&id, "111111").unwrap(),
                    Some(Entry::Denied { reason: DenyReason::UnknownCode })
                );
            }
            let locked = sim.enter_code(&id, "222222").unwrap();
            assert!(matches!(locked, Some(Entry::LockedOut { .. })), "{locked:?}");
            // The right code is refused during the lockout, and the phone sees it.
            assert!(matches!(sim.enter_code(&id, "582046").unwrap(), Some(Entry::LockedOut { .. })));
            assert!(rig.sighting().await.locked_out);
            sim.advance_clock(&id, 59).unwrap();
            assert!(matches!(sim.enter_code(&id, "582046").unwrap(), Some(Entry::LockedOut { .. })));
            sim.advance_clock(&id, 2).unwrap();
            assert!(matches!(sim.enter_code(&id, "582046").unwrap(), Some(Entry::Granted { .. })));
            assert!(!rig.sighting().await.locked_out);
            assert_eq!(rig.events("lockout_started"), 1);
            assert_eq!(rig.events("lockout_ended"), 1);
        });
    }

    #[test]
    fn an_adapter_that_is_off_and_blocked_is_a_typed_error() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            let engine = rig.engine(1);
            // Off but not blocked: btleplug powers it on to scan.
            rig.h.sim.set_adapter(false, false);
            assert_eq!(engine.scan().await.unwrap().len(), 1);
            assert!(rig.h.sim.adapter().powered);
            // Blocked (rfkill): no scan, a clear error, nothing hangs.
            rig.h.sim.set_adapter(false, true);
            let err = engine.scan().await.unwrap_err();
            assert_eq!(err.code(), "bluetooth_unavailable", "{err}");
            assert_eq!(rig.view().version, 0);
        });
    }

    #[test]
    fn a_lock_that_vanishes_or_drops_mid_visit_is_a_typed_outcome_not_a_hang() {
        forked(|bus| async move {
            // BlueZ forgets a device it has not heard for TemporaryTimeout.
            let radio = RadioConfig { temporary_timeout_s: 0.3, ..RadioConfig::default() };
            let rig = rig(&bus, radio).await;
            let slow = DeliveryEngine::new(
                rig.transport.clone(),
                DeliveryConfig { response_timeout: Duration::from_secs(60), ..config(1) },
            );
            let seen = rig.sighting().await;
            rig.plan(Plan::seal(puts(5, 6)));

            // The lock vanished since the scan, and BlueZ forgot it: out of range.
            rig.h.sim.move_phone(Position { x: 500.0, y: 0.0 }).unwrap();
            gone(&rig.h).await;
            let report = tokio::time::timeout(Duration::from_secs(20), slow.visit(&seen, &rig.server))
                .await
                .expect("no hang");
            assert_eq!(report.outcome.code(), "out_of_range");
            let err = rig.transport.connect(&seen.device, Duration::from_secs(5)).await.err();
            assert!(matches!(err, Some(TransportError::NotFound { .. })), "{err:?}");

            // Back in range, the link drops mid-visit: connection lost at once,
            // not after the 60 s response timeout.
            rig.h.sim.move_phone(Position::default()).unwrap();
            let seen = rig.sighting().await;
            rig.h.sim.set_faults(&rig.id(), Faults { drop_after_frames: Some(1), ..Faults::default() }).unwrap();
            let report = tokio::time::timeout(Duration::from_secs(20), slow.visit(&seen, &rig.server))
                .await
                .expect("no hang");
            assert_eq!(report.outcome, DeliveryOutcome::Failed(DeliveryFailure::ConnectionLost));

            // The lock walks out of range while it answers (a delayed answer).
            let seen = rig.sighting().await;
            rig.h.sim.set_faults(&rig.id(), Faults { delay_ms: 300, ..Faults::default() }).unwrap();
            let sim = rig.h.sim.clone();
            let walk = tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                sim.move_phone(Position { x: 500.0, y: 0.0 }).unwrap();
            });
            let report = tokio::time::timeout(Duration::from_secs(20), slow.visit(&seen, &rig.server))
                .await
                .expect("no hang");
            walk.await.unwrap();
            assert!(
                matches!(report.outcome.code(), "connection_lost" | "out_of_range" | "delivered"),
                "{report:?}"
            );
            // Whatever happened, the lock holds all of the job or none.
            let view = rig.view();
            assert!(view.version == 0 && view.slots.is_empty() || view.version == 1 && view.slots.len() == 5);
        });
    }

    #[test]
    fn a_corrupted_frame_is_refused_and_changes_nothing() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            rig.plan(Plan::seal(puts(4, 8)));
            // Frame 1 is the status request; frame 2 carries the job.
            rig.h.sim.set_faults(&rig.id(), Faults { corrupt_frame: Some(2), ..Faults::default() }).unwrap();
            let report = rig.visit(&rig.engine(1)).await;
            assert_eq!(
                report.outcome,
                DeliveryOutcome::Failed(DeliveryFailure::LockRefused { error: ErrorCode::BadSeal })
            );
            let view = rig.view();
            assert_eq!((view.version, view.slots.len(), view.audit.len()), (0, 0, 0));
            // The fault was one-shot: the next visit goes through.
            let report = rig.visit(&rig.engine(1)).await;
            assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied);
        });
    }

    #[test]
    fn a_lock_that_answers_too_late_times_out_and_changes_nothing_half_way() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            rig.plan(Plan::seal(puts(2, 9)));
            rig.h.sim.set_faults(&rig.id(), Faults { delay_ms: 1_500, ..Faults::default() }).unwrap();
            let impatient = DeliveryEngine::new(
                rig.transport.clone(),
                DeliveryConfig { response_timeout: Duration::from_millis(300), ..config(1) },
            );
            let report = rig.visit(&impatient).await;
            assert_eq!(report.outcome, DeliveryOutcome::Failed(DeliveryFailure::TimedOut));
            // Its status came too late: no job was sealed or sent.
            assert_eq!(rig.view().version, 0);
            rig.h.sim.set_faults(&rig.id(), Faults::default()).unwrap();
            let report = rig.visit(&rig.engine(1)).await;
            assert_eq!(rig.open(&report)[0].outcome, Outcome::Applied);
            assert_eq!(rig.events("job_applied"), 1);
        });
    }

    #[test]
    fn a_scan_cut_short_does_not_block_the_next() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            // Abandon a scan midway: discovery stays on for this client.
            let cut = tokio::time::timeout(Duration::from_millis(50), rig.transport.scan(Duration::from_secs(5))).await;
            assert!(cut.is_err());
            assert!(rig.h.sim.adapter().discovering, "still discovering");
            assert_eq!(rig.transport.scan(Duration::from_millis(100)).await.unwrap().len(), 1);
        });
    }

    #[test]
    fn a_lock_far_away_is_heard_but_out_of_range() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            // 20 m: heard (about -85 dBm) but below the 30 ft threshold.
            rig.h.sim.move_phone(Position { x: 22.0, y: 0.0 }).unwrap();
            let seen = rig.sighting().await;
            assert!(seen.rssi.unwrap() < keyway_delivery::DEFAULT_MIN_RSSI);
            rig.plan(Plan::seal(puts(1, 7)));
            let report = rig.engine(1).visit(&seen, &rig.server).await;
            assert_eq!(report.outcome, DeliveryOutcome::Failed(DeliveryFailure::OutOfRange { rssi: seen.rssi }));
            assert_eq!(rig.view().stats.connections, 0);
            // Walking to 6 m (about -75 dBm, give or take the RSSI's 3 dB) brings it in range.
            rig.h.sim.move_phone(Position { x: 8.0, y: 0.0 }).unwrap();
            assert_eq!(rig.visit(&rig.engine(1)).await.outcome.code(), "delivered");
        });
    }

    #[test]
    fn a_listener_without_the_key_cannot_tell_which_lock_it_hears() {
        forked(|bus| async move {
            let rig = rig(&bus, RadioConfig::default()).await;
            let engine = rig.engine(1);
            let heard = engine.scan().await.unwrap();
            assert_eq!(heard.len(), 1);
            let payload = &heard[0].manufacturer_data;
            // No lock id, and another lock's key recognises nothing.
            assert!(!payload.windows(8).any(|w| w == rig.lock.lock_id.0));
            let stranger = keyway_protocol::LockKeys::derive(
                &keyway_protocol::RootKey::from_bytes([9; 32]),
                rig.lock.lock_id,
            );
            assert!(keyway_delivery::resolve(&heard, &[stranger.advert_key().clone()]).is_empty());
            // A state change draws a new nonce: the payload changes entirely.
            rig.plan(Plan::seal(puts(1, 11)));
            rig.visit(&engine).await;
            let after = engine.scan().await.unwrap();
            assert_ne!(&after[0].manufacturer_data, payload);
            assert_eq!(rig.sighting().await.version, 1);
        });
    }
}
