//! Rule-by-rule tests, with the examples from the product pages.

use super::*;

fn code(text: &str) -> Code {
    Code::parse(text).unwrap()
}

fn community() -> Community {
    Community {
        affiliated_numbers: ["1440", "94110", "12"]
            .into_iter()
            .map(|n| PropertyNumber::parse(n).unwrap())
            .collect(),
        ..Community::default()
    }
}

fn six_digit_community() -> Community {
    Community {
        six_digit_codes: true,
        ..community()
    }
}

fn resident() -> CheckContext {
    CheckContext::new(community(), CodeKind::Resident)
        .with_lock(TargetLock::new(AccessPoint::UnitDoor))
}

fn rules(ctx: &CheckContext, text: &str) -> Vec<Rule> {
    match ctx.check(&code(text)) {
        Ok(()) => Vec::new(),
        Err(rejection) => rejection.violations.iter().map(|v| v.rule).collect(),
    }
}

#[test]
fn an_ordinary_code_passes() {
    assert_eq!(rules(&resident(), "4817"), []);
    assert!(resident().is_allowed(&code("4817")));
}

#[test]
fn product_page_examples_are_refused() {
    let ctx = resident();
    assert_eq!(rules(&ctx, "1111"), [Rule::AllSameDigits, Rule::CommonPin]);
    assert_eq!(rules(&ctx, "1234"), [Rule::Sequential, Rule::CommonPin]);
    assert_eq!(rules(&ctx, "5432"), [Rule::Sequential]);
    assert_eq!(rules(&ctx, "1440"), [Rule::PropertyNumber]);
    let six = CheckContext::new(six_digit_community(), CodeKind::Resident);
    assert_eq!(rules(&six, "941107"), [Rule::PropertyNumber]);
    let carrier = CheckContext::new(community(), CodeKind::Carrier);
    assert_eq!(rules(&carrier, "0481"), [Rule::LeadingZero]);
}

#[test]
fn every_violation_is_reported_not_just_the_first() {
    // A resident's code of six zeros where six digits are off, on a lock
    // that already has it, breaks four rules.
    let mut lock = TargetLock::new(AccessPoint::UnitDoor);
    lock.codes.push(code("000000"));
    let ctx = CheckContext::new(community(), CodeKind::Resident).with_lock(lock);
    let rejection = ctx.check(&code("000000")).unwrap_err();
    let ids: Vec<&str> = rejection.violations.iter().map(|v| v.rule.id()).collect();
    assert_eq!(
        ids,
        [
            "length",
            "all_same_digits",
            "common_pin",
            "duplicate_on_lock"
        ]
    );
    assert!(rejection.violations.iter().all(|v| !v.message.is_empty()));
    assert!(!ctx.is_allowed(&code("000000")));
}

#[test]
fn length_per_kind_and_community() {
    let four_only = |kind| CheckContext::new(community(), kind).with_origin(Origin::Generated);
    assert_eq!(
        rules(&four_only(CodeKind::Resident), "481739"),
        [Rule::Length]
    );
    assert_eq!(
        rules(&four_only(CodeKind::Resident), "48173"),
        [Rule::Length]
    );
    assert_eq!(
        rules(&four_only(CodeKind::Carrier), "481739"),
        [Rule::Length]
    );
    assert_eq!(rules(&four_only(CodeKind::Courier), "4817"), [Rule::Length]);
    assert_eq!(rules(&four_only(CodeKind::Staff), "481739"), []);
    assert_eq!(rules(&four_only(CodeKind::OneTime), "481739"), []);
    assert_eq!(rules(&four_only(CodeKind::OneTime), "4817"), [Rule::Length]);

    let six = CheckContext::new(six_digit_community(), CodeKind::Resident);
    assert_eq!(rules(&six, "481739"), []);
    assert_eq!(rules(&six, "4817"), []);
    assert_eq!(rules(&six.clone().with_length(6), "4817"), [Rule::Length]);
    let mut short_otp = community();
    short_otp.one_time_pin_length = 4;
    let otp = CheckContext::new(short_otp, CodeKind::OneTime).with_origin(Origin::Generated);
    assert_eq!(rules(&otp, "4817"), []);
}

#[test]
fn length_messages_say_what_is_allowed() {
    let msg = |ctx: &CheckContext, text: &str| {
        ctx.check(&code(text)).unwrap_err().violations[0]
            .message
            .clone()
    };
    assert_eq!(msg(&resident(), "481739"), "Access codes must be 4 digits.");
    let asked_six = resident().with_length(6);
    assert!(
        msg(&asked_six, "481739").contains("six-digit codes must be enabled by your community")
    );
    let six = CheckContext::new(six_digit_community(), CodeKind::Resident);
    assert_eq!(msg(&six, "48173"), "Access codes must be 4 or 6 digits.");
}

