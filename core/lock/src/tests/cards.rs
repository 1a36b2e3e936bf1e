//! The card reader: key cards decided as typed codes are, on the same
//! lockout budget, and never confused with codes.

use super::*;
use keyway_protocol::CardKey;

const CARD: &str = "card-0042";

fn card_entry(card_id: &str) -> SlotEntry {
    SlotEntry {
        credential: Credential::Card(CardKey::of(card_id).unwrap()),
        kind: CodeKind::Courier,
        ..entry("0000")
    }
}

fn put_card(slot: u16, card_id: &str) -> Op {
    Op::Put {
        slot,
        entry: card_entry(card_id),
    }
}

fn denied(reason: DenyReason) -> Entry {
    Entry::Denied { reason }
}

#[test]
fn a_card_opens_its_slot_and_the_audit_names_the_slot_only() {
    let mut lock = lock();
    let receipt = apply(
        &mut lock,
        &job(0, 1, vec![put(0, "4817"), put_card(1, CARD)]),
    );
    assert_eq!(receipt.outcome, Outcome::Applied);
    let expected = digest_of([(0, &entry("4817")), (1, &card_entry(CARD))]);
    assert_eq!((receipt.digest, lock.digest()), (expected, expected));
    let opened = Entry::Granted {
        slot: 1,
        consumed: false,
    };
    assert_eq!(lock.present_card(CARD, now()), opened);
    // The reader's id is trimmed as the server trims it.
    assert_eq!(lock.present_card(" card-0042\t", now()), opened);
    let last = lock.state().audit.back().unwrap();
    assert_eq!(last.kind, AuditKind::CardUsed { slot: 1 });
    // The lock keeps the card's key, never its id.
    let stored = serde_json::to_string(lock.state()).unwrap();
    assert!(!stored.contains(CARD));
    assert!(stored.contains(&CardKey::of(CARD).unwrap().to_hex()));
}

#[test]
fn typed_digits_never_match_a_card_and_a_card_never_matches_a_code() {
    let mut lock = lock();
    // A card whose id is all digits, and a code with the same digits.
    apply(
        &mut lock,
        &job(0, 1, vec![put_card(0, "48170042"), put(1, "4817")]),
    );
    assert_eq!(
        lock.enter_code("48170042", now()),
        Some(denied(DenyReason::UnknownCode))
    );
    assert_eq!(
        lock.present_card("4817", now()),
        denied(DenyReason::UnknownCard)
    );
    assert!(granted(&mut lock, "4817", now()));
    assert_eq!(
        lock.present_card("48170042", now()),
        Entry::Granted {
            slot: 0,
            consumed: false
        }
    );
}

#[test]
fn on_a_keypad_without_enter_cards_neither_conflict_nor_change_when_an_entry_ends() {
    let mut lock = Lock::new(
        LockConfig {
            enter_key: false,
            ..LockConfig::new(LOCK)
        },
        &root(),
    );
    let receipt = apply(
        &mut lock,
        &job(0, 1, vec![put(0, "1357"), put_card(1, "1357924680")]),
    );
    assert_eq!(receipt.outcome, Outcome::Applied);
    for d in [1, 3, 5] {
        assert_eq!(lock.press(Key::Digit(d), now()), None);
    }
    assert!(matches!(
        lock.press(Key::Digit(7), now()),
        Some(Entry::Granted { slot: 0, .. })
    ));
    // A wrong entry is judged at the longest code's length, not a card's.
    assert_eq!(
        lock.enter_code("2468", now()),
        Some(denied(DenyReason::UnknownCode))
    );
}

#[test]
fn disabled_out_of_schedule_and_spent_cards_are_denied() {
    let mut lock = lock();
    let window = Schedule::Window(Window::new(later(3600), later(7200)).unwrap());
    let scheduled = Op::Put {
        slot: 1,
        entry: SlotEntry {
            schedule: window,
            ..card_entry("card-scheduled")
        },
    };
    let one_time = Op::Put {
        slot: 2,
        entry: SlotEntry {
            one_time: true,
            ..card_entry("card-once")
        },
    };
    apply(
        &mut lock,
        &job(0, 1, vec![put_card(0, CARD), scheduled, one_time]),
    );
    apply(&mut lock, &job(1, 2, vec![Op::Disable { slot: 0 }]));
    assert_eq!(lock.present_card(CARD, now()), denied(DenyReason::Disabled));
    assert_eq!(
        lock.present_card("card-scheduled", now()),
        denied(DenyReason::OutsideSchedule)
    );
    assert!(matches!(
        lock.present_card("card-scheduled", later(3600)),
        Entry::Granted { slot: 1, .. }
    ));
    assert_eq!(
        lock.present_card("card-scheduled", later(7200)),
        denied(DenyReason::OutsideSchedule)
    );
    assert_eq!(
        lock.present_card("card-once", now()),
        Entry::Granted {
            slot: 2,
            consumed: true
        }
    );
    assert_eq!(
        lock.present_card("card-once", now()),
        denied(DenyReason::AlreadyUsed)
    );
    let kinds: Vec<AuditKind> = lock.state().audit.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::Denied { slot: 0 }));
    assert!(kinds.contains(&AuditKind::OneTimeConsumed { slot: 2 }));
    // Enabled again, the card opens.
    apply(&mut lock, &job(2, 3, vec![Op::Enable { slot: 0 }]));
    assert!(matches!(
        lock.present_card(CARD, later(60)),
        Entry::Granted { slot: 0, .. }
    ));
}

