//! The door-code policy engine: which codes are acceptable where.
//!
//! A [`CheckContext`] gathers everything a decision depends on: the community's
//! settings ([`Community`]), the locks the code is meant for ([`TargetLock`]:
//! their codes, keypad and model constraints), the property's deleted PINs, and
//! the request (kind, origin, length). [`CheckContext::check`] reports **every**
//! violated [`Rule`], each with its stable id and a message a resident can act
//! on. The phone and the server run this same code, so the phone never promises a
//! code the server will refuse.

mod common_pins;
mod constraint;
mod rule;

use std::collections::BTreeSet;
use std::fmt;

use serde::{Deserialize, Serialize};

pub use common_pins::{
    CommonPins, MORE_FOUR_DIGIT, TOP_FOUR_DIGIT, TOP_SIX_DIGIT, is_builtin_common,
};
pub use constraint::ModelConstraint;
pub use rule::Rule;
use rule::RuleSet;

use crate::code::{AccessPoint, Code, CodeKind, MAX_CODE_LEN, MIN_CODE_LEN, Origin};

/// A number affiliated with the property (street number, zip code, unit
/// number): 1 to 10 ASCII digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PropertyNumber(String);

/// A property number that is not 1 to 10 ASCII digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a property number has 1 to 10 digits (0-9) and nothing else")]
pub struct InvalidPropertyNumber;

impl PropertyNumber {
    /// Parses a property number: 1 to 10 ASCII digits.
    pub fn parse(text: &str) -> Result<Self, InvalidPropertyNumber> {
        if (1..=10).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(text.to_owned()))
        } else {
            Err(InvalidPropertyNumber)
        }
    }

    /// The digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PropertyNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PropertyNumber({})", self.0)
    }
}

impl TryFrom<String> for PropertyNumber {
    type Error = InvalidPropertyNumber;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl From<PropertyNumber> for String {
    fn from(number: PropertyNumber) -> Self {
        number.0
    }
}

impl std::str::FromStr for PropertyNumber {
    type Err = InvalidPropertyNumber;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// A community's code settings, chosen by its manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Community {
    /// Residents and guests may use 6-digit codes as well as 4-digit ones.
    pub six_digit_codes: bool,
    /// Residents may pick their own codes (on their own unit doors).
    pub custom_codes: bool,
    /// Street numbers, zip code, unit numbers: codes may not be or contain them.
    pub affiliated_numbers: Vec<PropertyNumber>,
    /// The length of one-time PINs.
    pub one_time_pin_length: u8,
    /// The common-PIN blocklist.
    pub common_pins: CommonPins,
}

impl Default for Community {
    fn default() -> Self {
        Self {
            six_digit_codes: false,
            custom_codes: true,
            affiliated_numbers: Vec::new(),
            one_time_pin_length: 6,
            common_pins: CommonPins::default(),
        }
    }
}

impl Community {
    /// The code lengths allowed for `kind` in this community, shortest first.
    pub fn allowed_lengths(&self, kind: CodeKind) -> &'static [usize] {
        match kind {
            CodeKind::Resident | CodeKind::Guest if self.six_digit_codes => &[4, 6],
            CodeKind::Resident | CodeKind::Guest | CodeKind::Carrier => &[4],
            CodeKind::Courier | CodeKind::Staff => &[6],
            CodeKind::OneTime => match self.one_time_pin_length {
                4 => &[4],
                5 => &[5],
                7 => &[7],
                8 => &[8],
                _ => &[6],
            },
            CodeKind::Backup => &[8],
        }
    }

    /// The length a generated code of `kind` has unless another is asked for.
    pub fn default_length(&self, kind: CodeKind) -> usize {
        self.allowed_lengths(kind)[0]
    }
}

