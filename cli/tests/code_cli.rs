//! `keyway code check` and `keyway code generate`, run as the real binary.

use std::collections::BTreeSet;
use std::process::{Command, Output};

use serde_json::Value;

fn keyway(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyway"))
        .args(args)
        .output()
        .expect("the keyway binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

fn rules(report: &Value) -> Vec<String> {
    report["violations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["rule"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn an_acceptable_code_exits_zero() {
    let out = keyway(&["code", "check", "4817", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        json(&out),
        serde_json::json!({"ok": true, "violations": []})
    );

    let out = keyway(&["code", "check", "4817"]);
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "4817 is acceptable.\n"
    );
}

#[test]
fn a_refused_code_exits_one_and_lists_every_violation() {
    let out = keyway(&["code", "check", "1234", "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["ok"], false);
    assert_eq!(rules(&report), ["sequential", "common_pin"]);
    assert!(
        report["violations"][0]["message"]
            .as_str()
            .unwrap()
            .contains("consecutive")
    );

    let out = keyway(&["code", "check", "1234"]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("Refused: 2 rule(s) broken."), "{text}");
    assert!(
        text.contains("sequential") && text.contains("common_pin"),
        "{text}"
    );
}

#[test]
fn context_options_reach_the_policy() {
    let out = keyway(&[
        "code",
        "check",
        "0481",
        "--kind",
        "carrier",
        "--property-number",
        "481",
        "--json",
    ]);
    assert_eq!(rules(&json(&out)), ["leading_zero", "property_number"]);

    let out = keyway(&["code", "check", "4817", "--existing", "4817", "--json"]);
    assert_eq!(rules(&json(&out)), ["duplicate_on_lock"]);

    let out = keyway(&[
        "code",
        "check",
        "4817",
        "--existing",
        "481739",
        "--no-enter-key",
        "--json",
    ]);
    assert_eq!(rules(&json(&out)), ["prefix_conflict"]);

    let out = keyway(&["code", "check", "481739", "--json"]);
    assert_eq!(rules(&json(&out)), ["length"]);
    let out = keyway(&["code", "check", "481739", "--six-digit", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let out = keyway(&[
        "code",
        "check",
        "4817",
        "--six-digit",
        "--length",
        "6",
        "--json",
    ]);
    assert_eq!(rules(&json(&out)), ["length"]);

    let out = keyway(&["code", "check", "4817", "--no-custom", "--json"]);
    assert_eq!(rules(&json(&out)), ["custom_not_allowed"]);
    let out = keyway(&["code", "check", "4817", "--door", "amenity", "--json"]);
    assert_eq!(rules(&json(&out)), ["custom_not_allowed"]);
    let out = keyway(&["code", "check", "4817", "--kind", "guest", "--json"]);
    assert_eq!(rules(&json(&out)), ["custom_not_allowed"]);

    let out = keyway(&[
        "code",
        "check",
        "481730",
        "--kind",
        "courier",
        "--deleted-pin",
        "481730",
        "--json",
    ]);
    assert_eq!(rules(&json(&out)), ["deleted_pin_reuse"]);

    let out = keyway(&[
        "code",
        "check",
        "1290",
        "--constraint",
        "no_zeros",
        "--constraint",
        "cannot_start_with_12",
        "--json",
    ]);
    assert_eq!(rules(&json(&out)), ["no_zeros", "cannot_start_with_12"]);

    let out = keyway(&["code", "check", "1987", "--no-common-pin-list", "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let out = keyway(&["code", "check", "4817", "--common-pin", "4817", "--json"]);
    assert_eq!(rules(&json(&out)), ["common_pin"]);
}

#[test]
fn malformed_codes_are_refused_with_invalid_format() {
    for input in ["12a4", "", " 1234", "-123", "１２３４", &"9".repeat(40)] {
        let out = keyway(&["code", "check", "--json", "--", input]);
        assert_eq!(out.status.code(), Some(1), "input {input:?}");
        assert_eq!(rules(&json(&out)), ["invalid_format"], "input {input:?}");
    }
}

#[test]
fn usage_errors_exit_two() {
    for args in [
        &["code", "check"][..],
        &["code", "check", "4817", "--kind", "janitor"],
        &["code", "check", "4817", "--existing", "12x4"],
        &["code", "check", "4817", "--constraint", "no_sevens"],
        &["code", "check", "4817", "--door", "balcony"],
        &["code", "generate", "--count", "0"],
        &["code", "frobnicate"],
    ] {
        let out = keyway(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(!out.stderr.is_empty());
    }
}

#[test]
fn generated_codes_are_distinct_and_pass_check_in_the_same_context() {
    let context = [
        "--kind",
        "resident",
        "--six-digit",
        "--length",
        "6",
        "--property-number",
        "1440",
        "--constraint",
        "no_zeros",
    ];
    let mut args = vec!["code", "generate", "--count", "40", "--json"];
    args.extend(context);
    let out = keyway(&args);
    assert_eq!(out.status.code(), Some(0));
    let codes: Vec<String> = serde_json::from_value(json(&out)).unwrap();
    assert_eq!(codes.len(), 40);
    assert_eq!(codes.iter().collect::<BTreeSet<_>>().len(), 40);
    // Generated codes are checked as generated; custom resident codes are fine here too.
    for code in &codes {
        assert_eq!(code.len(), 6);
        let mut check = vec!["code", "check", code.as_str()];
        check.extend(context);
        assert_eq!(keyway(&check).status.code(), Some(0), "{code}");
    }
}

#[test]
fn generate_prints_one_code_a_line() {
    let out = keyway(&["code", "generate", "--count", "5", "--kind", "courier"]);
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 5);
    assert!(
        lines
            .iter()
            .all(|l| l.len() == 6 && l.bytes().all(|b| b.is_ascii_digit()))
    );
}

#[test]
fn generate_reports_exhaustion_exactly() {
    let out = keyway(&[
        "code",
        "generate",
        "--count",
        "5000",
        "--constraint",
        "cannot_contain_0789",
        "--json",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let report = json(&out);
    assert_eq!(report["error"]["code"], "exhausted");
    assert!(
        report["error"]["message"]
            .as_str()
            .unwrap()
            .contains("5000 were asked for")
    );
}
