//! Reading columns of a row, and the enums stored as their snake_case names.

use sqlx::Row;
use sqlx::any::AnyRow;

use super::batch::Value;
use crate::error::{Error, Result};

/// Reads a column, mapping a missing or mistyped one to an internal error.
pub(super) fn col<'r, T>(row: &'r AnyRow, name: &str) -> Result<T>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    row.try_get(name)
        .map_err(|e| Error::internal("reading a row", e))
}

/// A flag column.
pub(super) fn flag_col(row: &AnyRow, name: &str) -> Result<bool> {
    Ok(col::<i64>(row, name)? != 0)
}

/// A version or sequence number column.
pub(super) fn u32_col(row: &AnyRow, name: &str) -> Result<u32> {
    u32::try_from(col::<i64>(row, name)?).map_err(|e| Error::internal(name, e))
}

/// A snake_case enum column.
pub(super) fn enum_col<T: serde::de::DeserializeOwned>(row: &AnyRow, name: &str) -> Result<T> {
    parse_enum(&col::<String>(row, name)?)
}

/// A JSON column.
pub(super) fn json_col<T: serde::de::DeserializeOwned>(row: &AnyRow, name: &str) -> Result<T> {
    Ok(serde_json::from_str(&col::<String>(row, name)?)?)
}

/// Serialises a snake_case enum to its JSON string without quotes.
pub fn enum_str<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Parses a snake_case enum from its name.
pub fn parse_enum<T: serde::de::DeserializeOwned>(text: &str) -> Result<T> {
    serde_json::from_value(serde_json::Value::String(text.to_owned()))
        .map_err(|e| Error::internal("stored enum", e))
}

/// `$1, $2, …, $n`.
pub(super) fn placeholders(n: usize) -> String {
    (1..=n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `column IN ($1, …)` for `ids`, with their binds; `None` for no ids, as
/// SQL has no empty list (the caller answers with nothing, asking nothing).
pub(super) fn any_of(column: &str, ids: &[&str]) -> Option<(String, Vec<Value>)> {
    (!ids.is_empty()).then(|| {
        let clause = format!("{column} IN ({})", placeholders(ids.len()));
        (clause, ids.iter().map(|id| (*id).into()).collect())
    })
}
