//! The storage seam: one `sqlx::AnyPool` behind portable SQL (`$1`
//! placeholders, TEXT ids, BIGINT numbers and flags, `ON CONFLICT`,
//! `RETURNING`), so SQLite and PostgreSQL run the same statements and no
//! handler knows which database it talks to. The database URL chooses the
//! [`Backend`]: a file path or `sqlite:` URL is SQLite, `postgres://` (feature
//! `postgres`) is PostgreSQL.
//!
//! Writes to a property go through [`Store::begin_write`], whose first
//! statement bumps the property's change counter: that takes SQLite's write
//! lock (or the property row's lock on PostgreSQL, which holds across server
//! instances) at once, so writes to one property are serialised, cursors stay
//! monotonic, and a slot is never handed out twice. Such transactions run at
//! PostgreSQL's default READ COMMITTED level on purpose: once the row lock is
//! held, every later statement sees everything committed before it.
//! Consistent reads go through [`Store::begin_read`], one snapshot for the
//! whole transaction on both databases.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::{Any, AnyPool, Executor, SqlSafeStr, Transaction};

use crate::crypto::DataKey;

/// Migrations, embedded in the binary.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../migrations/0001_init.sql")),
    (
        2,
        "lock_indexes",
        include_str!("../migrations/0002_lock_indexes.sql"),
    ),
    (
        3,
        "shared_locks_index",
        include_str!("../migrations/0003_shared_locks_index.sql"),
    ),
    (4, "visits", include_str!("../migrations/0004_visits.sql")),
];

/// Which database a [`Store`] talks to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// An embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server (feature `postgres`).
    Postgres,
}

