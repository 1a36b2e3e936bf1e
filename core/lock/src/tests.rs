//! The lock firmware against the protocol: sessions, atomic jobs, identical
//! repeat receipts, refusals, the keypad's budget, the audit trail and the
//! advertisement.

use jiff::Timestamp;

use super::*;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::{Schedule, Window};
use keyway_protocol::frame::split;
use keyway_protocol::{Credential, Job, SlotEntry, digest_of};

mod cards;
mod offline;

const LOCK: LockId = LockId([0x10, 0x20, 0x30, 0x40, 0x50, 0x60, 0x70, 0x80]);

fn root() -> RootKey {
    RootKey::from_bytes([0x5a; 32])
}

fn server() -> LockKeys {
    LockKeys::derive(&root(), LOCK)
}

fn now() -> Timestamp {
    Timestamp::from_second(1_790_000_000).unwrap()
}

fn later(seconds: i64) -> Timestamp {
    Timestamp::from_second(1_790_000_000 + seconds).unwrap()
}

fn lock() -> Lock {
    Lock::new(LockConfig::new(LOCK), &root())
}

fn entry(code: &str) -> SlotEntry {
    SlotEntry {
        credential: Credential::Code(Code::parse(code).unwrap()),
        kind: CodeKind::Resident,
        schedule: Schedule::Always,
        enabled: true,
        one_time: false,
    }
}

fn put(slot: u16, code: &str) -> Op {
    Op::Put {
        slot,
        entry: entry(code),
    }
}

fn job(base: u32, target: u32, ops: Vec<Op>) -> Job {
    Job {
        job_id: JobId::random(),
        session: SessionId::default(),
        base: BaseVersion::Exact(base),
        target,
        issued_at: now(),
        expires_at: later(7 * 86_400),
        audit_ack: 0,
        ops,
    }
}

/// Opens a session at `at` as a phone's status request does; returns its id.
fn open_session(lock: &mut Lock, at: Timestamp) -> SessionId {
    let sealed = lock.status([0xcc; 16], 0, at).unwrap();
    server().open_status(&sealed, [0xcc; 16]).unwrap().session
}

/// Seals `job` for a session the lock opens now, as the server does for a visit.
fn seal_for(lock: &mut Lock, job: &Job) -> Vec<u8> {
    let session = open_session(lock, now());
    server()
        .seal_job(&Job {
            session,
            ..job.clone()
        })
        .unwrap()
}

fn apply(lock: &mut Lock, job: &Job) -> Receipt {
    let sealed = seal_for(lock, job);
    server()
        .open_receipt(&lock.apply(&sealed, now()).unwrap())
        .unwrap()
}

fn granted(lock: &mut Lock, code: &str, at: Timestamp) -> bool {
    matches!(lock.enter_code(code, at), Some(Entry::Granted { .. }))
}

#[test]
fn a_job_applies_whole_and_the_receipt_says_so() {
    let mut lock = lock();
    let job = job(0, 1, vec![put(0, "4817"), put(1, "305917")]);
    let receipt = apply(&mut lock, &job);
    assert_eq!(receipt.outcome, Outcome::Applied);
    assert_eq!(receipt.reply_to, ReplyTo::Job(job.job_id));
    assert_eq!(receipt.version, 1);
    let expected = digest_of([(0, &entry("4817")), (1, &entry("305917"))]);
    assert_eq!(receipt.digest, expected);
    assert_eq!(lock.digest(), expected);
    assert!(granted(&mut lock, "4817", now()));
    assert!(matches!(
        receipt.events.last().unwrap().kind,
        AuditKind::JobApplied { version: 1 }
    ));
}

#[test]
fn a_repeated_job_returns_the_same_receipt_bytes() {
    let mut lock = lock();
    let sealed_job = seal_for(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let first = lock.apply(&sealed_job, now()).unwrap();
    let state = lock.state().clone();
    let again = lock.apply(&sealed_job, later(60)).unwrap();
    assert_eq!(first, again);
    assert_eq!(lock.state(), &state);
}

#[test]
fn a_base_mismatch_reports_where_the_lock_is_and_changes_nothing() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let digest = lock.digest();
    let receipt = apply(&mut lock, &job(5, 6, vec![put(1, "3059")]));
    assert_eq!(receipt.outcome, Outcome::VersionMismatch);
    assert_eq!((receipt.version, receipt.digest), (1, digest));
    assert_eq!(lock.state().version, 1);
    assert!(!granted(&mut lock, "3059", now()));
}

