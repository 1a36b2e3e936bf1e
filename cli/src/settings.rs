//! The options every command shares (`--server`, `--data-dir`, `--json`),
//! where the client keeps its data by default, and the settings saved beside
//! the store (the server a login used, so later commands need no `--server`).

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use keyway_client::{Client, ClientConfig};
use serde::{Deserialize, Serialize};

use crate::output::Failure;

/// The device name a login gives this computer unless told otherwise.
pub(crate) const DEFAULT_DEVICE_NAME: &str = "keyway CLI";

/// Options of every command.
#[derive(Debug, Clone, Args)]
pub(crate) struct GlobalArgs {
    /// The Keyway server, like https://keyway.example.org (saved at login).
    #[arg(long, global = true, env = "KEYWAY_SERVER", value_name = "URL")]
    pub(crate) server: Option<String>,
    /// Where the client keeps its store [default: $XDG_DATA_HOME/keyway,
    /// usually ~/.local/share/keyway].
    #[arg(long, global = true, env = "KEYWAY_DATA_DIR", value_name = "DIR")]
    pub(crate) data_dir: Option<PathBuf>,
    /// Print JSON for scripts instead of text (one document; `watch` prints
    /// one per line).
    #[arg(long, global = true)]
    pub(crate) json: bool,
}

/// What is saved beside the store (`cli.json`).
#[derive(Debug, Default, Serialize, Deserialize)]
struct Saved {
    server_url: Option<String>,
}

const SAVED_FILE: &str = "cli.json";

impl GlobalArgs {
    /// The data directory: `--data-dir`, `KEYWAY_DATA_DIR`, else the user's
    /// XDG data directory.
    pub(crate) fn data_dir(&self) -> Result<PathBuf, Failure> {
        if let Some(dir) = &self.data_dir {
            return Ok(dir.clone());
        }
        use etcetera::BaseStrategy as _;
        etcetera::choose_base_strategy()
            .map(|base| base.data_dir().join("keyway"))
            .map_err(|e| {
                Failure::usage(
                    "no_data_dir",
                    format!("cannot find a data directory ({e}); pass --data-dir DIR"),
                )
            })
    }

    /// The server: `--server`, `KEYWAY_SERVER`, else the one saved at login.
    pub(crate) fn server_url(&self, data_dir: &Path) -> Result<String, Failure> {
        if let Some(url) = &self.server {
            return Ok(url.trim_end_matches('/').to_owned());
        }
        read_saved(data_dir).server_url.ok_or_else(|| {
            Failure::usage(
                "no_server",
                "no server known: pass --server URL (or set KEYWAY_SERVER) and log in",
            )
        })
    }

    /// Opens the client on the data directory; `scan` sets how long a
    /// delivery listens for locks.
    pub(crate) fn open(
        &self,
        device_name: &str,
        scan: Option<Duration>,
    ) -> Result<Client, Failure> {
        let dir = self.data_dir()?;
        let server = self.server_url(&dir)?;
        let mut config = ClientConfig::new(server, dir, device_name);
        if let Some(scan) = scan {
            config.delivery.scan_time = scan;
        }
        Ok(Client::open(config)?)
    }
}

fn read_saved(dir: &Path) -> Saved {
    std::fs::read_to_string(dir.join(SAVED_FILE))
        .ok()
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

/// Remembers the server a login used.
pub(crate) fn save_server(dir: &Path, url: &str) -> Result<(), Failure> {
    let saved = Saved {
        server_url: Some(url.to_owned()),
    };
    let text = serde_json::to_string_pretty(&saved)
        .map_err(|e| Failure::new("storage", format!("cannot encode settings: {e}")))?;
    std::fs::write(dir.join(SAVED_FILE), text).map_err(|e| {
        Failure::new(
            "storage",
            format!("cannot write {}: {e}", dir.join(SAVED_FILE).display()),
        )
    })
}