impl Backend {
    /// The backend a database URL names, if any.
    pub fn of_url(url: &str) -> Option<Self> {
        if url.starts_with("sqlite:") {
            Some(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Some(Self::Postgres)
        } else {
            None
        }
    }
}

/// The database.
#[derive(Clone, Debug)]
pub struct Store {
    /// The pool.
    pub pool: AnyPool,
    /// Which database the pool talks to.
    pub backend: Backend,
    /// SQLite has one writer at a time; writers of this process queue here,
    /// first come first served, instead of polling SQLite's busy handler
    /// (whose growing sleeps gave the unlucky writer a tail of seconds under
    /// load: docs/performance.md). Other processes on the same file still
    /// meet the busy handler. `None` on PostgreSQL, where the property's row
    /// lock queues writers and writes to different properties run at once.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

/// Why the database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The URL names no database this server supports.
    #[error(
        "unsupported database URL (a SQLite file path, `sqlite://path` or `postgres://user@host/db`)"
    )]
    Unsupported,
    /// The URL is PostgreSQL's but this server was built without it.
    #[error("this server was built without PostgreSQL support (cargo feature `postgres`)")]
    NoPostgres,
    /// Connecting failed.
    #[error("cannot open the database: {0}")]
    Connect(sqlx::Error),
    /// A migration failed.
    #[error("cannot migrate the database: {0}")]
    Migrate(sqlx::migrate::MigrateError),
    /// The data key does not match the one the database was created with.
    #[error(
        "the data key does not match this database (it was created with another KEYWAY_DATA_KEY)"
    )]
    WrongKey,
    /// Another query failed.
    #[error("database error: {0}")]
    Query(#[from] sqlx::Error),
    /// A stored secret could not be re-sealed for its cell at start-up.
    #[error("a stored secret in {0} could not be read with this data key")]
    Reseal(&'static str),
}

/// The sealed columns at rest, each with its table's primary key (an
/// expression over the row that [`crate::crypto::Cell::new`] gets as its
/// row): every value is bound to its cell.
pub const SEALED_COLUMNS: &[(&str, &str, &str)] = &[
    ("codes", "value", "id"),
    ("placements", "value", "id"),
    ("locks", "root_key", "id"),
    ("recipients", "email", "id"),
    ("recipients", "phone", "id"),
    ("outbox", "recipient", "id"),
    ("outbox", "body", "id"),
];

/// The format of sealed values this server writes, kept in `meta` as
/// `seal_format`: 1 binds each value to its table, column and row.
const SEAL_FORMAT: &str = "1";

/// Turns `--database` into a URL: a plain path is a SQLite file, created if missing.
pub fn database_url(arg: &str) -> String {
    if arg.contains("://") || arg.starts_with("sqlite:") {
        arg.to_owned()
    } else {
        format!("sqlite://{arg}?mode=rwc")
    }
}

/// A write transaction on one property, holding its write lock.
pub struct WriteTx {
    /// The transaction; run queries on `&mut *tx.tx`.
    pub tx: Transaction<'static, Any>,
    /// The change-counter value this write took.
    pub seq: i64,
    /// This process's turn to write (SQLite), released when the write ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database,
    /// and checks that `key` is the key it was created with.
    pub async fn open(url: &str, key: &DataKey) -> Result<Self, StoreError> {
        let backend = Backend::of_url(url).ok_or(StoreError::Unsupported)?;
        if backend == Backend::Postgres && !cfg!(feature = "postgres") {
            return Err(StoreError::NoPostgres);
        }
        sqlx::any::install_default_drivers();
        let options = AnyConnectOptions::from_str(url).map_err(StoreError::Connect)?;
        let sqlite = backend == Backend::Sqlite;
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 8 } else { 16 })
            .acquire_timeout(Duration::from_secs(30))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if sqlite {
                        conn.execute("PRAGMA journal_mode = WAL").await?;
                        conn.execute("PRAGMA busy_timeout = 30000").await?;
                        conn.execute("PRAGMA foreign_keys = ON").await?;
                        conn.execute("PRAGMA synchronous = NORMAL").await?;
                    }
                    Ok(())
                })
            })
            .connect_with(options)
            .await
            .map_err(StoreError::Connect)?;
        let migrations = MIGRATIONS
            .iter()
            .map(|(version, name, sql)| {
                Migration::new(
                    *version,
                    (*name).into(),
                    MigrationType::Simple,
                    sqlx::AssertSqlSafe(*sql).into_sql_str(),
                    false,
                )
            })
            .collect();
        Migrator::with_migrations(migrations)
            .run(&pool)
            .await
            .map_err(StoreError::Migrate)?;
        let write_gate = sqlite.then(|| Arc::new(tokio::sync::Mutex::new(())));
        let store = Self {
            pool,
            backend,
            write_gate,
        };
        store.check_key(key).await?;
        store.bind_sealed_values(key).await?;
        Ok(store)
    }

    /// Once per database: re-seals every value written before sealed values
    /// were bound to their cells (and seals idempotency answers stored as
    /// plain JSON before they were encrypted), in one transaction, then
    /// records the format in `meta`.
    async fn bind_sealed_values(&self, key: &DataKey) -> Result<(), StoreError> {
        use crate::crypto::Cell;
        let format: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'seal_format'")
                .fetch_optional(&self.pool)
                .await?;
        if format.is_some_and(|(f,)| f == SEAL_FORMAT) {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let mut rebound = 0usize;
        for &(table, column, id) in SEALED_COLUMNS {
            let select = format!("SELECT {id}, {column} FROM {table} WHERE {column} IS NOT NULL");
            let rows: Vec<(String, String)> = sqlx::query_as(sqlx::AssertSqlSafe(select))
                .fetch_all(&mut *tx)
                .await?;
            let update = format!("UPDATE {table} SET {column} = $1 WHERE {id} = $2");
            for (row, stored) in rows {
                let bound = key
                    .rebind(Cell::new(table, column, &row), &stored)
                    .map_err(|_| StoreError::Reseal(table))?;
                if bound != stored {
                    sqlx::query(sqlx::AssertSqlSafe(update.clone()))
                        .bind(bound)
                        .bind(row)
                        .execute(&mut *tx)
                        .await?;
                    rebound += 1;
                }
            }
        }
        let rows: Vec<(String, String, String)> =
            sqlx::query_as("SELECT principal, key, body FROM idempotency")
                .fetch_all(&mut *tx)
                .await?;
        for (principal, idem_key, stored) in rows {
            let row = Cell::key_of(&[&principal, &idem_key]);
            let cell = Cell::new("idempotency", "body", &row);
            // Answers stored before they were encrypted are JSON as they are.
            let bound = if stored.starts_with('{') {
                key.seal_str(cell, &stored)
            } else {
                key.rebind(cell, &stored)
            }
            .map_err(|_| StoreError::Reseal("idempotency"))?;
            if bound != stored {
                sqlx::query("UPDATE idempotency SET body = $1 WHERE principal = $2 AND key = $3")
                    .bind(bound)
                    .bind(principal)
                    .bind(idem_key)
                    .execute(&mut *tx)
                    .await?;
                rebound += 1;
            }
        }
        sqlx::query(
            "INSERT INTO meta (key, value) VALUES ('seal_format', $1) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(SEAL_FORMAT.to_owned())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if rebound > 0 {
            log::info!("bound {rebound} sealed value(s) to their table, column and row");
        }
        Ok(())
    }

    async fn check_key(&self, key: &DataKey) -> Result<(), StoreError> {
        let found: Option<(String,)> =
            sqlx::query_as("SELECT value FROM meta WHERE key = 'data_key_check'")
                .fetch_optional(&self.pool)
                .await?;
        match found {
            Some((value,)) if value == key.check_value() => Ok(()),
            Some(_) => Err(StoreError::WrongKey),
            None => {
                sqlx::query("INSERT INTO meta (key, value) VALUES ('data_key_check', $1)")
                    .bind(key.check_value().to_owned())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    }

    /// Begins a write to `property_id`: takes its write lock and the next
    /// value of its change counter. `None` if there is no such property.
    pub async fn begin_write(&self, property_id: &str) -> Result<Option<WriteTx>, sqlx::Error> {
        let turn = match &self.write_gate {
            Some(gate) => Some(gate.clone().lock_owned().await),
            None => None,
        };
        let mut tx = self.pool.begin().await?;
        let seq: Option<(i64,)> = sqlx::query_as(
            "UPDATE properties SET change_seq = change_seq + 1 WHERE id = $1 RETURNING change_seq",
        )
        .bind(property_id.to_owned())
        .fetch_optional(&mut *tx)
        .await?;
        Ok(seq.map(|(seq,)| WriteTx {
            tx,
            seq,
            _turn: turn,
        }))
    }

    /// Begins a read-only transaction that sees one snapshot from its first
    /// statement to its end, so reads never mix states before and after a
    /// write: REPEATABLE READ on PostgreSQL (whose default level takes a new
    /// snapshot per statement); on SQLite every transaction is a snapshot.
    pub async fn begin_read(&self) -> Result<Transaction<'static, Any>, sqlx::Error> {
        match self.backend {
            Backend::Sqlite => self.pool.begin().await,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await
            }
        }
    }
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

impl WriteTx {
    /// Commits.
    pub async fn commit(self) -> Result<(), sqlx::Error> {
        self.tx.commit().await
    }
}

/// SQLite and PostgreSQL both store flags as BIGINT here.
pub fn flag(value: bool) -> i64 {
    i64::from(value)
}

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Unix seconds as a timestamp (clamped into range).
pub fn ts(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
