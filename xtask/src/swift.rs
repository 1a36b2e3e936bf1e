//! The Swift binding tests: the generated Swift bindings compiled with
//! `swiftc` and a test program (`mobile-bindings/tests/swift`) run against
//! the same fixture as the Python and Kotlin tests.
//!
//! Debian 12 has no Swift; Debian 13 packages Swift 6 (`swiftlang`). So the
//! compiler lives in a Debian 13 root under the target directory
//! (`target/swift-root`), which `.ci/install-deps` makes once with
//! debootstrap and every run reuses. The library itself is the one the host
//! built (`libkeyway_mobile.so`): it loads in the newer root unchanged.
//!
//! In `target/bindings/swift` the run puts the generated C headers with one
//! module map (`include/`), the library and the test sources; inside the
//! root, where `target/bindings` is mounted at `/bindings`, `swiftc` builds
//! the six generated modules as one Swift module `Keyway` (`libKeyway.so`)
//! and the test program against it. The program then runs in the root
//! under `keyway-fixture` on the host: the server and the simulator stay on
//! the host, and the program reaches them over 127.0.0.1 (the root shares
//! the host's network) and the simulator's D-Bus socket in the temporary
//! directory (mounted into the root). Every mount lives in a private mount
//! namespace (`unshare --mount`), so nothing stays mounted when a run ends,
//! however it ends.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Stream, Totals};

/// The file in the root that marks it complete (it holds the package list);
/// `.ci/install-deps` writes it last.
const ROOT_MARKER: &str = ".keyway-swift-root";

/// Where `target/bindings` appears inside the root.
const BINDINGS_IN_ROOT: &str = "/bindings";

/// The Swift build directory inside the root (`target/bindings/swift`).
const BUILD_IN_ROOT: &str = "/bindings/swift";

/// The Debian 13 root with Swift, under the target directory.
pub(crate) fn root_dir() -> PathBuf {
    crate::target_dir().join("swift-root")
}

/// Builds the bindings and the test program in the root, then runs the
/// program under `fixture`. `out` is `target/bindings` (the generated
/// bindings), `library` the host-built `libkeyway_mobile.so`. Skipped, with
/// a line saying why, only when this machine cannot have a root.
pub(crate) fn tests(out: &Path, library: &Path, fixture: &Path) -> Result<Totals, String> {
    crate::step("swift binding tests (swiftc in the Debian 13 root, against the fixture)");
    let root = root_dir();
    if let Some(reason) = why_not_runnable(&root) {
        println!("Swift binding tests: skipped: {reason}");
        return Ok(Totals {
            skipped: 1,
            ..Totals::default()
        });
    }
    let build = out.join("swift");
    prepare(out, &build, library)?;
    println!("compiling the Keyway module and the test program with swiftc (in the root)");
    crate::run(&mut in_root(&root, out, &compile_script())?)
        .map_err(|e| format!("swiftc failed in the Swift root: {e}"))?;
    let runner = in_root(&root, out, RUN_SCRIPT)?;
    let mut command = Command::new(fixture);
    command
        .arg("--json")
        .arg(build.join("fixture.json"))
        .arg("--")
        .arg(runner.get_program())
        .args(runner.get_args());
    for (name, value) in runner.get_envs() {
        if let Some(value) = value {
            command.env(name, value);
        }
    }
    let totals = crate::run_counting(&mut command, Stream::Stdout, summary_line)?;
    if totals.passed + totals.failed == 0 {
        return Err("the Swift test program printed no summary".into());
    }
    Ok(totals)
}

/// Why the Swift tests cannot run on this machine, if they cannot: the root
/// needs root's rights (debootstrap, chroot, mounts) to be made and used.
fn why_not_runnable(root: &Path) -> Option<String> {
    if !crate::fresh::is_root() {
        return Some("not running as root, so no chroot into a Debian 13 root with Swift".into());
    }
    if !root.join(ROOT_MARKER).is_file() {
        return Some(format!(
            "no Debian 13 root with Swift at {} (.ci/install-deps makes it with debootstrap when it runs as root)",
            root.display()
        ));
    }
    None
}

/// Fills `build` (`target/bindings/swift`): the generated headers and one
/// module map in `include/`, the library, and the test sources in `tests/`.
fn prepare(out: &Path, build: &Path, library: &Path) -> Result<(), String> {
    let include = build.join("include");
    let tests = build.join("tests");
    for dir in [&include, &tests] {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    }
    for header in files_ending(out, "FFI.h")? {
        crate::copy(
            &header,
            &include.join(header.file_name().unwrap_or_default()),
        )?;
    }
    let mut module_map = String::new();
    for map in files_ending(out, "FFI.modulemap")? {
        let text =
            std::fs::read_to_string(&map).map_err(|e| format!("reading {}: {e}", map.display()))?;
        module_map.push_str(&linux_module_map(&text));
    }
    std::fs::write(include.join("module.modulemap"), module_map)
        .map_err(|e| format!("writing the module map: {e}"))?;
    crate::copy(
        library,
        &build.join(library.file_name().unwrap_or_default()),
    )?;
    let sources = crate::root().join("mobile-bindings/tests/swift");
    for source in crate::files_with_extension(&sources, "swift")? {
        crate::copy(&source, &tests.join(source.file_name().unwrap_or_default()))?;
    }
    Ok(())
}

