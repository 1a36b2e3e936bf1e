//! What a slot holds: a keypad code or a key card. A lock never holds a
//! card's id, only its [`CardKey`]: a hash of the id under a domain label,
//! which the lock computes again from what its reader reads.
//! `docs/lock-protocol.md`, "Job body", gives the bytes.

use std::fmt;

use ring::digest::{Context, SHA256};
use serde::{Deserialize, Serialize};

use keyway_codes::code::{Code, MAX_CODE_LEN, MIN_CODE_LEN};

use crate::wire::{DecodeError, Reader, Writer};

/// The most characters a key card's id has.
pub const MAX_CARD_ID_CHARS: usize = 64;

/// Domain separation for card keys.
const CARD_KEY_LABEL: &[u8] = b"keyway key card v1\0";

/// The credential tag of a key card: where a code's length byte (4-8) would be.
const CARD_TAG: u8 = 0x81;

/// Text that is not a key card's id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a key card id is 1 to {MAX_CARD_ID_CHARS} printable characters")]
pub struct InvalidCardId;

/// A key card's id as the server records it: `input` trimmed, 1 to
/// [`MAX_CARD_ID_CHARS`] characters, none of them a control character.
pub fn card_id(input: &str) -> Result<&str, InvalidCardId> {
    let id = input.trim();
    let chars = id.chars().count();
    if (1..=MAX_CARD_ID_CHARS).contains(&chars) && !id.chars().any(char::is_control) {
        Ok(id)
    } else {
        Err(InvalidCardId)
    }
}

/// What a lock stores for a key card: the first 16 bytes of
/// SHA-256(`"keyway key card v1\0"` || the card id's UTF-8 bytes). Its
/// `Debug` hides the bytes, so a card key reaches no log line by accident.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CardKey([u8; 16]);

impl CardKey {
    /// The key of the card whose id is `input` (trimmed, checked by [`card_id`]).
    pub fn of(input: &str) -> Result<Self, InvalidCardId> {
        let id = card_id(input)?;
        let mut ctx = Context::new(&SHA256);
        ctx.update(CARD_KEY_LABEL);
        ctx.update(id.as_bytes());
        let mut key = [0u8; 16];
        key.copy_from_slice(&ctx.finish().as_ref()[..16]);
        Ok(Self(key))
    }

    /// A key from its 16 bytes (as a job carries it).
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// The 16 bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// The key as 32 lowercase hex digits.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// A key from 32 hex digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let mut bytes = [0u8; 16];
        hex::decode_to_slice(text, &mut bytes).ok()?;
        Some(Self(bytes))
    }
}

impl fmt::Debug for CardKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CardKey(<16 bytes>)")
    }
}

impl Serialize for CardKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for CardKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::from_hex(&text).ok_or_else(|| serde::de::Error::custom("a card key is 32 hex digits"))
    }
}

/// What opens the door from one slot: digits typed at the keypad, or a key
/// card held to the reader. Typing digits never matches a card, and a card
/// never matches a code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Credential {
    /// A keypad code.
    Code(Code),
    /// A key card, by its key.
    Card(CardKey),
}

impl Credential {
    /// The keypad code, if this is one.
    pub fn code(&self) -> Option<&Code> {
        match self {
            Self::Code(code) => Some(code),
            Self::Card(_) => None,
        }
    }

    /// The card key, if this is a key card.
    pub fn card(&self) -> Option<&CardKey> {
        match self {
            Self::Card(key) => Some(key),
            Self::Code(_) => None,
        }
    }

    /// Encodes the credential: a code's length (4-8) and digits, or the
    /// card tag `0x81` and the 16-byte card key.
    pub(crate) fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Code(code) => {
                out.put_u8(code.len() as u8);
                out.extend_from_slice(code.as_bytes());
            }
            Self::Card(key) => {
                out.put_u8(CARD_TAG);
                out.extend_from_slice(&key.0);
            }
        }
    }

    /// Decodes a credential; any bytes give a value or an error.
    pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let tag = r.u8("credential")?;
        if tag == CARD_TAG {
            return Ok(Self::Card(CardKey(r.array("card_key")?)));
        }
        let len = usize::from(tag);
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&len) {
            return Err(DecodeError::invalid(
                "credential",
                format!("{tag:#04x} is neither a code length (4-8) nor a key card"),
            ));
        }
        let digits = r.take(len, "code")?;
        std::str::from_utf8(digits)
            .ok()
            .and_then(|text| Code::parse(text).ok())
            .map(Self::Code)
            .ok_or_else(|| DecodeError::invalid("code", "not ASCII digits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn card_ids_are_trimmed_printable_and_at_most_64_characters() {
        assert_eq!(card_id("  card-0042 "), Ok("card-0042"));
        assert_eq!(card_id(&"é".repeat(64)), Ok("é".repeat(64).as_str()));
        for bad in ["", "   ", "card\u{0}42", "card\n42", &"x".repeat(65)] {
            assert_eq!(card_id(bad), Err(InvalidCardId), "{bad:?}");
        }
    }

    #[test]
    fn a_card_key_hashes_the_trimmed_id_under_the_label() {
        let key = CardKey::of(" card-0042 ").unwrap();
        assert_eq!(key, CardKey::of("card-0042").unwrap());
        assert_ne!(key, CardKey::of("card-0043").unwrap());
        let mut ctx = Context::new(&SHA256);
        ctx.update(b"keyway key card v1\0card-0042");
        assert_eq!(key.as_bytes()[..], ctx.finish().as_ref()[..16]);
        assert_eq!(CardKey::from_hex(&key.to_hex()), Some(key));
        assert_eq!(format!("{key:?}"), "CardKey(<16 bytes>)");
    }

    #[test]
    fn credentials_round_trip_and_bad_tags_are_errors() {
        let code = Credential::Code(Code::parse("4817").unwrap());
        let card = Credential::Card(CardKey::of("card-0042").unwrap());
        for credential in [code, card] {
            let mut bytes = Vec::new();
            credential.encode(&mut bytes);
            let mut r = Reader::new(&bytes);
            assert_eq!(Credential::decode(&mut r), Ok(credential));
            assert_eq!(r.remaining(), 0);
        }
        for tag in [0u8, 3, 9, 0x80, 0x82, 0xff] {
            let bytes = [tag; 20];
            let err = Credential::decode(&mut Reader::new(&bytes)).unwrap_err();
            assert_eq!(err.code(), "invalid_field", "{tag:#04x}");
        }
    }
}
