//! Sampler tests: policy compliance, distinctness, exact exhaustion and
//! uniformity (chi-square at a fixed seed).

use std::collections::{BTreeSet, HashMap};

use rand::SeedableRng;
use rand::rngs::StdRng;

use super::*;
use crate::code::{AccessPoint, CodeKind};
use crate::policy::{Community, ModelConstraint, Rule, TargetLock};

fn seeded() -> StdRng {
    StdRng::seed_from_u64(0x6b65_7977_6179)
}

/// Resident codes on a keypad with only the digits 1-6: a space of 6^4 = 1296
/// codes, small enough to count every cell.
fn small_space() -> CheckContext {
    CheckContext::new(Community::default(), CodeKind::Resident).with_lock(TargetLock {
        constraints: vec![ModelConstraint::CannotContain0789],
        ..TargetLock::new(AccessPoint::UnitDoor)
    })
}

/// The 0.999 quantile of the chi-square distribution (Wilson-Hilferty).
fn chi_square_critical(df: f64) -> f64 {
    let z = 3.090_232; // standard normal 0.999 quantile
    let a = 2.0 / (9.0 * df);
    df * (1.0 - a + z * a.sqrt()).powi(3)
}

fn chi_square(counts: &HashMap<Code, u64>, cells: usize, draws: u64) -> f64 {
    let expected = draws as f64 / cells as f64;
    let observed: f64 = counts
        .values()
        .map(|&c| (c as f64 - expected).powi(2) / expected)
        .sum();
    // Cells never drawn contribute `expected` each.
    observed + (cells - counts.len()) as f64 * expected
}

fn assert_uniform(sampler: &Sampler, ctx: &CheckContext, draws: u64) {
    let allowed = count_available(ctx).unwrap() as usize;
    let mut rng = seeded();
    let mut counts = HashMap::new();
    for _ in 0..draws {
        let code = sampler.draw(1, &mut rng).unwrap()[0];
        assert!(ctx.is_allowed(&code));
        *counts.entry(code).or_insert(0u64) += 1;
    }
    assert_eq!(counts.len(), allowed, "every allowed code is reachable");
    let statistic = chi_square(&counts, allowed, draws);
    let critical = chi_square_critical((allowed - 1) as f64);
    assert!(
        statistic < critical,
        "chi-square {statistic:.1} over {allowed} cells exceeds {critical:.1}"
    );
}

#[test]
fn rejection_sampling_is_uniform_over_the_allowed_codes() {
    let ctx = small_space();
    let sampler = Sampler::new(&ctx, REJECTION_ATTEMPTS).unwrap();
    assert_uniform(&sampler, &ctx, 60_000);
}

#[test]
fn enumeration_fallback_is_uniform_too() {
    let ctx = small_space();
    let sampler = Sampler::new(&ctx, 0).unwrap();
    assert_uniform(&sampler, &ctx, 20_000);
}

#[test]
fn chi_square_detects_a_biased_sampler() {
    // The statistic must be able to fail: drop one code's draws into another.
    let ctx = small_space();
    let allowed = count_available(&ctx).unwrap() as usize;
    let sampler = Sampler::new(&ctx, REJECTION_ATTEMPTS).unwrap();
    let mut rng = seeded();
    let mut counts: HashMap<Code, u64> = HashMap::new();
    let draws = 60_000;
    let favourite = sampler.draw(1, &mut rng).unwrap()[0];
    for i in 0..draws {
        let code = if i % 50 == 0 {
            favourite
        } else {
            sampler.draw(1, &mut rng).unwrap()[0]
        };
        *counts.entry(code).or_default() += 1;
    }
    assert!(chi_square(&counts, allowed, draws) > chi_square_critical((allowed - 1) as f64));
}

#[test]
fn generated_codes_pass_the_check_and_are_distinct() {
    let ctx = CheckContext::new(Community::default(), CodeKind::Courier);
    let codes = generate_distinct(&ctx, 500, &mut seeded()).unwrap();
    let distinct: BTreeSet<_> = codes.iter().collect();
    assert_eq!(distinct.len(), 500);
    let custom_check = ctx.clone().with_origin(Origin::Generated);
    for code in &codes {
        assert_eq!(code.len(), 6);
        assert_eq!(custom_check.check(code), Ok(()));
    }
}

#[test]
fn guests_get_generated_codes_even_though_custom_is_refused() {
    let ctx = CheckContext::new(Community::default(), CodeKind::Guest);
    let code = generate(&ctx, &mut seeded()).unwrap();
    assert!(ctx.clone().with_origin(Origin::Generated).is_allowed(&code));
}

#[test]
fn exhaustion_is_exact() {
    let ctx = small_space();
    let available = count_available(&ctx).unwrap();
    assert!(available > 1000 && available < 1296, "{available}");

    let all = generate_distinct(&ctx, available as usize, &mut seeded()).unwrap();
    assert_eq!(all.iter().collect::<BTreeSet<_>>().len() as u64, available);

    let err = generate_distinct(&ctx, available as usize + 1, &mut seeded()).unwrap_err();
    assert_eq!(
        err,
        GenerateError::Exhausted {
            available,
            requested: available as usize + 1
        }
    );
    assert_eq!(err.code(), "exhausted");
}

#[test]
fn filling_the_lock_leaves_exactly_one_then_none() {
    let ctx = small_space();
    let mut all =
        generate_distinct(&ctx, count_available(&ctx).unwrap() as usize, &mut seeded()).unwrap();
    let last = all.pop().unwrap();
    let mut full = ctx.clone();
    full.locks[0].codes = all;
    assert_eq!(generate(&full, &mut seeded()).unwrap(), last);
    full.locks[0].codes.push(last);
    assert_eq!(count_available(&full).unwrap(), 0);
    assert_eq!(
        generate(&full, &mut seeded()).unwrap_err(),
        GenerateError::Exhausted {
            available: 0,
            requested: 1
        }
    );
}

#[test]
fn a_length_the_kind_does_not_allow_is_a_length_violation() {
    let ctx = CheckContext::new(Community::default(), CodeKind::Carrier).with_length(6);
    let err = generate(&ctx, &mut seeded()).unwrap_err();
    assert_eq!(err.code(), "policy_violation");
    let GenerateError::Rejected(rejection) = err else {
        panic!("{err:?}")
    };
    assert_eq!(rejection.violations[0].rule, Rule::Length);
}

#[test]
fn six_digit_codes_when_the_community_enables_them() {
    let community = Community {
        six_digit_codes: true,
        ..Community::default()
    };
    let ctx = CheckContext::new(community, CodeKind::Resident).with_length(6);
    assert_eq!(generate(&ctx, &mut seeded()).unwrap().len(), 6);
}

#[test]
fn the_secure_source_generates_valid_codes() {
    let ctx = CheckContext::new(Community::default(), CodeKind::Resident);
    let mut rng = secure_rng().unwrap();
    let codes = generate_distinct(&ctx, 20, &mut rng).unwrap();
    assert!(
        codes
            .iter()
            .all(|c| ctx.clone().with_origin(Origin::Generated).is_allowed(c))
    );
}
