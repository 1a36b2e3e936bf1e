//! The property's policy settings: reading them, and replacing them
//! (existing codes stay; new codes follow the new settings).

use keyway_api::PolicySettings;
use keyway_codes::policy::PropertyNumber;

use crate::auth::Caller;
use crate::db::{Store, Write, properties};
use crate::error::{Error, Result};

/// Validates policy settings from a request or an operator.
pub fn validate_policy(policy: &PolicySettings) -> Result<()> {
    if let Some(bad) = policy
        .affiliated_numbers
        .iter()
        .find(|n| PropertyNumber::parse(n).is_err())
    {
        return Err(Error::invalid(format!(
            "affiliated number `{}` is not 1 to 10 digits",
            bad.chars().take(12).collect::<String>()
        )));
    }
    if !(4..=8).contains(&policy.one_time_pin_length) {
        return Err(Error::invalid("one_time_pin_length must be 4 to 8"));
    }
    Ok(())
}

/// The caller's property's settings.
pub async fn get(store: &Store, caller: &Caller) -> Result<PolicySettings> {
    Ok(
        properties::load(&mut store.read().await?, &caller.property_id)
            .await?
            .policy,
    )
}

/// Replaces the written property's settings (validated already).
pub async fn put(w: &mut Write, policy: PolicySettings) -> Result<PolicySettings> {
    properties::set_policy(w, &policy).await?;
    Ok(policy)
}
