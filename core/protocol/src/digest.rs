//! The slot-table digest: one SHA-256 over a lock's slots, which the lock
//! reports in every receipt and the server computes from the table it wants,
//! so the two compare tables without sending them. `docs/lock-protocol.md`,
//! "Slot-table digest", gives the bytes.

use ring::digest::{Context, SHA256};

use crate::SlotEntry;
use crate::entry::encode_entry;

/// Domain separation for the digest.
const DIGEST_LABEL: &[u8] = b"keyway-slots-v1";

/// The digest of a table given as (slot, entry) pairs in ascending slot order;
/// the server computes its expected digest with this.
pub fn digest_of<'a>(entries: impl IntoIterator<Item = (u16, &'a SlotEntry)>) -> [u8; 32] {
    let mut ctx = Context::new(&SHA256);
    ctx.update(DIGEST_LABEL);
    let mut buf = Vec::with_capacity(96);
    for (slot, entry) in entries {
        buf.clear();
        buf.extend_from_slice(&slot.to_le_bytes());
        encode_entry(entry, &mut buf);
        ctx.update(&buf);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}
