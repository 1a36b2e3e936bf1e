//! The data layer: the only module that speaks SQL. One `sqlx::AnyPool`
//! behind portable statements (`$1` placeholders, TEXT ids, BIGINT numbers
//! and flags, `ON CONFLICT`, `RETURNING`), so SQLite and PostgreSQL run the
//! same SQL; the database URL chooses the [`Backend`]. Migrations are
//! embedded and run on open, followed once by the re-seal upgrade
//! ([`seal`]).
//!
//! Nothing above this module sees a pool, a connection or a transaction:
//! domain operations get a context. A [`Read`] is a pooled connection (or,
//! from [`Store::snapshot`], one snapshot for the whole read), also used for
//! the few single-statement writes that need no property lock (rate-limit
//! counters, device logins, visit challenges, outbox leases). A [`Write`] is
//! the property's write transaction: its first statement bumps the
//! property's change counter, which takes SQLite's write lock (or the
//! property row's lock on PostgreSQL, across server instances) at once, so
//! writes to one property are serialised, cursors stay monotonic and a slot
//! is never handed out twice. It carries the property id, the change counter
//! value every row it touches is stamped with, and the data key.
//!
//! Named queries live in one module per table group; none takes a SQL
//! fragment from outside.

pub mod accounts;
pub mod audit;
pub mod backups;
pub mod batch;
pub mod codes;
pub mod contacts;
pub mod holders;
pub mod idempotency;
pub mod jobs;
pub mod locks;
pub mod offline;
pub mod outbox;
pub mod properties;
pub mod rate_limits;
mod row;
mod seal;
pub mod users;
pub mod uses;
pub mod visits;
pub mod webhooks;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::migrate::{Migration, MigrationType, Migrator};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Executor, SqlSafeStr, Transaction};

use crate::crypto::DataKey;
use crate::error::Result;

pub use batch::{Insert, insert_rows as insert};
pub use row::{enum_str, parse_enum};
pub use seal::SEALED_COLUMNS;

/// Migrations, embedded in the binary.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../migrations/0001_init.sql")),
    (
        2,
        "lock_indexes",
        include_str!("../../migrations/0002_lock_indexes.sql"),
    ),
    (
        3,
        "shared_locks_index",
        include_str!("../../migrations/0003_shared_locks_index.sql"),
    ),
    (
        4,
        "visits",
        include_str!("../../migrations/0004_visits.sql"),
    ),
    (
        5,
        "portal",
        include_str!("../../migrations/0005_portal.sql"),
    ),
    (
        6,
        "key_cards",
        include_str!("../../migrations/0006_key_cards.sql"),
    ),
    (
        7,
        "code_uses",
        include_str!("../../migrations/0007_code_uses.sql"),
    ),
    (
        8,
        "use_notices",
        include_str!("../../migrations/0008_use_notices.sql"),
    ),
    (
        9,
        "webhooks",
        include_str!("../../migrations/0009_webhooks.sql"),
    ),
    (
        10,
        "offline_codes",
        include_str!("../../migrations/0010_offline_codes.sql"),
    ),
    (
        11,
        "backup_pool",
        include_str!("../../migrations/0011_backup_pool.sql"),
    ),
];

/// ` LIMIT n` for a change-ordered page (nothing for all of it), written
/// into the statement as the planner likes it best.
fn limit_of(limit: Option<usize>) -> String {
    limit.map(|l| format!(" LIMIT {l}")).unwrap_or_default()
}

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

/// Turns `--database` into a URL: a plain path is a SQLite file, created if missing.
pub fn database_url(arg: &str) -> String {
    if arg.contains("://") || arg.starts_with("sqlite:") {
        arg.to_owned()
    } else {
        format!("sqlite://{arg}?mode=rwc")
    }
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

/// The database and the data key that opens its secrets.
#[derive(Clone, Debug)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    key: Arc<DataKey>,
    /// SQLite has one writer at a time; writers of this process queue here,
    /// first come first served, instead of polling SQLite's busy handler
    /// (whose growing sleeps gave the unlucky writer a tail of seconds under
    /// load: docs/performance.md). Other processes on the same file still
    /// meet the busy handler. `None` on PostgreSQL, where the property's row
    /// lock queues writers and writes to different properties run at once.
    write_gate: Option<Arc<tokio::sync::Mutex<()>>>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database,
    /// checks that `key` is the key it was created with, and re-seals values
    /// written before sealed values were bound to their cells.
    pub async fn open(url: &str, key: DataKey) -> Result<Self, StoreError> {
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
            // A pinged SQLite connection is a round trip to its worker thread
            // per request for nothing: the file cannot drop it as a server can.
            .test_before_acquire(!sqlite)
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
        let store = Self {
            pool,
            backend,
            key: Arc::new(key),
            write_gate: sqlite.then(|| Arc::new(tokio::sync::Mutex::new(()))),
        };
        seal::check_key(&store.pool, &store.key).await?;
        seal::bind_sealed_values(&store.pool, &store.key).await?;
        Ok(store)
    }

    /// Which database this is.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The data key.
    pub fn key(&self) -> &Arc<DataKey> {
        &self.key
    }

    /// Whether the database answers.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Refreshes the planner's statistics, as after any bulk load.
    pub async fn analyze(&self) -> Result<()> {
        sqlx::query("ANALYZE").execute(&self.pool).await?;
        Ok(())
    }

    /// Closes the pool, waiting for connections in use.
    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A read context on a pooled connection (each statement on its own).
    pub async fn read(&self) -> Result<Read> {
        Ok(Read {
            conn: ReadConn::Pooled(self.pool.acquire().await?),
            key: self.key.clone(),
        })
    }

    /// A read context that sees one snapshot from its first statement to its
    /// end, so reads never mix states before and after a write: REPEATABLE
    /// READ on PostgreSQL (whose default level takes a new snapshot per
    /// statement); on SQLite every transaction is a snapshot.
    pub async fn snapshot(&self) -> Result<Read> {
        let tx = match self.backend {
            Backend::Sqlite => self.pool.begin().await?,
            Backend::Postgres => {
                self.pool
                    .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                    .await?
            }
        };
        Ok(Read {
            conn: ReadConn::Snapshot(tx),
            key: self.key.clone(),
        })
    }

    /// Begins a write to `property_id`: takes its write lock and the next
    /// value of its change counter. `None` if there is no such property.
    /// Runs at PostgreSQL's default READ COMMITTED level on purpose: once
    /// the row lock is held, every later statement sees everything committed
    /// before it.
    pub async fn begin_write(&self, property_id: &str) -> Result<Option<Write>> {
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
        Ok(seq.map(|(seq,)| Write {
            tx,
            seq,
            property_id: property_id.to_owned(),
            key: self.key.clone(),
            _turn: turn,
        }))
    }
}

