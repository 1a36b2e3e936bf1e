//! Counting what each test runner says: its summary lines (nextest,
//! libtest, pytest, node's TAP, the Kotlin and Swift programs) into totals.

use super::*;

#[derive(Default)]
pub(crate) struct Totals {
    pub(crate) passed: u64,
    pub(crate) failed: u64,
    /// Ignored or filtered out.
    pub(crate) skipped: u64,
    pub(crate) binaries: u64,
}

/// Which output of a runner carries its summary lines: libtest, pytest and
/// the Kotlin tests print them on stdout, cargo-nextest on stderr.
#[derive(Clone, Copy)]
pub(crate) enum Stream {
    Stdout,
    Stderr,
}

/// Runs `command`, echoing `stream` (on the same stream), and adds up the
/// summary lines `parse` recognises. A failing command with no failed test
/// counted is an error.
pub(crate) fn run_counting(
    command: &mut Command,
    stream: Stream,
    parse: fn(&str, &mut Totals),
) -> Result<Totals, String> {
    match stream {
        Stream::Stdout => command.stdout(Stdio::piped()),
        Stream::Stderr => command.stderr(Stdio::piped()),
    };
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    let output: Option<Box<dyn std::io::Read>> = match stream {
        Stream::Stdout => child.stdout.take().map(|s| Box::new(s) as _),
        Stream::Stderr => child.stderr.take().map(|s| Box::new(s) as _),
    };
    let mut totals = Totals::default();
    if let Some(output) = output {
        for line in BufReader::new(output).lines() {
            let line = line.map_err(|e| format!("reading test output: {e}"))?;
            match stream {
                Stream::Stdout => println!("{line}"),
                Stream::Stderr => eprintln!("{line}"),
            }
            parse(&line, &mut totals);
        }
    }
    let status = child
        .wait()
        .map_err(|e| format!("waiting for {command:?}: {e}"))?;
    if !status.success() && totals.failed == 0 {
        return Err(format!("{command:?} failed ({status})"));
    }
    Ok(totals)
}

/// cargo-nextest's lines: `Starting 12 tests across 3 binaries (1 test
/// skipped)` and `Summary [   2.004s] 3 tests run: 1 passed, 1 failed, 1
/// timed out, 1 skipped`. Everything that is neither passed nor skipped
/// (failed, timed out, exec failed) counts as failed.
pub(crate) fn nextest_line(line: &str, totals: &mut Totals) {
    let line = line.trim();
    if let Some(rest) = line.strip_prefix("Starting ") {
        if let Some((_, binaries)) = rest.split_once(" across ") {
            totals.binaries += leading_number(binaries);
        }
        return;
    }
    let Some(rest) = line.strip_prefix("Summary [") else {
        return;
    };
    let Some((_, counts)) = rest.split_once(" run: ") else {
        return;
    };
    for part in counts.split(", ") {
        // `4 passed (1 slow)`: only the number and the first word count.
        let part = part.split(" (").next().unwrap_or_default();
        let n = leading_number(part);
        let label = part.trim_start_matches(|c: char| c.is_ascii_digit()).trim();
        match label {
            "passed" => totals.passed += n,
            "skipped" => totals.skipped += n,
            _ => totals.failed += n,
        }
    }
}

/// The number a text starts with (0 if none).
pub(crate) fn leading_number(text: &str) -> u64 {
    let digits: String = text
        .trim_start()
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or(0)
}

/// `test result: ok. 5 passed; 0 failed; 1 ignored; ...`
pub(crate) fn libtest_line(line: &str, totals: &mut Totals) {
    if let Some(summary) = line.strip_prefix("test result: ") {
        totals.binaries += 1;
        totals.passed += count(summary, "passed");
        totals.failed += count(summary, "failed");
        totals.skipped += count(summary, "ignored");
    }
}

/// `6 passed, 1 failed in 0.12s` (pytest's last line, between `=` runs or not).
pub(crate) fn pytest_line(line: &str, totals: &mut Totals) {
    let line = line.trim_matches(|c| c == '=' || c == ' ');
    if line.contains(" in ") && (line.contains("passed") || line.contains("failed")) {
        let summary = line
            .split(" in ")
            .next()
            .unwrap_or_default()
            .replace(',', ";");
        totals.binaries += 1;
        totals.passed += count(&summary, "passed");
        totals.failed += count(&summary, "failed") + count(&summary, "error");
    }
}

/// node's TAP summary: `# pass 14`, `# fail 1` (and `# cancelled 1`, a
/// failure too).
pub(crate) fn tap_line(line: &str, totals: &mut Totals) {
    let Some(rest) = line.trim().strip_prefix("# ") else {
        return;
    };
    let (label, n) = rest.split_once(' ').unwrap_or((rest, ""));
    let n = leading_number(n);
    match label {
        "pass" => {
            totals.binaries += 1;
            totals.passed += n;
        }
        "fail" | "cancelled" => totals.failed += n,
        _ => {}
    }
}

/// `Kotlin binding tests: 6 passed, 0 failed`
pub(crate) fn kotlin_line(line: &str, totals: &mut Totals) {
    if let Some(summary) = line.strip_prefix("Kotlin binding tests: ") {
        let summary = summary.replace(',', ";");
        totals.binaries += 1;
        totals.passed += count(&summary, "passed");
        totals.failed += count(&summary, "failed");
    }
}

/// The number before `label` in a `;`-separated summary (`ok. 5 passed; 0 failed`).
pub(crate) fn count(summary: &str, label: &str) -> u64 {
    summary
        .split(';')
        .filter_map(|part| {
            part.trim()
                .trim_start_matches("ok. ")
                .trim_start_matches("FAILED. ")
                .strip_suffix(label)
        })
        .find_map(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nextest_lines_are_counted() {
        let mut totals = Totals::default();
        for line in [
            "    Starting 3 tests across 2 binaries (1 test skipped)",
            "        FAIL [   0.170s] (1/3) nx::t bad",
            "    test result: FAILED. 0 passed; 1 failed; 0 ignored; 0 measured",
            "     Summary [   2.004s] 3 tests run: 1 passed, 1 failed, 1 timed out, 1 skipped",
            "    Starting 7 tests across 1 binary",
            "     Summary [   9.000s] 7 tests run: 7 passed (2 slow), 0 skipped",
        ] {
            nextest_line(line, &mut totals);
        }
        assert_eq!(
            (
                totals.passed,
                totals.failed,
                totals.skipped,
                totals.binaries
            ),
            (8, 2, 1, 3)
        );
    }

    #[test]
    fn tap_summaries_are_counted() {
        let mut totals = Totals::default();
        for line in [
            "# Subtest: a test",
            "ok 1 - a test",
            "# tests 16",
            "# pass 14",
            "# fail 1",
            "# cancelled 1",
            "# skipped 0",
        ] {
            tap_line(line, &mut totals);
        }
        assert_eq!((totals.passed, totals.failed, totals.binaries), (14, 2, 1));
    }

    #[test]
    fn libtest_lines_are_counted() {
        let mut totals = Totals::default();
        libtest_line(
            "test result: ok. 5 passed; 0 failed; 1 ignored; 0 measured; 0 filtered out",
            &mut totals,
        );
        assert_eq!(
            (
                totals.passed,
                totals.failed,
                totals.skipped,
                totals.binaries
            ),
            (5, 0, 1, 1)
        );
    }
}
