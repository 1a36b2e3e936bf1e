//! Durable lock state: one JSON file per lock, replaced atomically (write a
//! temporary file in the same directory, fsync it, rename it over the old one,
//! fsync the directory), so a crash or a power cut at any instant leaves either
//! the old state or the new one, never a mix.

use std::io::Write;
use std::path::{Path, PathBuf};

use keyway_lock::LockState;
use keyway_protocol::{AuditEvent, LockId};
use serde::{Deserialize, Serialize};

use crate::clock::SimClock;

/// What a simulated lock keeps across restarts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Persisted {
    /// The firmware's state.
    pub state: LockState,
    /// The clock's setting.
    pub clock: SimClock,
    /// Every audit event ever recorded (the firmware forgets acknowledged
    /// ones; QA keeps them all).
    pub history: Vec<AuditEvent>,
}

/// Why state could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file system refused.
    #[error("lock state {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not lock state.
    #[error("lock state {path} is malformed: {message}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

/// A write that reached the disk but is not yet the lock's state.
#[derive(Debug)]
pub struct Staged(tempfile::NamedTempFile);

/// One lock's state file.
#[derive(Debug, Clone)]
pub struct Store {
    path: PathBuf,
}

impl Store {
    /// The state file of `lock_id` in `dir`.
    pub fn new(dir: &Path, lock_id: LockId) -> Self {
        Self {
            path: dir.join(format!("lock-{lock_id}.json")),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, source: std::io::Error) -> StoreError {
        StoreError::Io {
            path: self.path.clone(),
            source,
        }
    }

    /// The stored state, or `None` for a lock that never stored any.
    pub fn load(&self) -> Result<Option<Persisted>, StoreError> {
        match std::fs::read(&self.path) {
            Ok(bytes) => {
                serde_json::from_slice(&bytes)
                    .map(Some)
                    .map_err(|e| StoreError::Malformed {
                        path: self.path.clone(),
                        message: e.to_string(),
                    })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(self.io(e)),
        }
    }

    /// Writes `state` to a temporary file beside the state file and syncs it.
    /// Nothing changes until [`Store::commit`].
    pub fn stage(&self, state: &Persisted) -> Result<Staged, StoreError> {
        let dir = self.path.parent().unwrap_or(Path::new("."));
        let bytes = serde_json::to_vec(state).map_err(|e| StoreError::Malformed {
            path: self.path.clone(),
            message: e.to_string(),
        })?;
        let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| self.io(e))?;
        file.write_all(&bytes).map_err(|e| self.io(e))?;
        file.as_file().sync_all().map_err(|e| self.io(e))?;
        Ok(Staged(file))
    }

    /// Makes a staged write the state: rename, then sync the directory.
    pub fn commit(&self, staged: Staged) -> Result<(), StoreError> {
        staged.0.persist(&self.path).map_err(|e| self.io(e.error))?;
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io(e))
    }

    /// Stages and commits.
    pub fn save(&self, state: &Persisted) -> Result<(), StoreError> {
        let staged = self.stage(state)?;
        self.commit(staged)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_staged_write_changes_nothing_until_committed() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::new(dir.path(), LockId([1; 8]));
        assert_eq!(store.load().unwrap(), None);
        let mut state = Persisted {
            state: LockState::default(),
            clock: SimClock::new(None, true),
            history: vec![],
        };
        store.save(&state).unwrap();
        state.state.version = 7;
        let staged = store.stage(&state).unwrap();
        assert_eq!(store.load().unwrap().unwrap().state.version, 0);
        drop(staged); // the power went out before the rename
        assert_eq!(store.load().unwrap().unwrap().state.version, 0);
        store.save(&state).unwrap();
        assert_eq!(store.load().unwrap().unwrap().state.version, 7);
        // Only the state file is left: no temporary files behind.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}