#[test]
fn wrong_cards_and_wrong_codes_share_one_lockout_budget() {
    let mut lock = lock();
    apply(
        &mut lock,
        &job(0, 1, vec![put(0, "4817"), put_card(1, CARD)]),
    );
    for (i, guess) in ["card-0001", "card-0002", "", "card\u{7}"]
        .iter()
        .enumerate()
    {
        // Ids no reader could send are wrong entries too, not free tries.
        assert_eq!(
            lock.present_card(guess, now()),
            denied(DenyReason::UnknownCard),
            "{i}"
        );
    }
    assert_eq!(
        lock.enter_code("1111", now()),
        Some(Entry::LockedOut { until: later(60) })
    );
    // The right card is refused during the lockout, and not counted.
    assert_eq!(
        lock.present_card(CARD, later(59)),
        Entry::LockedOut { until: later(60) }
    );
    assert_eq!(lock.state().keypad.wrong_since_lockout, 0);
    assert!(matches!(
        lock.present_card(CARD, later(60)),
        Entry::Granted { slot: 1, .. }
    ));
    // Five more wrong cards after a success: the next lockout is twice as long.
    for _ in 0..4 {
        lock.present_card("card-9999", later(60));
    }
    assert_eq!(
        lock.present_card("card-9999", later(60)),
        Entry::LockedOut { until: later(180) }
    );
    let kinds: Vec<AuditKind> = lock.state().audit.iter().map(|e| e.kind).collect();
    assert!(kinds.contains(&AuditKind::WrongCard { count: 4 }));
    assert!(kinds.contains(&AuditKind::WrongCode { count: 5 }));
    assert!(kinds.contains(&AuditKind::LockoutStarted { seconds: 120 }));
}

#[test]
fn an_attacker_presenting_cards_as_fast_as_allowed_meets_the_daily_bound() {
    let mut lock = lock();
    apply(&mut lock, &job(0, 1, vec![put_card(0, CARD)]));
    let (mut t, mut evaluated, mut tries) = (0, 0, 0u32);
    while t < 86_400 {
        tries += 1;
        match lock.present_card(&format!("guess-{tries}"), later(t)) {
            Entry::Denied { .. } => evaluated += 1,
            Entry::LockedOut { until } => {
                if until > later(t) && lock.state().keypad.wrong_since_lockout == 0 {
                    evaluated += 1;
                }
                t = until.as_second() - now().as_second();
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(evaluated, LockoutPolicy::default().max_wrong_per_day());
}

#[test]
fn a_card_twice_is_refused_and_a_recovery_keeps_a_spent_card_spent() {
    let mut lock = lock();
    let receipt = apply(
        &mut lock,
        &job(0, 1, vec![put_card(0, CARD), put_card(1, CARD)]),
    );
    assert_eq!(
        receipt.outcome,
        Outcome::Refused(RefusalReason::DuplicateCode)
    );
    let once = Op::Put {
        slot: 2,
        entry: SlotEntry {
            one_time: true,
            ..card_entry(CARD)
        },
    };
    apply(&mut lock, &job(0, 1, vec![once.clone()]));
    assert!(matches!(
        lock.present_card(CARD, now()),
        Entry::Granted { consumed: true, .. }
    ));
    let recovery = Job {
        base: BaseVersion::Any,
        ..job(0, 4, vec![Op::ClearAll, once])
    };
    assert_eq!(apply(&mut lock, &recovery).outcome, Outcome::Applied);
    assert_eq!(
        lock.present_card(CARD, later(5)),
        denied(DenyReason::AlreadyUsed)
    );
}
