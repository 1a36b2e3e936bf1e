//! The simulator's TOML configuration: which locks run, where they stand,
//! their keypads and capacity, the phone's position and the radio. Each lock's
//! identity and root key come from a provisioning file
//! (`docs/lock-protocol.md`, "Provisioning file"). Format: `docs/simulator.md`.

use std::path::{Path, PathBuf};

use jiff::Timestamp;
use keyway_protocol::LockId;
use keyway_protocol::provisioning::{ProvisionedLock, ProvisioningFile};
use serde::{Deserialize, Serialize};

use crate::radio::{Position, RadioConfig};

/// The configuration file as written.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SimConfig {
    /// The provisioning file with the locks' ids and root keys, relative to
    /// the configuration file.
    pub provisioning: PathBuf,
    /// Where lock state is kept across restarts, relative to the configuration
    /// file; a fresh temporary directory when absent.
    #[serde(default)]
    pub state_dir: Option<PathBuf>,
    /// Where the phone starts.
    #[serde(default)]
    pub phone: Position,
    /// The radio model.
    #[serde(default)]
    pub radio: RadioConfig,
    /// The locks to run; every lock of the provisioning file when empty.
    #[serde(default, rename = "lock")]
    pub locks: Vec<LockSpec>,
}

/// Whether a keypad has an enter key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeypadKind {
    /// Digits then `#`.
    Enter,
    /// A code opens as soon as its digits are typed.
    NoEnter,
}

/// How a lock's clock starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockSpec {
    /// The reading at start; the host's clock when absent.
    #[serde(default)]
    pub start: Option<Timestamp>,
    /// A frozen clock moves only when told to (repeatable scenarios).
    #[serde(default)]
    pub frozen: bool,
}

/// One simulated lock.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockSpec {
    /// The lock's id; must be in the provisioning file.
    pub id: LockId,
    /// A display name; the provisioning file's when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Metres east of the origin.
    #[serde(default)]
    pub x: f64,
    /// Metres north of the origin.
    #[serde(default)]
    pub y: f64,
    /// Overrides the provisioning file's keypad.
    #[serde(default)]
    pub keypad: Option<KeypadKind>,
    /// Overrides the provisioning file's capacity.
    #[serde(default)]
    pub capacity: Option<u16>,
    /// The lock's clock.
    #[serde(default)]
    pub clock: ClockSpec,
}

/// Why a configuration cannot be used. Each has a stable machine code.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown fields.
    #[error("malformed configuration {path}: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The provisioning file is unusable.
    #[error("provisioning file {path}: {message}")]
    Provisioning {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A lock is not in the provisioning file, or listed twice.
    #[error("lock {0}: {1}")]
    Lock(LockId, &'static str),
}

impl ConfigError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Read { .. } => "config_unreadable",
            Self::Malformed { .. } => "config_malformed",
            Self::Provisioning { .. } => "provisioning_invalid",
            Self::Lock(..) => "config_lock_invalid",
        }
    }
}

/// A lock ready to run: its spec joined with its provisioning entry.
#[derive(Debug, Clone)]
pub struct ResolvedLock {
    /// Placement, keypad, clock.
    pub spec: LockSpec,
    /// Identity and key.
    pub provisioned: ProvisionedLock,
}

/// A configuration with its files read and its locks resolved.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The state directory, if the file names one (absolute).
    pub state_dir: Option<PathBuf>,
    /// The phone's start position.
    pub phone: Position,
    /// The radio model.
    pub radio: RadioConfig,
    /// The locks.
    pub locks: Vec<ResolvedLock>,
    /// The provisioning file (the scenario runner seals jobs with its keys).
    pub provisioning: ProvisioningFile,
}

