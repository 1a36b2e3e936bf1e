//! The notification outbox as staff and managers see it: each message's
//! channel, address, subject and delivery state, never its body (a body
//! holds a PIN or a set-password link).

use crate::auth::Caller;
use crate::clock::ts;
use crate::crypto::Cell;
use crate::db::{Store, outbox};
use crate::error::Result;

/// A message in the outbox.
#[derive(Debug, Clone)]
pub struct Notification {
    /// Its id.
    pub id: String,
    /// `email` or `sms`.
    pub channel: String,
    /// The address or phone number it goes to.
    pub to: String,
    /// The subject.
    pub subject: String,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// When it was queued.
    pub created_at: jiff::Timestamp,
    /// When it was sent.
    pub sent_at: Option<jiff::Timestamp>,
}

/// The property's newest messages (staff and managers), newest first.
pub async fn recent(store: &Store, caller: &Caller, limit: i64) -> Result<Vec<Notification>> {
    caller.require_staff()?;
    let rows = outbox::recent(
        &mut store.read().await?,
        &caller.property_id,
        limit.clamp(1, 500),
    )
    .await?;
    let key = store.key();
    let mut out = Vec::with_capacity(rows.len());
    for (id, channel, sealed_to, subject, status, attempts, created, sent) in rows {
        let to = key.open_str(Cell::new("outbox", "recipient", &id), &sealed_to)?;
        out.push(Notification {
            id,
            channel,
            to,
            subject,
            status,
            attempts,
            created_at: ts(created),
            sent_at: sent.map(ts),
        });
    }
    Ok(out)
}
