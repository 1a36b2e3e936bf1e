//! The closed set of policy rules: their stable ids and what a violation says.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::code::UnknownName;

/// One named policy rule. The snake_case id ([`Rule::id`]) is stable: apps, the
/// server API and scripts match on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[repr(u8)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Rule {
    /// The code has a length its kind or community does not allow.
    Length,
    /// One digit repeated throughout (1111, 000000).
    AllSameDigits,
    /// The whole code is an ascending or descending run (1234, 5432, 0123, 987654).
    Sequential,
    /// The code starts with 0 where that is refused (carrier codes, some lock models).
    LeadingZero,
    /// The code is, or contains, a number affiliated with the property.
    PropertyNumber,
    /// The code is among the most commonly chosen PINs.
    CommonPin,
    /// The code is already on one of the target locks.
    DuplicateOnLock,
    /// On a keypad without an enter key the code is a prefix of another code on the
    /// lock, or another code is a prefix of it.
    PrefixConflict,
    /// A deleted courier or staff PIN is never accepted again at the property.
    DeletedPinReuse,
    /// A custom (picked) code where only generated codes are allowed.
    CustomNotAllowed,
    /// Lock model: the digit 0 is refused.
    NoZeros,
    /// Lock model: a code may not start with `12`.
    #[serde(rename = "cannot_start_with_12")]
    CannotStartWith12,
    /// Lock model: no three adjacent digits that repeat or count up or down by one.
    NoTripleConsecutiveInts,
    /// Lock model: a code needs at least three distinct digits.
    AtLeastThreeUniqueDigits,
    /// Lock model: the keypad has only the digits 1-7 (no 0, 8 or 9).
    #[serde(rename = "cannot_contain_089")]
    CannotContain089,
    /// Lock model: the keypad has only the digits 1-6 (no 0, 7, 8 or 9).
    #[serde(rename = "cannot_contain_0789")]
    CannotContain0789,
    /// Lock model: the first four digits must differ from those of every other code.
    UniqueFirstFourDigits,
}

impl Rule {
    /// Every rule, in the order violations are reported.
    pub const ALL: [Rule; 17] = [
        Self::Length,
        Self::AllSameDigits,
        Self::Sequential,
        Self::LeadingZero,
        Self::PropertyNumber,
        Self::CommonPin,
        Self::DuplicateOnLock,
        Self::PrefixConflict,
        Self::DeletedPinReuse,
        Self::CustomNotAllowed,
        Self::NoZeros,
        Self::CannotStartWith12,
        Self::NoTripleConsecutiveInts,
        Self::AtLeastThreeUniqueDigits,
        Self::CannotContain089,
        Self::CannotContain0789,
        Self::UniqueFirstFourDigits,
    ];

    /// The stable snake_case id of the rule.
    pub fn id(self) -> &'static str {
        match self {
            Self::Length => "length",
            Self::AllSameDigits => "all_same_digits",
            Self::Sequential => "sequential",
            Self::LeadingZero => "leading_zero",
            Self::PropertyNumber => "property_number",
            Self::CommonPin => "common_pin",
            Self::DuplicateOnLock => "duplicate_on_lock",
            Self::PrefixConflict => "prefix_conflict",
            Self::DeletedPinReuse => "deleted_pin_reuse",
            Self::CustomNotAllowed => "custom_not_allowed",
            Self::NoZeros => "no_zeros",
            Self::CannotStartWith12 => "cannot_start_with_12",
            Self::NoTripleConsecutiveInts => "no_triple_consecutive_ints",
            Self::AtLeastThreeUniqueDigits => "at_least_three_unique_digits",
            Self::CannotContain089 => "cannot_contain_089",
            Self::CannotContain0789 => "cannot_contain_0789",
            Self::UniqueFirstFourDigits => "unique_first_four_digits",
        }
    }

    /// The message shown for rules whose message does not depend on the context.
    pub(crate) fn fixed_message(self) -> &'static str {
        match self {
            Self::Length => "This code has a length that is not allowed here.",
            Self::AllSameDigits => "Don't repeat one digit throughout (like 1111).",
            Self::Sequential => "Don't use a run of consecutive digits (like 1234 or 5432).",
            Self::LeadingZero => "Don't start the code with 0.",
            Self::PropertyNumber => {
                "Don't use numbers affiliated with the property (street number, zip code, unit number)."
            }
            Self::CommonPin => {
                "This is one of the most commonly chosen PINs; pick something harder to guess."
            }
            Self::DuplicateOnLock => "This code is already in use on this door; pick another.",
            Self::PrefixConflict => {
                "This keypad has no enter key, so a code can't be the start of another code on the lock, or start with one."
            }
            Self::DeletedPinReuse => {
                "This PIN was deleted and can never be used again at this property."
            }
            Self::CustomNotAllowed => "Custom codes are not allowed here; generate one instead.",
            Self::NoZeros => "This lock doesn't accept the digit 0.",
            Self::CannotStartWith12 => "This lock doesn't accept codes that start with 12.",
            Self::NoTripleConsecutiveInts => {
                "This lock doesn't accept three digits in a row that repeat or count up or down (like 111 or 345)."
            }
            Self::AtLeastThreeUniqueDigits => {
                "This lock needs at least three different digits in a code."
            }
            Self::CannotContain089 => "This lock's keypad only has the digits 1 to 7.",
            Self::CannotContain0789 => "This lock's keypad only has the digits 1 to 6.",
            Self::UniqueFirstFourDigits => {
                "This lock tells codes apart by their first four digits, and another code on it starts with the same four."
            }
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.id())
    }
}

impl FromStr for Rule {
    type Err = UnknownName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|rule| rule.id() == s)
            .ok_or_else(|| UnknownName::new("rule", s))
    }
}

/// A set of rules, as a bit set over [`Rule`]'s discriminants.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct RuleSet(u32);

impl RuleSet {
    pub(crate) fn insert(&mut self, rule: Rule) {
        self.0 |= 1 << rule as u8;
    }

    pub(crate) fn contains(self, rule: Rule) -> bool {
        self.0 & (1 << rule as u8) != 0
    }

    pub(crate) fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The rules in the set, in reporting order.
    pub(crate) fn iter(self) -> impl Iterator<Item = Rule> {
        Rule::ALL
            .into_iter()
            .filter(move |rule| self.contains(*rule))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_snake_case_and_parse_back() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            let id = rule.id();
            assert!(seen.insert(id), "duplicate id {id}");
            assert!(
                id.bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            );
            assert_eq!(id.parse::<Rule>().unwrap(), rule);
            assert_eq!(serde_json_id(rule), id);
        }
    }

    fn serde_json_id(rule: Rule) -> String {
        serde_json::to_value(rule)
            .unwrap()
            .as_str()
            .unwrap()
            .to_owned()
    }

    #[test]
    fn rule_set_iterates_in_reporting_order() {
        let mut set = RuleSet::default();
        assert!(set.is_empty());
        set.insert(Rule::UniqueFirstFourDigits);
        set.insert(Rule::Length);
        set.insert(Rule::CommonPin);
        set.insert(Rule::Length);
        let rules: Vec<Rule> = set.iter().collect();
        assert_eq!(
            rules,
            [Rule::Length, Rule::CommonPin, Rule::UniqueFirstFourDigits]
        );
    }
}
