//! Property tests of the policy engine and the generator over random contexts.

use keyway_codes::code::{AccessPoint, Code, CodeKind, Origin};
use keyway_codes::generate::{GenerateError, count_available};
use keyway_codes::policy::{
    CheckContext, CommonPins, Community, ModelConstraint, PropertyNumber, TargetLock,
};
use keyway_codes::{generate, generate_distinct};
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

fn code_strategy() -> impl Strategy<Value = Code> {
    "[0-9]{4,8}".prop_map(|text| Code::parse(&text).unwrap())
}

fn community_strategy() -> impl Strategy<Value = Community> {
    (
        any::<bool>(),
        any::<bool>(),
        prop::collection::vec("[0-9]{1,6}", 0..4),
        prop::sample::select(vec![4u8, 6]),
        any::<bool>(),
    )
        .prop_map(|(six, custom, numbers, otp, builtin)| Community {
            six_digit_codes: six,
            custom_codes: custom,
            affiliated_numbers: numbers
                .iter()
                .map(|n| PropertyNumber::parse(n).unwrap())
                .collect(),
            one_time_pin_length: otp,
            common_pins: CommonPins {
                builtin,
                ..CommonPins::default()
            },
        })
}

fn lock_strategy() -> impl Strategy<Value = TargetLock> {
    (
        prop::sample::select(AccessPoint::ALL.to_vec()),
        any::<bool>(),
        prop::sample::subsequence(ModelConstraint::ALL.to_vec(), 0..3),
        prop::collection::vec(code_strategy(), 0..40),
    )
        .prop_map(|(access_point, enter_key, constraints, codes)| TargetLock {
            access_point,
            enter_key,
            constraints,
            codes,
        })
}

fn context_strategy() -> impl Strategy<Value = CheckContext> {
    (
        community_strategy(),
        prop::sample::select(CodeKind::ALL.to_vec()),
        prop::collection::vec(lock_strategy(), 0..3),
        prop::collection::vec(code_strategy(), 0..5),
        prop::option::of(prop::sample::select(vec![4usize, 6])),
    )
        .prop_map(|(community, kind, locks, deleted, length)| {
            let mut ctx = CheckContext::new(community, kind)
                .with_origin(Origin::Generated)
                .with_deleted_pins(deleted);
            ctx.locks = locks;
            ctx.length = length;
            ctx
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn every_generated_code_passes_the_check_in_its_context(ctx in context_strategy(), seed: u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        match generate_distinct(&ctx, 3, &mut rng) {
            Ok(codes) => {
                prop_assert_eq!(codes.len(), 3);
                prop_assert!(codes[0] != codes[1] && codes[1] != codes[2] && codes[0] != codes[2]);
                for code in &codes {
                    prop_assert_eq!(ctx.check(code), Ok(()));
                    prop_assert_eq!(code.len(), ctx.target_length());
                }
            }
            Err(GenerateError::Exhausted { available, .. }) => {
                prop_assert!(available < 3);
                prop_assert_eq!(count_available(&ctx).unwrap(), available);
            }
            Err(GenerateError::Rejected(rejection)) => {
                // Only an asked length the kind does not allow is refused up front.
                prop_assert!(!ctx.community.allowed_lengths(ctx.kind).contains(&ctx.target_length()));
                prop_assert_eq!(rejection.violations[0].rule.id(), "length");
            }
            Err(other) => prop_assert!(false, "unexpected {other:?}"),
        }
    }

    #[test]
    fn check_never_panics_on_arbitrary_text(ctx in context_strategy(), text in any::<String>()) {
        match ctx.check_text(&text) {
            Ok(code) => prop_assert_eq!(code.as_str(), text.as_str()),
            Err(error) => prop_assert!(matches!(error.code(), "invalid_format" | "policy_violation")),
        }
    }

    #[test]
    fn digit_strings_of_any_length_never_panic(text in "[0-9]{0,64}", ctx in context_strategy()) {
        let result = ctx.check_text(&text);
        if !(4..=8).contains(&text.len()) {
            prop_assert_eq!(result.unwrap_err().code(), "invalid_format");
        }
    }

    #[test]
    fn a_rejected_code_names_rules_with_messages(ctx in context_strategy(), code in code_strategy()) {
        if let Err(rejection) = ctx.check(&code) {
            prop_assert!(!rejection.violations.is_empty());
            prop_assert!(rejection.violations.iter().all(|v| !v.message.is_empty()));
            prop_assert!(!ctx.is_allowed(&code));
        } else {
            prop_assert!(ctx.is_allowed(&code));
        }
    }
}

#[test]
fn generate_one_matches_the_batch_contract() {
    let ctx = CheckContext::new(Community::default(), CodeKind::Staff);
    let code = generate(&ctx, &mut StdRng::seed_from_u64(1)).unwrap();
    assert_eq!(code.len(), 6);
    assert!(ctx.with_origin(Origin::Generated).is_allowed(&code));
}
