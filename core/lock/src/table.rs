//! The slot table: applying a job's operations all or none, and the digest
//! that lets the server compare its idea of the table with the lock's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use keyway_protocol::{CardKey, Credential, Op, RefusalReason, SlotEntry, digest_of};

/// What one slot holds on the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSlot {
    /// The entry as the last job wrote it (with enable/disable applied).
    pub entry: SlotEntry,
    /// A one-time code or card that has been used. Runtime state: not in the digest.
    #[serde(default)]
    pub consumed: bool,
}

/// The slots of one lock, by slot number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SlotTable {
    slots: BTreeMap<u16, StoredSlot>,
}

impl SlotTable {
    /// The occupied slots in ascending order.
    pub fn iter(&self) -> impl Iterator<Item = (u16, &StoredSlot)> {
        self.slots.iter().map(|(slot, stored)| (*slot, stored))
    }

    /// The slot's content.
    pub fn get(&self, slot: u16) -> Option<&StoredSlot> {
        self.slots.get(&slot)
    }

    pub(crate) fn get_mut(&mut self, slot: u16) -> Option<&mut StoredSlot> {
        self.slots.get_mut(&slot)
    }

    /// The slot whose code is `typed` (card slots never match digits).
    pub fn find_code(&self, typed: &[u8]) -> Option<u16> {
        self.iter()
            .find(|(_, s)| {
                s.entry
                    .credential
                    .code()
                    .is_some_and(|c| c.as_bytes() == typed)
            })
            .map(|(slot, _)| slot)
    }

    /// The slot holding the key card `key` (code slots never match a card).
    pub fn find_card(&self, key: &CardKey) -> Option<u16> {
        self.iter()
            .find(|(_, s)| s.entry.credential.card() == Some(key))
            .map(|(slot, _)| slot)
    }

    /// Whether `typed` is a whole code of some slot.
    pub(crate) fn holds_code(&self, typed: &[u8]) -> bool {
        self.find_code(typed).is_some()
    }

    /// The length of the longest code (card slots have none).
    pub(crate) fn longest_code(&self) -> Option<usize> {
        self.iter()
            .filter_map(|(_, s)| s.entry.credential.code().map(|c| c.len()))
            .max()
    }

    /// How many slots are occupied.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether no slot is occupied.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// SHA-256 over the label and, for each occupied slot in ascending order, its
    /// number (u16 LE) and its entry encoded as in a `put` operation.
    pub fn digest(&self) -> [u8; 32] {
        digest_of(
            self.slots
                .iter()
                .map(|(slot, stored)| (*slot, &stored.entry)),
        )
    }

    /// The table after `ops`, or why the lock refuses them. `self` is unchanged
    /// either way. A one-time code the table held and spent stays spent when
    /// `ops` put the very same entry back (a recovery job clears the table and
    /// writes it again): only a new entry arms a slot.
    pub fn applied(
        &self,
        ops: &[Op],
        capacity: u16,
        enter_key: bool,
    ) -> Result<Self, RefusalReason> {
        let mut next = self.clone();
        for op in ops {
            if op.slot().is_some_and(|slot| slot >= capacity) {
                return Err(RefusalReason::SlotOutOfRange);
            }
            match op {
                Op::Put { slot, entry } => {
                    next.slots.insert(
                        *slot,
                        StoredSlot {
                            entry: entry.clone(),
                            consumed: self.spent(entry),
                        },
                    );
                }
                Op::Remove { slot } => {
                    next.slots.remove(slot);
                }
                Op::Enable { slot } | Op::Disable { slot } => {
                    let stored = next.slots.get_mut(slot).ok_or(RefusalReason::SlotEmpty)?;
                    stored.entry.enabled = matches!(op, Op::Enable { .. });
                }
                Op::ClearAll => next.slots.clear(),
                // The offline list's business (`OfflineList::applied`).
                Op::RevokeOffline(_) => {}
            }
        }
        next.check_codes(enter_key)?;
        Ok(next)
    }

    /// Whether a spent one-time slot holds `entry` (enabled or not).
    fn spent(&self, entry: &SlotEntry) -> bool {
        entry.one_time
            && self.slots.values().any(|stored| {
                stored.consumed
                    && stored.entry.credential == entry.credential
                    && stored.entry.kind == entry.kind
                    && stored.entry.schedule == entry.schedule
                    && stored.entry.one_time
            })
    }

    /// No code and no card twice; on a keypad without an enter key, no code
    /// a prefix of another (cards have no digits, so they conflict with none).
    fn check_codes(&self, enter_key: bool) -> Result<(), RefusalReason> {
        let mut cards: Vec<&CardKey> = self
            .slots
            .values()
            .filter_map(|s| s.entry.credential.card())
            .collect();
        cards.sort_unstable();
        if cards.windows(2).any(|pair| pair[0] == pair[1]) {
            return Err(RefusalReason::DuplicateCode);
        }
        let mut codes: Vec<&[u8]> = self
            .slots
            .values()
            .filter_map(|s| match &s.entry.credential {
                Credential::Code(code) => Some(code.as_bytes()),
                Credential::Card(_) => None,
            })
            .collect();
        codes.sort_unstable();
        for pair in codes.windows(2) {
            if pair[0] == pair[1] {
                return Err(RefusalReason::DuplicateCode);
            }
            // Sorted order puts a prefix right before the codes it starts.
            if !enter_key && pair[1].starts_with(pair[0]) {
                return Err(RefusalReason::PrefixConflict);
            }
        }
        Ok(())
    }
}