/// What the policy needs to know about one lock a code is meant for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetLock {
    /// The kind of door the lock guards.
    pub access_point: AccessPoint,
    /// Whether the keypad has an enter key; without one a code opens as soon as
    /// its digits are typed, so no code may be a prefix of another.
    pub enter_key: bool,
    /// The lock model's constraints.
    #[serde(default)]
    pub constraints: Vec<ModelConstraint>,
    /// The codes already on the lock (excluding the one being changed).
    #[serde(default)]
    pub codes: Vec<Code>,
}

impl TargetLock {
    /// A lock of `access_point` with an enter key, no constraints and no codes.
    pub fn new(access_point: AccessPoint) -> Self {
        Self {
            access_point,
            enter_key: true,
            constraints: Vec::new(),
            codes: Vec::new(),
        }
    }
}

/// Whether a lock takes offline codes (`docs/lock-protocol.md`, "Offline
/// codes"): its keypad has an enter key (without one an entry ends at the
/// length of the longest code in its table) and its model has no constraint.
/// An offline code is 8 digits the server cannot choose (an HMAC output), and
/// every constraint refuses some 8-digit codes or, like
/// `unique_first_four_digits`, tells codes apart by fewer digits.
pub fn takes_offline_codes(enter_key: bool, constraints: &[ModelConstraint]) -> bool {
    enter_key && constraints.is_empty()
}

impl TargetLock {
    /// Whether the lock takes offline codes ([`takes_offline_codes`]).
    pub fn takes_offline_codes(&self) -> bool {
        takes_offline_codes(self.enter_key, &self.constraints)
    }
}

/// One violated rule, as reported to a person or a program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Violation {
    /// The rule's stable id.
    pub rule: Rule,
    /// What to do about it, in words a resident understands.
    pub message: String,
}

/// A code that breaks one or more rules. Its machine code is `policy_violation`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
#[error("the code breaks {} rule(s): {}", .violations.len(), rule_list(.violations))]
pub struct Rejection {
    /// Every violated rule, in a stable order.
    pub violations: Vec<Violation>,
}

fn rule_list(violations: &[Violation]) -> String {
    let ids: Vec<&str> = violations.iter().map(|v| v.rule.id()).collect();
    ids.join(", ")
}

impl Rejection {
    /// The stable machine code of a policy rejection.
    pub const CODE: &'static str = "policy_violation";

    /// Whether `rule` is among the violations.
    pub fn violates(&self, rule: Rule) -> bool {
        self.violations.iter().any(|v| v.rule == rule)
    }
}

/// Everything a policy decision depends on, besides the code itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckContext {
    /// The community's settings.
    pub community: Community,
    /// The locks the code is meant for.
    pub locks: Vec<TargetLock>,
    /// Courier and staff PINs deleted at this property.
    pub deleted_pins: BTreeSet<Code>,
    /// What the code is for.
    pub kind: CodeKind,
    /// Picked by a person or generated.
    pub origin: Origin,
    /// The length the person asked for, if any.
    pub length: Option<usize>,
}

impl CheckContext {
    /// A context for a code of `kind` picked by a person, in `community`, for no
    /// lock yet.
    pub fn new(community: Community, kind: CodeKind) -> Self {
        Self {
            community,
            locks: Vec::new(),
            deleted_pins: BTreeSet::new(),
            kind,
            origin: Origin::Custom,
            length: None,
        }
    }

    /// Adds a lock the code is meant for.
    pub fn with_lock(mut self, lock: TargetLock) -> Self {
        self.locks.push(lock);
        self
    }

    /// Sets the origin of the code.
    pub fn with_origin(mut self, origin: Origin) -> Self {
        self.origin = origin;
        self
    }

    /// Sets the length the person asked for.
    pub fn with_length(mut self, length: usize) -> Self {
        self.length = Some(length);
        self
    }

    /// Sets the property's deleted courier and staff PINs.
    pub fn with_deleted_pins(mut self, pins: impl IntoIterator<Item = Code>) -> Self {
        self.deleted_pins = pins.into_iter().collect();
        self
    }

    /// The length a generated code gets: the one asked for, or the kind's default.
    pub fn target_length(&self) -> usize {
        self.length
            .unwrap_or_else(|| self.community.default_length(self.kind))
    }

