//! Online calls about a code's use, nothing queued (the app shows the
//! answer or the error): being told by email or SMS when a code is used
//! (the user's contact details at the server, and per code how they are
//! told), and a backup code for a guest code that has not reached its door
//! in time (`docs/backup-codes.md`).

use keyway_api::{
    BackupCodeView, BackupRequest, CodeNotifyRequest, CodeNotifyView, ContactDetails, NotifyOnUse,
};

use super::requests::idempotency_key;
use super::*;

impl Client {
    /// The user's contact details for use notices, as the server keeps them
    /// (`network` offline).
    pub async fn contact(&self) -> Result<ContactDetails, ClientError> {
        let token = self.token()?;
        self.call_with_retries(
            Method::GET,
            "/v1/me/contact",
            Some(&token),
            None,
            None::<&()>,
        )
        .await
    }

    /// Sets the user's contact details (`None` or empty clears a field);
    /// the server answers with them normalised, or refuses one that is not
    /// an address (`refused`, `invalid_request`).
    pub async fn set_contact(
        &self,
        email: Option<String>,
        phone: Option<String>,
    ) -> Result<ContactDetails, ClientError> {
        let token = self.token()?;
        let body = ContactDetails { email, phone };
        self.call_with_retries(
            Method::PUT,
            "/v1/me/contact",
            Some(&token),
            Some(&idempotency_key()),
            Some(&body),
        )
        .await
    }

    /// Asks to be told by email, SMS or both each time code `id` opens a
    /// door, or stops it (`None`). The server refuses a code that is not the
    /// user's to hold (`refused`, `forbidden`) and a channel without an
    /// address in the contact details (`refused`, `no_contact`).
    pub async fn set_notify_on_use(
        &self,
        id: &str,
        via: NotifyOnUse,
    ) -> Result<NotifyOnUse, ClientError> {
        let code = self.code(id)?;
        let server_id = code.server_id.ok_or_else(|| {
            ClientError::invalid("the server has not accepted this code yet: sync first")
        })?;
        let token = self.token()?;
        let answer: CodeNotifyView = self
            .call_with_retries(
                Method::PUT,
                &format!("/v1/codes/{server_id}/notify"),
                Some(&token),
                Some(&idempotency_key()),
                Some(&CodeNotifyRequest { notify_on_use: via }),
            )
            .await?;
        Ok(answer.notify_on_use)
    }

    /// Asks for a backup code for guest code `id` on `lock_id`: 8 digits the
    /// lock already holds, good for one entry, for a code that should open
    /// the door now but has not reached it. Asking again gives the same one.
    /// The server refuses (`refused`) with `backup_not_needed`,
    /// `backup_not_due`, `backup_unavailable`, `backup_pool_empty`,
    /// `backup_limit`, `backup_guest_only` or `code_ended`; the code's
    /// `backups` follow with the next sync.
    pub async fn request_backup(
        &self,
        id: &str,
        lock_id: &str,
    ) -> Result<BackupCodeView, ClientError> {
        let code = self.code(id)?;
        let server_id = code.server_id.ok_or_else(|| {
            ClientError::invalid("the server has not accepted this code yet: sync first")
        })?;
        let token = self.token()?;
        self.call_with_retries(
            Method::POST,
            &format!("/v1/codes/{server_id}/backup"),
            Some(&token),
            Some(&idempotency_key()),
            Some(&BackupRequest {
                lock_id: lock_id.to_owned(),
            }),
        )
        .await
    }
}
