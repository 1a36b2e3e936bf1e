//! `cargo xtask fresh`: the README's two commands on a truly fresh machine.
//!
//! A minimal Debian 12 root made with `debootstrap --variant=minbase` (its
//! default mirror), with only `build-essential`, `git`, `curl` and a Rust
//! toolchain added, as the issue that asked for it describes a new user's
//! machine: the base is kept in `target/fresh/base` (made once, again with
//! `--rebuild`), and every run starts from a fresh copy of it
//! (`target/fresh/run`), so nothing a previous run installed is there. The
//! repository's current commit is cloned into it (a clean clone, as CI
//! does), then each command of the README's first block runs there as
//! written, as root, with the output in `target/fresh/logs/`. The result
//! (each command's wall time and outcome) is printed and kept in
//! `target/fresh/result.txt`; docs/ci.md records the last one.
//!
//! The Rust toolchain is the host's rustup home, bind-mounted read-only,
//! with rustup's proxies in the root's own `~/.cargo/bin`; the root's
//! `CARGO_HOME` is its own, so crates are downloaded from the registry
//! as on a new machine. Everything runs in a private mount namespace
//! (`unshare --mount`): `/proc`, `/sys`, `/dev` and the toolchain are
//! mounted there only, and are gone when the run ends, whether it passed,
//! failed or was killed.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// Debian's release for the root: Debian 12.
const SUITE: &str = "bookworm";

/// What the base root gets on top of debootstrap's minbase: the issue's new
/// user's packages, and the CA certificates every https download (rustup's
/// installer, cargo's registry) needs, which curl recommends.
const BASE_PACKAGES: &[&str] = &["build-essential", "git", "curl", "ca-certificates"];

/// The file in the base that marks it complete (it holds the package list).
const BASE_MARKER: &str = ".keyway-fresh-base";

/// The proxies rustup's installer puts in `~/.cargo/bin`.
const RUSTUP_PROXIES: &[&str] = &[
    "cargo",
    "rustc",
    "rustdoc",
    "rustfmt",
    "cargo-fmt",
    "cargo-clippy",
    "clippy-driver",
];

/// One README command's run.
struct Outcome {
    command: String,
    passed: bool,
    took: Duration,
}

