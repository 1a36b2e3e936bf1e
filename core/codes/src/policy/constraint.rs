//! Constraints that real lock models impose on codes, in the vocabulary lock
//! integrations use (the names follow the access-code constraint types that
//! lock-integration APIs publish per manufacturer).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::rule::Rule;
use crate::code::{Code, UnknownName};

/// A restriction a lock model puts on the codes it stores.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum ModelConstraint {
    /// The digit 0 may not appear anywhere in the code (seen on Nuki keypads).
    NoZeros,
    /// The code may not begin with the digits `12` (Nuki).
    #[serde(rename = "cannot_start_with_12")]
    CannotStartWith12,
    /// No three adjacent digits may repeat (`111`) or count up or down by one
    /// (`345`, `543`) (Brivo).
    NoTripleConsecutiveInts,
    /// The code needs at least three distinct digits (Tedee).
    AtLeastThreeUniqueDigits,
    /// The digits 0, 8 and 9 may not appear: keypads with only 1-7 (TTLock).
    #[serde(rename = "cannot_contain_089")]
    CannotContain089,
    /// The digits 0, 7, 8 and 9 may not appear: keypads with only 1-6 (TTLock cylinders).
    #[serde(rename = "cannot_contain_0789")]
    CannotContain0789,
    /// The lock identifies a code by its first four digits, so those must differ
    /// from the first four of every other code on the lock (Schlage).
    UniqueFirstFourDigits,
    /// The code may not start with 0 (keypads that drop a leading zero).
    NoLeadingZero,
}

impl ModelConstraint {
    /// Every constraint, in a stable order.
    pub const ALL: [ModelConstraint; 8] = [
        Self::NoZeros,
        Self::CannotStartWith12,
        Self::NoTripleConsecutiveInts,
        Self::AtLeastThreeUniqueDigits,
        Self::CannotContain089,
        Self::CannotContain0789,
        Self::UniqueFirstFourDigits,
        Self::NoLeadingZero,
    ];

    /// The stable snake_case id of the constraint.
    pub fn id(self) -> &'static str {
        match self {
            Self::NoZeros => "no_zeros",
            Self::CannotStartWith12 => "cannot_start_with_12",
            Self::NoTripleConsecutiveInts => "no_triple_consecutive_ints",
            Self::AtLeastThreeUniqueDigits => "at_least_three_unique_digits",
            Self::CannotContain089 => "cannot_contain_089",
            Self::CannotContain0789 => "cannot_contain_0789",
            Self::UniqueFirstFourDigits => "unique_first_four_digits",
            Self::NoLeadingZero => "no_leading_zero",
        }
    }

    /// The rule a violation of this constraint is reported under.
    pub fn rule(self) -> Rule {
        match self {
            Self::NoZeros => Rule::NoZeros,
            Self::CannotStartWith12 => Rule::CannotStartWith12,
            Self::NoTripleConsecutiveInts => Rule::NoTripleConsecutiveInts,
            Self::AtLeastThreeUniqueDigits => Rule::AtLeastThreeUniqueDigits,
            Self::CannotContain089 => Rule::CannotContain089,
            Self::CannotContain0789 => Rule::CannotContain0789,
            Self::UniqueFirstFourDigits => Rule::UniqueFirstFourDigits,
            Self::NoLeadingZero => Rule::LeadingZero,
        }
    }

    /// Whether `code` breaks this constraint on a lock that already holds
    /// `others` (only [`ModelConstraint::UniqueFirstFourDigits`] looks at them; an
    /// identical code is reported as a duplicate, not here).
    pub fn is_violated_by(self, code: &Code, others: &[Code]) -> bool {
        let digits = code.as_bytes();
        match self {
            Self::NoZeros => digits.contains(&b'0'),
            Self::CannotStartWith12 => digits.starts_with(b"12"),
            Self::NoTripleConsecutiveInts => digits.windows(3).any(|w| {
                let (a, b, c) = (i16::from(w[0]), i16::from(w[1]), i16::from(w[2]));
                let step = b - a;
                (-1..=1).contains(&step) && c - b == step
            }),
            Self::AtLeastThreeUniqueDigits => {
                let mut seen = 0u16;
                for d in digits {
                    seen |= 1 << (d - b'0');
                }
                seen.count_ones() < 3
            }
            Self::CannotContain089 => digits.iter().any(|d| matches!(d, b'0' | b'8' | b'9')),
            Self::CannotContain0789 => digits.iter().any(|d| matches!(d, b'0' | b'7'..=b'9')),
            Self::UniqueFirstFourDigits => others
                .iter()
                .any(|other| other != code && other.as_bytes()[..4] == digits[..4]),
            Self::NoLeadingZero => digits[0] == b'0',
        }
    }
}

impl fmt::Display for ModelConstraint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for ModelConstraint {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.id() == s)
            .ok_or_else(|| UnknownName::new("lock constraint", s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn violates(constraint: ModelConstraint, code: &str) -> bool {
        constraint.is_violated_by(&Code::parse(code).unwrap(), &[])
    }

    #[test]
    fn digit_set_constraints() {
        assert!(violates(ModelConstraint::NoZeros, "1029"));
        assert!(!violates(ModelConstraint::NoZeros, "1929"));
        assert!(violates(ModelConstraint::CannotContain089, "1238"));
        assert!(violates(ModelConstraint::CannotContain089, "9123"));
        assert!(!violates(ModelConstraint::CannotContain089, "1737"));
        assert!(violates(ModelConstraint::CannotContain0789, "1737"));
        assert!(!violates(ModelConstraint::CannotContain0789, "1636"));
    }

    #[test]
    fn start_constraints() {
        assert!(violates(ModelConstraint::CannotStartWith12, "1290"));
        assert!(!violates(ModelConstraint::CannotStartWith12, "2190"));
        assert!(violates(ModelConstraint::NoLeadingZero, "0481"));
        assert!(!violates(ModelConstraint::NoLeadingZero, "4081"));
    }

    #[test]
    fn triple_consecutive_catches_runs_and_repeats_anywhere() {
        for code in ["1112", "9345", "2543", "807890"] {
            assert!(
                violates(ModelConstraint::NoTripleConsecutiveInts, code),
                "{code}"
            );
        }
        for code in ["1124", "1357", "9091", "1213"] {
            assert!(
                !violates(ModelConstraint::NoTripleConsecutiveInts, code),
                "{code}"
            );
        }
    }

    #[test]
    fn three_unique_digits() {
        assert!(violates(ModelConstraint::AtLeastThreeUniqueDigits, "1212"));
        assert!(violates(
            ModelConstraint::AtLeastThreeUniqueDigits,
            "112211"
        ));
        assert!(!violates(ModelConstraint::AtLeastThreeUniqueDigits, "1213"));
    }

    #[test]
    fn unique_first_four_compares_other_codes_only() {
        let code = Code::parse("482913").unwrap();
        let same_start = Code::parse("482977").unwrap();
        let other = Code::parse("4829").unwrap();
        let c = ModelConstraint::UniqueFirstFourDigits;
        assert!(c.is_violated_by(&code, &[same_start]));
        assert!(c.is_violated_by(&code, &[other]));
        assert!(!c.is_violated_by(&code, &[code]));
        assert!(!c.is_violated_by(&code, &[Code::parse("4830").unwrap()]));
    }

    #[test]
    fn ids_parse_back_and_match_serde() {
        for c in ModelConstraint::ALL {
            assert_eq!(c.id().parse::<ModelConstraint>().unwrap(), c);
            assert_eq!(serde_json::to_value(c).unwrap(), c.id());
        }
    }
}
