//! Why a world could not be built or run: one typed error for the whole kit.

use std::path::PathBuf;

/// Why a world (or one of its parts) could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum KitError {
    /// A file or directory of the world could not be made or read.
    #[error("{what} {}: {source}", path.display())]
    File {
        /// What was being done (`create`, `read`, `write`).
        what: &'static str,
        /// The path.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start a runtime: {0}")]
    Runtime(std::io::Error),
    /// The database, or the in-process server, could not start.
    #[error(transparent)]
    Start(#[from] keyway_server::app::StartError),
    /// A fresh data key could not be drawn.
    #[error(transparent)]
    Crypto(#[from] keyway_server::crypto::CryptoError),
    /// An admin function refused or failed.
    #[error(transparent)]
    Admin(#[from] keyway_server::admin::AdminError),
    /// The PostgreSQL test database could not be made.
    #[error("test database on {url}: {source}")]
    TestDatabase {
        /// The server's URL (`KEYWAY_TEST_DATABASE_URL`).
        url: String,
        /// Why.
        source: sqlx::Error,
    },
    /// `KEYWAY_TEST_DATABASE_URL` names PostgreSQL but this build has no
    /// PostgreSQL support (the kit's `postgres` feature).
    #[error("{0} names PostgreSQL; build keyway-testkit with its `postgres` feature")]
    NoPostgres(&'static str),
    /// The private D-Bus bus could not start.
    #[error(transparent)]
    Bus(#[from] keyway_ble_sim::bus::BusError),
    /// The simulator refused its configuration.
    #[error(transparent)]
    SimConfig(#[from] keyway_ble_sim::config::ConfigError),
    /// The simulator or its BlueZ could not start.
    #[error(transparent)]
    Harness(#[from] keyway_ble_sim::harness::HarnessError),
    /// btleplug could not reach the simulated BlueZ.
    #[error(transparent)]
    Transport(#[from] keyway_delivery::TransportError),
    /// A local port could not be listened on.
    #[error("cannot listen on a local port: {0}")]
    Listen(std::io::Error),
    /// A program of the world could not be run.
    #[error("cannot run {program}: {source}")]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The world has no user of that name.
    #[error("no user {0} in the property")]
    UnknownUser(String),
    /// A program or service did not say it was ready in time.
    #[error("{0} did not start")]
    NotReady(&'static str),
    /// The binaries a process world runs are missing and cargo is not
    /// there to build them.
    #[error(
        "keyway-server and keyway-ble-sim are not built: run `cargo build -p keyway-server -p keyway-ble-sim` (or set KEYWAY_BIN_DIR)"
    )]
    NotBuilt,
    /// Building the binaries failed.
    #[error("building keyway-server and keyway-ble-sim failed ({0})")]
    BuildFailed(std::process::ExitStatus),
    /// The world has no such part (no simulated locks, no network switch,
    /// a process asked of an in-process server).
    #[error("this world has no {0}")]
    Missing(&'static str),
    /// A lock id of the property is not 16 hex digits.
    #[error("a lock id of the property: {0}")]
    LockId(#[from] keyway_protocol::job::InvalidLockId),
    /// The world description could not be written as JSON.
    #[error("world description: {0}")]
    Json(#[from] serde_json::Error),
}

/// Results of the kit.
pub type KitResult<T> = Result<T, KitError>;

impl KitError {
    /// A file error.
    pub(crate) fn file(
        what: &'static str,
        path: impl Into<PathBuf>,
        source: std::io::Error,
    ) -> Self {
        Self::File {
            what,
            path: path.into(),
            source,
        }
    }
}
