//! Portal accounts: a user's sign-in email address (sealed, found by keyed
//! MAC) and password hash, the Portal's sessions (tokens stored as SHA-256)
//! and single-use set-password links.

use super::Context;
use super::batch::{Insert, Value};
use crate::error::Result;

/// A user as sign-in sees them.
#[derive(Debug, Clone)]
pub struct Account {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `resident`, `staff` or `manager`.
    pub role: String,
    /// Property.
    pub property_id: String,
    /// Unit, for residents.
    pub unit_id: Option<String>,
    /// The argon2id PHC string, once a password is set.
    pub password_hash: Option<String>,
}

type AccountColumns = (
    String,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
);

const ACCOUNT: &str =
    "SELECT u.id, u.name, u.role, u.property_id, u.unit_id, u.password_hash FROM users u";

fn account(row: AccountColumns) -> Account {
    let (user_id, name, role, property_id, unit_id, password_hash) = row;
    Account {
        user_id,
        name,
        role,
        property_id,
        unit_id,
        password_hash,
    }
}

/// The user whose email address has this keyed MAC.
pub async fn by_email_mac(cx: &mut impl Context, mac: &str) -> Result<Option<Account>> {
    let row: Option<AccountColumns> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{ACCOUNT} WHERE u.email_mac = $1"
    )))
    .bind(mac.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(account))
}

/// The user with this id.
pub async fn by_id(cx: &mut impl Context, user_id: &str) -> Result<Option<Account>> {
    let row: Option<AccountColumns> =
        sqlx::query_as(sqlx::AssertSqlSafe(format!("{ACCOUNT} WHERE u.id = $1")))
            .bind(user_id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(row.map(account))
}

/// A user's sealed email address, if one is set.
pub async fn email_of(cx: &mut impl Context, user_id: &str) -> Result<Option<String>> {
    let row: Option<(Option<String>,)> = sqlx::query_as("SELECT email FROM users WHERE id = $1")
        .bind(user_id.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(row.and_then(|(email,)| email))
}

/// Sets a user's email address (sealed) and its MAC; false when another
/// user has that address already.
pub async fn set_email(
    cx: &mut impl Context,
    user_id: &str,
    sealed: &str,
    mac: &str,
) -> Result<bool> {
    let result = sqlx::query("UPDATE users SET email = $1, email_mac = $2 WHERE id = $3")
        .bind(sealed.to_owned())
        .bind(mac.to_owned())
        .bind(user_id.to_owned())
        .execute(cx.conn())
        .await;
    match result {
        Ok(_) => Ok(true),
        Err(e) if super::is_unique_violation(&e) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// Sets a user's password hash.
pub async fn set_password(
    cx: &mut impl Context,
    user_id: &str,
    hash: &str,
    now: i64,
) -> Result<()> {
    sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE id = $3")
        .bind(hash.to_owned())
        .bind(now)
        .bind(user_id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// A new Portal session.
#[derive(Debug, Clone)]
pub struct NewSession {
    /// Id.
    pub id: String,
    /// SHA-256 of the cookie's token.
    pub token_hash: String,
    /// Whose.
    pub user_id: String,
    /// Unix seconds (also the first `last_seen_at`).
    pub created_at: i64,
    /// When it ends at the latest.
    pub expires_at: i64,
}

impl Insert for NewSession {
    const TABLE: &'static str = "portal_sessions";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "token_hash",
        "user_id",
        "created_at",
        "last_seen_at",
        "expires_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.token_hash).into(),
            (&self.user_id).into(),
            self.created_at.into(),
            self.created_at.into(),
            self.expires_at.into(),
        ])
    }
}

/// A live (not ended) session and its user.
#[derive(Debug, Clone)]
pub struct SessionRow {
    /// The session's id.
    pub id: String,
    /// When it was last used.
    pub last_seen_at: i64,
    /// When it ends at the latest.
    pub expires_at: i64,
    /// Its user.
    pub account: Account,
}

/// The session whose token has this hash, unless it was ended.
pub async fn session_by_token(cx: &mut impl Context, hash: &str) -> Result<Option<SessionRow>> {
    type Row = (
        String,
        i64,
        i64,
        String,
        String,
        String,
        String,
        Option<String>,
        Option<String>,
    );
    let row: Option<Row> = sqlx::query_as(
        "SELECT s.id, s.last_seen_at, s.expires_at, u.id, u.name, u.role, u.property_id, u.unit_id, u.password_hash FROM portal_sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = $1 AND s.ended_at IS NULL",
    )
    .bind(hash.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(
        |(id, last_seen_at, expires_at, user_id, name, role, property_id, unit_id, hash)| {
            SessionRow {
                id,
                last_seen_at,
                expires_at,
                account: account((user_id, name, role, property_id, unit_id, hash)),
            }
        },
    ))
}

/// Records that a session was used now.
pub async fn touch_session(cx: &mut impl Context, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE portal_sessions SET last_seen_at = $1 WHERE id = $2")
        .bind(now)
        .bind(id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Ends one session.
pub async fn end_session(cx: &mut impl Context, id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE portal_sessions SET ended_at = $1 WHERE id = $2 AND ended_at IS NULL")
        .bind(now)
        .bind(id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Ends every session of a user; how many were live.
pub async fn end_sessions_of(cx: &mut impl Context, user_id: &str, now: i64) -> Result<u64> {
    Ok(sqlx::query(
        "UPDATE portal_sessions SET ended_at = $1 WHERE user_id = $2 AND ended_at IS NULL",
    )
    .bind(now)
    .bind(user_id.to_owned())
    .execute(cx.conn())
    .await?
    .rows_affected())
}

/// Forgets sessions that ended or expired before `before`.
pub async fn forget_sessions(cx: &mut impl Context, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM portal_sessions WHERE expires_at < $1 OR ended_at < $1")
        .bind(before)
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// A new set-password link.
#[derive(Debug, Clone)]
pub struct NewLink {
    /// Id.
    pub id: String,
    /// SHA-256 of the link's token.
    pub token_hash: String,
    /// Whose password it sets.
    pub user_id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// When it stops working.
    pub expires_at: i64,
}

impl Insert for NewLink {
    const TABLE: &'static str = "password_links";
    const COLUMNS: &'static [&'static str] =
        &["id", "token_hash", "user_id", "created_at", "expires_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.token_hash).into(),
            (&self.user_id).into(),
            self.created_at.into(),
            self.expires_at.into(),
        ])
    }
}

/// A set-password link that was not used: its id, user and expiry.
pub async fn unused_link(
    cx: &mut impl Context,
    token_hash: &str,
) -> Result<Option<(String, String, i64)>> {
    Ok(sqlx::query_as(
        "SELECT id, user_id, expires_at FROM password_links WHERE token_hash = $1 AND used_at IS NULL",
    )
    .bind(token_hash.to_owned())
    .fetch_optional(cx.conn())
    .await?)
}

/// Marks every unused link of a user used (a password was set: older
/// invitations stop working).
pub async fn use_links_of(cx: &mut impl Context, user_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE password_links SET used_at = $1 WHERE user_id = $2 AND used_at IS NULL")
        .bind(now)
        .bind(user_id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Forgets links that expired before `before`.
pub async fn forget_links(cx: &mut impl Context, before: i64) -> Result<()> {
    sqlx::query("DELETE FROM password_links WHERE expires_at < $1")
        .bind(before)
        .execute(cx.conn())
        .await?;
    Ok(())
}