/// What queries run on: a [`Read`] or a [`Write`] context.
pub trait Context: Send {
    /// The connection (for this module's queries only).
    #[doc(hidden)]
    fn conn(&mut self) -> &mut AnyConnection;
    /// The data key.
    fn key(&self) -> &Arc<DataKey>;
}

enum ReadConn {
    Pooled(PoolConnection<Any>),
    Snapshot(Transaction<'static, Any>),
}

/// A read context: a pooled connection, or one snapshot (see
/// [`Store::snapshot`]); it ends when dropped.
pub struct Read {
    conn: ReadConn,
    key: Arc<DataKey>,
}

impl Read {
    /// The data key.
    pub fn key(&self) -> &Arc<DataKey> {
        &self.key
    }
}

impl Context for Read {
    fn conn(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            ReadConn::Pooled(conn) => conn,
            ReadConn::Snapshot(tx) => tx,
        }
    }

    fn key(&self) -> &Arc<DataKey> {
        &self.key
    }
}

/// A write to one property: its write transaction, holding its write lock;
/// the change counter value every change of this write is stamped with; the
/// data key. Nothing is written unless it is [committed](Write::commit).
pub struct Write {
    tx: Transaction<'static, Any>,
    seq: i64,
    property_id: String,
    key: Arc<DataKey>,
    /// This process's turn to write (SQLite), released when the write ends.
    _turn: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Context for Write {
    fn conn(&mut self) -> &mut AnyConnection {
        &mut self.tx
    }

    fn key(&self) -> &Arc<DataKey> {
        &self.key
    }
}

impl Write {
    /// The data key.
    pub fn key(&self) -> &Arc<DataKey> {
        &self.key
    }

    /// The change counter value this write took.
    pub fn seq(&self) -> i64 {
        self.seq
    }

    /// The property written to.
    pub fn property_id(&self) -> &str {
        &self.property_id
    }

    /// Commits.
    pub async fn commit(self) -> Result<()> {
        self.tx.commit().await?;
        Ok(())
    }

    /// Runs a part of the write that may fail alone (one receipt of a
    /// batch): opens a savepoint, which [`Write::settle_savepoint`] keeps or
    /// rolls back.
    pub async fn savepoint(&mut self) -> Result<()> {
        sqlx::query("SAVEPOINT part").execute(&mut *self.tx).await?;
        Ok(())
    }

    /// Ends the savepoint [`Write::savepoint`] opened: keeps what it did, or
    /// (`keep` false) undoes it, leaving the rest of the write as it was.
    pub async fn settle_savepoint(&mut self, keep: bool) -> Result<()> {
        if !keep {
            sqlx::query("ROLLBACK TO SAVEPOINT part")
                .execute(&mut *self.tx)
                .await?;
        }
        sqlx::query("RELEASE SAVEPOINT part")
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }
}

impl From<sqlx::Error> for crate::error::Error {
    fn from(e: sqlx::Error) -> Self {
        Self::internal("database", e)
    }
}

/// Whether a failed statement broke a UNIQUE or PRIMARY KEY constraint.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    error
        .as_database_error()
        .is_some_and(|e| e.is_unique_violation())
}

/// SQLite and PostgreSQL both store flags as BIGINT here.
fn flag(value: bool) -> i64 {
    i64::from(value)
}

#[cfg(test)]
mod tests {
    /// No module but this one speaks SQL: `sqlx` appears nowhere else in
    /// the server's source.
    #[test]
    fn sql_stays_in_the_data_layer() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut offenders = Vec::new();
        let mut stack = vec![src.clone()];
        while let Some(dir) = stack.pop() {
            for entry in std::fs::read_dir(&dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    if path != src.join("db") {
                        stack.push(path);
                    }
                } else if path.extension().is_some_and(|e| e == "rs")
                    && std::fs::read_to_string(&path).unwrap().contains("sqlx")
                {
                    offenders.push(path.display().to_string());
                }
            }
        }
        assert!(offenders.is_empty(), "sqlx outside src/db: {offenders:?}");
    }
}
