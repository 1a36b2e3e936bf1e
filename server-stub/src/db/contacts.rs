//! Users' contact details for notifications (sealed) and the code notices
//! they asked for: who is told, and how, when a code opens a door.

use super::{Context, Write};
use crate::error::Result;

/// A user's contact details, each sealed for its cell (`user_contacts`,
/// `email` or `phone`, the user's id).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SealedContact {
    /// The email address, sealed.
    pub email: Option<String>,
    /// The phone number, sealed.
    pub phone: Option<String>,
}

/// A user's contact details (none set: both `None`).
pub async fn load(cx: &mut impl Context, user_id: &str) -> Result<SealedContact> {
    let row: Option<(Option<String>, Option<String>)> =
        sqlx::query_as("SELECT email, phone FROM user_contacts WHERE user_id = $1")
            .bind(user_id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(row
        .map(|(email, phone)| SealedContact { email, phone })
        .unwrap_or_default())
}

/// Sets a user's contact details in this write.
pub async fn save(w: &mut Write, user_id: &str, contact: &SealedContact, now: i64) -> Result<()> {
    sqlx::query(
        "INSERT INTO user_contacts (user_id, email, phone, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id) DO UPDATE SET email = excluded.email, phone = excluded.phone, updated_at = excluded.updated_at",
    )
    .bind(user_id.to_owned())
    .bind(contact.email.clone())
    .bind(contact.phone.clone())
    .bind(now)
    .execute(w.conn())
    .await?;
    Ok(())
}

/// How `user_id` asked to be told of `code_id`'s uses (`email`, `sms`,
/// `both`), if they did.
pub async fn notice(cx: &mut impl Context, code_id: &str, user_id: &str) -> Result<Option<String>> {
    let row: Option<(String,)> =
        sqlx::query_as("SELECT via FROM code_notices WHERE code_id = $1 AND user_id = $2")
            .bind(code_id.to_owned())
            .bind(user_id.to_owned())
            .fetch_optional(cx.conn())
            .await?;
    Ok(row.map(|(via,)| via))
}

/// Sets (`Some`) or clears (`None`) how `user_id` is told of `code_id`'s
/// uses, in this write.
pub async fn set_notice(
    w: &mut Write,
    code_id: &str,
    user_id: &str,
    via: Option<&str>,
    now: i64,
) -> Result<()> {
    match via {
        Some(via) => sqlx::query(
            "INSERT INTO code_notices (code_id, user_id, via, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT (code_id, user_id) DO UPDATE SET via = excluded.via",
        )
        .bind(code_id.to_owned())
        .bind(user_id.to_owned())
        .bind(via.to_owned())
        .bind(now),
        None => sqlx::query("DELETE FROM code_notices WHERE code_id = $1 AND user_id = $2")
            .bind(code_id.to_owned())
            .bind(user_id.to_owned()),
    }
    .execute(w.conn())
    .await?;
    Ok(())
}

/// Who asked to be told of a code's uses: the user as they are now (role,
/// property, unit), how, and their sealed contact details.
#[derive(Debug, Clone)]
pub struct Watcher {
    /// The user.
    pub user_id: String,
    /// Their role now.
    pub role: String,
    /// Their property.
    pub property_id: String,
    /// Their unit now.
    pub unit_id: Option<String>,
    /// `email`, `sms` or `both`.
    pub via: String,
    /// Where.
    pub contact: SealedContact,
}

type WatcherRow = (
    String,
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    Option<String>,
);

/// Everyone who asked to be told of `code_id`'s uses.
pub async fn watchers(cx: &mut impl Context, code_id: &str) -> Result<Vec<Watcher>> {
    let rows: Vec<WatcherRow> = sqlx::query_as(
        "SELECT u.id, u.role, u.property_id, u.unit_id, n.via, c.email, c.phone FROM code_notices n JOIN users u ON u.id = n.user_id LEFT JOIN user_contacts c ON c.user_id = n.user_id WHERE n.code_id = $1 ORDER BY u.id",
    )
    .bind(code_id.to_owned())
    .fetch_all(cx.conn())
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(user_id, role, property_id, unit_id, via, email, phone)| Watcher {
                user_id,
                role,
                property_id,
                unit_id,
                via,
                contact: SealedContact { email, phone },
            },
        )
        .collect())
}
