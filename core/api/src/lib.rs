//! The server's HTTP API types: every request and response body, shared by
//! the server (which serves them) and the phone's sync client (which sends
//! them), so both sides agree on the JSON byte for byte. `docs/api.md` lists
//! the endpoints that use them.
//!
//! Plain serde types only; with the `openapi` feature they also derive
//! `utoipa::ToSchema` for the server's generated OpenAPI document. Sealed jobs
//! and receipts travel as standard base64 strings ([`encode_bytes`],
//! [`decode_bytes`]); instants are RFC 3339 strings.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::policy::{ModelConstraint, Violation};
use keyway_codes::schedule::Schedule;

/// The header that carries a write's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Encodes sealed bytes (a job or a receipt) for JSON: standard base64 with padding.
pub fn encode_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes [`encode_bytes`] output; `None` when the text is not base64.
pub fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

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

/// A door (one lock) a user may use or carry jobs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorView {
    /// The lock's id, 16 hex digits.
    pub lock_id: String,
    /// A name people recognise.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// Whether the keypad has an enter key (without one, no code may be a
    /// prefix of another on the lock). The phone's local policy check needs it.
    #[serde(default = "enter_key_default")]
    pub enter_key: bool,
    /// The lock model's constraints, for the phone's local policy check.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub constraints: Vec<ModelConstraint>,
}

/// Keypads have an enter key unless said otherwise (older servers omit it).
fn enter_key_default() -> bool {
    true
}

/// The state of one code on one lock, as the app shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CodeState {
    /// Queued on the phone; the server has not accepted it yet (phone only).
    Requested,
    /// Accepted; a sealed job waits for the lock.
    Pending,
    /// On the lock and opening the door.
    Active,
    /// Being disabled: the lock still accepts it until it confirms.
    Disabling,
    /// Kept on the lock but refused at the keypad; can be enabled again.
    Disabled,
    /// Being removed: the lock still accepts it until it confirms.
    Removing,
    /// Gone from the lock.
    Removed,
    /// Its window ended (and it is, or will be, removed from the lock).
    Expired,
    /// A one-time PIN that was used.
    Used,
    /// The lock refused it; `reason` says why. The previous code stays active.
    Failed,
}

/// The overall status of a code, whatever its locks say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum CodeStatus {
    /// Meant to open its doors.
    Active,
    /// Deactivated; can be enabled again.
    Disabled,
    /// Deleted (a tombstone in sync).
    Deleted,
    /// Its window ended.
    Expired,
    /// A one-time PIN that was used.
    Used,
    /// Every lock refused it.
    Failed,
}

/// One code on one lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct CodeOnLock {
    /// The lock's id.
    pub lock_id: String,
    /// The lock's name.
    pub lock_name: String,
    /// The state on that lock.
    pub state: CodeState,
    /// Why it failed (the lock's refusal code), when `state` is `failed`.
    pub reason: Option<String>,
    /// During a change: the previous value still opens this door until the
    /// lock confirms the swap.
    pub previous_active: bool,
}

/// The kinds of guest code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum GuestType {
    /// No end.
    Permanent,
    /// A window (from, until).
    Temporary,
    /// Weekdays and a daily window.
    Recurring,
    /// For a delivery: a short window.
    Delivery,
}

/// A code as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeView {
    /// The code's id; stays the same when its digits change.
    pub id: String,
    /// What it is for.
    pub kind: CodeKind,
    /// Picked or generated.
    pub origin: Origin,
    /// A name ("Dog walker").
    pub name: Option<String>,
    /// For guest codes.
    pub guest_type: Option<GuestType>,
    /// The unit, for resident and guest codes.
    pub unit_id: Option<String>,
    /// Who holds it, for carrier, courier, staff and one-time codes.
    pub holder_id: Option<String>,
    /// The digits; shown only to whom the code belongs (the unit's residents;
    /// staff and managers for package-room codes).
    pub value: Option<String>,
    /// When it opens the doors.
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub schedule: Schedule,
    /// Whether it is meant to open the doors (not deactivated).
    pub enabled: bool,
    /// Overall status.
    pub status: CodeStatus,
    /// Its state on each lock.
    pub locks: Vec<CodeOnLock>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// When it last changed.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub updated_at: Timestamp,
}

/// Generate a code or pick one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum CodeMode {
    /// The server draws the digits.
    Generate,
    /// The caller picks them (`code`).
    Pick,
}

