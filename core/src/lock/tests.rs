//! The lock firmware against the protocol: atomic jobs, identical repeat
//! receipts, refusals, the keypad and the audit trail.

use jiff::Timestamp;

use super::*;
use crate::code::{Code, CodeKind};
use crate::protocol::frame::split;
use crate::protocol::{Job, SlotEntry};
use crate::schedule::{Schedule, Window};

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
        code: Code::parse(code).unwrap(),
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
        base: BaseVersion::Exact(base),
        target,
        issued_at: now(),
        expires_at: later(7 * 86_400),
        audit_ack: 0,
        ops,
    }
}

fn apply(lock: &mut Lock, job: &Job) -> Receipt {
    let sealed = lock.apply(&server().seal_job(job).unwrap(), now()).unwrap();
    server().open_receipt(&sealed).unwrap()
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
    let sealed_job = server().seal_job(&job(0, 1, vec![put(0, "4817")])).unwrap();
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
    let old_sealed = server().seal_job(&old).unwrap();
    lock.apply(&old_sealed, now()).unwrap();
    apply(&mut lock, &job(1, 2, vec![Op::Remove { slot: 0 }]));
    // Push the old receipt out of the recent cache, then replay the old job.
    for v in 2..(2 + RECENT_RECEIPTS as u32) {
        apply(
            &mut lock,
            &job(v, v + 1, vec![put(1, &format!("{}", 3000 + v))]),
        );
    }
    let version = lock.state().version;
    let receipt = server()
        .open_receipt(&lock.apply(&old_sealed, now()).unwrap())
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::VersionMismatch);
    assert_eq!(lock.state().version, version);
    assert!(!granted(&mut lock, "4817", now()));
}

#[test]
fn altered_or_foreign_jobs_are_refused_unsealed() {
    let mut lock = lock();
    let sealed = server().seal_job(&job(0, 1, vec![put(0, "4817")])).unwrap();
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
    // Recovery: after the lockout the right code works and resets the doubling.
    assert!(granted(&mut lock, "4817", later(180)));
    assert_eq!(lock.state().keypad.lockouts_in_a_row, 0);
    let kinds: Vec<AuditKind> = lock.state().audit.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::LockoutStarted { seconds: 60 }));
    assert!(kinds.contains(&AuditKind::LockoutStarted { seconds: 120 }));
    assert!(kinds.contains(&AuditKind::LockoutEnded));
    assert!(kinds.contains(&AuditKind::WrongCode { consecutive: 5 }));
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
fn frames_in_responses_out() {
    let mut lock = lock();
    let sealed = server().seal_job(&job(0, 1, vec![put(0, "4817")])).unwrap();
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
        Message::decode(&lock.handle(&[1, 0x99], now())).unwrap(),
        Message::Error(ErrorCode::MalformedMessage)
    );
}