    /// Checks `code`, reporting every violated rule; a picked code where only
    /// generated ones are allowed reports `custom_not_allowed` alone (see
    /// [`CheckContext::custom_refusal`]).
    pub fn check(&self, code: &Code) -> Result<(), Rejection> {
        let broken = self.evaluate(code, false);
        if broken.is_empty() {
            return Ok(());
        }
        let violations = broken
            .iter()
            .map(|rule| Violation {
                rule,
                message: self.message(rule),
            })
            .collect();
        Err(Rejection { violations })
    }

    /// Whether `code` breaks no rule. Stops at the first violation, so it is the
    /// fast path for generation.
    pub fn is_allowed(&self, code: &Code) -> bool {
        self.evaluate(code, true).is_empty()
    }

    /// The refusal of every picked code in this context when only generated
    /// codes are allowed here (guest codes, one-time PINs, resident codes on
    /// community doors or where custom codes are off), whatever the digits.
    /// Callers check it before they look at the digits, so the answer cannot
    /// depend on them.
    pub fn custom_refusal(&self) -> Option<Rejection> {
        self.custom_refused().map(|message| Rejection {
            violations: vec![Violation {
                rule: Rule::CustomNotAllowed,
                message: message.to_owned(),
            }],
        })
    }

    /// Parses `input` and checks it: the one call behind "pick a code".
    pub fn check_text(&self, input: &str) -> Result<Code, CheckError> {
        let code = Code::parse(input)?;
        self.check(&code)?;
        Ok(code)
    }

    /// Evaluates the rules, cheapest first. With `first_only` it returns as soon
    /// as one rule is broken.
    fn evaluate(&self, code: &Code, first_only: bool) -> RuleSet {
        let mut broken = RuleSet::default();
        // A picked code where only generated ones are allowed is refused for
        // that alone, whatever its digits: any further rule (a duplicate on a
        // shared door above all) would tell the picker about codes that are
        // not theirs, and none of them could make the code acceptable.
        if self.custom_refused().is_some() {
            broken.insert(Rule::CustomNotAllowed);
            return broken;
        }
        let digits = code.as_bytes();
        let mut flag = |rule: Rule, hit: bool| {
            if hit {
                broken.insert(rule);
            }
            first_only && hit
        };
        let kind = self.kind;

        if flag(Rule::Length, !self.length_ok(code.len()))
            || flag(Rule::AllSameDigits, digits.iter().all(|d| *d == digits[0]))
            || flag(Rule::Sequential, is_sequential(digits))
            || flag(
                Rule::LeadingZero,
                digits[0] == b'0' && kind == CodeKind::Carrier,
            )
            || flag(
                Rule::DeletedPinReuse,
                matches!(kind, CodeKind::Courier | CodeKind::Staff)
                    && self.deleted_pins.contains(code),
            )
            || flag(Rule::PropertyNumber, self.is_property_number(digits))
            || flag(Rule::CommonPin, self.community.common_pins.contains(code))
        {
            return broken;
        }

        for lock in &self.locks {
            for constraint in &lock.constraints {
                if flag(
                    constraint.rule(),
                    constraint.is_violated_by(code, &lock.codes),
                ) {
                    return broken;
                }
            }
            if flag(Rule::DuplicateOnLock, lock.codes.contains(code))
                || flag(
                    Rule::PrefixConflict,
                    !lock.enter_key
                        && lock
                            .codes
                            .iter()
                            .any(|other| is_strict_prefix_pair(code, other)),
                )
            {
                return broken;
            }
        }
        broken
    }

    fn length_ok(&self, len: usize) -> bool {
        let allowed = self.community.allowed_lengths(self.kind);
        allowed.contains(&len) && self.length.is_none_or(|asked| asked == len)
    }

