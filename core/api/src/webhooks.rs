//! Signed webhooks for property managers: where the property's events go,
//! which ones, and the log of every delivery attempt.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// The events a webhook can follow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum WebhookEventType {
    /// A code was created.
    #[serde(rename = "code.created")]
    CodeCreated,
    /// A code changed: new digits (never sent), disabled, enabled, expired,
    /// used up.
    #[serde(rename = "code.changed")]
    CodeChanged,
    /// A code was deleted.
    #[serde(rename = "code.deleted")]
    CodeDeleted,
    /// A code opened a door (the lock's own log, once a phone carried it).
    #[serde(rename = "code.used")]
    CodeUsed,
    /// A lock confirmed a new version of its slot table.
    #[serde(rename = "lock.version_confirmed")]
    LockVersionConfirmed,
    /// A lock needs a person (it keeps refusing its table).
    #[serde(rename = "lock.needs_attention")]
    LockNeedsAttention,
    /// The package room opened for a carrier code, a courier or staff PIN or
    /// a recipient's one-time PIN (a pickup or a drop-off).
    #[serde(rename = "package_room.opened")]
    PackageRoomOpened,
}

impl WebhookEventType {
    /// Every event type.
    pub const ALL: [Self; 7] = [
        Self::CodeCreated,
        Self::CodeChanged,
        Self::CodeDeleted,
        Self::CodeUsed,
        Self::LockVersionConfirmed,
        Self::LockNeedsAttention,
        Self::PackageRoomOpened,
    ];

    /// The stable name (`code.used`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CodeCreated => "code.created",
            Self::CodeChanged => "code.changed",
            Self::CodeDeleted => "code.deleted",
            Self::CodeUsed => "code.used",
            Self::LockVersionConfirmed => "lock.version_confirmed",
            Self::LockNeedsAttention => "lock.needs_attention",
            Self::PackageRoomOpened => "package_room.opened",
        }
    }

    /// Parses [`WebhookEventType::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// `POST /v1/manage/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateWebhookRequest {
    /// Where to POST: `https://` (plain `http://` only to this machine, when
    /// the operator allows it), not an address on a private network unless
    /// the operator allows it.
    pub url: String,
    /// The events to send (at least one).
    pub events: Vec<WebhookEventType>,
    /// A note for people ("Front desk system").
    #[serde(default)]
    pub description: Option<String>,
}

/// A webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookView {
    /// Its id.
    pub id: String,
    /// Where it POSTs.
    pub url: String,
    /// The events it sends.
    pub events: Vec<WebhookEventType>,
    /// The note.
    pub description: Option<String>,
    /// The signing secret (`whsec_…`): in the answer that creates the
    /// webhook only, never again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// When it was created.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
}

/// `GET /v1/manage/webhooks`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookList {
    /// The property's webhooks, oldest first.
    pub webhooks: Vec<WebhookView>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookAttempt {
    /// 1 for the first.
    pub attempt: u32,
    /// When it started.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub at: Timestamp,
    /// The receiver's HTTP status, when it answered.
    pub status_code: Option<u16>,
    /// Why it failed, when it did: `http_status`, `timeout`, `connect`,
    /// `refused_address`, `resolve`, `request`, `webhook_deleted`.
    pub error: Option<String>,
    /// How long it took.
    pub duration_ms: u64,
    /// When the next attempt is due (none: delivered or given up).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<String>))]
    pub next_attempt_at: Option<Timestamp>,
}

/// One event's delivery to one webhook.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// The delivery's id (the `Keyway-Delivery` header).
    pub id: String,
    /// The event's id (`id` in the body).
    pub event_id: String,
    /// The event's type.
    pub event_type: WebhookEventType,
    /// `pending`, `delivered` or `failed` (given up).
    pub status: String,
    /// When the event happened.
    #[cfg_attr(feature = "openapi", schema(value_type = String))]
    pub created_at: Timestamp,
    /// Every attempt, oldest first.
    pub attempts: Vec<WebhookAttempt>,
}

/// `GET /v1/manage/webhooks/{id}/deliveries`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct WebhookDeliveryList {
    /// The newest deliveries first.
    pub deliveries: Vec<WebhookDelivery>,
}
