//! Multi-row inserts: every table's insert goes through [`insert`], one row
//! for a request, thousands for `admin seed`, with `$n` placeholders that
//! both SQLite and PostgreSQL take (sqlx's `QueryBuilder` writes `?` for
//! `Any`, which PostgreSQL refuses).

use sqlx::AnyConnection;

/// Rows per INSERT: within SQLite's and PostgreSQL's limits on parameters.
const BATCH: usize = 1000;

/// A value of an inserted row.
#[derive(Debug, Clone)]
pub enum Value {
    /// TEXT.
    Text(String),
    /// BIGINT.
    Int(i64),
    /// A NULL TEXT.
    NullText,
    /// A NULL BIGINT.
    NullInt,
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Self::Text(text.to_owned())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Self {
        Self::Text(text)
    }
}

impl From<&String> for Value {
    fn from(text: &String) -> Self {
        Self::Text(text.clone())
    }
}

impl From<Option<String>> for Value {
    fn from(text: Option<String>) -> Self {
        text.map_or(Self::NullText, Self::Text)
    }
}

impl From<i64> for Value {
    fn from(n: i64) -> Self {
        Self::Int(n)
    }
}

impl From<Option<i64>> for Value {
    fn from(n: Option<i64>) -> Self {
        n.map_or(Self::NullInt, Self::Int)
    }
}

impl From<bool> for Value {
    fn from(flag: bool) -> Self {
        Self::Int(super::flag(flag))
    }
}

/// A statement built in this module with `values` bound in order.
pub(super) fn bound(
    sql: String,
    values: Vec<Value>,
) -> sqlx::query::Query<'static, sqlx::Any, sqlx::any::AnyArguments> {
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for value in values {
        query = match value {
            Value::Text(text) => query.bind(text),
            Value::Int(n) => query.bind(n),
            Value::NullText => query.bind(None::<String>),
            Value::NullInt => query.bind(None::<i64>),
        };
    }
    query
}

/// A row type of one table, as inserted.
pub trait Insert {
    /// The table.
    const TABLE: &'static str;
    /// Its columns, in the order of [`Insert::values`].
    const COLUMNS: &'static [&'static str];
    /// The row's values.
    fn values(&self) -> crate::error::Result<Vec<Value>>;
}

/// `INSERT INTO table (columns) VALUES (…), (…)` of `rows`, in batches.
async fn insert<R: Insert>(conn: &mut AnyConnection, rows: &[R]) -> crate::error::Result<()> {
    let columns = R::COLUMNS.join(", ");
    for batch in rows.chunks(BATCH) {
        let mut sql = format!("INSERT INTO {} ({columns}) VALUES ", R::TABLE);
        let mut values = Vec::with_capacity(batch.len() * R::COLUMNS.len());
        for (i, row) in batch.iter().enumerate() {
            let row = row.values()?;
            sql.push_str(if i == 0 { "(" } else { ", (" });
            for j in 0..row.len() {
                let n = values.len() + j + 1;
                sql.push_str(&format!("{}${n}", if j == 0 { "" } else { ", " }));
            }
            sql.push(')');
            values.extend(row);
        }
        bound(sql, values).execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts `rows` (of one table) in the context's transaction.
pub async fn insert_rows<R: Insert + Sync>(
    cx: &mut impl super::Context,
    rows: &[R],
) -> crate::error::Result<()> {
    insert(cx.conn(), rows).await?;
    Ok(())
}
