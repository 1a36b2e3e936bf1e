//! The advertisement: what a lock broadcasts so that a phone holding the
//! lock's advertising key can tell, without connecting, which lock it is and
//! whether it is up to date, while a passive listener without the key sees
//! random bytes that change every few minutes and cannot follow one door's
//! activity over days.
//!
//! The lock advertises [`super::SERVICE_UUID`] and manufacturer data under
//! [`COMPANY_ID`] (in the scan response where the 31-byte legacy advertisement
//! is full): the protocol version, a random rotation nonce, an identity tag
//! and the sealed state (version and flags). The tag and the pad that hides
//! the state are one HMAC-SHA256 under the lock's [`AdvertKey`] over the nonce
//! ([`ADVERT_LABEL`]), so the lock changes its nonce whenever its state
//! changes and at least every [`ROTATION_SECS`], and no two advertisements
//! share a pad.

use std::fmt;

use ring::hmac;

use super::job::LockId;
use super::message::PROTOCOL_VERSION;
use super::wire::{DecodeError, Reader, Writer};

/// The Bluetooth SIG company identifier used for the manufacturer data
/// (0xFFFF: reserved for products without an assigned identifier).
pub const COMPANY_ID: u16 = 0xffff;
/// Length of the manufacturer data payload.
pub const ADVERT_LEN: usize = 1 + NONCE_LEN + TAG_LEN + STATE_LEN;
/// The longest a lock keeps one rotation nonce, on its own clock.
pub const ROTATION_SECS: i64 = 600;
/// Domain separation of the advertisement MAC.
pub const ADVERT_LABEL: &[u8] = b"keyway advert v2";

const NONCE_LEN: usize = 6;
const TAG_LEN: usize = 6;
const STATE_LEN: usize = 5;

const FLAG_EVENTS_PENDING: u8 = 0b01;
const FLAG_LOCKED_OUT: u8 = 0b10;

/// What a lock says about itself, once its advertisement is resolved with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    /// The lock.
    pub lock_id: LockId,
    /// The lock's state version.
    pub version: u32,
    /// The lock holds audit events the server has not acknowledged: a phone in
    /// range should visit it even when the version is current.
    pub events_pending: bool,
    /// The keypad is locked out after wrong codes.
    pub locked_out: bool,
}

/// The key a lock writes its advertisements with and phones read them with:
/// `HKDF-SHA256(root key, "advert" || lock id)` like the job and receipt keys.
/// The server hands it to the phones that may reach the lock; it opens no job
/// and forges no receipt.
#[derive(Clone)]
pub struct AdvertKey {
    lock_id: LockId,
    bytes: [u8; 32],
    key: hmac::Key,
}

impl fmt::Debug for AdvertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AdvertKey({}, <redacted>)", self.lock_id)
    }
}

impl PartialEq for AdvertKey {
    fn eq(&self, other: &Self) -> bool {
        self.lock_id == other.lock_id && self.bytes == other.bytes
    }
}

impl Eq for AdvertKey {}

impl AdvertKey {
    /// The key of `lock_id` from its 32 bytes.
    pub fn new(lock_id: LockId, bytes: [u8; 32]) -> Self {
        Self {
            lock_id,
            bytes,
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        }
    }

    /// The key from 64 hex digits, as sync carries it.
    pub fn from_hex(lock_id: LockId, text: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self::new(lock_id, bytes))
    }

    /// The key as 64 hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.bytes)
    }

    /// The lock this key belongs to.
    pub fn lock_id(&self) -> LockId {
        self.lock_id
    }

    fn mac(&self, nonce: &[u8; NONCE_LEN]) -> hmac::Tag {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(ADVERT_LABEL);
        ctx.update(nonce);
        ctx.sign()
    }

    /// The manufacturer data payload (after the company id) for `state`, under
    /// the rotation `nonce` (lock side). `state.lock_id` is not written: only
    /// the tag names the lock, to those who hold the key.
    pub fn encode(&self, state: &Advertisement, nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        let mac = self.mac(&nonce);
        let mac = mac.as_ref();
        let mut plain = Vec::with_capacity(STATE_LEN);
        plain.put_u32(state.version);
        let mut flags = 0;
        if state.events_pending {
            flags |= FLAG_EVENTS_PENDING;
        }
        if state.locked_out {
            flags |= FLAG_LOCKED_OUT;
        }
        plain.put_u8(flags);
        let mut out = Vec::with_capacity(ADVERT_LEN);
        out.put_u8(PROTOCOL_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&mac[..TAG_LEN]);
        out.extend(
            plain
                .iter()
                .zip(&mac[TAG_LEN..TAG_LEN + STATE_LEN])
                .map(|(p, k)| p ^ k),
        );
        out
    }

    /// Reads `payload` if this key wrote it: `Ok(None)` when it is another
    /// lock's (or a listener's guess), an error when it is no Keyway
    /// advertisement of this protocol version. Unknown flag bits are ignored
    /// so newer locks stay visible to older phones.
    pub fn resolve(&self, payload: &[u8]) -> Result<Option<Advertisement>, DecodeError> {
        let raw = RawAdvertisement::decode(payload)?;
        let mac = self.mac(&raw.nonce);
        let mac = mac.as_ref();
        // The tag only names the lock; it guards nothing a timing leak could give away.
        if mac[..TAG_LEN] != raw.tag {
            return Ok(None);
        }
        let mut plain = [0u8; STATE_LEN];
        for (i, byte) in plain.iter_mut().enumerate() {
            *byte = raw.state[i] ^ mac[TAG_LEN + i];
        }
        let mut r = Reader::new(&plain);
        let version = r.u32("version")?;
        let flags = r.u8("flags")?;
        Ok(Some(Advertisement {
            lock_id: self.lock_id,
            version,
            events_pending: flags & FLAG_EVENTS_PENDING != 0,
            locked_out: flags & FLAG_LOCKED_OUT != 0,
        }))
    }
}

