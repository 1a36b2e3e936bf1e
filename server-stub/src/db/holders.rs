//! Holders of package-room codes: carriers, couriers (with key cards) and
//! recipients (email and phone sealed, with keyed MACs for lookup); and the
//! one lookup of a holder of any kind by id, staff members included.

use super::batch::{Insert, Value};
use super::{Context, Write};
use crate::error::Result;

/// A kind of holder, as its code records it (`holder_type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HolderKind {
    /// A carrier (its access code).
    Carrier,
    /// A courier (their PIN).
    Courier,
    /// A staff member or manager (their staff PIN).
    Staff,
    /// A recipient (their one-time PIN).
    Recipient,
}

impl HolderKind {
    /// The `holder_type` of its codes.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Carrier => "carrier",
            Self::Courier => "courier",
            Self::Staff => "staff",
            Self::Recipient => "recipient",
        }
    }
}

/// The name of the holder `id` of this kind in the property, if there is one.
pub async fn name_of(
    cx: &mut impl Context,
    kind: HolderKind,
    property_id: &str,
    id: &str,
) -> Result<Option<String>> {
    let sql = match kind {
        HolderKind::Carrier => "SELECT name FROM carriers WHERE id = $1 AND property_id = $2",
        HolderKind::Courier => "SELECT name FROM couriers WHERE id = $1 AND property_id = $2",
        HolderKind::Staff => {
            "SELECT name FROM users WHERE id = $1 AND property_id = $2 AND role IN ('staff', 'manager')"
        }
        HolderKind::Recipient => "SELECT name FROM recipients WHERE id = $1 AND property_id = $2",
    };
    let row: Option<(String,)> = sqlx::query_as(sql)
        .bind(id.to_owned())
        .bind(property_id.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(row.map(|(name,)| name))
}

/// A new carrier or courier.
#[derive(Debug, Clone)]
pub struct NewHolder {
    /// Id.
    pub id: String,
    /// Property.
    pub property_id: String,
    /// Name.
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
}

impl NewHolder {
    fn values(&self) -> Vec<Value> {
        vec![
            (&self.id).into(),
            (&self.property_id).into(),
            (&self.name).into(),
            self.created_at.into(),
        ]
    }
}

/// A new carrier.
#[derive(Debug, Clone)]
pub struct NewCarrier(pub NewHolder);

/// A new courier.
#[derive(Debug, Clone)]
pub struct NewCourier(pub NewHolder);

impl Insert for NewCarrier {
    const TABLE: &'static str = "carriers";
    const COLUMNS: &'static [&'static str] = &["id", "property_id", "name", "created_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(self.0.values())
    }
}

impl Insert for NewCourier {
    const TABLE: &'static str = "couriers";
    const COLUMNS: &'static [&'static str] = &["id", "property_id", "name", "created_at"];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(self.0.values())
    }
}

/// A property's carriers (id, name), by name.
pub async fn carriers(cx: &mut impl Context, property_id: &str) -> Result<Vec<(String, String)>> {
    Ok(
        sqlx::query_as("SELECT id, name FROM carriers WHERE property_id = $1 ORDER BY name, id")
            .bind(property_id.to_owned())
            .fetch_all(cx.conn())
            .await?,
    )
}

/// A property's couriers (id, name, key card), by name.
pub async fn couriers(
    cx: &mut impl Context,
    property_id: &str,
) -> Result<Vec<(String, String, Option<String>)>> {
    Ok(sqlx::query_as(
        "SELECT id, name, key_card_id FROM couriers WHERE property_id = $1 ORDER BY name, id",
    )
    .bind(property_id.to_owned())
    .fetch_all(cx.conn())
    .await?)
}

/// One courier of a property (name, key card).
pub async fn courier(
    cx: &mut impl Context,
    property_id: &str,
    id: &str,
) -> Result<Option<(String, Option<String>)>> {
    Ok(
        sqlx::query_as("SELECT name, key_card_id FROM couriers WHERE id = $1 AND property_id = $2")
            .bind(id.to_owned())
            .bind(property_id.to_owned())
            .fetch_optional(cx.conn())
            .await?,
    )
}

