//! Properties (name, time zone, policy, change counter) and their units.

use keyway_api::PolicySettings;
use keyway_codes::Community;

use super::batch::{Insert, Value};
use super::{Context, Write};
use crate::error::{Error, Result};

/// A property.
#[derive(Debug, Clone)]
pub struct PropertyRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The policy settings.
    pub policy: PolicySettings,
}

impl PropertyRow {
    /// The policy engine's view of the settings.
    pub fn community(&self) -> Community {
        self.policy.community()
    }
}

/// Loads a property (`not_found` when there is none).
pub async fn load(cx: &mut impl Context, id: &str) -> Result<PropertyRow> {
    let row: Option<(String, String, String, String)> =
        sqlx::query_as("SELECT id, name, time_zone, policy FROM properties WHERE id = $1")
            .bind(id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    let (id, name, time_zone, policy) = row.ok_or_else(|| Error::not_found("property"))?;
    Ok(PropertyRow {
        id,
        name,
        time_zone,
        policy: serde_json::from_str(&policy)?,
    })
}

/// Every property, oldest first.
pub async fn list(cx: &mut impl Context) -> Result<Vec<PropertyRow>> {
    let rows: Vec<(String, String, String, String)> =
        sqlx::query_as("SELECT id, name, time_zone, policy FROM properties ORDER BY created_at")
            .fetch_all(cx.conn())
            .await?;
    rows.into_iter()
        .map(|(id, name, time_zone, policy)| {
            Ok(PropertyRow {
                id,
                name,
                time_zone,
                policy: serde_json::from_str(&policy)?,
            })
        })
        .collect()
}

/// The property's change counter: the newest change.
pub async fn head(cx: &mut impl Context, id: &str) -> Result<i64> {
    let (head,): (i64,) = sqlx::query_as("SELECT change_seq FROM properties WHERE id = $1")
        .bind(id.to_owned())
        .fetch_one(cx.conn())
        .await?;
    Ok(head)
}

/// Replaces the written property's policy.
pub async fn set_policy(w: &mut Write, policy: &PolicySettings) -> Result<()> {
    let id = w.property_id().to_owned();
    sqlx::query("UPDATE properties SET policy = $1 WHERE id = $2")
        .bind(serde_json::to_string(policy)?)
        .bind(id)
        .execute(w.conn())
        .await?;
    Ok(())
}

/// Sets the written property's change counter (a bulk load that stamped
/// its rows itself).
pub async fn set_head(w: &mut Write, head: i64) -> Result<()> {
    let id = w.property_id().to_owned();
    sqlx::query("UPDATE properties SET change_seq = $1 WHERE id = $2")
        .bind(head)
        .bind(id)
        .execute(w.conn())
        .await?;
    Ok(())
}

/// A new property.
#[derive(Debug, Clone)]
pub struct NewProperty {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// Policy settings.
    pub policy: PolicySettings,
    /// The change counter to start from.
    pub change_seq: i64,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewProperty {
    const TABLE: &'static str = "properties";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "name",
        "time_zone",
        "policy",
        "change_seq",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.name).into(),
            (&self.time_zone).into(),
            serde_json::to_string(&self.policy)?.into(),
            self.change_seq.into(),
            self.created_at.into(),
        ])
    }
}

/// A unit of a property.
#[derive(Debug, Clone)]
pub struct NewUnit {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Name ("4B").
    pub name: String,
}

impl Insert for NewUnit {
    const TABLE: &'static str = "units";
    const COLUMNS: &'static [&'static str] = &["id", "property_id", "name"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.name).into(),
        ])
    }
}

/// The id of the unit of `property_id` named `name`.
pub async fn unit_by_name(
    cx: &mut impl Context,
    property_id: &str,
    name: &str,
) -> Result<Option<String>> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM units WHERE property_id = $1 AND name = $2")
            .bind(property_id.to_owned())
            .bind(name.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(found.map(|(id,)| id))
}

/// Whether `unit_id` is a unit of `property_id`.
pub async fn has_unit(cx: &mut impl Context, property_id: &str, unit_id: &str) -> Result<bool> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM units WHERE id = $1 AND property_id = $2")
            .bind(unit_id.to_owned())
            .bind(property_id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(found.is_some())
}

/// A property's units (id, name), by name.
pub async fn units(cx: &mut impl Context, property_id: &str) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM units WHERE property_id = $1 ORDER BY name, id")
            .bind(property_id.to_owned())
            .fetch_all(cx.conn())
            .await?,
    )
}

/// The name of unit `unit_id` of `property_id`.
pub async fn unit_name(
    cx: &mut impl Context,
    property_id: &str,
    unit_id: &str,
) -> Result<Option<String>> {
    let found: Option<(String,)> =
        sqlx::query_as("SELECT name FROM units WHERE id = $1 AND property_id = $2")
            .bind(unit_id.to_owned())
            .bind(property_id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(found.map(|(name,)| name))
}
