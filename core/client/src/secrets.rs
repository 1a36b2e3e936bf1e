//! Where the phone keeps its secrets — today one, the device token — out of
//! the SQLite store: a [`SecretStore`] the app provides (the mobile bindings
//! adapt Kotlin's and Swift's implementations on the Android Keystore and the
//! iOS Keychain), or [`FileSecretStore`], a file only its owner can read in
//! the data directory, for the desktop and tests.
//!
//! The store keeps the SHA-256 of the token it last saved (`meta`,
//! `device_token_sha256`); a token from the secret store that does not match
//! is never sent (a store shared by mistake, a Keychain item left by an
//! earlier installation, a kill between saving the token and committing the
//! login).

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

/// The name the device token is kept under.
pub const DEVICE_TOKEN: &str = "device_token";

/// The file [`FileSecretStore::in_dir`] keeps secrets in.
pub const SECRETS_FILE: &str = "secrets.json";

/// Why a [`SecretStore`] call failed (`secret_store`); apps' stores throw it
/// (`SecretStoreFailure` in Kotlin, Swift and Python). The detail never
/// carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(
    feature = "uniffi",
    derive(uniffi::Error),
    uniffi(name = "SecretStoreFailure")
)]
pub enum SecretStoreError {
    /// The store cannot be used now: the device is locked, the user must
    /// authenticate, the key was invalidated.
    #[error("unavailable: {detail}")]
    Unavailable {
        /// What the platform said.
        detail: String,
    },
    /// Anything else (an exception an app's store did not declare lands here
    /// too).
    #[error("{detail}")]
    Other {
        /// What failed.
        detail: String,
    },
}

impl SecretStoreError {
    /// An `Other` error with this detail.
    pub fn new(detail: impl Into<String>) -> Self {
        Self::Other {
            detail: detail.into(),
        }
    }
}

/// An app's store that threw what it did not declare.
#[cfg(feature = "uniffi")]
impl From<uniffi::UnexpectedUniFFICallbackError> for SecretStoreError {
    fn from(error: uniffi::UnexpectedUniFFICallbackError) -> Self {
        Self::new(error.reason)
    }
}

/// Named secrets the client keeps outside its database: on a phone, the
/// platform's key store. Calls are short and synchronous; the client makes
/// them at open (a migration), login, logout and before each call to the
/// server.
///
/// Kotlin and Swift apps implement it on the Android Keystore (an AES-GCM key
/// wrapping the secret, the ciphertext in the app's private storage) or the
/// iOS Keychain (a generic password), see docs/bindings.md, and throw
/// `SecretStoreFailure` when the store cannot answer.
#[cfg_attr(feature = "uniffi", uniffi::export(with_foreign))]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`, or `None` when there is none.
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreError>;
    /// Stores `value` under `name`, replacing any previous one.
    fn set(&self, name: String, value: Vec<u8>) -> Result<(), SecretStoreError>;
    /// Forgets the secret named `name`; forgetting a missing one is not an
    /// error.
    fn delete(&self, name: String) -> Result<(), SecretStoreError>;
}

/// Secrets in one JSON file (`{name: base64}`) that only its owner may read
/// (mode 0600 on Unix, put back to 0600 if found wider), replaced atomically
/// (a new file, synced, renamed over the old one) and removed when its last
/// secret is deleted. It keeps secrets out of the database, not away from
/// whoever can read the user's files: the default of the desktop `keyway`
/// command and of tests; phone apps pass the platform's key store.
#[derive(Debug)]
pub struct FileSecretStore {
    path: PathBuf,
    lock: Mutex<()>,
}

