//! Criterion benchmarks of the policy check and of generation, on a lock with
//! 0 and with 250 codes. Figures: `docs/performance.md`.

#![allow(missing_docs)]

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use keyway_codes::code::{AccessPoint, Code, CodeKind, Origin};
use keyway_codes::policy::{CheckContext, Community, PropertyNumber, TargetLock};
use keyway_codes::{generate, secure_rng};
use rand::SeedableRng;
use rand::rngs::StdRng;

fn context(existing: usize) -> CheckContext {
    let community = Community {
        six_digit_codes: true,
        affiliated_numbers: vec![
            PropertyNumber::parse("1440").unwrap(),
            PropertyNumber::parse("94110").unwrap(),
        ],
        ..Community::default()
    };
    let base = CheckContext::new(community, CodeKind::Resident)
        .with_lock(TargetLock::new(AccessPoint::UnitDoor));
    let codes = keyway_codes::generate_distinct(
        &base.clone().with_origin(Origin::Generated),
        existing,
        &mut StdRng::seed_from_u64(7),
    )
    .unwrap();
    let lock = TargetLock {
        enter_key: false,
        codes,
        ..TargetLock::new(AccessPoint::UnitDoor)
    };
    CheckContext {
        locks: vec![lock],
        ..base
    }
}

fn bench(c: &mut Criterion) {
    let candidate = Code::parse("4817").unwrap();
    let mut group = c.benchmark_group("check");
    for existing in [0, 250] {
        let ctx = context(existing);
        group.bench_with_input(BenchmarkId::new("full_report", existing), &ctx, |b, ctx| {
            b.iter(|| ctx.check(std::hint::black_box(&candidate)))
        });
        group.bench_with_input(BenchmarkId::new("is_allowed", existing), &ctx, |b, ctx| {
            b.iter(|| ctx.is_allowed(std::hint::black_box(&candidate)))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("generate");
    for existing in [0, 250] {
        let ctx = context(existing).with_origin(Origin::Generated);
        let mut rng = secure_rng().unwrap();
        group.bench_with_input(BenchmarkId::new("one_code", existing), &ctx, |b, ctx| {
            b.iter(|| generate(ctx, &mut rng).unwrap())
        });
        // The production path: a fresh OS-seeded generator for every code.
        group.bench_with_input(
            BenchmarkId::new("one_code_os_seeded", existing),
            &ctx,
            |b, ctx| b.iter(|| generate(ctx, &mut secure_rng().unwrap()).unwrap()),
        );
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
