//! The running server: its settings (flags and `KEYWAY_*` environment
//! variables), shared state, the idempotent-write helper every write handler
//! uses, and the serve loop with its background workers and graceful shutdown.

use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use clap::Args;

use crate::auth::{Caller, Idem};
use crate::crypto::{Cell, DataKey};
use crate::error::{Error, Result};
use crate::notify::NotifySettings;
use crate::store::{Store, WriteTx, database_url, now_secs};

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
    pub fn data_key(&self) -> Result<DataKey, String> {
        if let Some(hex) = &self.data_key {
            return DataKey::from_hex(hex).map_err(|e| e.to_string());
        }
        let path = match &self.data_key_file {
            Some(path) => path.clone(),
            None => {
                let url = database_url(&self.database);
                let file = url
                    .strip_prefix("sqlite://")
                    .or_else(|| url.strip_prefix("sqlite:"))
                    .map(|rest| rest.split('?').next().unwrap_or(rest).to_owned())
                    .ok_or("set KEYWAY_DATA_KEY or --data-key-file for a non-SQLite database")?;
                PathBuf::from(format!("{file}.key"))
            }
        };
        read_or_create_key(&path)
    }

    /// Opens the store with the resolved key.
    pub async fn open(&self) -> Result<(Store, DataKey), String> {
        let key = self.data_key()?;
        let store = Store::open(&database_url(&self.database), &key)
            .await
            .map_err(|e| e.to_string())?;
        Ok((store, key))
    }
}

fn read_or_create_key(path: &Path) -> Result<DataKey, String> {
    match std::fs::read_to_string(path) {
        Ok(text) => DataKey::from_hex(&text).map_err(|e| format!("{}: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex = DataKey::generate_hex().map_err(|e| e.to_string())?;
            write_secret(path, &format!("{hex}\n"))
                .map_err(|e| format!("cannot create {}: {e}", path.display()))?;
            log::warn!(
                "created a new data key file at {}; back it up: without it codes and lock keys cannot be read",
                path.display()
            );
            DataKey::from_hex(&hex).map_err(|e| e.to_string())
        }
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
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
fn parse_proxy(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| format!("`{text}` is not an IP address or CIDR range"))
}

/// Shared state of the running server.
#[derive(Clone)]
pub struct App {
    /// The database.
    pub store: Store,
    /// The data key.
    pub key: Arc<DataKey>,
    /// Proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Arc<[ipnet::IpNet]>,
}

/// A boxed future borrowing a write transaction.
pub type TxFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

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

    /// Runs `work` as one idempotent write to the caller's property: under the
    /// property's write lock, a key seen before with the same request returns
    /// the stored response; with another request it is refused; otherwise the
    /// work runs and its response is stored with it, all in one transaction.
    /// The stored response is encrypted (it may show a code's digits) and the
    /// request is recognised by a keyed MAC, so a database dump reveals neither.
    pub async fn idempotent<F>(
        &self,
        caller: &Caller,
        idem: &Idem,
        body: &[u8],
        success: StatusCode,
        work: F,
    ) -> Result<Response>
    where
        F: for<'a> FnOnce(&'a mut WriteTx) -> TxFuture<'a, serde_json::Value>,
    {
        let hash = self.key.request_mac(&[idem.target.as_bytes(), body]);
        let mut w = self
            .store
            .begin_write(&caller.property_id)
            .await?
            .ok_or_else(|| Error::not_found("property"))?;
        let stored: Option<(String, i64, String)> = sqlx::query_as(
            "SELECT request_hash, status, body FROM idempotency WHERE principal = $1 AND key = $2",
        )
        .bind(caller.principal.clone())
        .bind(idem.key.clone())
        .fetch_optional(&mut *w.tx)
        .await?;
        if let Some((stored_hash, status, body)) = stored {
            if stored_hash != hash {
                return Err(Error::unprocessable(
                    "idempotency_key_reused",
                    "this idempotency key was used for another request; use a new key",
                ));
            }
            let status = u16::try_from(status)
                .ok()
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK);
            let row = Cell::key_of(&[&caller.principal, &idem.key]);
            let body = self
                .key
                .open_str(Cell::new("idempotency", "body", &row), &body)?;
            return Ok(json_response(status, body));
        }
        let value = work(&mut w).await?;
        let body = serde_json::to_string(&value)?;
        sqlx::query(
            "INSERT INTO idempotency (principal, key, request_hash, status, body, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(caller.principal.clone())
        .bind(idem.key.clone())
        .bind(hash)
        .bind(i64::from(success.as_u16()))
        .bind(self.key.seal_str(
            Cell::new(
                "idempotency",
                "body",
                &Cell::key_of(&[&caller.principal, &idem.key]),
            ),
            &body,
        )?)
        .bind(now_secs())
        .execute(&mut *w.tx)
        .await?;
        w.commit().await?;
        Ok(json_response(success, body))
    }
}