#[test]
fn a_stale_job_replayed_after_newer_ones_has_no_effect() {
    let mut lock = lock();
    let old = job(0, 1, vec![put(0, "4817")]);
    let old_sealed = seal_for(&mut lock, &old);
    lock.apply(&old_sealed, now()).unwrap();
    apply(&mut lock, &job(1, 2, vec![Op::Remove { slot: 0 }]));
    // Push the old receipt out of the recent cache, then replay the old job.
    for v in 2..(2 + RECENT_RECEIPTS as u32) {
        apply(
            &mut lock,
            &job(v, v + 1, vec![put(1, &format!("{}", 3000 + v))]),
        );
    }
    let state = lock.state().clone();
    open_session(&mut lock, now());
    assert_eq!(lock.apply(&old_sealed, now()), Err(ErrorCode::NoSession));
    assert_eq!(lock.state(), &state);
    assert!(!granted(&mut lock, "4817", now()));
}

#[test]
fn altered_or_foreign_jobs_are_refused_unsealed() {
    let mut lock = lock();
    let sealed = seal_for(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let state = lock.state().clone();
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        let err = lock.apply(&bad, now()).unwrap_err();
        assert!(
            matches!(
                err,
                ErrorCode::BadSeal | ErrorCode::WrongLock | ErrorCode::MalformedMessage
            ),
            "{i}: {err:?}"
        );
        assert_eq!(lock.state(), &state);
    }
    let other = LockKeys::derive(&root(), LockId([1; 8]))
        .seal_job(&job(0, 1, vec![]))
        .unwrap();
    assert_eq!(lock.apply(&other, now()), Err(ErrorCode::WrongLock));
}

#[test]
fn refusals_apply_nothing_and_keep_the_previous_code() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let cases = [
        (
            vec![Op::Remove { slot: 0 }, put(250, "3059")],
            RefusalReason::SlotOutOfRange,
        ),
        (
            vec![Op::Remove { slot: 0 }, Op::Enable { slot: 9 }],
            RefusalReason::SlotEmpty,
        ),
        (vec![put(1, "4817")], RefusalReason::DuplicateCode),
    ];
    for (ops, reason) in cases {
        let receipt = apply(&mut lock, &job(1, 2, ops));
        assert_eq!(receipt.outcome, Outcome::Refused(reason));
        assert_eq!(receipt.version, 1);
        assert!(granted(&mut lock, "4817", now()), "{reason:?}");
    }
    let expired = Job {
        expires_at: later(-1),
        ..job(1, 2, vec![Op::Remove { slot: 0 }])
    };
    assert_eq!(
        apply(&mut lock, &expired).outcome,
        Outcome::Refused(RefusalReason::Expired)
    );
    let backwards = job(1, 1, vec![Op::Remove { slot: 0 }]);
    assert_eq!(
        apply(&mut lock, &backwards).outcome,
        Outcome::Refused(RefusalReason::InvalidJob)
    );
    assert!(granted(&mut lock, "4817", now()));
}

#[test]
fn a_keypad_without_enter_key_refuses_prefix_conflicts_and_opens_as_typed() {
    let mut lock = Lock::new(
        LockConfig {
            enter_key: false,
            ..LockConfig::new(LOCK)
        },
        &root(),
    );
    let receipt = apply(
        &mut lock,
        &job(0, 1, vec![put(0, "1357"), put(1, "135790")]),
    );
    assert_eq!(
        receipt.outcome,
        Outcome::Refused(RefusalReason::PrefixConflict)
    );
    apply(
        &mut lock,
        &job(0, 1, vec![put(0, "1357"), put(1, "246802")]),
    );
    // The door opens on the fourth digit, no enter key needed.
    for d in [1, 3, 5] {
        assert_eq!(lock.press(Key::Digit(d), now()), None);
    }
    assert_eq!(
        lock.press(Key::Digit(7), now()),
        Some(Entry::Granted {
            slot: 0,
            consumed: false
        })
    );
    // A wrong code is judged once it is as long as the longest code.
    assert_eq!(
        lock.enter_code("999999", now()),
        Some(Entry::Denied {
            reason: DenyReason::UnknownCode
        })
    );
}