/// `cargo xtask fresh [--rebuild] [--only demo|test]`.
pub(crate) fn fresh(args: &[String]) -> Result<(), String> {
    let mut rebuild = false;
    let mut only = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        match arg.as_str() {
            "--rebuild" => rebuild = true,
            "--only" => only = rest.next().cloned(),
            other => {
                return Err(format!(
                    "unknown argument {other}: cargo xtask fresh [--rebuild] [--only WORD]"
                ));
            }
        }
    }
    if !is_root() {
        return Err("cargo xtask fresh needs root (debootstrap, chroot, mount)".into());
    }
    let root = crate::root();
    let dir = crate::target_dir().join("fresh");
    let base = dir.join("base");
    let run_root = dir.join("run");
    let logs = dir.join("logs");

    let mut commands = readme_commands(&root)?;
    if let Some(word) = &only {
        commands.retain(|c| c.contains(word.as_str()));
        if commands.is_empty() {
            return Err(format!("no README command contains {word:?}"));
        }
    }
    let commit = git_output(&root, &["rev-parse", "HEAD"])?;
    let dirty = !git_output(&root, &["status", "--porcelain", "--untracked-files=no"])?.is_empty();

    crate::step(".ci/install-deps --fresh");
    crate::run(Command::new(root.join(".ci/install-deps")).arg("--fresh"))?;

    if rebuild || !base.join(BASE_MARKER).is_file() {
        make_base(&dir, &base)?;
    }

    crate::step("a fresh copy of the base root");
    remove_tree(&run_root)?;
    crate::run(Command::new("cp").arg("-a").arg(&base).arg(&run_root))?;
    // The machine's own network settings (not packages): name servers, and
    // localhost, which an installed system's /etc/hosts names.
    crate::copy(
        Path::new("/etc/resolv.conf"),
        &run_root.join("etc/resolv.conf"),
    )?;
    write(
        &run_root.join("etc/hosts"),
        "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n",
    )?;
    // As in any chroot or container: packages install, their services do
    // not start (a PostgreSQL service would listen on the host's network).
    write_executable(
        &run_root.join("usr/sbin/policy-rc.d"),
        "#!/bin/sh\nexit 101\n",
    )?;
    install_rustup(&run_root)?;
    trust_local_certificates(&run_root)?;

    crate::step(&format!("clone {} into the root", short(&commit)));
    if dirty {
        println!("note: uncommitted changes are not in the clone; it has {commit}");
    }
    let clone = run_root.join("root/keyway");
    crate::run(
        Command::new("git")
            .args(["clone", "--quiet", "--no-hardlinks"])
            .arg(&root)
            .arg(&clone),
    )?;
    crate::run(
        Command::new("git")
            .arg("-C")
            .arg(&clone)
            .args(["checkout", "--quiet", "--detach", &commit]),
    )?;

    std::fs::create_dir_all(&logs).map_err(|e| format!("creating {}: {e}", logs.display()))?;
    let mut outcomes = Vec::new();
    for command in &commands {
        let word = command.split_whitespace().last().unwrap_or("command");
        let log = logs.join(format!("{word}.log"));
        crate::step(&format!(
            "{command} (in the fresh root; output also in {})",
            log.display()
        ));
        let started = Instant::now();
        let passed = in_root(
            &run_root,
            &format!("cd /root/keyway && {command}"),
            Some(&log),
        )?;
        outcomes.push(Outcome {
            command: command.clone(),
            passed,
            took: started.elapsed(),
        });
        if !passed {
            break;
        }
    }

    let mut report = format!(
        "cargo xtask fresh: commit {commit}, Debian 12 ({SUITE}) minbase root with {}\n",
        BASE_PACKAGES.join(", ")
    );
    for outcome in &outcomes {
        report.push_str(&format!(
            "{:<20} {:<6} {}\n",
            outcome.command,
            if outcome.passed { "passed" } else { "FAILED" },
            minutes(outcome.took)
        ));
    }
    for command in commands.iter().skip(outcomes.len()) {
        report.push_str(&format!("{command:<20} not run\n"));
    }
    crate::step("fresh: results");
    print!("{report}");
    write(&dir.join("result.txt"), &report)?;
    let failed = outcomes.iter().filter(|o| !o.passed).count() + commands.len() - outcomes.len();
    if failed > 0 {
        return Err(format!(
            "{failed} README command(s) did not pass on a fresh root (logs in {})",
            logs.display()
        ));
    }
    Ok(())
}

/// The commands of the README's first code block.
fn readme_commands(root: &Path) -> Result<Vec<String>, String> {
    let readme = std::fs::read_to_string(root.join("README.md"))
        .map_err(|e| format!("reading README.md: {e}"))?;
    let commands: Vec<String> = readme
        .lines()
        .skip_while(|line| !line.starts_with("```"))
        .skip(1)
        .take_while(|line| !line.starts_with("```"))
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .map(str::to_owned)
        .collect();
    if commands.is_empty() {
        return Err("README.md has no command block".into());
    }
    Ok(commands)
}

/// debootstrap's minbase, then the base packages, into `base`.
fn make_base(dir: &Path, base: &Path) -> Result<(), String> {
    let staging = dir.join("base.new");
    remove_tree(&staging)?;
    remove_tree(base)?;
    crate::step(&format!(
        "debootstrap --variant=minbase {SUITE} (into {})",
        staging.display()
    ));
    crate::run(
        Command::new("debootstrap")
            .args(["--variant=minbase", SUITE])
            .arg(&staging),
    )?;
    crate::step(&format!(
        "apt-get install {} (in the new root)",
        BASE_PACKAGES.join(" ")
    ));
    crate::copy(
        Path::new("/etc/resolv.conf"),
        &staging.join("etc/resolv.conf"),
    )?;
    let script = format!(
        "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends {} >/dev/null && apt-get clean",
        BASE_PACKAGES.join(" ")
    );
    if !in_root(&staging, &script, None)? {
        return Err("installing the base packages failed".into());
    }
    write(&staging.join(BASE_MARKER), &BASE_PACKAGES.join("\n"))?;
    std::fs::rename(&staging, base)
        .map_err(|e| format!("renaming {} to {}: {e}", staging.display(), base.display()))
}

