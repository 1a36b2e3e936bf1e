//! The provisioning file: how a lock learns its identity and root key. The
//! server's `admin` command writes it when it creates locks; a lock (and the
//! simulator) loads it. Format: `docs/lock-protocol.md`, "Provisioning file".

use serde::{Deserialize, Serialize};

use keyway_codes::code::AccessPoint;
use keyway_codes::policy::ModelConstraint;

use crate::{LockId, RootKey};

/// Slots a lock has unless its provisioning says otherwise.
pub const DEFAULT_CAPACITY: u16 = 250;

/// The value of the `format` field.
pub const FORMAT: &str = "keyway-provisioning-v1";

/// Everything needed to bring up a property's locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisioningFile {
    /// Always [`FORMAT`].
    pub format: String,
    /// The property's name, for people reading the file.
    pub property: String,
    /// The locks.
    pub locks: Vec<ProvisionedLock>,
}

/// One lock's identity, hardware and root key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProvisionedLock {
    /// The lock's id.
    pub lock_id: LockId,
    /// A name people recognise ("Unit 4B", "Package room").
    pub name: String,
    /// The door it guards.
    pub access_point: AccessPoint,
    /// The 32-byte root key, 64 hex digits. Keep the file secret.
    pub root_key: RootKey,
    /// Slots on the lock.
    #[serde(default = "default_capacity")]
    pub capacity: u16,
    /// Whether the keypad has an enter key.
    #[serde(default = "yes")]
    pub enter_key: bool,
    /// The lock model's code constraints.
    #[serde(default)]
    pub constraints: Vec<ModelConstraint>,
}

fn default_capacity() -> u16 {
    DEFAULT_CAPACITY
}

fn yes() -> bool {
    true
}

/// Why a provisioning file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ProvisioningError {
    /// Not JSON of the expected shape.
    #[error("malformed provisioning file: {0}")]
    Malformed(String),
    /// Another format or version.
    #[error("unsupported provisioning format `{0}`, expected `{FORMAT}`")]
    UnsupportedFormat(String),
    /// A lock id appears twice.
    #[error("lock {0} appears twice")]
    DuplicateLock(LockId),
}

impl ProvisioningFile {
    /// A file for `property` with `locks`.
    pub fn new(property: impl Into<String>, locks: Vec<ProvisionedLock>) -> Self {
        Self {
            format: FORMAT.to_owned(),
            property: property.into(),
            locks,
        }
    }

    /// Parses and validates the JSON text of a provisioning file.
    pub fn parse(text: &str) -> Result<Self, ProvisioningError> {
        #[derive(Deserialize)]
        struct Header {
            format: String,
        }
        let header: Header =
            serde_json::from_str(text).map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
        if header.format != FORMAT {
            return Err(ProvisioningError::UnsupportedFormat(
                header.format.chars().take(64).collect(),
            ));
        }
        let file: Self =
            serde_json::from_str(text).map_err(|e| ProvisioningError::Malformed(e.to_string()))?;
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = file.locks.iter().find(|l| !seen.insert(l.lock_id)) {
            return Err(ProvisioningError::DuplicateLock(dup.lock_id));
        }
        Ok(file)
    }

    /// The file as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock(id: u8) -> ProvisionedLock {
        ProvisionedLock {
            lock_id: LockId([id; 8]),
            name: format!("Lock {id}"),
            access_point: AccessPoint::UnitDoor,
            root_key: RootKey::from_bytes([id; 32]),
            capacity: 250,
            enter_key: true,
            constraints: vec![ModelConstraint::NoZeros],
        }
    }

    #[test]
    fn round_trips_and_validates() {
        let file = ProvisioningFile::new("Maple Court", vec![lock(1), lock(2)]);
        let text = file.to_json();
        assert!(text.contains("\"format\": \"keyway-provisioning-v1\""));
        assert_eq!(ProvisioningFile::parse(&text).unwrap(), file);

        let dup = ProvisioningFile::new("x", vec![lock(1), lock(1)]).to_json();
        assert!(matches!(
            ProvisioningFile::parse(&dup),
            Err(ProvisioningError::DuplicateLock(_))
        ));
        let other = text.replace("keyway-provisioning-v1", "keyway-provisioning-v9");
        assert!(matches!(
            ProvisioningFile::parse(&other),
            Err(ProvisioningError::UnsupportedFormat(_))
        ));
        assert!(matches!(
            ProvisioningFile::parse("{"),
            Err(ProvisioningError::Malformed(_))
        ));
    }

    #[test]
    fn defaults_fill_optional_fields() {
        let text = r#"{"format":"keyway-provisioning-v1","property":"p","locks":[{"lock_id":"0102030405060708","name":"n","access_point":"package_room","root_key":"0000000000000000000000000000000000000000000000000000000000000000"}]}"#;
        let file = ProvisioningFile::parse(text).unwrap();
        assert_eq!(file.locks[0].capacity, 250);
        assert!(file.locks[0].enter_key);
        assert!(file.locks[0].constraints.is_empty());
    }
}
