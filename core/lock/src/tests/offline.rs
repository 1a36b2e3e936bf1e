//! Offline codes at the lock: accepted with no job inside their window,
//! one-time ones spent, revoked ones refused, the list bounded, and every
//! guess on the keypad's budget.

use super::*;
use keyway_protocol::offline::{CANDIDATES_PER_ENTRY, OFFLINE_CODE_LEN};
use keyway_protocol::{OfflineClass, OfflineCodeId, OfflineKey, OfflineKind, vectors};

fn hour() -> u32 {
    (now().as_second() / 3600) as u32
}

fn id(kind: OfflineKind, class: OfflineClass, start: u32, index: u8) -> OfflineCodeId {
    OfflineCodeId::new(kind, class, start, index).unwrap()
}

/// The server's side: the digits of `id` for this test's lock.
fn digits(id: &OfflineCodeId) -> String {
    let code = OfflineKey::derive(&root(), LOCK).code(id);
    String::from_utf8(code.as_bytes().to_vec()).unwrap()
}

fn type_code(lock: &mut Lock, id: &OfflineCodeId, at: Timestamp) -> Entry {
    lock.enter_code(&digits(id), at).unwrap()
}

fn last_event(lock: &Lock) -> AuditKind {
    lock.state().audit.back().unwrap().kind
}

fn revoke(code: OfflineCodeId) -> Op {
    Op::RevokeOffline(code)
}

#[test]
fn an_offline_code_opens_a_new_lock_with_no_job_and_the_audit_names_its_id() {
    let mut lock = lock();
    let code = id(OfflineKind::Window, OfflineClass::FourHours, hour() - 2, 1);
    assert_eq!(
        type_code(&mut lock, &code, now()),
        Entry::GrantedOffline {
            code,
            consumed: false
        }
    );
    assert_eq!(last_event(&lock), AuditKind::OfflineCodeUsed { code });
    assert_eq!(lock.state().version, 0);
    // The next status carries the use to the server, by id.
    let status = lock.status([1; 16], 0, now()).unwrap();
    let receipt = server().open_status(&status, [1; 16]).unwrap();
    assert!(
        receipt
            .events
            .iter()
            .any(|e| e.kind == AuditKind::OfflineCodeUsed { code })
    );
    // Neither the stored state nor any event holds the digits.
    let stored = serde_json::to_string(lock.state()).unwrap();
    assert!(!stored.contains(&digits(&code)));
}

#[test]
fn a_window_code_opens_again_and_again_inside_its_window_only() {
    let mut lock = lock();
    let code = id(OfflineKind::Window, OfflineClass::Hour, hour() + 1, 0);
    let starts = code.starts_at();
    let before = Timestamp::from_second(starts.as_second() - 1).unwrap();
    assert_eq!(
        type_code(&mut lock, &code, before),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    );
    for at in [
        starts.as_second(),
        starts.as_second() + 1_800,
        starts.as_second() + 3_599,
    ] {
        let at = Timestamp::from_second(at).unwrap();
        assert!(matches!(
            type_code(&mut lock, &code, at),
            Entry::GrantedOffline {
                consumed: false,
                ..
            }
        ));
    }
    // The window over, the code is an unknown one, a wrong entry.
    assert_eq!(
        type_code(&mut lock, &code, code.ends_at()),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    );
    assert!(matches!(last_event(&lock), AuditKind::WrongCode { .. }));
}

#[test]
fn a_one_time_code_opens_once_and_stays_spent_until_its_window_ends() {
    let mut lock = lock();
    let code = id(OfflineKind::OneTime, OfflineClass::Day, hour() - 5, 0);
    assert_eq!(
        type_code(&mut lock, &code, now()),
        Entry::GrantedOffline {
            code,
            consumed: true
        }
    );
    let wrong_before = lock.state().keypad.wrong_since_lockout;
    assert_eq!(
        type_code(&mut lock, &code, later(3_600)),
        Entry::Denied {
            reason: DenyReason::AlreadyUsed
        }
    );
    assert_eq!(last_event(&lock), AuditKind::OfflineCodeDenied { code });
    // A refused offline code spends the keypad's budget like any refusal.
    assert_eq!(lock.state().keypad.wrong_since_lockout, wrong_before + 1);
    // Its twin (index 1) is another code, untouched.
    let twin = code.with_index(1).unwrap();
    assert!(matches!(
        type_code(&mut lock, &twin, later(3_600)),
        Entry::GrantedOffline { consumed: true, .. }
    ));
    assert_eq!(lock.state().offline.len(), 2);
    // Power cut: the spent mark is stored state.
    let mut lock = Lock::with_state(LockConfig::new(LOCK), &root(), lock.state().clone());
    assert_eq!(
        type_code(&mut lock, &code, later(7_200)),
        Entry::Denied {
            reason: DenyReason::AlreadyUsed
        }
    );
    // A job after the window dropped both marks.
    let after = code.ends_at();
    let session = open_session(&mut lock, after);
    let sealed = server()
        .seal_job(&Job {
            session,
            issued_at: after,
            expires_at: Timestamp::from_second(after.as_second() + 600).unwrap(),
            ..job(0, 1, vec![put(0, "4817")])
        })
        .unwrap();
    let receipt = server()
        .open_receipt(&lock.apply(&sealed, after).unwrap())
        .unwrap();
    assert_eq!(receipt.outcome, Outcome::Applied);
    assert!(lock.state().offline.is_empty());
}

