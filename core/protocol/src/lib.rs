//! The lock protocol between a phone and a lock over BLE GATT, byte for byte as
//! `docs/lock-protocol.md` specifies it.
//!
//! - [`advert`]: what a lock broadcasts (a rotating identity tag and its
//!   sealed version and flags, readable with the lock's advertising key).
//! - [`frame`]: splitting messages to the MTU and reassembling them.
//! - [`message`]: the messages on the two characteristics.
//! - [`job`] and [`receipt`]: the sealed payloads and their plaintext encodings.
//! - [`credential`]: what a slot holds, a keypad code or a key card's key.
//! - [`offline`]: offline guest codes, derived for a time window from a key
//!   the lock holds since pairing, accepted with no job.
//! - [`seal`]: key derivation and the AEAD envelopes.
//! - [`digest`]: the slot-table digest the lock and the server compare.
//! - [`provisioning`]: the file that gives locks their ids and root keys.
//! - [`vectors`]: the values the published test vectors are made from.
//!
//! Nothing here depends on the phone side; the lock firmware (`keyway-lock`)
//! and the server use it as much as the phone does. Every decoder takes any
//! bytes and answers with a value or a [`DecodeError`], never a panic.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

pub mod advert;
pub mod credential;
pub mod digest;
mod entry;
pub mod frame;
pub mod job;
pub mod message;
pub mod offline;
pub mod provisioning;
pub mod receipt;
pub mod seal;
mod wire;

pub mod vectors;

pub use advert::{AdvertKey, Advertisement, COMPANY_ID, RawAdvertisement};
pub use credential::{CardKey, Credential, InvalidCardId};
pub use digest::digest_of;
pub use frame::{FrameError, Reassembler};
pub use job::{
    BaseVersion, Epoch, Job, JobId, LockId, Op, SESSION_LIFETIME_SECS, SessionId, SlotEntry,
};
pub use message::{ErrorCode, Message};
pub use offline::{OfflineClass, OfflineCodeId, OfflineKey, OfflineKind};
pub use receipt::{AuditEvent, AuditKind, Outcome, Receipt, RefusalReason, ReplyTo};
pub use seal::{LockKeys, RootKey, SealError};
pub use wire::DecodeError;

/// The Keyway lock GATT service.
pub const SERVICE_UUID: u128 = 0x4b657977_6179_4c6f_636b_000000000000;
/// Phone to lock: written with or without response.
pub const WRITE_CHAR_UUID: u128 = 0x4b657977_6179_4c6f_636b_000000000001;
/// Lock to phone: notifications.
pub const NOTIFY_CHAR_UUID: u128 = 0x4b657977_6179_4c6f_636b_000000000002;

/// A 128-bit UUID in its usual text form.
pub fn uuid_string(uuid: u128) -> String {
    let hex = format!("{uuid:032x}");
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuids_print_in_their_usual_form() {
        assert_eq!(
            super::uuid_string(super::SERVICE_UUID),
            "4b657977-6179-4c6f-636b-000000000000"
        );
    }
}