/// `POST /v1/codes`: a resident's own code or a guest code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateCodeRequest {
    /// `resident` or `guest`.
    pub kind: CodeKind,
    /// Generate or pick (guest codes are always generated).
    pub mode: CodeMode,
    /// The picked digits.
    #[serde(default)]
    pub code: Option<String>,
    /// The length to generate (4, or 6 where the community allows it).
    #[serde(default)]
    pub length: Option<u8>,
    /// A name.
    #[serde(default)]
    pub name: Option<String>,
    /// For guest codes.
    #[serde(default)]
    pub guest_type: Option<GuestType>,
    /// When it opens (default always; temporary and delivery need a window,
    /// recurring a recurrence).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub schedule: Option<Schedule>,
    /// The doors (lock ids); default: the unit's doors, plus the community
    /// doors for generated resident codes.
    #[serde(default)]
    pub lock_ids: Option<Vec<String>>,
    /// For staff and managers creating a code for a unit.
    #[serde(default)]
    pub unit_id: Option<String>,
}

/// `POST /v1/codes/{id}/change` and the PIN setters: new digits for a code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SetCodeRequest {
    /// Generate or pick.
    pub mode: CodeMode,
    /// The picked digits.
    #[serde(default)]
    pub code: Option<String>,
    /// The length to generate.
    #[serde(default)]
    pub length: Option<u8>,
}

/// `GET /v1/codes`: the codes the caller may see.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CodeList {
    /// The codes, newest change last.
    pub codes: Vec<CodeView>,
}

/// `GET /v1/doors`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DoorList {
    /// The doors.
    pub doors: Vec<DoorView>,
}

/// A lock in a sync answer: its versions, whether it needs a visit, and the
/// key that recognises its advertisements.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockSync {
    /// The lock's id.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    #[serde(default)]
    pub unit_id: Option<String>,
    /// Whether the keypad has an enter key (for the phone's local policy check).
    #[serde(default = "enter_key_default")]
    pub enter_key: bool,
    /// The lock model's constraints (for the phone's local policy check).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<String>))]
    pub constraints: Vec<ModelConstraint>,
    /// The version the server last confirmed on the lock.
    pub confirmed_version: u32,
    /// The version the server wants the lock at, when that is not the
    /// confirmed one: a phone that hears the lock advertise another version
    /// visits it (the job is sealed at the door, for the lock's session).
    pub target_version: Option<u32>,
    /// The lock's advertising key (64 hex digits): it recognises the lock's
    /// rotating advertisements and reads their version and flags. It opens no
    /// job and forges no receipt.
    pub advert_key: String,
}

/// `POST /v1/locks/{id}/visits`: a visit opened. The phone asks the lock for
/// a status with `challenge` and `since_seq`, then presents it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitOpened {
    /// The visit's id.
    pub visit_id: String,
    /// The lock.
    pub lock_id: String,
    /// The single-use challenge (32 hex digits) the lock's status must echo.
    pub challenge: String,
    /// The highest audit sequence number the server stored for the lock (in
    /// the lock's current life): the status carries the events after it.
    pub since_seq: u32,
    /// After this the challenge is refused.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub expires_at: Timestamp,
}

/// `POST /v1/visits/{id}/status`: the lock's sealed status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitStatus {
    /// The sealed status, base64.
    pub status: String,
}

/// The server's answer to a presented status: the jobs it sealed for the
/// session the status opened (none when the lock needs nothing). Presenting
/// the same status again returns the same answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct VisitAnswer {
    /// Sealed jobs, base64, to hand to the lock in this connection.
    pub jobs: Vec<String>,
    /// The version the lock reaches once they apply (its current one when
    /// there are none).
    pub target_version: u32,
}

/// A deleted code: the phone drops it from its mirror.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Tombstone {
    /// The code's id.
    pub id: String,
}

/// `GET /v1/sync?cursor=`: what changed since the cursor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SyncResponse {
    /// Pass back as `cursor` next time; opaque.
    pub cursor: String,
    /// More changes wait: call again with the new cursor right away.
    pub has_more: bool,
    /// Codes created or changed since the cursor.
    pub codes: Vec<CodeView>,
    /// Codes deleted since the cursor (gone from every lock).
    pub tombstones: Vec<Tombstone>,
    /// Locks whose versions or work changed since the cursor.
    pub locks: Vec<LockSync>,
}

