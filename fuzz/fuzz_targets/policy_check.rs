//! The policy check over arbitrary contexts (community settings, locks with
//! codes and model constraints, deleted PINs, kind, origin, length) and
//! arbitrary text: `CheckContext::check_text` never panics, a refusal names
//! at least one rule and says something about each, and the fast path
//! (`is_allowed`) agrees with the full report.

#![no_main]

use arbitrary::Arbitrary;
use keyway_codes::code::{AccessPoint, Code, CodeKind, Origin};
use keyway_codes::policy::{
    CheckContext, CheckError, CommonPins, Community, ModelConstraint, PropertyNumber, TargetLock,
};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct LockInput {
    access_point: u8,
    enter_key: bool,
    constraints: u8,
    codes: Vec<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    six_digit_codes: bool,
    custom_codes: bool,
    affiliated: Vec<String>,
    one_time_pin_length: u8,
    builtin_common: bool,
    extra_common: Vec<String>,
    kind: u8,
    generated: bool,
    length: Option<u8>,
    locks: Vec<LockInput>,
    deleted: Vec<String>,
    text: String,
}

fn codes(texts: &[String], most: usize) -> impl Iterator<Item = Code> + '_ {
    texts.iter().take(most).filter_map(|t| Code::parse(t).ok())
}

fn context(input: &Input) -> CheckContext {
    let community = Community {
        six_digit_codes: input.six_digit_codes,
        custom_codes: input.custom_codes,
        affiliated_numbers: input
            .affiliated
            .iter()
            .take(8)
            .filter_map(|n| PropertyNumber::parse(n).ok())
            .collect(),
        one_time_pin_length: input.one_time_pin_length,
        common_pins: CommonPins {
            builtin: input.builtin_common,
            extra: codes(&input.extra_common, 16).collect(),
        },
    };
    let kind = CodeKind::ALL[usize::from(input.kind) % CodeKind::ALL.len()];
    let mut ctx = CheckContext::new(community, kind)
        .with_origin(if input.generated {
            Origin::Generated
        } else {
            Origin::Custom
        })
        .with_deleted_pins(codes(&input.deleted, 16));
    ctx.length = input.length.map(usize::from);
    ctx.locks = input
        .locks
        .iter()
        .take(4)
        .map(|lock| TargetLock {
            access_point: AccessPoint::ALL[usize::from(lock.access_point) % AccessPoint::ALL.len()],
            enter_key: lock.enter_key,
            constraints: ModelConstraint::ALL
                .iter()
                .enumerate()
                .filter(|(i, _)| lock.constraints & (1 << i) != 0)
                .map(|(_, c)| *c)
                .collect(),
            codes: codes(&lock.codes, 64).collect(),
        })
        .collect();
    ctx
}

fuzz_target!(|input: Input| {
    let ctx = context(&input);
    match ctx.check_text(&input.text) {
        Ok(code) => assert!(ctx.is_allowed(&code), "check and is_allowed disagree"),
        Err(CheckError::Rejected(rejection)) => {
            assert!(!rejection.violations.is_empty());
            assert!(rejection.violations.iter().all(|v| !v.message.is_empty()));
            let code = Code::parse(&input.text).expect("a rejected code parsed");
            assert!(!ctx.is_allowed(&code), "check and is_allowed disagree");
        }
        Err(CheckError::InvalidFormat(_)) => assert!(Code::parse(&input.text).is_err()),
    }
});
