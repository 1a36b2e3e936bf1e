//! Offline codes on the lock: the list of revoked and spent ones, kept until
//! their windows end (`docs/lock-protocol.md`, "Offline codes").

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use keyway_protocol::{OfflineCodeId, Op, RefusalReason};

use crate::DenyReason;

pub use keyway_protocol::offline::OFFLINE_LIST_CAPACITY;

/// One offline code the lock refuses until its window ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineMark {
    /// The code.
    pub code: OfflineCodeId,
    /// A job revoked it.
    #[serde(default)]
    pub revoked: bool,
    /// It was one-time and opened the door once.
    #[serde(default)]
    pub spent: bool,
}

/// The revoked and spent offline codes, at most [`OFFLINE_LIST_CAPACITY`]
/// of them. Not in the slot-table digest: it shrinks with the lock's clock.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OfflineList {
    marks: Vec<OfflineMark>,
}

impl OfflineList {
    /// The marks, oldest first.
    pub fn iter(&self) -> impl Iterator<Item = &OfflineMark> {
        self.marks.iter()
    }

    /// How many codes the list holds.
    pub fn len(&self) -> usize {
        self.marks.len()
    }

    /// Whether the list is empty.
    pub fn is_empty(&self) -> bool {
        self.marks.is_empty()
    }

    /// Why the lock refuses `code`, if it does.
    pub(crate) fn refusal(&self, code: &OfflineCodeId) -> Option<DenyReason> {
        let mark = self.marks.iter().find(|m| m.code == *code)?;
        if mark.revoked {
            Some(DenyReason::Revoked)
        } else if mark.spent {
            Some(DenyReason::AlreadyUsed)
        } else {
            None
        }
    }

    /// Forgets the codes whose window has ended at `now`.
    fn prune(&mut self, now: Timestamp) {
        self.marks.retain(|m| !m.code.has_ended(now));
    }

    /// The list after a job's `revoke_offline` operations, or
    /// `offline_list_full`. Codes whose window ended are dropped first, and a
    /// revocation of one is a no-op. `self` is unchanged either way.
    pub(crate) fn applied(&self, ops: &[Op], now: Timestamp) -> Result<Self, RefusalReason> {
        let mut next = self.clone();
        next.prune(now);
        for op in ops {
            if let Op::RevokeOffline(code) = op {
                if code.has_ended(now) {
                    continue;
                }
                match next.marks.iter_mut().find(|m| m.code == *code) {
                    Some(mark) => mark.revoked = true,
                    None => next.marks.push(OfflineMark {
                        code: *code,
                        revoked: true,
                        spent: false,
                    }),
                }
            }
        }
        if next.marks.len() > OFFLINE_LIST_CAPACITY {
            return Err(RefusalReason::OfflineListFull);
        }
        Ok(next)
    }

    /// Records the one-time `code` spent; `false` (nothing recorded) when
    /// the list has no room even after dropping ended windows.
    pub(crate) fn spend(&mut self, code: OfflineCodeId, now: Timestamp) -> bool {
        self.prune(now);
        if let Some(mark) = self.marks.iter_mut().find(|m| m.code == code) {
            mark.spent = true;
            return true;
        }
        if self.marks.len() >= OFFLINE_LIST_CAPACITY {
            return false;
        }
        self.marks.push(OfflineMark {
            code,
            revoked: false,
            spent: true,
        });
        true
    }
}