/// `POST /v1/receipts`: sealed job receipts carried back from locks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptBatch {
    /// Sealed job receipts, base64 (statuses go to their visit).
    pub receipts: Vec<String>,
}

/// What the server made of one receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptResult {
    /// Position in the batch.
    pub index: usize,
    /// The lock it came from, when readable.
    pub lock_id: Option<String>,
    /// `accepted`, or a machine code for why it was not (`bad_seal`,
    /// `unknown_lock`, `malformed`, `unknown_job`, `status_needs_visit`, ...).
    /// A receipt seen before is `accepted` and settles nothing again.
    pub status: String,
}

/// The answer to a receipt batch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReceiptBatchResponse {
    /// One result per receipt, in order.
    pub results: Vec<ReceiptResult>,
}

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

/// A lock as staff and managers see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockView {
    /// The lock's id.
    pub lock_id: String,
    /// Name.
    pub name: String,
    /// Kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// The version the desired slot table has.
    pub desired_version: u32,
    /// The version the lock last confirmed.
    pub confirmed_version: u32,
    /// Whether a change waits to be carried to the lock (sealed at the next visit).
    pub job_pending: bool,
    /// Set when the lock needs a person (a change the lock keeps refusing).
    pub attention: Option<String>,
}

/// `GET /v1/manage/locks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LockList {
    /// The property's locks.
    pub locks: Vec<LockView>,
}

/// One entry of a lock's audit trail: a change the server made or an event
/// the lock reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditEntry {
    /// `server` or `lock`.
    pub source: String,
    /// The lock's life (16 hex digits), for lock events: sequence numbers
    /// count within it.
    #[serde(default)]
    pub epoch: Option<String>,
    /// The lock's sequence number, for lock events.
    pub lock_seq: Option<u32>,
    /// When it happened (the lock's clock for lock events).
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// What happened: `code_added`, `code_removed`, `job_applied`,
    /// `job_refused`, `recovery_started`, `lock_reset`, `code_used`,
    /// `one_time_consumed`, `wrong_code`, `lockout_started`, ...
    pub kind: String,
    /// The slot, when one.
    pub slot: Option<u16>,
    /// The code, when known.
    pub code_id: Option<String>,
    /// More detail (a refusal reason, a count), never a code.
    pub detail: Option<String>,
}

/// `GET /v1/locks/{id}/audit`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AuditList {
    /// Entries, oldest first.
    pub entries: Vec<AuditEntry>,
}

/// An error, as RFC 9457 problem details with a stable machine `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `urn:keyway:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// The stable machine code (`policy_violation`, `not_found`, ...).
    pub code: String,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every rule broken, with its message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub violations: Vec<Violation>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_round_trip_through_base64() {
        let bytes = [0u8, 1, 2, 250, 255];
        let text = encode_bytes(&bytes);
        assert_eq!(text, "AAEC+v8=");
        assert_eq!(decode_bytes(&text).unwrap(), bytes);
        assert!(decode_bytes("not base64!").is_none());
    }

    #[test]
    fn states_and_roles_use_snake_case() {
        assert_eq!(
            serde_json::to_string(&CodeState::Disabling).unwrap(),
            "\"disabling\""
        );
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("admin"), None);
        let problem: Problem = serde_json::from_str(
            r#"{"type":"urn:keyway:problem:not_found","title":"Not found","status":404,"code":"not_found","detail":"x"}"#,
        )
        .unwrap();
        assert!(problem.violations.is_empty());
    }

    #[test]
    fn doors_from_older_servers_default_to_an_enter_key_and_no_constraints() {
        let door: DoorView = serde_json::from_str(
            r#"{"lock_id":"6b77000000000001","name":"Unit 4B","access_point":"unit_door","unit_id":"u1"}"#,
        )
        .unwrap();
        assert!(door.enter_key);
        assert!(door.constraints.is_empty());
        let door: DoorView = serde_json::from_str(
            r#"{"lock_id":"6b77000000000001","name":"Unit 4B","access_point":"unit_door","unit_id":null,"enter_key":false,"constraints":["no_zeros"]}"#,
        )
        .unwrap();
        assert!(!door.enter_key);
        assert_eq!(door.constraints, vec![ModelConstraint::NoZeros]);
    }
}