    /// Why a custom code is refused here, if it is.
    fn custom_refused(&self) -> Option<&'static str> {
        if self.origin != Origin::Custom {
            return None;
        }
        match self.kind {
            CodeKind::Guest => Some(
                "Guest codes (permanent, temporary, recurring and delivery) are always generated; they can't be customized.",
            ),
            CodeKind::OneTime => Some("One-time PINs are always generated."),
            CodeKind::Backup => Some("Backup codes are always generated."),
            CodeKind::Resident if self.locks.iter().any(|l| l.access_point.is_shared()) => Some(
                "Custom codes are not available for community access points or amenities; generate one instead.",
            ),
            CodeKind::Resident if !self.community.custom_codes => {
                Some("Your community has not enabled custom codes; generate one instead.")
            }
            _ => None,
        }
    }

    fn is_property_number(&self, digits: &[u8]) -> bool {
        self.community.affiliated_numbers.iter().any(|number| {
            let number = number.as_str().as_bytes();
            digits == number
                || (number.len() >= 3 && digits.windows(number.len()).any(|w| w == number))
        })
    }

    fn message(&self, rule: Rule) -> String {
        match rule {
            Rule::Length => self.length_message(),
            Rule::CustomNotAllowed => self
                .custom_refused()
                .unwrap_or(rule.fixed_message())
                .to_owned(),
            Rule::LeadingZero if self.kind == CodeKind::Carrier => {
                "Carrier access codes can't start with 0.".to_owned()
            }
            _ => rule.fixed_message().to_owned(),
        }
    }

    /// The `length` violation for this context's kind and asked length.
    pub fn length_violation(&self) -> Violation {
        Violation {
            rule: Rule::Length,
            message: self.length_message(),
        }
    }

    fn length_message(&self) -> String {
        let allowed = self.community.allowed_lengths(self.kind);
        let kind = match self.kind {
            CodeKind::Resident => "Access codes",
            CodeKind::Guest => "Guest codes",
            CodeKind::Carrier => "Carrier access codes",
            CodeKind::Courier => "Courier PINs",
            CodeKind::Staff => "Staff PINs",
            CodeKind::OneTime => "One-time PINs",
            CodeKind::Backup => "Backup codes",
        };
        match (self.length, allowed) {
            (Some(asked), _) if !allowed.contains(&asked) && asked == 6 => format!(
                "{kind} here must be {} digits; six-digit codes must be enabled by your community.",
                lengths_text(allowed)
            ),
            (Some(asked), _) if allowed.contains(&asked) => {
                format!("You asked for a {asked}-digit code; enter exactly {asked} digits.")
            }
            _ => format!("{kind} must be {} digits.", lengths_text(allowed)),
        }
    }
}

fn lengths_text(lengths: &[usize]) -> String {
    let parts: Vec<String> = lengths.iter().map(usize::to_string).collect();
    parts.join(" or ")
}

/// The whole code is an ascending or descending run with step one.
fn is_sequential(digits: &[u8]) -> bool {
    let steps = || digits.windows(2).map(|w| i16::from(w[1]) - i16::from(w[0]));
    steps().all(|s| s == 1) || steps().all(|s| s == -1)
}

/// One code is a strict prefix of the other.
fn is_strict_prefix_pair(a: &Code, b: &Code) -> bool {
    a.len() != b.len()
        && (a.as_bytes().starts_with(b.as_bytes()) || b.as_bytes().starts_with(a.as_bytes()))
}

/// Why input could not be accepted as a code: bad format or broken rules.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// The input is not 4 to 8 ASCII digits.
    #[error(transparent)]
    InvalidFormat(#[from] crate::code::FormatError),
    /// The code breaks rules.
    #[error(transparent)]
    Rejected(#[from] Rejection),
}

impl CheckError {
    /// The stable machine code: `invalid_format` or `policy_violation`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidFormat(_) => crate::code::FormatError::CODE,
            Self::Rejected(_) => Rejection::CODE,
        }
    }
}

const _: () = assert!(MIN_CODE_LEN == 4 && MAX_CODE_LEN >= 8);

#[cfg(test)]
mod tests;
