//! Users, their API tokens and their devices (tokens stored as SHA-256).

use super::Context;
use super::batch::{Insert, Value};
use crate::error::Result;

/// Who a bearer token belongs to.
#[derive(Debug, Clone)]
pub struct Credential {
    /// The token's or device's id.
    pub id: String,
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
    /// The property's change counter, read in the same statement (so an
    /// up-to-date sync needs no other query).
    pub head: i64,
}

type CredentialColumns = (String, String, String, String, String, Option<String>, i64);

fn credential(row: CredentialColumns) -> Credential {
    let (id, user_id, name, role, property_id, unit_id, head) = row;
    Credential {
        id,
        user_id,
        name,
        role,
        property_id,
        unit_id,
        head,
    }
}

/// The live device whose token has this hash.
pub async fn by_device_token(cx: &mut impl Context, hash: &str) -> Result<Option<Credential>> {
    let row: Option<CredentialColumns> = sqlx::query_as(
        "SELECT d.id, u.id, u.name, u.role, u.property_id, u.unit_id, p.change_seq FROM devices d JOIN users u ON u.id = d.user_id JOIN properties p ON p.id = u.property_id WHERE d.token_hash = $1 AND d.revoked_at IS NULL",
    )
    .bind(hash.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(credential))
}

/// The live API token with this hash.
pub async fn by_api_token(cx: &mut impl Context, hash: &str) -> Result<Option<Credential>> {
    let row: Option<CredentialColumns> = sqlx::query_as(
        "SELECT t.id, u.id, u.name, u.role, u.property_id, u.unit_id, p.change_seq FROM api_tokens t JOIN users u ON u.id = t.user_id JOIN properties p ON p.id = u.property_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
    )
    .bind(hash.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(credential))
}

/// A new user.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// `resident`, `staff` or `manager`.
    pub role: String,
    /// Display name.
    pub name: String,
    /// Unit, for residents.
    pub unit_id: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewUser {
    const TABLE: &'static str = "users";
    const COLUMNS: &'static [&'static str] =
        &["id", "property_id", "role", "name", "unit_id", "created_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.role).into(),
            (&self.name).into(),
            self.unit_id.clone().into(),
            self.created_at.into(),
        ])
    }
}

/// A new API token (its hash).
#[derive(Debug, Clone)]
pub struct NewApiToken {
    /// Id.
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// SHA-256 of the token.
    pub token_hash: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewApiToken {
    const TABLE: &'static str = "api_tokens";
    const COLUMNS: &'static [&'static str] = &["id", "user_id", "token_hash", "created_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.user_id).into(),
            (&self.token_hash).into(),
            self.created_at.into(),
        ])
    }
}

/// A new device, logged in with its own token.
#[derive(Debug, Clone)]
pub struct NewDevice {
    /// Id.
    pub id: String,
    /// Whose.
    pub user_id: String,
    /// What the user called it.
    pub name: String,
    /// SHA-256 of the device token.
    pub token_hash: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewDevice {
    const TABLE: &'static str = "devices";
    const COLUMNS: &'static [&'static str] = &["id", "user_id", "name", "token_hash", "created_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.user_id).into(),
            (&self.name).into(),
            (&self.token_hash).into(),
            self.created_at.into(),
        ])
    }
}

/// Revokes one device's token.
pub async fn revoke_device(cx: &mut impl Context, device_id: &str, now: i64) -> Result<()> {
    sqlx::query("UPDATE devices SET revoked_at = $1 WHERE id = $2")
        .bind(now)
        .bind(device_id.to_owned())
        .execute(cx.conn())
        .await?;
    Ok(())
}

/// Revokes every API token and device of a user; how many of each.
pub async fn revoke_user(cx: &mut impl Context, user_id: &str, now: i64) -> Result<(u64, u64)> {
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user_id.to_owned())
    .execute(cx.conn())
    .await?
    .rows_affected();
    let devices =
        sqlx::query("UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(user_id.to_owned())
            .execute(cx.conn())
            .await?
            .rows_affected();
    Ok((tokens, devices))
}

/// Whether there is a user with this id.
pub async fn exists(cx: &mut impl Context, user_id: &str) -> Result<bool> {
    let found: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user_id.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(found.is_some())
}

/// A user as the operator lists them.
#[derive(Debug, Clone)]
pub struct UserSummary {
    /// Id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `resident`, `staff` or `manager`.
    pub role: String,
    /// The unit's name, for residents.
    pub unit: Option<String>,
}

/// A property's users, oldest first.
pub async fn list(cx: &mut impl Context, property_id: &str) -> Result<Vec<UserSummary>> {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(
        "SELECT u.id, u.name, u.role, n.name FROM users u LEFT JOIN units n ON n.id = u.unit_id WHERE u.property_id = $1 ORDER BY u.created_at",
    )
    .bind(property_id.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, role, unit)| UserSummary {
            id,
            name,
            role,
            unit,
        })
        .collect())
}

/// A property's staff members and managers (id, name), by name.
pub async fn staff(cx: &mut impl Context, property_id: &str) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, name FROM users WHERE property_id = $1 AND role IN ('staff', 'manager') ORDER BY name, id",
    )
    .bind(property_id.to_owned())
    .fetch_all(cx.conn())
    .await?)
}