#[test]
fn changing_a_code_is_one_job() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    apply(
        &mut lock,
        &job(1, 2, vec![put(1, "3059"), Op::Remove { slot: 0 }]),
    );
    assert!(granted(&mut lock, "3059", now()));
    assert!(!granted(&mut lock, "4817", now()));
}

#[test]
fn recovery_jobs_clear_first_and_only_move_forward() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 3, vec![put(0, "4817")]));
    let recovery = |target| Job {
        base: BaseVersion::Any,
        ..job(0, target, vec![Op::ClearAll, put(2, "3059")])
    };
    assert_eq!(
        apply(&mut lock, &recovery(3)).outcome,
        Outcome::VersionMismatch
    );
    assert_eq!(apply(&mut lock, &recovery(7)).outcome, Outcome::Applied);
    assert!(!granted(&mut lock, "4817", now()));
    assert!(granted(&mut lock, "3059", now()));
    let no_clear = Job {
        base: BaseVersion::Any,
        ..job(0, 9, vec![put(3, "6021")])
    };
    assert_eq!(
        apply(&mut lock, &no_clear).outcome,
        Outcome::Refused(RefusalReason::InvalidJob)
    );
}

#[test]
fn one_time_codes_open_once() {
    let mut lock = lock();
    let one_time = Op::Put {
        slot: 4,
        entry: SlotEntry {
            one_time: true,
            kind: CodeKind::OneTime,
            ..entry("729104")
        },
    };
    apply(&mut lock, &job(0, 1, vec![one_time]));
    assert_eq!(
        lock.enter_code("729104", now()),
        Some(Entry::Granted {
            slot: 4,
            consumed: true
        })
    );
    assert_eq!(
        lock.enter_code("729104", later(5)),
        Some(Entry::Denied {
            reason: DenyReason::AlreadyUsed
        })
    );
    // Consumption is runtime state: the digest the server expects is unchanged.
    assert_eq!(
        lock.digest(),
        digest_of([(
            4,
            &SlotEntry {
                one_time: true,
                kind: CodeKind::OneTime,
                ..entry("729104")
            }
        )])
    );
}

#[test]
fn disabled_and_out_of_schedule_codes_are_denied() {
    let mut lock = lock();
    let window = Schedule::Window(Window::new(later(3600), later(7200)).unwrap());
    let scheduled = Op::Put {
        slot: 1,
        entry: SlotEntry {
            schedule: window,
            ..entry("3059")
        },
    };
    apply(&mut lock, &job(0, 1, vec![put(0, "4817"), scheduled]));
    apply(&mut lock, &job(1, 2, vec![Op::Disable { slot: 0 }]));
    let denied = |reason| Some(Entry::Denied { reason });
    assert_eq!(lock.enter_code("4817", now()), denied(DenyReason::Disabled));
    assert_eq!(
        lock.enter_code("3059", now()),
        denied(DenyReason::OutsideSchedule)
    );
    assert!(granted(&mut lock, "3059", later(3600)));
    apply(&mut lock, &job(2, 3, vec![Op::Enable { slot: 0 }]));
    assert!(granted(&mut lock, "4817", now()));
}

