//! The slot table: applying a job's operations all or none, and the digest
//! that lets the server compare its idea of the table with the lock's.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use keyway_protocol::{Op, RefusalReason, SlotEntry, digest_of};

/// What one slot holds on the lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredSlot {
    /// The entry as the last job wrote it (with enable/disable applied).
    pub entry: SlotEntry,
    /// A one-time code that has been used. Runtime state: not in the digest.
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
                    && stored.entry.code == entry.code
                    && stored.entry.kind == entry.kind
                    && stored.entry.schedule == entry.schedule
                    && stored.entry.one_time
            })
    }

    /// No code twice; on a keypad without an enter key, no code a prefix of another.
    fn check_codes(&self, enter_key: bool) -> Result<(), RefusalReason> {
        let mut codes: Vec<&[u8]> = self
            .slots
            .values()
            .map(|s| s.entry.code.as_bytes())
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
