//! Who is calling: roles, sign-in, the user, the property and its policy settings.

use serde::{Deserialize, Serialize};

/// A user's role at a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum Role {
    /// Lives in one unit; manages their own codes and guests.
    Resident,
    /// Building staff: package room, carriers, couriers, one-time PINs.
    Staff,
    /// Property manager: everything staff can, plus the policy settings.
    Manager,
}

impl Role {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resident => "resident",
            Self::Staff => "staff",
            Self::Manager => "manager",
        }
    }

    /// Parses [`Role::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::Resident, Self::Staff, Self::Manager]
            .into_iter()
            .find(|role| role.as_str() == text)
    }
}

/// `POST /v1/login`: trade the API token an operator issued for a token of
/// this device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    /// The API token from `keyway-server admin token`.
    pub token: String,
    /// A name the user recognises ("Alice's Pixel").
    pub device_name: String,
}

/// The answer to a login: a bearer token for this device only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <device_token>`; shown once.
    pub device_token: String,
    /// The device's id (sync cursors and revocation are per device).
    pub device_id: String,
    /// Who logged in.
    pub user: UserView,
}

/// A user as the API shows them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct UserView {
    /// The user's id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Role at the property.
    pub role: Role,
    /// The property.
    pub property_id: String,
    /// The unit, for residents.
    pub unit_id: Option<String>,
}

/// A property's code policy, as its manager sets it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PolicySettings {
    /// Residents and guests may use 6-digit codes as well as 4-digit ones.
    pub six_digit_codes: bool,
    /// Residents may pick their own codes (on their own unit doors).
    pub custom_codes: bool,
    /// Street numbers, zip code, unit numbers codes may not be or contain.
    pub affiliated_numbers: Vec<String>,
    /// Length of one-time PINs (4 to 8).
    pub one_time_pin_length: u8,
    /// Whether the built-in common-PIN blocklist applies.
    pub common_pins_builtin: bool,
}

impl PolicySettings {
    /// The policy engine's community for these settings (what the server and
    /// the phone's local check both use). Affiliated numbers that are not 1 to
    /// 10 digits are skipped (the server never stores any).
    pub fn community(&self) -> keyway_codes::policy::Community {
        use keyway_codes::policy::{CommonPins, Community, PropertyNumber};
        Community {
            six_digit_codes: self.six_digit_codes,
            custom_codes: self.custom_codes,
            affiliated_numbers: self
                .affiliated_numbers
                .iter()
                .filter_map(|n| PropertyNumber::parse(n).ok())
                .collect(),
            one_time_pin_length: self.one_time_pin_length,
            common_pins: if self.common_pins_builtin {
                CommonPins::default()
            } else {
                CommonPins::off()
            },
        }
    }
}

/// `GET /v1/me`: who is calling and their property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeResponse {
    /// The caller.
    pub user: UserView,
    /// The caller's property.
    pub property: PropertyView,
}

/// A property.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct PropertyView {
    /// The property's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// IANA time zone of recurring schedules.
    pub time_zone: String,
    /// The code policy.
    pub policy: PolicySettings,
}
