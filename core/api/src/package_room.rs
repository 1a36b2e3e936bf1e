//! The package room: carriers, couriers, staff, recipients, one-time and forgot PINs.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::codes::{CodeMode, CodeView};

/// A carrier and its package-room access code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CarrierView {
    /// The carrier's id.
    pub id: String,
    /// Its name ("UPS").
    pub name: String,
    /// Its 4-digit access code.
    pub code: Option<CodeView>,
}

/// `POST /v1/manage/carriers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCarrierRequest {
    /// The carrier's name.
    pub name: String,
    /// Generate or pick the access code.
    pub mode: CodeMode,
    /// The picked code.
    #[serde(default)]
    pub code: Option<String>,
}

/// A courier account and its PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CourierView {
    /// The courier's id.
    pub id: String,
    /// Name ("UPS driver route 12").
    pub name: String,
    /// The key card assigned after the PIN was verified.
    pub key_card_id: Option<String>,
    /// The 6-digit PIN, if one was set.
    pub pin: Option<CodeView>,
}

/// `POST /v1/manage/couriers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCourierRequest {
    /// The courier's name.
    pub name: String,
}

/// `POST /v1/manage/couriers/{id}/key-card`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyCardRequest {
    /// The courier's current PIN (proves the courier is present).
    pub pin: String,
    /// The key card's id.
    pub key_card_id: String,
}

/// A staff member and their PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct StaffView {
    /// The user's id.
    pub user_id: String,
    /// Name.
    pub name: String,
    /// The 6-digit PIN, if one was set.
    pub pin: Option<CodeView>,
}

/// A recipient of packages (and of one-time PINs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecipientView {
    /// The recipient's id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Email address.
    pub email: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
}

/// `POST /v1/manage/recipients`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateRecipientRequest {
    /// Name.
    pub name: String,
    /// Email address.
    #[serde(default)]
    pub email: Option<String>,
    /// Phone number (E.164 like +15551234567).
    #[serde(default)]
    pub phone: Option<String>,
}

/// How a one-time PIN reaches its recipient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum NotifyVia {
    /// Email only.
    Email,
    /// SMS only.
    Sms,
    /// Email and SMS.
    Both,
}

/// `POST /v1/manage/recipients/{id}/one-time-pin`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct OneTimePinRequest {
    /// Channels (default email).
    #[serde(default)]
    pub notify: Option<NotifyVia>,
    /// Expiry (default 24 hours from now).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub expires_at: Option<Timestamp>,
}

/// `POST /v1/public/forgot-pin`: a recipient asks for a new single-use PIN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgotPinRequest {
    /// The property.
    pub property_id: String,
    /// The recipient's email address.
    #[serde(default)]
    pub email: Option<String>,
    /// The recipient's phone number.
    #[serde(default)]
    pub phone: Option<String>,
}

/// The same answer whether or not the address is known.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ForgotPinResponse {
    /// What happens next.
    pub message: String,
}