/// The first of `keys` that resolves `payload`, with what it says.
pub fn resolve_any<'a>(
    payload: &[u8],
    keys: impl IntoIterator<Item = &'a AdvertKey>,
) -> Result<Option<Advertisement>, DecodeError> {
    RawAdvertisement::decode(payload)?;
    for key in keys {
        if let Some(advert) = key.resolve(payload)? {
            return Ok(Some(advert));
        }
    }
    Ok(None)
}

/// An advertisement as a listener without the key sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawAdvertisement {
    /// The rotation nonce.
    pub nonce: [u8; NONCE_LEN],
    /// The identity tag.
    pub tag: [u8; TAG_LEN],
    /// The sealed version and flags.
    pub state: [u8; STATE_LEN],
}

impl RawAdvertisement {
    /// Splits a manufacturer data payload into its fields.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("protocol_version")?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "advertisement",
                version,
            });
        }
        let raw = Self {
            nonce: r.array("nonce")?,
            tag: r.array("tag")?,
            state: r.array("state")?,
        };
        r.finish()?;
        Ok(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: u8) -> AdvertKey {
        AdvertKey::new(LockId([id; 8]), [id; 32])
    }

    fn state() -> Advertisement {
        Advertisement {
            lock_id: LockId([1; 8]),
            version: 0x0102_0304,
            events_pending: true,
            locked_out: false,
        }
    }

    #[test]
    fn the_key_holder_reads_what_the_lock_wrote() {
        let bytes = key(1).encode(&state(), [9; 6]);
        assert_eq!(bytes.len(), ADVERT_LEN);
        assert_eq!(key(1).resolve(&bytes).unwrap(), Some(state()));
        assert_eq!(key(2).resolve(&bytes).unwrap(), None, "another lock's key");
        assert_eq!(
            resolve_any(&bytes, &[key(3), key(2), key(1)]).unwrap(),
            Some(state())
        );
    }

    #[test]
    fn a_listener_sees_neither_the_lock_nor_its_state() {
        let k = key(1);
        let a = k.encode(&state(), [1; 6]);
        let b = k.encode(&state(), [2; 6]);
        // The same lock in the same state under two nonces: nothing but the
        // version byte in common.
        assert_eq!(a[0], b[0]);
        assert!(a[1..].iter().zip(&b[1..]).filter(|(x, y)| x == y).count() < 4);
        assert!(
            !a.windows(8).any(|w| w == [1; 8]),
            "no lock id in the clear"
        );
        assert!(
            !a.windows(4).any(|w| w == 0x0102_0304u32.to_le_bytes()),
            "no version in the clear"
        );
    }

    #[test]
    fn bad_payloads_say_what_is_wrong() {
        let bytes = key(1).encode(&state(), [9; 6]);
        assert_eq!(
            key(1).resolve(&bytes[..ADVERT_LEN - 1]).unwrap_err().code(),
            "truncated"
        );
        let mut older = bytes.clone();
        older[0] = 1;
        assert_eq!(
            key(1).resolve(&older).unwrap_err().code(),
            "unsupported_version"
        );
        let mut flipped = bytes.clone();
        flipped[8] ^= 1;
        assert_eq!(key(1).resolve(&flipped).unwrap(), None, "a bent tag");
    }

    #[test]
    fn keys_travel_as_hex() {
        let k = key(7);
        assert_eq!(AdvertKey::from_hex(k.lock_id(), &k.to_hex()), Some(k));
        assert_eq!(AdvertKey::from_hex(LockId([7; 8]), "abc"), None);
    }
}