#[test]
fn all_same_and_sequential_cover_both_lengths_and_directions() {
    let ctx =
        CheckContext::new(six_digit_community(), CodeKind::Resident).with_origin(Origin::Generated);
    for text in ["7777", "000000"] {
        assert!(rules(&ctx, text).contains(&Rule::AllSameDigits), "{text}");
    }
    for text in ["1234", "5432", "0123", "987654", "345678"] {
        assert!(rules(&ctx, text).contains(&Rule::Sequential), "{text}");
    }
    for text in ["1235", "9012", "135790"] {
        assert!(!rules(&ctx, text).contains(&Rule::Sequential), "{text}");
    }
}

#[test]
fn leading_zero_only_for_carriers_and_models_that_need_it() {
    assert_eq!(rules(&resident(), "0481"), []);
    let ctx = resident().with_lock(TargetLock {
        constraints: vec![ModelConstraint::NoLeadingZero],
        ..TargetLock::new(AccessPoint::UnitDoor)
    });
    assert_eq!(rules(&ctx, "0481"), [Rule::LeadingZero]);
    let carrier = CheckContext::new(community(), CodeKind::Carrier);
    let rejection = carrier.check(&code("0481")).unwrap_err();
    assert_eq!(
        rejection.violations[0].message,
        "Carrier access codes can't start with 0."
    );
}

#[test]
fn property_numbers_equal_or_contained() {
    let ctx = CheckContext::new(six_digit_community(), CodeKind::Resident);
    assert_eq!(rules(&ctx, "1440"), [Rule::PropertyNumber]);
    assert_eq!(rules(&ctx, "381440"), [Rule::PropertyNumber]);
    assert_eq!(rules(&ctx, "941105"), [Rule::PropertyNumber]);
    // Numbers of fewer than three digits only count when equal.
    assert_eq!(rules(&ctx, "4812"), []);
}

#[test]
fn common_pins_are_refused_and_configurable() {
    let ctx = resident();
    for text in ["1212", "1987", "2580", "6969"] {
        assert!(rules(&ctx, text).contains(&Rule::CommonPin), "{text}");
    }
    let mut relaxed = community();
    relaxed.common_pins = CommonPins::off();
    let ctx = CheckContext::new(relaxed, CodeKind::Resident);
    assert_eq!(rules(&ctx, "1987"), []);
}

#[test]
fn duplicates_on_any_target_lock() {
    let lock_a = TargetLock {
        codes: vec![code("4817")],
        ..TargetLock::new(AccessPoint::UnitDoor)
    };
    let lock_b = TargetLock {
        codes: vec![code("3071")],
        ..TargetLock::new(AccessPoint::UnitDoor)
    };
    let ctx = CheckContext::new(community(), CodeKind::Resident)
        .with_lock(lock_a)
        .with_lock(lock_b);
    assert_eq!(rules(&ctx, "4817"), [Rule::DuplicateOnLock]);
    assert_eq!(rules(&ctx, "3071"), [Rule::DuplicateOnLock]);
    assert_eq!(rules(&ctx, "3072"), []);
}

#[test]
fn prefix_conflicts_only_without_an_enter_key() {
    let lock = |enter_key| TargetLock {
        enter_key,
        codes: vec![code("359102"), code("2478")],
        ..TargetLock::new(AccessPoint::UnitDoor)
    };
    let ctx = |enter_key| {
        CheckContext::new(six_digit_community(), CodeKind::Resident).with_lock(lock(enter_key))
    };
    assert_eq!(rules(&ctx(false), "3591"), [Rule::PrefixConflict]);
    assert_eq!(rules(&ctx(false), "247815"), [Rule::PrefixConflict]);
    assert_eq!(rules(&ctx(false), "3592"), []);
    assert_eq!(rules(&ctx(true), "3591"), []);
    // An identical code is a duplicate, not a prefix conflict.
    assert_eq!(rules(&ctx(false), "359102"), [Rule::DuplicateOnLock]);
}

#[test]
fn deleted_courier_and_staff_pins_are_never_reused() {
    let deleted = [code("481739")];
    for kind in [CodeKind::Courier, CodeKind::Staff] {
        let ctx = CheckContext::new(community(), kind).with_deleted_pins(deleted);
        assert_eq!(rules(&ctx, "481739"), [Rule::DeletedPinReuse]);
        assert_eq!(rules(&ctx, "481740"), []);
    }
}