impl FileSecretStore {
    /// Secrets in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Mutex::new(()),
        }
    }

    /// Secrets in `<dir>/secrets.json`.
    pub fn in_dir(dir: &Path) -> Self {
        Self::new(dir.join(SECRETS_FILE))
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn guard(&self) -> std::sync::MutexGuard<'_, ()> {
        self.lock.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn fail(&self, what: &str, e: impl std::fmt::Display) -> SecretStoreError {
        SecretStoreError::new(format!("cannot {what} {}: {e}", self.path.display()))
    }

    fn load(&self) -> Result<BTreeMap<String, String>, SecretStoreError> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
            Err(e) => return Err(self.fail("read", e)),
        };
        owner_only(&self.path).map_err(|e| self.fail("restrict", e))?;
        serde_json::from_str(&text).map_err(|e| self.fail("parse", e))
    }

    fn save(&self, secrets: &BTreeMap<String, String>) -> Result<(), SecretStoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        if secrets.is_empty() {
            return match std::fs::remove_file(&self.path) {
                Ok(()) => sync_dir(dir).map_err(|e| self.fail("sync the directory of", e)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(self.fail("remove", e)),
            };
        }
        let text = serde_json::to_vec(secrets).map_err(|e| self.fail("encode", e))?;
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| SECRETS_FILE.to_owned());
        let temp = dir.join(format!(
            ".{name}.{}.{:016x}",
            std::process::id(),
            rand::random::<u64>()
        ));
        let written = write_new_owner_only(&temp, &text)
            .and_then(|()| std::fs::rename(&temp, &self.path))
            .and_then(|()| sync_dir(dir));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&temp);
            return Err(self.fail("write", e));
        }
        Ok(())
    }
}

impl SecretStore for FileSecretStore {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreError> {
        let _guard = self.guard();
        match self.load()?.get(&name) {
            Some(encoded) => STANDARD
                .decode(encoded)
                .map(Some)
                .map_err(|e| self.fail("decode a secret in", e)),
            None => Ok(None),
        }
    }

    fn set(&self, name: String, value: Vec<u8>) -> Result<(), SecretStoreError> {
        let _guard = self.guard();
        let mut secrets = self.load()?;
        secrets.insert(name.to_owned(), STANDARD.encode(value));
        self.save(&secrets)
    }

    fn delete(&self, name: String) -> Result<(), SecretStoreError> {
        let _guard = self.guard();
        let mut secrets = self.load()?;
        if secrets.remove(&name).is_none() {
            return Ok(());
        }
        self.save(&secrets)
    }
}

/// Creates `path` (it must not exist), readable and writable by its owner
/// only, with `bytes`, synced to disk.
fn write_new_owner_only(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// Puts `path` back to owner-only permissions if it is wider.
fn owner_only(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Makes a rename or removal in `dir` durable (Unix; elsewhere a no-op).
fn sync_dir(dir: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    std::fs::File::open(dir)?.sync_all()?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The SHA-256 of a token, lowercase hex: what the database keeps to know
/// the token in the secret store is its own.
pub(crate) fn token_digest(token: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, token)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_store_keeps_secrets_for_its_owner_only_and_removes_its_file_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let store = FileSecretStore::in_dir(dir.path());
        assert_eq!(store.get("a".into()).unwrap(), None);
        store.delete("a".into()).unwrap();
        store.set("a".into(), b"first".to_vec()).unwrap();
        store.set("b".into(), vec![0, 255, 10]).unwrap();
        store.set("a".into(), b"second".to_vec()).unwrap();
        let again = FileSecretStore::in_dir(dir.path());
        assert_eq!(
            again.get("a".into()).unwrap().as_deref(),
            Some(&b"second"[..])
        );
        assert_eq!(
            again.get("b".into()).unwrap().as_deref(),
            Some(&[0, 255, 10][..])
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(store.path()), 0o600);
            // Found readable by others: put back to 0600 on the next read.
            std::fs::set_permissions(store.path(), std::fs::Permissions::from_mode(0o644)).unwrap();
            again.get("a".into()).unwrap();
            assert_eq!(mode(store.path()), 0o600);
        }
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [SECRETS_FILE], "no temporary file is left behind");
        store.delete("a".into()).unwrap();
        store.delete("b".into()).unwrap();
        assert!(
            !store.path().exists(),
            "the last secret takes the file along"
        );
        // A file that is not the store's: a typed error, no panic.
        std::fs::write(store.path(), "not json").unwrap();
        assert!(store.get("a".into()).is_err());
    }
}
