//! Named points in the client's work (for fault-injection tests) and the
//! outbox as diagnostics show it.

use std::sync::Arc;

use crate::records::PendingOp;

/// A named point in the client's work, for fault-injection tests (the kill
/// test stops the process at each one). Production apps set no hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// A request is about to be committed to the outbox.
    Queueing,
    /// A request was committed to the outbox.
    OutboxCommitted,
    /// A request is about to be sent (its attempt is recorded).
    Sending,
    /// The server answered a request; the answer is not committed yet.
    Answered,
    /// The answer is committed (the request left the outbox).
    AnswerCommitted,
    /// A delta page is applied inside its transaction, not committed yet.
    DeltaApplying,
    /// A delta page and its cursor are committed.
    DeltaCommitted,
    /// A lock answered a delivery; its receipts are not stored yet.
    ReceiptsCollected,
    /// Receipts are stored.
    ReceiptsStored,
    /// A receipt batch was accepted; it is not removed locally yet.
    ReceiptsUploaded,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 10] = [
        Self::Queueing,
        Self::OutboxCommitted,
        Self::Sending,
        Self::Answered,
        Self::AnswerCommitted,
        Self::DeltaApplying,
        Self::DeltaCommitted,
        Self::ReceiptsCollected,
        Self::ReceiptsStored,
        Self::ReceiptsUploaded,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queueing => "queueing",
            Self::OutboxCommitted => "outbox_committed",
            Self::Sending => "sending",
            Self::Answered => "answered",
            Self::AnswerCommitted => "answer_committed",
            Self::DeltaApplying => "delta_applying",
            Self::DeltaCommitted => "delta_committed",
            Self::ReceiptsCollected => "receipts_collected",
            Self::ReceiptsStored => "receipts_stored",
            Self::ReceiptsUploaded => "receipts_uploaded",
        }
    }

    /// Parses [`Stage::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A callback at each [`Stage`].
pub type StageHook = Arc<dyn Fn(Stage) + Send + Sync>;

/// A queued request, as the outbox holds it (for diagnostics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRequest {
    /// Position in the outbox.
    pub seq: i64,
    /// The code it is for (id on this phone).
    pub code_id: String,
    /// What it asks.
    pub op: PendingOp,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Attempts made.
    pub attempts: u32,
    /// Refused by the server (kept until dismissed).
    pub failed: bool,
}