/// The variables through which this machine's environment names its CA
/// bundle for programs that do not read the system's (node, pip, git,
/// curl...); passed on when set and naming a file the root has too.
const CA_VARIABLES: &[&str] = &[
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "NODE_EXTRA_CA_CERTS",
    "GIT_SSL_CAINFO",
    "CURL_CA_BUNDLE",
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
];

/// The machine's local certificate authorities (a network that inspects
/// TLS needs them on every machine in it; they are the machine's network
/// settings, not packages): copied from `/usr/local/share/ca-certificates`
/// and added to the root's bundle, as on the host.
fn trust_local_certificates(run_root: &Path) -> Result<(), String> {
    let local = Path::new("/usr/local/share/ca-certificates");
    let Ok(entries) = std::fs::read_dir(local) else {
        return Ok(());
    };
    let target = run_root.join("usr/local/share/ca-certificates");
    std::fs::create_dir_all(&target).map_err(|e| format!("creating {}: {e}", target.display()))?;
    let mut any = false;
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_file() {
            crate::copy(&path, &target.join(entry.file_name()))?;
            any = true;
        }
    }
    if any && !in_root(run_root, "update-ca-certificates >/dev/null", None)? {
        return Err("update-ca-certificates failed in the root".into());
    }
    Ok(())
}

/// `NAME=value` for each of [`CA_VARIABLES`] set here whose file the root has.
fn ca_environment(root: &Path) -> Vec<String> {
    CA_VARIABLES
        .iter()
        .filter_map(|name| {
            let value = std::env::var(name).ok()?;
            let inside = root.join(value.trim_start_matches('/'));
            inside.exists().then(|| format!("{name}={value}"))
        })
        .collect()
}

/// rustup and its proxies in the root's `/root/.cargo/bin`, as rustup's
/// installer leaves them; the toolchains are the host's (mounted read-only
/// at `/root/.rustup` while a command runs).
fn install_rustup(run_root: &Path) -> Result<(), String> {
    let rustup = host_rustup()?;
    let bin = run_root.join("root/.cargo/bin");
    std::fs::create_dir_all(&bin).map_err(|e| format!("creating {}: {e}", bin.display()))?;
    crate::copy(&rustup, &bin.join("rustup"))?;
    for proxy in RUSTUP_PROXIES {
        std::fs::hard_link(bin.join("rustup"), bin.join(proxy))
            .map_err(|e| format!("linking {proxy}: {e}"))?;
    }
    std::fs::create_dir_all(run_root.join("root/.rustup"))
        .map_err(|e| format!("creating the rustup home: {e}"))
}

fn host_rustup() -> Result<PathBuf, String> {
    let mut candidates = Vec::new();
    if let Some(home) = std::env::var_os("CARGO_HOME") {
        candidates.push(PathBuf::from(home).join("bin/rustup"));
    }
    if let Some(home) = std::env::var_os("HOME") {
        candidates.push(PathBuf::from(home).join(".cargo/bin/rustup"));
    }
    if let Some(path) = std::env::var_os("PATH") {
        candidates.extend(std::env::split_paths(&path).map(|dir| dir.join("rustup")));
    }
    candidates
        .into_iter()
        .find(|path| path.is_file())
        .ok_or_else(|| "rustup is not installed on this machine".to_owned())
}

