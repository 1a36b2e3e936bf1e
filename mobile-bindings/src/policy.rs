//! Offline policy calls: check a code or generate codes for an explicit
//! context, with the same engine the server runs.

use keyway_codes::code::{AccessPoint, Code, CodeKind, Origin};
use keyway_codes::policy::{CheckContext, Community, ModelConstraint, PropertyNumber, TargetLock};
use keyway_codes::{generate_distinct, secure_rng};

use crate::KeywayError;

/// Where a code is meant to go and under which community settings.
#[derive(Debug, Clone, uniffi::Record)]
pub struct PolicyContext {
    /// What the code is for.
    pub kind: CodeKind,
    /// The community allows 6-digit resident and guest codes.
    pub six_digit_codes: bool,
    /// The community allows custom resident codes.
    pub custom_codes: bool,
    /// Street numbers, zip code, unit numbers.
    pub affiliated_numbers: Vec<String>,
    /// The door the lock guards.
    pub access_point: AccessPoint,
    /// Whether the lock's keypad has an enter key.
    pub enter_key: bool,
    /// The lock model's constraints.
    pub constraints: Vec<ModelConstraint>,
    /// Codes already on the lock.
    pub existing_codes: Vec<String>,
    /// The number of digits asked for, if any.
    pub length: Option<u8>,
}

impl PolicyContext {
    fn to_core(&self) -> Result<CheckContext, KeywayError> {
        let invalid = |what: &str| KeywayError::InvalidArgument {
            detail: format!("{what} must be digits only"),
        };
        let affiliated_numbers = self
            .affiliated_numbers
            .iter()
            .map(|n| PropertyNumber::parse(n).map_err(|_| invalid("an affiliated number")))
            .collect::<Result<_, _>>()?;
        let codes = self
            .existing_codes
            .iter()
            .map(|c| Code::parse(c).map_err(|_| invalid("an existing code")))
            .collect::<Result<_, _>>()?;
        let community = Community {
            six_digit_codes: self.six_digit_codes,
            custom_codes: self.custom_codes,
            affiliated_numbers,
            ..Community::default()
        };
        let lock = TargetLock {
            access_point: self.access_point,
            enter_key: self.enter_key,
            constraints: self.constraints.clone(),
            codes,
        };
        let mut ctx = CheckContext::new(community, self.kind).with_lock(lock);
        ctx.length = self.length.map(usize::from);
        Ok(ctx)
    }
}

/// Checks a code a person picked; fails with every violated rule.
#[uniffi::export]
pub fn check_code(code: String, context: PolicyContext) -> Result<(), KeywayError> {
    context.to_core()?.check_text(&code)?;
    Ok(())
}

/// Generates `count` distinct codes that pass every rule in `context`.
#[uniffi::export]
pub fn generate_codes(context: PolicyContext, count: u32) -> Result<Vec<String>, KeywayError> {
    let ctx = context.to_core()?.with_origin(Origin::Generated);
    let mut rng = secure_rng()?;
    let codes = generate_distinct(&ctx, count as usize, &mut rng)?;
    Ok(codes.iter().map(|c| c.as_str().to_owned()).collect())
}