#[test]
fn wrong_codes_lock_the_keypad_and_lockouts_double() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    for _ in 0..4 {
        assert_eq!(
            lock.enter_code("1111", now()),
            Some(Entry::Denied {
                reason: DenyReason::UnknownCode
            })
        );
    }
    assert_eq!(
        lock.enter_code("1111", now()),
        Some(Entry::LockedOut { until: later(60) })
    );
    // Even the right code is refused during the lockout.
    assert_eq!(
        lock.enter_code("4817", later(59)),
        Some(Entry::LockedOut { until: later(60) })
    );
    assert!(lock.advertisement(later(59)).locked_out);
    // Five more wrong codes after it ends: twice as long.
    for _ in 0..4 {
        lock.enter_code("1111", later(60));
    }
    assert_eq!(
        lock.enter_code("1111", later(60)),
        Some(Entry::LockedOut { until: later(180) })
    );
    // After the lockout the right code opens, and resets nothing: the next
    // lockout is longer again.
    assert!(granted(&mut lock, "4817", later(180)));
    for _ in 0..4 {
        lock.enter_code("1111", later(180));
    }
    assert_eq!(
        lock.enter_code("1111", later(180)),
        Some(Entry::LockedOut { until: later(420) })
    );
    let kinds: Vec<AuditKind> = lock.state().audit.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::LockoutStarted { seconds: 60 }));
    assert!(kinds.contains(&AuditKind::LockoutStarted { seconds: 240 }));
    assert!(kinds.contains(&AuditKind::LockoutEnded));
    assert!(kinds.contains(&AuditKind::WrongCode { count: 5 }));
}

#[test]
fn a_known_code_between_guesses_buys_no_more_guesses() {
    // A resident who knows their own code types four guesses, then their
    // code, again and again: the fifth guess still locks the keypad.
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let mut guesses = 0;
    let outcome = loop {
        guesses += 1;
        match lock.enter_code(&format!("{:04}", 1000 + guesses), now()) {
            Some(Entry::Denied { .. }) => {}
            other => break other,
        }
        if guesses % 4 == 0 {
            assert!(granted(&mut lock, "4817", now()));
        }
    };
    assert_eq!(guesses, 5);
    assert_eq!(outcome, Some(Entry::LockedOut { until: later(60) }));
    // A disabled or expired code counts as a guess too.
    let mut lock = self::lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    apply(&mut lock, &job(1, 2, vec![Op::Disable { slot: 0 }]));
    for _ in 0..4 {
        lock.enter_code("4817", now());
    }
    assert_eq!(
        lock.enter_code("4817", now()),
        Some(Entry::LockedOut { until: later(60) })
    );
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]

    /// Whatever the pace and whatever successes come between them, no 24
    /// hours see more wrong entries evaluated than the policy's bound.
    #[test]
    fn no_day_sees_more_wrong_entries_than_the_bound(
        steps in proptest::collection::vec((0i64..4_000, proptest::bool::weighted(0.8)), 1..400)
    ) {
        let mut lock = lock();
        apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
        let mut t = 0;
        let mut evaluated = Vec::new();
        for (delay, wrong) in steps {
            t += delay;
            let at = later(t);
            let was_locked = lock.advertisement(at).locked_out;
            let entry = lock.enter_code(if wrong { "1111" } else { "4817" }, at);
            if wrong && !was_locked {
                let opened = matches!(entry, Some(Entry::Granted { .. }));
                proptest::prop_assert!(!opened);
                evaluated.push(t);
            }
        }
        let bound = LockoutPolicy::default().max_wrong_per_day() as usize;
        for (i, start) in evaluated.iter().enumerate() {
            let in_day = evaluated[i..].iter().take_while(|t| **t < start + 86_400).count();
            proptest::prop_assert!(in_day <= bound, "{} wrong entries in a day", in_day);
        }
    }
}