/// A generated module map without its `use "Darwin"` line (there is no
/// Darwin module on Linux; Glibc's headers come through the C headers).
fn linux_module_map(text: &str) -> String {
    text.lines()
        .filter(|line| line.trim() != "use \"Darwin\"")
        .map(|line| format!("{line}\n"))
        .collect()
}

/// The files directly in `dir` whose names end with `suffix`, sorted.
fn files_ending(dir: &Path, suffix: &str) -> Result<Vec<PathBuf>, String> {
    let entries = std::fs::read_dir(dir).map_err(|e| format!("reading {}: {e}", dir.display()))?;
    let mut found: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.is_file()
                && path
                    .file_name()
                    .is_some_and(|name| name.to_string_lossy().ends_with(suffix))
        })
        .collect();
    found.sort();
    Ok(found)
}

/// `swiftc` twice: the generated bindings as the module `Keyway`
/// (`libKeyway.so`, against `libkeyway_mobile.so`), then the test program
/// against it. Absolute `-I` paths and a module cache of the run's own keep
/// a stale cache from an earlier run out. Swift 5 language mode: the
/// generated code and the tests do not claim Swift 6's strict concurrency.
fn compile_script() -> String {
    let flags = format!(
        "-swift-version 5 -module-cache-path {BUILD_IN_ROOT}/module-cache -I {BUILD_IN_ROOT}/include -L {BUILD_IN_ROOT}"
    );
    format!(
        "set -e
cd {BUILD_IN_ROOT}
swiftc {flags} -module-name Keyway -emit-library -emit-module -o libKeyway.so -lkeyway_mobile {BINDINGS_IN_ROOT}/*.swift
swiftc {flags} -I {BUILD_IN_ROOT} -lKeyway -lkeyway_mobile -o keyway-swift-tests tests/*.swift"
    )
}

/// Runs the test program in the root with only what it needs: where the
/// fixture described itself (the JSON file `keyway-fixture --json` wrote
/// into the build directory) and the simulator's bus, both set by the
/// fixture in this shell's environment.
const RUN_SCRIPT: &str = "cd /bindings/swift
exec /usr/bin/env -i HOME=/root PATH=/usr/bin:/bin LD_LIBRARY_PATH=/bindings/swift \
KEYWAY_FIXTURE_JSON=/bindings/swift/fixture.json \
DBUS_SYSTEM_BUS_ADDRESS=\"$DBUS_SYSTEM_BUS_ADDRESS\" \
TMPDIR=\"${TMPDIR:-/tmp}\" ./keyway-swift-tests";

/// A command that runs `script` with `sh` as root inside `root`, in private
/// mount and PID namespaces: `/proc` (swiftc needs it), `/dev`, the
/// temporary directory (the simulator's bus socket, the tests' data
/// directories) and `bindings` at `/bindings` are mounted for it only; when
/// it ends, the kernel ends whatever it left running.
fn in_root(root: &Path, bindings: &Path, script: &str) -> Result<Command, String> {
    let mounts = format!(
        r#"set -eu
r="$SWIFT_ROOT"
tmp="${{TMPDIR:-/tmp}}"
mount -t proc proc "$r/proc"
mount --bind /dev "$r/dev"
mkdir -p "$r$tmp" "$r{BINDINGS_IN_ROOT}"
mount --bind "$tmp" "$r$tmp"
mount --bind "$SWIFT_BINDINGS" "$r{BINDINGS_IN_ROOT}"
chroot "$r" /bin/sh -c "$SWIFT_SCRIPT" </dev/null
"#
    );
    let bindings = bindings
        .canonicalize()
        .map_err(|e| format!("{}: {e}", bindings.display()))?;
    let mut command = Command::new("unshare");
    command
        .args([
            "--mount",
            "--propagation",
            "private",
            "--pid",
            "--fork",
            "--kill-child",
            "--",
            "/bin/sh",
            "-c",
        ])
        .arg(mounts)
        .env("SWIFT_ROOT", root)
        .env("SWIFT_BINDINGS", bindings)
        .env("SWIFT_SCRIPT", script);
    Ok(command)
}

/// `Swift binding tests: 6 passed, 0 failed`
pub(crate) fn summary_line(line: &str, totals: &mut Totals) {
    if let Some(summary) = line.strip_prefix("Swift binding tests: ") {
        let summary = summary.replace(',', ";");
        totals.binaries += 1;
        totals.passed += crate::count(&summary, "passed");
        totals.failed += crate::count(&summary, "failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_maps_lose_darwin() {
        let map = "module keyway_codesFFI {\n    header \"keyway_codesFFI.h\"\n    export *\n    use \"Darwin\"\n    use \"_Builtin_stdbool\"\n}";
        assert_eq!(
            linux_module_map(map),
            "module keyway_codesFFI {\n    header \"keyway_codesFFI.h\"\n    export *\n    use \"_Builtin_stdbool\"\n}\n"
        );
    }

    #[test]
    fn summaries_are_counted() {
        let mut totals = Totals::default();
        summary_line("test swift::a ... ok", &mut totals);
        summary_line("Swift binding tests: 14 passed, 1 failed", &mut totals);
        assert_eq!((totals.passed, totals.failed, totals.binaries), (14, 1, 1));
    }
}
