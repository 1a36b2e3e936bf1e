//! A private PostgreSQL cluster for tests and benchmarks, from the Debian
//! `postgresql` package (`.ci/install-deps` installs it): `initdb` into a
//! fresh directory, `pg_ctl start` listening on a Unix socket in that
//! directory only (no TCP port, so nothing clashes with another cluster),
//! trust authentication for the `keyway` superuser. PostgreSQL refuses to
//! run as root, so under root the cluster runs as the `postgres` user (made
//! by the Debian package; `keyway-pg` is created if it is missing).

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster; stopped and removed on drop unless kept.
pub(crate) struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    user: Option<String>,
    keep: bool,
}

/// Settings for tests: nothing is flushed to disk (the tests kill the
/// server, never PostgreSQL), and room for many parallel test servers.
const TEST_SETTINGS: &str = "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n";

/// Settings both kinds share.
fn common_settings(dir: &Path) -> String {
    format!(
        "listen_addresses = ''\nunix_socket_directories = '{}'\nport = 5432\nmax_connections = 300\nshared_buffers = 256MB\n",
        dir.display()
    )
}

impl Cluster {
    /// Starts a cluster in a new directory under the system's temporary
    /// directory. `durable` keeps PostgreSQL's default flushing (benchmarks);
    /// otherwise it runs with `fsync = off` (tests).
    pub(crate) fn start(name: &str, durable: bool) -> Result<Self, String> {
        let bin = bin_dir()?;
        let dir = std::env::temp_dir().join(format!("keyway-pg-{name}"));
        if dir.exists() {
            // A cluster left behind by an interrupted run.
            let stale = Self {
                dir: dir.clone(),
                bin: bin.clone(),
                user: run_as_user()?,
                keep: false,
            };
            drop(stale);
        }
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        let cluster = Self {
            dir,
            bin,
            user: run_as_user()?,
            keep: false,
        };
        if let Some(user) = &cluster.user {
            run_quiet(Command::new("chown").arg(user).arg(&cluster.dir))?;
        }
        let data = cluster.data();
        cluster.run(
            Command::new(cluster.bin.join("initdb"))
                .arg("-D")
                .arg(&data)
                .args([
                    "-U",
                    "keyway",
                    "--auth=trust",
                    "--no-locale",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ]),
        )?;
        let mut settings = common_settings(&cluster.dir);
        if !durable {
            settings.push_str(TEST_SETTINGS);
        }
        append(&data.join("postgresql.conf"), &settings)?;
        cluster.run(
            Command::new(cluster.bin.join("pg_ctl"))
                .arg("-D")
                .arg(&data)
                .arg("-l")
                .arg(cluster.dir.join("server.log"))
                .args(["-w", "-t", "60", "start"]),
        )?;
        Ok(cluster)
    }

    /// The directory of a cluster started by `cargo xtask pg start`.
    pub(crate) fn existing(name: &str) -> Result<Self, String> {
        let dir = std::env::temp_dir().join(format!("keyway-pg-{name}"));
        if !dir.join("data").exists() {
            return Err(format!("no cluster in {}", dir.display()));
        }
        Ok(Self {
            dir,
            bin: bin_dir()?,
            user: run_as_user()?,
            keep: false,
        })
    }

    /// Leaves the cluster running when this value is dropped.
    pub(crate) fn keep(mut self) {
        self.keep = true;
    }

    /// The URL of the `postgres` database; tests create their own databases
    /// next to it.
    pub(crate) fn url(&self) -> String {
        format!(
            "postgres://keyway@localhost/postgres?host={}&port=5432",
            self.dir.display()
        )
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn run(&self, command: &mut Command) -> Result<(), String> {
        match &self.user {
            Some(user) => {
                let program = command.get_program().to_owned();
                let args: Vec<_> = command.get_args().map(ToOwned::to_owned).collect();
                run_quiet(
                    Command::new("runuser")
                        .args(["-u", user, "--"])
                        .arg(program)
                        .args(args),
                )
            }
            None => run_quiet(command),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if self.keep {
            return;
        }
        if self.data().join("postmaster.pid").exists() {
            let _ = self.run(
                Command::new(self.bin.join("pg_ctl"))
                    .arg("-D")
                    .arg(self.data())
                    .args(["-m", "immediate", "-w", "stop"]),
            );
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Where `initdb` and `pg_ctl` are: `KEYWAY_PG_BIN`, else on `PATH`, else
/// the newest `/usr/lib/postgresql/<version>/bin` (Debian keeps them there).
fn bin_dir() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("KEYWAY_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if dir.join("initdb").is_file() && dir.join("pg_ctl").is_file() {
                return Ok(dir);
            }
        }
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, bin)| bin).ok_or_else(|| {
        "PostgreSQL is not installed (initdb not found): run .ci/install-deps or set KEYWAY_PG_BIN"
            .to_owned()
    })
}

/// The user the cluster runs as when we are root.
fn run_as_user() -> Result<Option<String>, String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| format!("id -u: {e}"))?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Ok(None);
    }
    for user in ["postgres", "keyway-pg"] {
        let known = Command::new("id")
            .arg(user)
            .output()
            .is_ok_and(|o| o.status.success());
        if known {
            return Ok(Some(user.to_owned()));
        }
    }
    run_quiet(Command::new("useradd").args([
        "--system",
        "--no-create-home",
        "--shell",
        "/usr/sbin/nologin",
        "keyway-pg",
    ]))?;
    Ok(Some("keyway-pg".to_owned()))
}

fn append(path: &Path, text: &str) -> Result<(), String> {
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Runs a command, showing its output only when it fails.
fn run_quiet(command: &mut Command) -> Result<(), String> {
    let output = command
        .output()
        .map_err(|e| format!("cannot start {command:?}: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{command:?} failed ({}):\n{}{}",
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
