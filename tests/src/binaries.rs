//! The workspace's binaries a world of processes runs (`keyway-server`,
//! `keyway-ble-sim`): found beside the running executable or in
//! `KEYWAY_BIN_DIR`, and built first when running under cargo.

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use crate::error::{KitError, KitResult};

/// Where the workspace's binaries are: `KEYWAY_BIN_DIR`, else beside the
/// running executable (target/debug for binaries, its parent for tests).
pub fn bin_dir() -> KitResult<PathBuf> {
    if let Some(dir) = std::env::var_os("KEYWAY_BIN_DIR") {
        return Ok(PathBuf::from(dir));
    }
    let exe = std::env::current_exe().map_err(|e| KitError::file("find", "the executable", e))?;
    exe.ancestors()
        .skip(1)
        .take(3)
        .find(|dir| dir.join("keyway-server").is_file() && dir.join("keyway-ble-sim").is_file())
        .map(std::path::Path::to_owned)
        .ok_or(KitError::NotBuilt)
}

/// Builds the server and simulator binaries when running under cargo (a
/// no-op when they are up to date), so `cargo test -p keyway-testkit`
/// works alone; then [`bin_dir`].
pub fn ensure_binaries() -> KitResult<PathBuf> {
    static BUILT: OnceLock<Option<std::process::ExitStatus>> = OnceLock::new();
    if std::env::var_os("KEYWAY_BIN_DIR").is_none()
        && let Some(cargo) = std::env::var_os("CARGO")
    {
        let failed = BUILT.get_or_init(|| {
            let status = Command::new(cargo)
                .args(["build", "-q", "-p", "keyway-server", "-p", "keyway-ble-sim"])
                .arg("--bins")
                .status();
            match status {
                Ok(status) if status.success() => None,
                Ok(status) => Some(status),
                // Not runnable: look for binaries built earlier.
                Err(_) => None,
            }
        });
        if let Some(status) = failed {
            return Err(KitError::BuildFailed(*status));
        }
    }
    bin_dir()
}
