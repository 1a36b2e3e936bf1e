//! The running server: its settings (flags and `KEYWAY_*` environment
//! variables), shared state, and the serve loop with its background workers
//! (notifications, webhooks, the sweep) and graceful shutdown.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use crate::crypto::{CryptoError, DataKey};
use crate::db::{Store, StoreError, database_url};
use crate::notify::{NotifySettings, SenderError};
use crate::webhooks::{TargetPolicy, WebhookSettings};

/// Why the server (or an admin command) could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The data key given is not 64 hex digits.
    #[error("{0}")]
    BadKey(CryptoError),
    /// A database other than a SQLite file needs the key given.
    #[error("set KEYWAY_DATA_KEY or --data-key-file for a non-SQLite database")]
    NoKeyFile,
    /// The key file holds no key.
    #[error("{}: {source}", path.display())]
    BadKeyFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: CryptoError,
    },
    /// The key file could not be read or created.
    #[error("cannot {action} {}: {source}", path.display())]
    KeyFile {
        /// `read` or `create`.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The database could not be opened.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The notification senders are misconfigured.
    #[error(transparent)]
    Sender(#[from] SenderError),
    /// The address could not be listened on.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// Serving failed.
    #[error("serving failed: {0}")]
    Serve(std::io::Error),
}

/// Where the database is and how to unlock its secrets (shared by `serve` and `admin`).
#[derive(Debug, Clone, Args)]
pub struct DbArgs {
    /// Database: a SQLite file path (created on first start) or a URL
    /// (`sqlite://path`, `postgres://user:password@host/database`).
    #[arg(
        long,
        env = "KEYWAY_DATABASE",
        default_value = "keyway.sqlite",
        hide_env_values = true
    )]
    pub database: String,
    /// The data key (64 hex digits) that encrypts codes and lock keys at rest.
    #[arg(long, env = "KEYWAY_DATA_KEY", hide_env_values = true)]
    pub data_key: Option<String>,
    /// A file holding the data key; by default `<database>.key` beside a SQLite
    /// file, created with a fresh key on first start.
    #[arg(long, env = "KEYWAY_DATA_KEY_FILE")]
    pub data_key_file: Option<PathBuf>,
}

impl DbArgs {
    /// Resolves the data key: the flag or variable, else the key file
    /// (created with a fresh key if missing).
    pub fn data_key(&self) -> Result<DataKey, StartError> {
        if let Some(hex) = &self.data_key {
            return DataKey::from_hex(hex).map_err(StartError::BadKey);
        }
        let path = match &self.data_key_file {
            Some(path) => path.clone(),
            None => {
                let url = database_url(&self.database);
                let file = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .map(|rest| rest.split('?').next().unwrap_or(rest).to_owned())
                    .ok_or(StartError::NoKeyFile)?;
                PathBuf::from(format!("{file}.key"))
            }
        };
        read_or_create_key(&path)
    }

    /// Opens the store with the resolved key.
    pub async fn open(&self) -> Result<Store, StartError> {
        let key = self.data_key()?;
        Ok(Store::open(&database_url(&self.database), key).await?)
    }
}

fn read_or_create_key(path: &Path) -> Result<DataKey, StartError> {
    let bad = |source| StartError::BadKeyFile {
        path: path.to_owned(),
        source,
    };
    let io = |action, source| StartError::KeyFile {
        action,
        path: path.to_owned(),
        source,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => DataKey::from_hex(&text).map_err(bad),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex = DataKey::generate_hex().map_err(StartError::BadKey)?;
            write_secret(path, &format!("{hex}\n")).map_err(|e| io("create", e))?;
            log::warn!(
                "created a new data key file at {}; back it up: without it codes and lock keys cannot be read",
                path.display()
            );
            DataKey::from_hex(&hex).map_err(bad)
        }
        Err(e) => Err(io("read", e)),
    }
}

/// Writes a file only its owner can read.
pub fn write_secret(path: &Path, text: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)?.write_all(text.as_bytes())
}