fn host_rustup_home() -> Result<PathBuf, String> {
    std::env::var_os("RUSTUP_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".rustup")))
        .filter(|path| path.join("toolchains").is_dir())
        .ok_or_else(|| "no rustup home with toolchains on this machine".to_owned())
}

/// Runs `script` with bash as root in `root`, in a private mount namespace
/// with `/proc`, `/sys`, `/dev` (and, once the root has a rustup home, the
/// host's toolchains, read-only) mounted; its output goes to the terminal
/// and to `log`. Whether it exited 0.
fn in_root(root: &Path, script: &str, log: Option<&Path>) -> Result<bool, String> {
    let rustup_home = if root.join("root/.rustup").is_dir() {
        Some(host_rustup_home()?)
    } else {
        None
    };
    // Mounts made inside the namespace vanish with it: nothing to unmount
    // by hand, even when the run fails or is killed.
    let mut mounts = String::from(
        r#"set -eu
r="$FRESH_ROOT"
# The root is a mount point of its own, as a container's is, so a command in
# it can make its own private mount namespace (`unshare --propagation
# private` needs `/` to be a mount; the Swift root's set-up does that).
mount --bind "$r" "$r"
# This shell is the first process of the new PID namespace; the root's /proc
# shows that namespace.
mount -t proc proc "$r/proc"
mount -t sysfs -o ro sysfs "$r/sys"
mount --bind /dev "$r/dev"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$r/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs "$r/dev/shm"
"#,
    );
    if rustup_home.is_some() {
        mounts.push_str(
            r#"mount --bind "$FRESH_RUSTUP_HOME" "$r/root/.rustup"
mount -o remount,bind,ro "$r/root/.rustup"
"#,
        );
    }
    // The arguments after the script are the root's environment. The shell
    // stays the namespace's first process (it reaps what is orphaned).
    mounts.push_str(
        r#"chroot "$r" /usr/bin/env -i "$@" /bin/bash -o pipefail -c "$FRESH_SCRIPT" </dev/null
"#,
    );
    // A private PID namespace too: when the command ends, the kernel ends
    // whatever it left running (a daemon, a hung test), and killing xtask
    // kills the namespace's first process.
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
        .arg(&mounts)
        .arg("fresh")
        .args([
            "HOME=/root".to_owned(),
            format!(
                "TERM={}",
                std::env::var("TERM").unwrap_or_else(|_| "dumb".into())
            ),
            "PATH=/root/.cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
                .to_owned(),
        ])
        .args(ca_environment(root))
        .env("FRESH_ROOT", root)
        .env("FRESH_SCRIPT", format!("{script} 2>&1"));
    if let Some(home) = &rustup_home {
        command.env("FRESH_RUSTUP_HOME", home);
    }
    let status = match log {
        None => command
            .status()
            .map_err(|e| format!("cannot start unshare: {e}"))?,
        Some(log) => {
            use std::io::{BufRead, BufReader, Write};
            let mut file = std::fs::File::create(log)
                .map_err(|e| format!("creating {}: {e}", log.display()))?;
            let mut child = command
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|e| format!("cannot start unshare: {e}"))?;
            if let Some(out) = child.stdout.take() {
                for line in BufReader::new(out).split(b'\n').map_while(Result::ok) {
                    let line = String::from_utf8_lossy(&line);
                    println!("{line}");
                    let _ = writeln!(file, "{line}");
                }
            }
            child
                .wait()
                .map_err(|e| format!("waiting for unshare: {e}"))?
        }
    };
    Ok(status.success())
}

/// Removes a root left by an earlier run. Its mounts lived in a private
/// namespace, so nothing is mounted under it here; refuse if something is.
fn remove_tree(path: &Path) -> Result<(), String> {
    if !path.exists() {
        return Ok(());
    }
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let prefix = path.display().to_string();
    if let Some(line) = mounts.lines().find(|line| {
        line.split(' ')
            .nth(1)
            .is_some_and(|m| m.starts_with(&prefix))
    }) {
        return Err(format!(
            "something is still mounted under {prefix} ({line}): unmount it first"
        ));
    }
    std::fs::remove_dir_all(path).map_err(|e| format!("removing {}: {e}", path.display()))
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

fn git_output(root: &Path, args: &[&str]) -> Result<String, String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(root)
        .args(args)
        .output()
        .map_err(|e| format!("git {args:?}: {e}"))?;
    if !output.status.success() {
        return Err(format!(
            "git {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

fn write_executable(path: &Path, text: &str) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt as _;
    write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| format!("making {} executable: {e}", path.display()))
}

fn short(commit: &str) -> &str {
    commit.get(..12).unwrap_or(commit)
}

fn minutes(took: Duration) -> String {
    let seconds = took.as_secs();
    format!("{}m {:02}s", seconds / 60, seconds % 60)
}