/// Gives a courier a key card, or takes it back (`None`).
pub async fn set_key_card(w: &mut Write, courier_id: &str, card: Option<&str>) -> Result<()> {
    sqlx::query("UPDATE couriers SET key_card_id = $1 WHERE id = $2")
        .bind(card.map(str::to_owned))
        .bind(courier_id.to_owned())
        .execute(w.conn())
        .await?;
    Ok(())
}

/// Another courier of the property (than `courier_id`) holding the key card `card`.
pub async fn card_holder(
    cx: &mut impl Context,
    property_id: &str,
    card: &str,
    courier_id: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT id FROM couriers WHERE property_id = $1 AND key_card_id = $2 AND id <> $3",
    )
    .bind(property_id.to_owned())
    .bind(card.to_owned())
    .bind(courier_id.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(|(id,)| id))
}

/// A recipient as stored: email and phone sealed for their cells.
#[derive(Debug, Clone)]
pub struct RecipientRow {
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Sealed email address.
    pub email: Option<String>,
    /// Sealed phone number.
    pub phone: Option<String>,
}

/// A new recipient.
#[derive(Debug, Clone)]
pub struct NewRecipient {
    /// Id, name and sealed addresses.
    pub row: RecipientRow,
    /// Property.
    pub property_id: String,
    /// Keyed MAC of the email address.
    pub email_mac: Option<String>,
    /// Keyed MAC of the phone number.
    pub phone_mac: Option<String>,
    /// Unix seconds.
    pub created_at: i64,
}

impl Insert for NewRecipient {
    const TABLE: &'static str = "recipients";
    const COLUMNS: &'static [&'static str] = &[
        "id",
        "property_id",
        "name",
        "email",
        "email_mac",
        "phone",
        "phone_mac",
        "created_at",
    ];
    fn values(&self) -> Result<Vec<Value>> {
        Ok(vec![
            (&self.row.id).into(),
            (&self.property_id).into(),
            (&self.row.name).into(),
            self.row.email.clone().into(),
            self.email_mac.clone().into(),
            self.row.phone.clone().into(),
            self.phone_mac.clone().into(),
            self.created_at.into(),
        ])
    }
}

/// A property's recipients, by name.
pub async fn recipients(cx: &mut impl Context, property_id: &str) -> Result<Vec<RecipientRow>> {
    let rows: Vec<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT id, name, email, phone FROM recipients WHERE property_id = $1 ORDER BY name, id",
    )
    .bind(property_id.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(id, name, email, phone)| RecipientRow {
            id,
            name,
            email,
            phone,
        })
        .collect())
}

/// One recipient of a property.
pub async fn recipient(
    cx: &mut impl Context,
    property_id: &str,
    id: &str,
) -> Result<Option<RecipientRow>> {
    let row: Option<(String, Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, email, phone FROM recipients WHERE id = $1 AND property_id = $2",
    )
    .bind(id.to_owned())
    .bind(property_id.to_owned())
    .fetch_optional(cx.conn())
    .await?;
    Ok(row.map(|(name, email, phone)| RecipientRow {
        id: id.to_owned(),
        name,
        email,
        phone,
    }))
}

/// The recipient of a property whose phone number (`sms`) or else email
/// address has this keyed MAC.
pub async fn recipient_by_mac(
    cx: &mut impl Context,
    property_id: &str,
    by_phone: bool,
    mac: &str,
) -> Result<Option<String>> {
    let sql = if by_phone {
        "SELECT id FROM recipients WHERE property_id = $1 AND phone_mac = $2"
    } else {
        "SELECT id FROM recipients WHERE property_id = $1 AND email_mac = $2"
    };
    let found: Option<(String,)> = sqlx::query_as(sql)
        .bind(property_id.to_owned())
        .bind(mac.to_owned())
        .fetch_optional(cx.conn())
        .await?;
    Ok(found.map(|(id,)| id))
}