#[test]
fn an_attacker_typing_as_fast_as_allowed_meets_the_bound_exactly() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let mut t = 0;
    let mut evaluated = 0;
    while t < 86_400 {
        match lock.enter_code("1111", later(t)) {
            Some(Entry::Denied { .. }) => evaluated += 1,
            Some(Entry::LockedOut { until }) => {
                if until.as_second() - later(t).as_second() > 0
                    && lock.state().keypad.wrong_since_lockout == 0
                {
                    evaluated += 1;
                }
                t = until.as_second() - now().as_second();
                continue;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(evaluated, LockoutPolicy::default().max_wrong_per_day());
}

#[test]
fn receipts_carry_unacknowledged_events_until_the_server_acks_them() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    for _ in 0..40 {
        lock.enter_code("4817", now());
    }
    let status = server()
        .open_receipt(&lock.status([7; 16], 0, now()).unwrap())
        .unwrap();
    assert_eq!(status.outcome, Outcome::Status);
    assert_eq!(status.reply_to, ReplyTo::Status([7; 16]));
    assert_eq!(status.events.len(), MAX_EVENTS_PER_RECEIPT);
    assert!(status.events_pending);
    assert!(lock.advertisement(now()).events_pending);
    let last_seen = status.events.last().unwrap().seq;
    // A status request never drops events; an authentic job's ack does.
    let rest = server()
        .open_receipt(&lock.status([8; 16], last_seen, now()).unwrap())
        .unwrap();
    assert_eq!(rest.events.first().unwrap().seq, last_seen + 1);
    let ack_everything = Job {
        audit_ack: lock.state().next_seq - 1,
        ..job(1, 2, vec![])
    };
    let receipt = apply(&mut lock, &ack_everything);
    assert_eq!(receipt.events.len(), 1, "only the new job_applied event");
    assert!(!receipt.events_pending);
}

#[test]
fn an_acknowledgement_job_forgets_events_and_records_nothing() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    lock.enter_code("4817", now());
    assert!(lock.advertisement(now()).events_pending);
    let ack = Job {
        audit_ack: lock.state().next_seq - 1,
        ..job(1, 1, vec![])
    };
    let receipt = apply(&mut lock, &ack);
    assert_eq!(receipt.outcome, Outcome::Applied);
    assert_eq!(receipt.version, 1);
    assert!(receipt.events.is_empty());
    assert!(lock.state().audit.is_empty());
    assert!(!lock.advertisement(now()).events_pending);
}

