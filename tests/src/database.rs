//! A world's database: a SQLite file in the world's directory (the server's
//! default, `keyway.sqlite` with its key file `keyway.sqlite.key`) or, when
//! `KEYWAY_TEST_DATABASE_URL` names a PostgreSQL server (`cargo xtask test`
//! starts one for the server's suites), a fresh database on that server for
//! each world, so tests stay parallel on both.

use std::path::{Path, PathBuf};

use keyway_server::app::DbArgs;
use keyway_server::crypto::DataKey;
use keyway_server::db::Store;

use crate::error::{KitError, KitResult};

/// The variable naming the PostgreSQL server to test on (any database on it;
/// each world creates its own next to it).
pub const TEST_DATABASE_VAR: &str = "KEYWAY_TEST_DATABASE_URL";

/// The database of one world, as the server started in its directory sees it.
#[derive(Clone, Debug)]
pub struct TestDb {
    /// The environment a `keyway-server` process of the world gets
    /// (`KEYWAY_DATABASE` and `KEYWAY_DATA_KEY` on PostgreSQL; nothing on
    /// SQLite, whose file and key file are the defaults in its directory).
    pub env: Vec<(String, String)>,
    /// The URL, for looking inside.
    pub url: String,
    dir: PathBuf,
}

impl TestDb {
    /// The database of a world working in `dir`: on the PostgreSQL server of
    /// `KEYWAY_TEST_DATABASE_URL` when it is set, else SQLite.
    pub fn from_env(dir: &Path) -> KitResult<Self> {
        match std::env::var(TEST_DATABASE_VAR) {
            Ok(base) if !base.trim().is_empty() => Self::postgres(dir, base.trim()),
            _ => Ok(Self::sqlite(dir)),
        }
    }

    /// A SQLite file in `dir`, whatever the environment says.
    pub fn sqlite(dir: &Path) -> Self {
        Self {
            env: Vec::new(),
            url: format!("sqlite://{}?mode=rwc", dir.join("keyway.sqlite").display()),
            dir: dir.to_owned(),
        }
    }

    /// A fresh database on the PostgreSQL server at `base`, with a fresh data key.
    #[cfg(feature = "postgres")]
    fn postgres(dir: &Path, base: &str) -> KitResult<Self> {
        let name = format!("kw_{:016x}", rand::random::<u64>());
        let failed = |source| KitError::TestDatabase {
            url: base.to_owned(),
            source,
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(KitError::Runtime)?;
        runtime.block_on(async {
            sqlx::any::install_default_drivers();
            let pool = sqlx::any::AnyPoolOptions::new()
                .max_connections(1)
                .connect(base)
                .await
                .map_err(failed)?;
            let created = sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&pool)
                .await;
            pool.close().await;
            created.map(drop).map_err(failed)
        })?;
        let url = with_database(base, &name);
        let key = DataKey::generate_hex()?;
        Ok(Self {
            env: vec![
                ("KEYWAY_DATABASE".into(), url.clone()),
                ("KEYWAY_DATA_KEY".into(), key),
            ],
            url,
            dir: dir.to_owned(),
        })
    }

    #[cfg(not(feature = "postgres"))]
    fn postgres(_dir: &Path, _base: &str) -> KitResult<Self> {
        Err(KitError::NoPostgres(TEST_DATABASE_VAR))
    }

    /// Whether the world runs on PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.url.starts_with("postgres")
    }

    /// The database and data key as a server started in the world's
    /// directory resolves them (for SQLite, the key file beside the file,
    /// created on first use).
    pub fn db_args(&self) -> DbArgs {
        let var = |name: &str| {
            self.env
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        DbArgs {
            database: var("KEYWAY_DATABASE")
                .unwrap_or_else(|| self.dir.join("keyway.sqlite").display().to_string()),
            data_key: var("KEYWAY_DATA_KEY"),
            data_key_file: None,
        }
    }

    /// The data key every server of the world uses.
    pub fn data_key(&self) -> KitResult<DataKey> {
        Ok(self.db_args().data_key()?)
    }

    /// Opens the database (its migrations run on first open).
    pub async fn open(&self) -> KitResult<Store> {
        Ok(self.db_args().open().await?)
    }
}

/// `url` with its database name replaced.
#[cfg(feature = "postgres")]
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|i| start + i))
        .unwrap_or(base.len());
    let query = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    format!("{}/{name}{query}", &base[..authority_end])
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced_and_the_options_kept() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres?sslmode=disable", "kw_1"),
            "postgres://u:p@h:5432/kw_1?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "kw_2"), "postgres://h/kw_2");
    }
}
