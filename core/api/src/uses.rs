//! Code uses: a code opened a door, as the lock's own audit log said once a
//! phone carried its events to the server, and how that is said; and the
//! per-code choice of being told by email or SMS.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde::{Deserialize, Serialize};

/// "Dog walker's code opened Unit 4B at 09:14": a use as every surface says
/// it (the server's email and SMS, `keyway`, the bench, the demo), the
/// lock's time in `zone`, with the day when it was not today.
pub fn use_sentence(
    code_name: Option<&str>,
    lock_name: &str,
    at: Timestamp,
    zone: &TimeZone,
) -> String {
    let who = match code_name {
        Some(name) if !name.trim().is_empty() => format!("{name}'s code"),
        _ => "A code".to_owned(),
    };
    let when = at.to_zoned_datetime(zone.clone());
    let today = Timestamp::now().to_zoned_datetime(zone.clone()).date() == when.date();
    let time = if today {
        when.strftime("%H:%M").to_string()
    } else {
        when.strftime("%H:%M on %a %-d %b").to_string()
    };
    format!("{who} opened {lock_name} at {time}")
}

/// One time a code opened a door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeUse {
    /// The use's id (stable: a phone shows each use once).
    pub id: String,
    /// The code that was used.
    pub code_id: String,
    /// The code's name ("Dog walker"), when it has one.
    pub code_name: Option<String>,
    /// The door.
    pub lock_id: String,
    /// The door's name ("Unit 4B").
    pub lock_name: String,
    /// When, on the lock's clock.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// `code_used`; `one_time_consumed` for a one-time PIN's single use;
    /// `offline_code_used` for a guest code that works offline; `card_used`
    /// for a courier's key card; `backup_code_used` for a backup code handed
    /// out for the code.
    pub kind: String,
}

/// `GET /v1/codes/{id}/uses`: a code's uses, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeUseList {
    /// The uses, newest first (at most `limit`).
    pub uses: Vec<CodeUse>,
}

/// Whether, and how, the holder of a code is told when it is used.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum NotifyOnUse {
    /// Only in the app (every use comes with sync).
    #[default]
    None,
    /// An email to the address in the user's contact details.
    Email,
    /// A text message to the phone number in the user's contact details.
    Sms,
    /// Both.
    Both,
}

impl NotifyOnUse {
    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Email => "email",
            Self::Sms => "sms",
            Self::Both => "both",
        }
    }

    /// Parses [`NotifyOnUse::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        [Self::None, Self::Email, Self::Sms, Self::Both]
            .into_iter()
            .find(|n| n.as_str() == text)
    }
}

/// `PUT /v1/codes/{id}/notify`: be told (or stop being told) when a code is
/// used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeNotifyRequest {
    /// How.
    pub notify_on_use: NotifyOnUse,
}

/// The caller's choice for one code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeNotifyView {
    /// The code.
    pub code_id: String,
    /// How the caller is told of its uses.
    pub notify_on_use: NotifyOnUse,
}

/// `GET` and `PUT /v1/me/contact`: where the caller's use notifications go.
/// Each is sealed at rest and never shown to anyone else.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct ContactDetails {
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number (E.164, like +15551234567).
    #[serde(default)]
    pub phone: Option<String>,
}