#[test]
fn a_job_applies_only_in_the_session_it_was_sealed_for() {
    let mut lock = lock();
    let first = seal_for(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let state = lock.state().clone();
    // Another status (another visit) ends the first session.
    let second = open_session(&mut lock, now());
    assert_eq!(lock.apply(&first, now()), Err(ErrorCode::NoSession));
    // A dropped link ends it too.
    let sealed = server()
        .seal_job(&Job {
            session: second,
            ..job(0, 1, vec![put(0, "4817")])
        })
        .unwrap();
    lock.disconnected();
    assert_eq!(lock.apply(&sealed, now()), Err(ErrorCode::NoSession));
    // And so does time.
    let session = open_session(&mut lock, now());
    let sealed = server()
        .seal_job(&Job {
            session,
            ..job(0, 1, vec![put(0, "4817")])
        })
        .unwrap();
    assert_eq!(
        lock.apply(&sealed, later(SESSION_LIFETIME_SECS)),
        Err(ErrorCode::NoSession)
    );
    assert_eq!(lock.state(), &state);
    assert!(!granted(&mut lock, "4817", now()));
}

#[test]
fn a_job_the_server_no_longer_wants_never_changes_the_lock() {
    // A phone took a job that adds a code on one visit and did not deliver
    // it; the code was deleted since. Played to the lock on a later visit,
    // the job does nothing.
    let mut lock = lock();
    let unwanted = seal_for(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    lock.disconnected();
    open_session(&mut lock, later(3_600));
    assert_eq!(
        lock.apply(&unwanted, later(3_600)),
        Err(ErrorCode::NoSession)
    );
    assert_eq!(lock.state().version, 0);
    assert!(!granted(&mut lock, "4817", later(3_600)));
}

#[test]
fn a_recovery_does_not_re_arm_a_spent_one_time_code() {
    let mut lock = lock();
    let one_time = SlotEntry {
        one_time: true,
        kind: CodeKind::OneTime,
        ..entry("729104")
    };
    let put_one_time = Op::Put {
        slot: 4,
        entry: one_time.clone(),
    };
    apply(
        &mut lock,
        &job(0, 1, vec![put(0, "4817"), put_one_time.clone()]),
    );
    assert!(granted(&mut lock, "729104", now()));
    // The server has not heard of the use yet and rebuilds the table.
    let recovery = Job {
        base: BaseVersion::Any,
        ..job(0, 5, vec![Op::ClearAll, put(0, "4817"), put_one_time])
    };
    assert_eq!(apply(&mut lock, &recovery).outcome, Outcome::Applied);
    assert_eq!(
        lock.enter_code("729104", later(5)),
        Some(Entry::Denied {
            reason: DenyReason::AlreadyUsed
        })
    );
    // A new one-time entry (another window) in that slot is armed.
    let renewed = Op::Put {
        slot: 4,
        entry: SlotEntry {
            schedule: Schedule::Window(Window::new(later(0), later(86_400)).unwrap()),
            ..one_time
        },
    };
    apply(&mut lock, &job(5, 6, vec![renewed]));
    assert!(granted(&mut lock, "729104", later(6)));
}

#[test]
fn every_receipt_names_the_lock_life_and_a_new_life_starts_over() {
    let mut lock = lock();
    let receipt = apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    assert!(!receipt.epoch.is_unset());
    assert_eq!(receipt.epoch, lock.epoch());
    // The lock loses its storage: a new life, events numbered from 1 again.
    let mut reborn = Lock::with_state(LockConfig::new(LOCK), &root(), LockState::default());
    assert_ne!(reborn.epoch(), lock.epoch());
    reborn.enter_code("1111", now());
    let status = server()
        .open_receipt(&reborn.status([1; 16], 0, now()).unwrap())
        .unwrap();
    assert_eq!(status.epoch, reborn.epoch());
    assert_eq!(status.events[0].seq, 1);
}

#[test]
fn the_advertisement_rotates_and_only_key_holders_read_it() {
    let mut lock = lock();
    let key = server().advert_key().clone();
    let a = lock.advertising_payload(now());
    assert_eq!(
        lock.advertising_payload(later(10)),
        a,
        "stable within a rotation"
    );
    let read = key.resolve(&a).unwrap().unwrap();
    assert_eq!((read.lock_id, read.version), (LOCK, 0));
    let b = lock.advertising_payload(later(keyway_protocol::advert::ROTATION_SECS));
    assert_ne!(a, b, "a new nonce after the rotation period");
    apply(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let c = lock.advertising_payload(later(keyway_protocol::advert::ROTATION_SECS + 1));
    assert_ne!(b, c, "a new nonce as soon as the state changes");
    assert_eq!(key.resolve(&c).unwrap().unwrap().version, 1);
    let stranger = LockKeys::derive(&RootKey::from_bytes([1; 32]), LOCK);
    assert_eq!(stranger.advert_key().resolve(&c).unwrap(), None);
}

#[test]
fn frames_in_responses_out() {
    let mut lock = lock();
    let sealed = seal_for(&mut lock, &job(0, 1, vec![put(0, "4817")]));
    let request = Message::Jobs(vec![sealed]).encode();
    let frames = split(&request, 23).unwrap();
    let mut response = None;
    for frame in &frames {
        response = lock.receive_frame(frame, now());
    }
    let Message::Receipts(receipts) = Message::decode(&response.unwrap()).unwrap() else {
        panic!("expected receipts")
    };
    assert_eq!(
        server().open_receipt(&receipts[0]).unwrap().outcome,
        Outcome::Applied
    );
    // A stray continuation frame is answered with an error, not a panic.
    let reply = lock.receive_frame(&frames[1], now()).unwrap();
    assert_eq!(
        Message::decode(&reply).unwrap(),
        Message::Error(ErrorCode::MalformedFrame)
    );
    assert_eq!(
        Message::decode(&lock.handle(&[keyway_protocol::message::PROTOCOL_VERSION, 0x99], now()))
            .unwrap(),
        Message::Error(ErrorCode::MalformedMessage)
    );
}

/// The lock at version 3, given the published job (`docs/lock-protocol.md`)
/// sealed for the session its status opened, reaches the published digest.
#[test]
fn the_published_job_brings_the_lock_to_the_published_digest() {
    use keyway_protocol::vectors;
    let keys = LockKeys::derive(&vectors::root(), vectors::LOCK);
    let mut lock = Lock::with_state(
        LockConfig::new(vectors::LOCK),
        &vectors::root(),
        LockState {
            version: 3,
            ..Default::default()
        },
    );
    let now = vectors::ts(1_800_000_100);
    let status = keys
        .open_status(&lock.status([0xc0; 16], 0, now).unwrap(), [0xc0; 16])
        .unwrap();
    let job = Job {
        session: status.session,
        ..vectors::vector_job()
    };
    let receipt = keys
        .open_receipt(&lock.apply(&keys.seal_job(&job).unwrap(), now).unwrap())
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Applied);
    assert_eq!(receipt.digest, vectors::slots_digest());
}