#[test]
fn a_revoked_code_is_refused_until_its_window_ends_even_after_a_recovery() {
    let mut lock = lock();
    let code = id(
        OfflineKind::Window,
        OfflineClass::Week,
        hour() - hour() % 24,
        0,
    );
    let other = code.with_index(1).unwrap();
    assert!(matches!(
        type_code(&mut lock, &code, now()),
        Entry::GrantedOffline { .. }
    ));
    let receipt = apply(&mut lock, &job(0, 1, vec![put(0, "4817"), revoke(code)]));
    assert_eq!(receipt.outcome, Outcome::Applied);
    // Not in the digest: the table is what the server asked for.
    assert_eq!(receipt.digest, digest_of([(0, &entry("4817"))]));
    assert_eq!(
        type_code(&mut lock, &code, now()),
        Entry::Denied {
            reason: DenyReason::Revoked
        }
    );
    assert_eq!(last_event(&lock), AuditKind::OfflineCodeDenied { code });
    assert!(matches!(
        type_code(&mut lock, &other, now()),
        Entry::GrantedOffline { .. }
    ));
    // A recovery clears the table, never the revocations.
    let recovery = Job {
        base: BaseVersion::Any,
        ..job(0, 5, vec![Op::ClearAll, put(0, "4817")])
    };
    assert_eq!(apply(&mut lock, &recovery).outcome, Outcome::Applied);
    assert_eq!(
        type_code(&mut lock, &code, later(86_400)),
        Entry::Denied {
            reason: DenyReason::Revoked
        }
    );
    // Revoking a code whose window ended keeps nothing.
    let ended = id(OfflineKind::Window, OfflineClass::Hour, hour() - 2, 0);
    assert_eq!(
        apply(&mut lock, &job(5, 6, vec![revoke(ended)])).outcome,
        Outcome::Applied
    );
    assert_eq!(lock.state().offline.len(), 1);
}

#[test]
fn the_list_is_bounded_and_a_full_list_refuses_jobs_and_one_time_codes() {
    let mut lock = lock();
    // Windows that have not started yet are kept until they end.
    let day = |n: u32| id(OfflineKind::Window, OfflineClass::Day, hour() + n, 0);
    let first: Vec<Op> = (0..OFFLINE_LIST_CAPACITY as u32)
        .map(|n| revoke(day(n)))
        .collect();
    assert_eq!(
        apply(&mut lock, &job(0, 1, first)).outcome,
        Outcome::Applied
    );
    assert_eq!(lock.state().offline.len(), OFFLINE_LIST_CAPACITY);
    // Revoking one already revoked takes no room.
    assert_eq!(
        apply(&mut lock, &job(1, 2, vec![revoke(day(0))])).outcome,
        Outcome::Applied
    );
    let state = lock.state().clone();
    let overflow = job(
        2,
        3,
        vec![put(0, "4817"), revoke(day(0).with_index(1).unwrap())],
    );
    assert_eq!(
        apply(&mut lock, &overflow).outcome,
        Outcome::Refused(RefusalReason::OfflineListFull)
    );
    // Nothing of the job applied.
    assert_eq!(lock.state().slots, state.slots);
    assert_eq!(lock.state().version, 2);
    assert_eq!(lock.state().offline, state.offline);
    // A one-time code whose use cannot be recorded does not open.
    let one_time = id(OfflineKind::OneTime, OfflineClass::Hour, hour(), 0);
    assert_eq!(
        type_code(&mut lock, &one_time, now()),
        Entry::Denied {
            reason: DenyReason::OfflineListFull
        }
    );
    // A window code needs no room.
    let window = id(OfflineKind::Window, OfflineClass::Hour, hour(), 0);
    assert!(matches!(
        type_code(&mut lock, &window, now()),
        Entry::GrantedOffline { .. }
    ));
    // Once a window ends its mark goes, and a one-time code opens.
    let at = day(0).ends_at();
    let one_time = id(OfflineKind::OneTime, OfflineClass::Hour, hour() + 24, 0);
    assert!(matches!(
        type_code(&mut lock, &one_time, at),
        Entry::GrantedOffline { consumed: true, .. }
    ));
    assert_eq!(lock.state().offline.len(), OFFLINE_LIST_CAPACITY);
}

