//! The door code value type and the vocabulary that describes a code:
//! its kind, its origin and the access point it opens.
//!
//! A [`Code`] is always 4 to 8 ASCII digits; every other input is refused by
//! [`Code::parse`] with [`FormatError`] (machine code `invalid_format`). `Code`
//! deliberately has no `Display`, and its `Debug` hides the digits, so a code can
//! only reach a log line through an explicit [`Code::as_str`].

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The fewest digits any lock accepts.
pub const MIN_CODE_LEN: usize = 4;
/// The most digits any supported lock stores.
pub const MAX_CODE_LEN: usize = 8;

/// A door code: 4 to 8 ASCII digits, stored inline (no heap allocation).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Code {
    len: u8,
    digits: [u8; MAX_CODE_LEN],
}

/// Why a string is not a door code. Its machine code is always `invalid_format`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum FormatError {
    /// The input was empty.
    #[error("enter a code of {MIN_CODE_LEN} to {MAX_CODE_LEN} digits")]
    Empty,
    /// The input contained something other than the ASCII digits 0-9.
    #[error("a code may only contain the digits 0-9")]
    NotDigits,
    /// The input had too few or too many digits.
    #[error("a code has {MIN_CODE_LEN} to {MAX_CODE_LEN} digits, this one has {digits}")]
    Length {
        /// How many characters it had.
        digits: u32,
    },
}

impl FormatError {
    /// The stable machine code of every format error.
    pub const CODE: &'static str = "invalid_format";
}

impl Code {
    /// Parses a code from user input. Only ASCII digits are accepted: letters,
    /// spaces, signs and non-ASCII digits (such as full-width ones) are refused.
    pub fn parse(input: &str) -> Result<Self, FormatError> {
        let bytes = input.as_bytes();
        if bytes.is_empty() {
            return Err(FormatError::Empty);
        }
        if !bytes.iter().all(u8::is_ascii_digit) {
            return Err(FormatError::NotDigits);
        }
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&bytes.len()) {
            let digits = u32::try_from(input.chars().count()).unwrap_or(u32::MAX);
            return Err(FormatError::Length { digits });
        }
        let mut digits = [0u8; MAX_CODE_LEN];
        digits[..bytes.len()].copy_from_slice(bytes);
        Ok(Self {
            len: bytes.len() as u8,
            digits,
        })
    }

    /// Builds the code of `len` digits whose value is `value`, zero-padded on the
    /// left (`from_index(42, 4)` is `0042`). `None` when `len` is outside 4..=8 or
    /// `value` does not fit in `len` digits.
    pub fn from_index(mut value: u64, len: usize) -> Option<Self> {
        if !(MIN_CODE_LEN..=MAX_CODE_LEN).contains(&len) || value >= 10u64.pow(len as u32) {
            return None;
        }
        let mut digits = [0u8; MAX_CODE_LEN];
        for slot in digits[..len].iter_mut().rev() {
            *slot = b'0' + (value % 10) as u8;
            value /= 10;
        }
        Some(Self {
            len: len as u8,
            digits,
        })
    }

    /// The digits as text. This is the only way to read a code back; keep it out
    /// of log lines.
    pub fn as_str(&self) -> &str {
        // Invariant: the first `len` bytes are ASCII digits, so this never fails.
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The digits as ASCII bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.digits[..self.len as usize]
    }

    /// The number of digits.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Always false: a code has at least [`MIN_CODE_LEN`] digits.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The digits as numbers 0-9.
    pub fn digit_values(&self) -> impl Iterator<Item = u8> + '_ {
        self.as_bytes().iter().map(|b| b - b'0')
    }
}

impl fmt::Debug for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Code(<{} digits>)", self.len)
    }
}

impl FromStr for Code {
    type Err = FormatError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Code {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Code::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// What a code is for; each kind has its own length and rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CodeKind {
    /// A resident's own code for their doors.
    Resident,
    /// A code a resident gives a guest (permanent, temporary, recurring or delivery).
    Guest,
    /// A carrier's access code for the package room (4 digits, one per carrier).
    Carrier,
    /// A courier's 6-digit PIN for the package room.
    Courier,
    /// A staff member's 6-digit PIN.
    Staff,
    /// A single-entry PIN for a package recipient.
    OneTime,
    /// One of a lock's backup codes: 8 digits, one use, held by the lock's
    /// pool until the server hands it out for a code that has not reached
    /// the lock in time.
    Backup,
}

impl CodeKind {
    /// Every kind, in a stable order.
    pub const ALL: [CodeKind; 7] = [
        Self::Resident,
        Self::Guest,
        Self::Carrier,
        Self::Courier,
        Self::Staff,
        Self::OneTime,
        Self::Backup,
    ];