/// A JSON response from serialised text.
pub fn json_response(status: StatusCode, body: String) -> Response {
    (
        status,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Parses a JSON body into `T`, answering `invalid_request` with serde's
/// message (which names the field, never echoes a value). Text with a NUL
/// character is refused too: PostgreSQL cannot store it, and no name, code
/// or address needs it.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let parsed = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))?;
    // JSON can only carry a NUL as the escape `\u0000`: look closer only then.
    if body.windows(6).any(|w| w == b"\\u0000")
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| holds_nul(&v))
    {
        return Err(nul_refused());
    }
    Ok(parsed)
}

/// The error for text with a NUL character.
pub fn nul_refused() -> Error {
    Error::invalid("text may not contain NUL characters (\\u0000 or %00)")
}

fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// Runs the server until SIGINT or SIGTERM.
pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    serve_on(args, listener, shutdown_signal()).await
}

/// Runs the server on `listener` (its `listen` setting is not used) until
/// `shutdown` completes: the same API and workers as [`serve`], for a server
/// embedded in another program (the `keyway demo`).
pub async fn serve_on(
    args: ServeArgs,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let (store, key) = args.db.open().await?;
    let app = App {
        store,
        key: Arc::new(key),
        trusted_proxies: args.trusted_proxies.clone().into(),
    };
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    log::info!("keyway-server listening on http://{local}");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let sender = crate::notify::Sender::from_settings(&args.notify)?;
    let notify_worker = tokio::spawn(crate::notify::run_worker(
        app.clone(),
        sender,
        args.notify.clone(),
        stop_rx.clone(),
    ));
    let sweeper = tokio::spawn(run_sweeper(
        app.clone(),
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
    .map_err(|e| e.to_string());
    log::info!("shutting down");
    let _ = stop_tx.send(true);
    let _ = notify_worker.await;
    let _ = sweeper.await;
    app.store.pool.close().await;
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
async fn run_sweeper(app: App, interval: Duration, mut stop: tokio::sync::watch::Receiver<bool>) {
    loop {
        if let Err(e) = sweep_once(&app).await {
            log::warn!("sweep failed: {}", e.detail);
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = stop.changed() => return,
        }
    }
}

/// How long a sealed job's record is kept for a late receipt or a status
/// that shows its table.
const JOB_RECORD_SECS: i64 = 30 * 86_400;

/// One sweep over every property.
pub async fn sweep_once(app: &App) -> Result<usize> {
    let now = now_secs();
    // Only properties with something to do.
    let properties: Vec<(String,)> = sqlx::query_as(
        "SELECT DISTINCT property_id FROM codes WHERE status IN ('active', 'disabled') AND ends_at IS NOT NULL AND ends_at <= $1",
    )
    .bind(now)
    .fetch_all(&app.store.pool)
    .await?;
    let mut expired = 0;
    for (property_id,) in properties {
        let Some(mut w) = app.store.begin_write(&property_id).await? else {
            continue;
        };
        expired += crate::reconcile::sweep_property(&mut w.tx, w.seq, &property_id).await?;
        w.commit().await?;
    }
    if expired > 0 {
        log::info!("sweep: {expired} code(s) expired");
    }
    crate::visits::forget_spent(&app.store.pool, now).await?;
    sqlx::query("DELETE FROM jobs WHERE issued_at < $1")
        .bind(now - JOB_RECORD_SECS)
        .execute(&app.store.pool)
        .await?;
    Ok(expired)
}