#[test]
fn another_locks_codes_and_keypads_without_enter_open_nothing() {
    let code = id(OfflineKind::Window, OfflineClass::Day, hour(), 0);
    let foreign = OfflineKey::derive(&root(), LockId([9; 8])).code(&code);
    let mut lock = lock();
    assert_eq!(
        lock.enter_code(std::str::from_utf8(foreign.as_bytes()).unwrap(), now()),
        Some(Entry::Denied {
            reason: DenyReason::UnknownCode
        })
    );
    let mut no_enter = Lock::new(
        LockConfig {
            enter_key: false,
            ..LockConfig::new(LOCK)
        },
        &root(),
    );
    apply(&mut no_enter, &job(0, 1, vec![put(0, "4817")]));
    // The keypad ends the entry at four digits: an offline code is a wrong one.
    assert_eq!(
        type_code(&mut no_enter, &code, now()),
        Entry::Denied {
            reason: DenyReason::UnknownCode
        }
    );
}

#[test]
fn a_slot_holding_the_digits_decides_before_the_offline_codes() {
    let mut lock = lock();
    let code = id(OfflineKind::Window, OfflineClass::Hour, hour(), 0);
    let mut held = entry(&digits(&code));
    held.enabled = false;
    apply(
        &mut lock,
        &job(
            0,
            1,
            vec![Op::Put {
                slot: 3,
                entry: held,
            }],
        ),
    );
    assert_eq!(
        type_code(&mut lock, &code, now()),
        Entry::Denied {
            reason: DenyReason::Disabled
        }
    );
}

#[test]
fn offline_guesses_spend_the_same_budget_as_any_wrong_code() {
    let mut lock = lock();
    let code = id(OfflineKind::Window, OfflineClass::Day, hour(), 1);
    let candidates: std::collections::HashSet<String> = OfflineCodeId::candidates(now())
        .map(|id| digits(&id))
        .collect();
    assert_eq!(candidates.len(), CANDIDATES_PER_ENTRY);
    let guesses: Vec<String> = (10_000_000u32..)
        .map(|n| n.to_string())
        .filter(|g| g.len() == OFFLINE_CODE_LEN && !candidates.contains(g))
        .take(5)
        .collect();
    for guess in &guesses[..4] {
        assert_eq!(
            lock.enter_code(guess, now()),
            Some(Entry::Denied {
                reason: DenyReason::UnknownCode
            })
        );
    }
    // A real offline code in between buys no more guesses.
    assert!(matches!(
        type_code(&mut lock, &code, now()),
        Entry::GrantedOffline { .. }
    ));
    assert!(matches!(
        lock.enter_code(&guesses[4], now()),
        Some(Entry::LockedOut { .. })
    ));
    // During the lockout even the real code is refused, uncounted.
    assert!(matches!(
        type_code(&mut lock, &code, later(30)),
        Entry::LockedOut { .. }
    ));
}

#[test]
fn the_lock_accepts_the_published_offline_codes_and_revocation() {
    let mut lock = Lock::new(LockConfig::new(vectors::LOCK), &vectors::root());
    let at = vectors::ts(1_800_000_000);
    let key = OfflineKey::derive(&vectors::root(), vectors::LOCK);
    for (_, code) in vectors::vector_offline_codes() {
        let digits = key.code(&code);
        assert!(matches!(
            lock.enter_code(std::str::from_utf8(digits.as_bytes()).unwrap(), at),
            Some(Entry::GrantedOffline { code: c, .. }) if c == code
        ));
    }
    let revoked = vectors::vector_revoke_job().ops[0].clone();
    let Op::RevokeOffline(code) = revoked else {
        panic!("the revocation job revokes")
    };
    assert_eq!(
        lock.state().offline.refusal(&code),
        Some(DenyReason::AlreadyUsed)
    );
}