    /// The stable snake_case name of the kind.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Guest => "guest",
            Self::Carrier => "carrier",
            Self::Courier => "courier",
            Self::Staff => "staff",
            Self::OneTime => "one_time",
            Self::Backup => "backup",
        }
    }
}

impl FromStr for CodeKind {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s || kind.as_str().replace('_', "-") == s)
            .ok_or_else(|| UnknownName::new("code kind", s))
    }
}

/// Whether a person chose the digits or the system drew them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Origin {
    /// Drawn by the generator.
    Generated,
    /// Picked by a person.
    Custom,
}

/// The kind of door a lock guards; custom codes are refused on shared ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum AccessPoint {
    /// A resident's own unit door.
    UnitDoor,
    /// A community access point: a building or garage entrance.
    CommunityEntrance,
    /// An amenity: gym, pool, roof deck.
    Amenity,
    /// The package room.
    PackageRoom,
}

impl AccessPoint {
    /// Every access point, in a stable order.
    pub const ALL: [AccessPoint; 4] = [
        Self::UnitDoor,
        Self::CommunityEntrance,
        Self::Amenity,
        Self::PackageRoom,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::UnitDoor => "unit_door",
            Self::CommunityEntrance => "community_entrance",
            Self::Amenity => "amenity",
            Self::PackageRoom => "package_room",
        }
    }

    /// Whether the door is shared by the community (entrances and amenities).
    pub fn is_shared(self) -> bool {
        matches!(self, Self::CommunityEntrance | Self::Amenity)
    }
}

impl FromStr for AccessPoint {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|point| point.as_str() == s || point.as_str().replace('_', "-") == s)
            .ok_or_else(|| UnknownName::new("access point", s))
    }
}

/// A name that is not in a closed vocabulary (a kind, an access point, a rule).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{name}`")]
pub struct UnknownName {
    what: &'static str,
    name: String,
}

impl UnknownName {
    pub(crate) fn new(what: &'static str, name: &str) -> Self {
        Self {
            what,
            name: name.chars().take(40).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_four_to_eight_ascii_digits() {
        for text in ["0000", "1234", "987654", "12345678"] {
            assert_eq!(Code::parse(text).unwrap().as_str(), text);
        }
    }

    #[test]
    fn refuses_everything_else_with_invalid_format() {
        let cases = [
            ("", FormatError::Empty),
            ("12a4", FormatError::NotDigits),
            ("12 34", FormatError::NotDigits),
            ("-1234", FormatError::NotDigits),
            ("+1234", FormatError::NotDigits),
            ("１２３４", FormatError::NotDigits), // full-width digits
            ("١٢٣٤", FormatError::NotDigits),     // Arabic-Indic digits
            ("123", FormatError::Length { digits: 3 }),
            (&"1".repeat(40), FormatError::Length { digits: 40 }),
        ];
        for (text, expected) in cases {
            assert_eq!(Code::parse(text), Err(expected), "input {text:?}");
        }
    }

    #[test]
    fn debug_hides_the_digits() {
        let code = Code::parse("4817").unwrap();
        let shown = format!("{code:?}");
        assert!(!shown.contains("4817"), "{shown}");
        assert_eq!(shown, "Code(<4 digits>)");
    }

    #[test]
    fn from_index_zero_pads_and_bounds() {
        assert_eq!(Code::from_index(42, 4).unwrap().as_str(), "0042");
        assert_eq!(Code::from_index(999_999, 6).unwrap().as_str(), "999999");
        assert!(Code::from_index(10_000, 4).is_none());
        assert!(Code::from_index(1, 3).is_none());
        assert!(Code::from_index(1, 9).is_none());
    }

    #[test]
    fn serde_round_trips_and_validates() {
        let code: Code = serde_json::from_str("\"0420\"").unwrap();
        assert_eq!(serde_json::to_string(&code).unwrap(), "\"0420\"");
        assert!(serde_json::from_str::<Code>("\"12x4\"").is_err());
    }

    #[test]
    fn kinds_and_access_points_parse_their_names() {
        for kind in CodeKind::ALL {
            assert_eq!(kind.as_str().parse::<CodeKind>().unwrap(), kind);
        }
        assert_eq!("one-time".parse::<CodeKind>().unwrap(), CodeKind::OneTime);
        assert!("janitor".parse::<CodeKind>().is_err());
        for point in AccessPoint::ALL {
            assert_eq!(point.as_str().parse::<AccessPoint>().unwrap(), point);
        }
    }
}