#[test]
fn custom_codes_where_not_allowed() {
    let guest = CheckContext::new(community(), CodeKind::Guest);
    assert_eq!(rules(&guest, "4817"), [Rule::CustomNotAllowed]);
    assert_eq!(rules(&guest.with_origin(Origin::Generated), "4817"), []);

    for point in [AccessPoint::CommunityEntrance, AccessPoint::Amenity] {
        let ctx =
            CheckContext::new(community(), CodeKind::Resident).with_lock(TargetLock::new(point));
        assert_eq!(rules(&ctx, "4817"), [Rule::CustomNotAllowed]);
        let msg = &ctx.check(&code("4817")).unwrap_err().violations[0].message;
        assert!(
            msg.contains("community access points or amenities"),
            "{msg}"
        );
    }

    let off = Community {
        custom_codes: false,
        ..community()
    };
    let ctx = CheckContext::new(off.clone(), CodeKind::Resident);
    assert_eq!(rules(&ctx, "4817"), [Rule::CustomNotAllowed]);
    // Managers may still choose carrier, courier and staff codes.
    let carrier = CheckContext::new(off, CodeKind::Carrier)
        .with_lock(TargetLock::new(AccessPoint::PackageRoom));
    assert_eq!(rules(&carrier, "4817"), []);
}

#[test]
fn a_refused_custom_code_is_refused_for_that_alone_whatever_its_digits() {
    // A neighbour's code on the shared door, and digits that break every
    // digit rule: the answer is the same as for any other digits, so it
    // tells the picker nothing about the codes on the door.
    let mut entrance = TargetLock::new(AccessPoint::CommunityEntrance);
    entrance.enter_key = false;
    entrance.codes = vec![code("4817"), code("583920")];
    let ctx = CheckContext::new(community(), CodeKind::Resident)
        .with_lock(TargetLock::new(AccessPoint::UnitDoor))
        .with_lock(entrance);
    let expected = ctx.custom_refusal().expect("custom codes are refused here");
    for digits in ["4817", "5839", "1111", "1234", "0000000", "9270"] {
        assert_eq!(ctx.check(&code(digits)).unwrap_err(), expected, "{digits}");
    }
    let guest = CheckContext::new(community(), CodeKind::Guest)
        .with_lock(TargetLock::new(AccessPoint::UnitDoor));
    assert_eq!(rules(&guest, "000000"), [Rule::CustomNotAllowed]);
    assert!(
        CheckContext::new(community(), CodeKind::Resident)
            .custom_refusal()
            .is_none()
    );
}

#[test]
fn lock_model_constraints_are_reported_under_their_ids() {
    let lock = TargetLock {
        constraints: ModelConstraint::ALL.to_vec(),
        codes: vec![code("3561")],
        ..TargetLock::new(AccessPoint::UnitDoor)
    };
    let ctx = CheckContext::new(six_digit_community(), CodeKind::Resident).with_lock(lock);
    assert_eq!(
        rules(&ctx, "120890"),
        [
            Rule::NoZeros,
            Rule::CannotStartWith12,
            Rule::CannotContain089,
            Rule::CannotContain0789,
        ]
    );
    assert_eq!(rules(&ctx, "356142"), [Rule::UniqueFirstFourDigits]);
    assert_eq!(
        rules(&ctx, "2223"),
        [
            Rule::NoTripleConsecutiveInts,
            Rule::AtLeastThreeUniqueDigits
        ]
    );
    assert_eq!(
        rules(&ctx, "0246"),
        [
            Rule::LeadingZero,
            Rule::NoZeros,
            Rule::CannotContain089,
            Rule::CannotContain0789
        ]
    );
    assert_eq!(rules(&ctx, "2461"), []);
}

#[test]
fn check_text_distinguishes_format_from_policy() {
    let ctx = resident();
    assert_eq!(ctx.check_text("12a4").unwrap_err().code(), "invalid_format");
    assert_eq!(
        ctx.check_text("1111").unwrap_err().code(),
        "policy_violation"
    );
    assert_eq!(ctx.check_text("4817").unwrap().as_str(), "4817");
}

#[test]
fn rejection_serializes_rule_ids() {
    let rejection = resident().check(&code("1111")).unwrap_err();
    let json = serde_json::to_value(&rejection).unwrap();
    assert_eq!(json["violations"][0]["rule"], "all_same_digits");
    assert_eq!(json["violations"][1]["rule"], "common_pin");
    assert!(
        rejection
            .to_string()
            .contains("all_same_digits, common_pin")
    );
}

#[test]
fn only_a_keypad_with_enter_and_no_model_constraint_takes_offline_codes() {
    use super::takes_offline_codes;
    assert!(takes_offline_codes(true, &[]));
    assert!(!takes_offline_codes(false, &[]));
    for constraint in ModelConstraint::ALL {
        assert!(!takes_offline_codes(true, &[constraint]), "{constraint}");
    }
    assert!(TargetLock::new(AccessPoint::UnitDoor).takes_offline_codes());
}
