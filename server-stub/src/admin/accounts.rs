//! The operator's side of Portal accounts: inviting a manager or staff
//! member (a single-use, expiring set-password link sent through the
//! notification outbox) and setting a password directly. Both go through
//! [`crate::ops::accounts`], the same code the Portal's own pages use.

use serde::Serialize;

use super::AdminResult;
use crate::clock::ts;
use crate::db::Store;
use crate::ops::accounts;

/// An invitation to send.
#[derive(Debug, Clone)]
pub struct InviteSpec {
    /// The manager or staff member.
    pub user_id: String,
    /// Their sign-in address, if it is to be set (or changed) now.
    pub email: Option<String>,
    /// The Portal's address as the invitee's browser reaches it
    /// (`https://keyway.example.org`); the link is `<url>/set-password?token=…`.
    pub portal_url: String,
    /// How long the link works, in hours.
    pub valid_hours: u32,
}

/// An invitation sent (the link itself went to the outbox only).
#[derive(Debug, Clone, Serialize)]
pub struct Invited {
    /// Whose.
    pub user_id: String,
    /// When the link stops working (RFC 3339).
    pub expires_at: String,
}

/// Sends a manager or staff member a set-password link through the outbox.
pub async fn invite_user(store: &Store, spec: &InviteSpec) -> AdminResult<Invited> {
    if let Some(email) = &spec.email {
        accounts::set_email(store, &spec.user_id, email).await?;
    }
    let valid = i64::from(spec.valid_hours.clamp(1, 24 * 14)) * 3600;
    let expires = accounts::invite(store, &spec.user_id, &spec.portal_url, valid).await?;
    Ok(Invited {
        user_id: spec.user_id.clone(),
        expires_at: ts(expires).to_string(),
    })
}

/// A password set by the operator.
#[derive(Debug, Clone, Serialize)]
pub struct PasswordSet {
    /// Whose.
    pub user_id: String,
    /// Portal sessions the change ended.
    pub sessions_ended: u64,
}

/// Sets a user's password (and, if given, their sign-in address); every
/// Portal session of theirs ends.
pub async fn set_password(
    store: &Store,
    user_id: &str,
    email: Option<&str>,
    password: &str,
) -> AdminResult<PasswordSet> {
    crate::passwords::check_new(password)?;
    if let Some(email) = email {
        accounts::set_email(store, user_id, email).await?;
    }
    let ended = accounts::set_password(store, user_id, password).await?;
    Ok(PasswordSet {
        user_id: user_id.to_owned(),
        sessions_ended: ended,
    })
}
