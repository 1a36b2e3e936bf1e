//! Couriers' key cards on the doors. A card rides on its courier's PIN: on
//! every lock the PIN is wanted on, a placement of the PIN holds the card's
//! key (never its id) in a slot of its own, with the PIN's kind, schedule
//! and enabled state. So disabling, enabling or deleting the PIN does the
//! same to the card, and new digits for the PIN leave the card's slot alone.

use keyway_protocol::{CardKey, Credential};

use super::{Placing, place};
use crate::db::Write;
use crate::db::codes::{CodeRow, Holds, placements};
use crate::db::locks;
use crate::error::Result;

/// Puts the key card `card` on every lock the courier's `pin` is wanted on,
/// in this write. A lock that holds another card of the PIN gets one job
/// that removes it and puts the new one (the old card opens until the lock
/// confirms); a lock that holds this card already is left alone.
pub async fn place_card(w: &mut Write, pin: &CodeRow, card: &CardKey, actor: &str) -> Result<()> {
    let key = w.key().clone();
    let placements = placements::of_code(w, &pin.id).await?;
    let mut doors: Vec<&str> = placements
        .iter()
        .filter(|p| p.want_present && p.holds == Holds::Code)
        .map(|p| p.lock_id.as_str())
        .collect();
    doors.sort_unstable();
    doors.dedup();
    for lock_id in doors {
        let mut held = false;
        let mut replaces = None;
        let cards = placements
            .iter()
            .filter(|p| p.lock_id == lock_id && p.want_present && p.holds == Holds::Card);
        for old in cards {
            if old.entry(&key, true)?.credential == Credential::Card(*card) {
                held = true;
                continue;
            }
            let mut old = old.clone();
            old.want_present = false;
            old.want_enabled = false;
            old.ending = Some("replaced".to_owned());
            placements::save(w, &old).await?;
            if old.conf_present {
                replaces = Some(old.id.clone());
            }
            locks::touch(w, lock_id).await?;
        }
        if held {
            continue;
        }
        let lock = locks::load(w, &pin.property_id, lock_id).await?;
        let hex = card.to_hex();
        let entry = Placing {
            code_id: &pin.id,
            value: &hex,
            holds: Holds::Card,
            kind: pin.kind,
            schedule: &pin.schedule,
            one_time: pin.one_time,
            enabled: pin.enabled,
            replaces,
        };
        place(w, &lock, entry, actor).await?;
    }
    Ok(())
}
