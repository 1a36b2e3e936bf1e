//! The `common_pin` blocklist: PINs people choose so often that an attacker at a
//! keypad tries them first.
//!
//! Sources:
//! - Nick Berry, "PIN number analysis", DataGenetics, 2012: frequencies of
//!   3.4 million leaked 4-digit PINs. Its twenty most frequent PINs cover about
//!   27% of all PINs and are listed verbatim in [`TOP_FOUR_DIGIT`]; the analysis
//!   also shows that years (19xx, 20xx) and repeated pairs (ABAB) dominate the
//!   rest of the head of the distribution.
//! - Joseph Bonneau, Sören Preibusch, Ross Anderson, "A birthday present every
//!   eleven wallets? The security of customer-chosen banking PINs", Financial
//!   Cryptography 2012: dates and years are the largest human-chosen PIN
//!   family; a blocklist of the most popular 100 PINs is recommended.
//! - Ding Wang, Qianchen Gu, Xinyi Huang, Ping Wang, "Understanding Human-Chosen
//!   PINs: Characteristics, Distribution and Security", ACM AsiaCCS 2017, and
//!   Philipp Markert et al., "This PIN Can Be Easily Guessed", IEEE S&P 2020:
//!   the most frequent 6-digit PINs (runs, repeats, repeated pairs and triples,
//!   keypad patterns), which make up [`TOP_SIX_DIGIT`].
//!
//! Besides the lists, two pattern families from the same research are refused
//! for every length they apply to: a 4-digit year from 1900 to 2099, and a code
//! that repeats one pair of digits (1212, 121212, 90909090).

use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::code::Code;

/// The twenty most frequent 4-digit PINs, most frequent first (DataGenetics).
pub const TOP_FOUR_DIGIT: [&str; 20] = [
    "1234", "1111", "0000", "1212", "7777", "1004", "2000", "4444", "2222", "6969", "9999", "3333",
    "5555", "6666", "1122", "1313", "8888", "4321", "2001", "1010",
];

/// Further 4-digit PINs from the same studies: keypad columns and diagonals,
/// common dates and pairs.
pub const MORE_FOUR_DIGIT: [&str; 22] = [
    "2580", "0852", "1470", "0741", "3690", "0963", "1357", "2468", "1379", "1590", "7410", "1230",
    "0123", "1000", "1225", "0101", "0007", "1024", "1123", "1112", "2112", "4545",
];

/// Frequent 6-digit PINs (Wang et al. 2017, Markert et al. 2020).
pub const TOP_SIX_DIGIT: [&str; 40] = [
    "123456", "111111", "000000", "123123", "121212", "654321", "666666", "123321", "112233",
    "696969", "888888", "520520", "159753", "147258", "789456", "456789", "999999", "555555",
    "777777", "222222", "333333", "444444", "131313", "101010", "123654", "147852", "258369",
    "369258", "159357", "102030", "112358", "110110", "789789", "456456", "987654", "100000",
    "200000", "123457", "012345", "520131",
];

/// How the `common_pin` rule is configured for a community.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonPins {
    /// Whether the built-in lists and pattern families are refused.
    pub builtin: bool,
    /// Further PINs the community refuses (always applied).
    #[serde(default)]
    pub extra: BTreeSet<Code>,
}

impl Default for CommonPins {
    fn default() -> Self {
        Self {
            builtin: true,
            extra: BTreeSet::new(),
        }
    }
}

impl CommonPins {
    /// No built-in list and no extra PINs: the rule never fires.
    pub fn off() -> Self {
        Self {
            builtin: false,
            extra: BTreeSet::new(),
        }
    }

    /// Whether `code` is on the blocklist.
    pub fn contains(&self, code: &Code) -> bool {
        (self.builtin && is_builtin_common(code)) || self.extra.contains(code)
    }
}

/// The built-in lists as one set, built on first use.
static LISTED: LazyLock<HashSet<Code>> = LazyLock::new(|| {
    TOP_FOUR_DIGIT
        .iter()
        .chain(&MORE_FOUR_DIGIT)
        .chain(&TOP_SIX_DIGIT)
        .filter_map(|text| Code::parse(text).ok())
        .collect()
});

/// Whether `code` is on the built-in lists or in a refused pattern family.
pub fn is_builtin_common(code: &Code) -> bool {
    is_year(code) || is_repeated_pair(code) || LISTED.contains(code)
}

/// A 4-digit year from 1900 to 2099.
fn is_year(code: &Code) -> bool {
    let digits = code.as_bytes();
    digits.len() == 4 && (digits.starts_with(b"19") || digits.starts_with(b"20"))
}

/// One pair of digits repeated through the whole code (1212, 121212).
fn is_repeated_pair(code: &Code) -> bool {
    let digits = code.as_bytes();
    digits.len().is_multiple_of(2) && digits.chunks(2).all(|pair| pair == &digits[..2])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn common(text: &str) -> bool {
        CommonPins::default().contains(&Code::parse(text).unwrap())
    }

    #[test]
    fn lists_hold_valid_distinct_codes_of_their_length() {
        let mut seen = BTreeSet::new();
        let four = TOP_FOUR_DIGIT.iter().chain(&MORE_FOUR_DIGIT);
        for text in four.clone().chain(&TOP_SIX_DIGIT) {
            let code = Code::parse(text).unwrap();
            assert!(seen.insert(code), "{text} listed twice");
        }
        assert!(four.clone().all(|text| text.len() == 4));
        assert!(TOP_SIX_DIGIT.iter().all(|text| text.len() == 6));
    }

    #[test]
    fn refuses_the_most_frequent_pins_years_and_repeated_pairs() {
        for text in [
            "1234", "2580", "0000", "123456", "654321", "1212", "121212", "1987",
        ] {
            assert!(common(text), "{text}");
        }
        for year in 1900..=2099 {
            assert!(common(&year.to_string()), "{year}");
        }
        assert!(common("90909090"));
    }

    #[test]
    fn lets_ordinary_codes_through() {
        for text in ["4817", "3071", "2150", "739104", "1899", "2100"] {
            assert!(!common(text), "{text}");
        }
    }

    #[test]
    fn is_configurable() {
        let code = Code::parse("4817").unwrap();
        let mut pins = CommonPins::off();
        assert!(!pins.contains(&Code::parse("1234").unwrap()));
        pins.extra.insert(code);
        assert!(pins.contains(&code));
    }
}