impl SimConfig {
    /// Parses TOML text.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        toml::from_str(text).map_err(|e| ConfigError::Malformed {
            path: path.to_owned(),
            message: e.to_string(),
        })
    }

    /// Reads and resolves a configuration file.
    pub fn load(path: &Path) -> Result<Resolved, ConfigError> {
        let text = read(path)?;
        let config = Self::parse(&text, path)?;
        config.resolve(path.parent().unwrap_or(Path::new(".")))
    }

    /// Resolves relative paths against `base` and joins the provisioning file.
    pub fn resolve(self, base: &Path) -> Result<Resolved, ConfigError> {
        let provisioning_path = base.join(&self.provisioning);
        let provisioning = ProvisioningFile::parse(&read(&provisioning_path)?).map_err(|e| {
            ConfigError::Provisioning {
                path: provisioning_path.clone(),
                message: e.to_string(),
            }
        })?;
        let specs = if self.locks.is_empty() {
            provisioning
                .locks
                .iter()
                .enumerate()
                .map(|(i, lock)| LockSpec {
                    id: lock.lock_id,
                    name: None,
                    x: 2.0 * i as f64,
                    y: 0.0,
                    keypad: None,
                    capacity: None,
                    clock: ClockSpec::default(),
                })
                .collect()
        } else {
            self.locks
        };
        let mut locks: Vec<ResolvedLock> = Vec::with_capacity(specs.len());
        for spec in specs {
            if locks.iter().any(|l| l.spec.id == spec.id) {
                return Err(ConfigError::Lock(spec.id, "is listed twice"));
            }
            let mut provisioned = provisioning
                .locks
                .iter()
                .find(|l| l.lock_id == spec.id)
                .cloned()
                .ok_or(ConfigError::Lock(
                    spec.id,
                    "is not in the provisioning file",
                ))?;
            if let Some(name) = &spec.name {
                provisioned.name.clone_from(name);
            }
            if let Some(keypad) = spec.keypad {
                provisioned.enter_key = keypad == KeypadKind::Enter;
            }
            if let Some(capacity) = spec.capacity {
                provisioned.capacity = capacity;
            }
            locks.push(ResolvedLock { spec, provisioned });
        }
        Ok(Resolved {
            state_dir: self.state_dir.map(|dir| base.join(dir)),
            phone: self.phone,
            radio: self.radio,
            locks,
            provisioning,
        })
    }
}

fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    const PROVISIONING: &str = r#"{"format":"keyway-provisioning-v1","property":"p","locks":[
        {"lock_id":"0102030405060708","name":"Door","access_point":"unit_door",
         "root_key":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#;

    #[test]
    fn a_configuration_joins_its_provisioning_file() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.json", PROVISIONING);
        let path = write(
            dir.path(),
            "sim.toml",
            "provisioning = \"p.json\"\nstate_dir = \"state\"\n[radio]\nmtu = 23\n[[lock]]\nid = \"0102030405060708\"\nname = \"Back door\"\nx = 4.0\nkeypad = \"no_enter\"\ncapacity = 10\n",
        );
        let resolved = SimConfig::load(&path).unwrap();
        assert_eq!(resolved.radio.mtu, 23);
        assert_eq!(resolved.state_dir, Some(dir.path().join("state")));
        let lock = &resolved.locks[0];
        assert_eq!(lock.provisioned.name, "Back door");
        assert!(!lock.provisioned.enter_key);
        assert_eq!(lock.provisioned.capacity, 10);
        assert_eq!(lock.spec.x, 4.0);

        // No [[lock]]: every provisioned lock, in a row.
        let all = write(dir.path(), "all.toml", "provisioning = \"p.json\"\n");
        assert_eq!(SimConfig::load(&all).unwrap().locks.len(), 1);
    }

    #[test]
    fn bad_configurations_say_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "p.json", PROVISIONING);
        let code = |text: &str| {
            let path = write(dir.path(), "bad.toml", text);
            SimConfig::load(&path).unwrap_err().code()
        };
        assert_eq!(
            code("provisioning = \"p.json\"\ncolour = 1\n"),
            "config_malformed"
        );
        assert_eq!(
            code("provisioning = \"missing.json\"\n"),
            "config_unreadable"
        );
        assert_eq!(
            code("provisioning = \"p.json\"\n[[lock]]\nid = \"0000000000000009\"\n"),
            "config_lock_invalid"
        );
        assert_eq!(
            code(
                "provisioning = \"p.json\"\n[[lock]]\nid = \"0102030405060708\"\n[[lock]]\nid = \"0102030405060708\"\n"
            ),
            "config_lock_invalid"
        );
        write(dir.path(), "bad.json", "{\"format\":\"other\"}");
        assert_eq!(
            code("provisioning = \"bad.json\"\n"),
            "provisioning_invalid"
        );
    }
}