/// `keyway-server serve` settings.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "KEYWAY_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Database and data key.
    #[command(flatten)]
    pub db: DbArgs,
    /// Notification senders.
    #[command(flatten)]
    pub notify: NotifySettings,
    /// Webhook deliveries.
    #[command(flatten)]
    pub webhooks: WebhookSettings,
    /// How often the sweep expires ended windows and forgets spent visits and
    /// old jobs.
    #[arg(long, env = "KEYWAY_SWEEP_INTERVAL_SECS", default_value_t = 60)]
    pub sweep_interval_secs: u64,
    /// Reverse proxies (addresses or CIDR ranges, comma-separated) whose
    /// `X-Forwarded-For` names the client. Without it the header is ignored
    /// and rate limits count the TCP peer, so clients cannot choose their
    /// own address.
    #[arg(long, env = "KEYWAY_TRUSTED_PROXIES", value_delimiter = ',', value_parser = parse_proxy)]
    pub trusted_proxies: Vec<ipnet::IpNet>,
}

/// An address (`10.0.0.5`) or a CIDR range (`10.0.0.0/8`).
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, NotAnAddress> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| NotAnAddress(text.to_owned()))
}

/// A `--trusted-proxies` entry that is neither an IP address nor a range.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an IP address or CIDR range")]
pub struct NotAnAddress(String);

/// Shared state of the running server.
#[derive(Clone)]
pub struct App {
    /// The database and its data key.
    pub store: Store,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
    /// Where webhooks may point.
    pub webhook_targets: TargetPolicy,
}

impl App {
    /// The client's address: the TCP peer, or, when the peer is a trusted
    /// proxy, the right-most `X-Forwarded-For` address that is not one (the
    /// left part of that header is whatever the client wrote).
    pub fn client_ip(&self, peer: SocketAddr, headers: &axum::http::HeaderMap) -> IpAddr {
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|net| net.contains(ip));
        let mut client = peer.ip().to_canonical();
        if !trusted(&client) {
            return client;
        }
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .rev()
            .flat_map(|value| value.to_str().unwrap_or("").rsplit(',').map(str::trim));
        for hop in hops {
            match hop.parse::<IpAddr>() {
                Ok(ip) => {
                    client = ip.to_canonical();
                    if !trusted(&client) {
                        break;
                    }
                }
                // A malformed hop: the last trusted one is the best we know.
                Err(_) => break,
            }
        }
        client
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), StartError> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|source| StartError::Listen {
            addr: args.listen,
            source,
        })?;
    serve_on(args, listener, shutdown_signal()).await
}

/// Runs the server on `listener` (its `listen` setting is not used) until
/// `shutdown` completes: the same API and workers as [`serve`], for a server
/// embedded in another program (the testkit's in-process world, which the
/// demo plays in).
pub async fn serve_on(
    args: ServeArgs,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), StartError> {
    let store = args.db.open().await?;
    let app = App {
        store,
        trusted_proxies: args.trusted_proxies.clone().into(),
        webhook_targets: args.webhooks.targets(),
    };
    let local = listener.local_addr().map_err(StartError::Serve)?;
    log::info!("keyway-server listening on http://{local}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sender = crate::notify::Sender::from_settings(&args.notify)?;
    let notify_worker = tokio::spawn(crate::notify::run_worker(
        app.store.clone(),
        sender,
        args.notify.clone(),
        stop_rx.clone(),
    ));
    let webhook_worker = tokio::spawn(crate::webhooks::worker::run_worker(
        app.store.clone(),
        args.webhooks.clone(),
        stop_rx.clone(),
    ));
    let sweeper = tokio::spawn(run_sweeper(
        app.store.clone(),
        Duration::from_secs(args.sweep_interval_secs.max(1)),
        stop_rx.clone(),
    ));

    let router = crate::api::router(app.clone());
    let result = axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
    .map_err(StartError::Serve);
    log::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = notify_worker.await;
    let _ = webhook_worker.await;
    let _ = sweeper.await;
    app.store.close().await;
    log::info!("stopped");
    result
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Every `interval`: expire ended windows (one property per transaction) and
/// forget spent visits and old jobs.
async fn run_sweeper(
    store: Store,
    interval: Duration,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        if let Err(e) = crate::ops::sweep::sweep_once(&store).await {
            log::warn!("sweep failed: {}", e.detail);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = stop.changed() => return,
        }
    }
}
