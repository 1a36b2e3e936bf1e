//! The advertisement: what a lock broadcasts so a phone can tell, without
//! connecting, which lock it is and whether it is up to date.
//!
//! The lock advertises [`super::SERVICE_UUID`] and manufacturer data under
//! [`COMPANY_ID`] (in the scan response where the 31-byte legacy advertisement
//! is full): protocol version, lock id, state version, flags.

use super::job::LockId;
use super::message::PROTOCOL_VERSION;
use super::wire::{DecodeError, Reader, Writer};

/// The Bluetooth SIG company identifier used for the manufacturer data
/// (0xFFFF: reserved for products without an assigned identifier).
pub const COMPANY_ID: u16 = 0xffff;
/// Length of the manufacturer data payload.
pub const ADVERT_LEN: usize = 14;

const FLAG_EVENTS_PENDING: u8 = 0b01;
const FLAG_LOCKED_OUT: u8 = 0b10;

/// What a lock says about itself in every advertisement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Advertisement {
    /// The lock.
    pub lock_id: LockId,
    /// The lock's state version.
    pub version: u32,
    /// The lock holds audit events the server has not acknowledged: a phone in
    /// range should fetch a status even when the version is current.
    pub events_pending: bool,
    /// The keypad is locked out after wrong codes.
    pub locked_out: bool,
}

impl Advertisement {
    /// The manufacturer data payload (after the company id).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ADVERT_LEN);
        out.put_u8(PROTOCOL_VERSION);
        out.extend_from_slice(&self.lock_id.0);
        out.put_u32(self.version);
        let mut flags = 0;
        if self.events_pending {
            flags |= FLAG_EVENTS_PENDING;
        }
        if self.locked_out {
            flags |= FLAG_LOCKED_OUT;
        }
        out.put_u8(flags);
        out
    }

    /// Decodes a manufacturer data payload. Unknown flag bits are ignored so
    /// newer locks stay visible to older phones.
    pub fn decode(bytes: &[u8]) -> Result<Self, DecodeError> {
        let mut r = Reader::new(bytes);
        let version = r.u8("protocol_version")?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion {
                what: "advertisement",
                version,
            });
        }
        let lock_id = LockId(r.array("lock_id")?);
        let state_version = r.u32("version")?;
        let flags = r.u8("flags")?;
        r.finish()?;
        Ok(Self {
            lock_id,
            version: state_version,
            events_pending: flags & FLAG_EVENTS_PENDING != 0,
            locked_out: flags & FLAG_LOCKED_OUT != 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advertisements_round_trip() {
        let ad = Advertisement {
            lock_id: LockId([0xa0, 1, 2, 3, 4, 5, 6, 7]),
            version: 0x0102_0304,
            events_pending: true,
            locked_out: false,
        };
        let bytes = ad.encode();
        assert_eq!(bytes.len(), ADVERT_LEN);
        assert_eq!(Advertisement::decode(&bytes).unwrap(), ad);
        assert!(Advertisement::decode(&bytes[..13]).is_err());
        let mut newer = bytes.clone();
        newer[0] = 2;
        assert_eq!(
            Advertisement::decode(&newer).unwrap_err().code(),
            "unsupported_version"
        );
    }
}
