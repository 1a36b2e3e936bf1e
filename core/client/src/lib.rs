//! The phone's client: the offline store, sync with the server, and delivery
//! of sealed jobs to locks in range. The mobile bindings and the desktop
//! `keyway` command are thin layers over [`Client`].
//!
//! This crate owns the phone's side of the system end to end:
//!
//! - **Store** (`store`): one SQLite file with a mirror of what the server
//!   last said, the local overlay (codes created here, the outbox of requests
//!   each with its idempotency key), receipts waiting for upload and the sync
//!   cursor. Every change is one transaction; the file survives a kill at any
//!   instant.
//! - **Requests** (`requests`): picking, generating, changing, disabling, enabling and
//!   deleting codes are queued first (one transaction), checked locally with
//!   the server's own policy engine, shown as `requested`, then sent.
//! - **Sync** (`sync`, [`Client::sync`]): uploads the outbox oldest first (retries
//!   with backoff and jitter; the server's idempotency turns a retry into the
//!   first answer), uploads receipts in batches, pulls the delta since the
//!   cursor page by page (each page one transaction).
//! - **Delivery** (`delivery`, [`Client::deliver_nearby`]): scans, recognises
//!   the user's locks by their advertising keys, visits each one that needs it
//!   (status to the server, the jobs it seals for the lock's session back to
//!   the lock, in one connection), stores the receipts, uploads them and pulls
//!   the settled states.
//! - **Secrets** ([`SecretStore`]): the device token lives in the app's key
//!   store (Android Keystore, iOS Keychain) or, on the desktop and in tests,
//!   in [`FileSecretStore`]; the database keeps only its SHA-256.
//! - **Events** ([`Client::subscribe`]): every change of a code as the app
//!   shows it, after each committed transaction; each use of a code sync
//!   brings, once ([`ClientEvent::CodeUsed`], [`Client::uses`]); being told
//!   by email or SMS too ([`Client::set_contact`],
//!   [`Client::set_notify_on_use`]).
//!
//! Nothing here logs a code, a key, a token or a job's bytes.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
#[cfg(feature = "uniffi")]
uniffi::use_remote_type!(keyway_codes::jiff::Timestamp);

mod config;
mod delivery;
mod error;
mod http;
mod notices;
mod records;
mod reports;
mod requests;
mod secrets;
mod stages;
mod store;
mod sync;
mod tls;
mod view;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::Method;
use tokio::sync::broadcast;

pub use config::{ClientConfig, MAX_RECEIPTS_PER_BATCH, RetryPolicy};
pub use delivery::WatchHandle;
pub use error::ClientError;
pub use records::{CodeUse, Door, LocalCode, NewCode, PendingOp, RequestFailure, Session};
pub use reports::{ClientEvent, DeliveryReport, LockVisit, SyncReport, VisitOutcome, WakeFilter};
pub use secrets::{DEVICE_TOKEN, FileSecretStore, SECRETS_FILE, SecretStore, SecretStoreError};
pub use stages::{QueuedRequest, Stage, StageHook};

use self::http::{CallError, Http};
use self::store::{OutboxRow, Store};
use keyway_api::{
    CodeMode, CodeState, CodeStatus, CodeView, CreateCodeRequest, GuestType, LockSync,
    LoginRequest, LoginResponse, MeResponse, ReceiptBatch, ReceiptBatchResponse, SetCodeRequest,
    SyncResponse, UserView, decode_bytes, encode_bytes,
};
use keyway_codes::code::{CodeKind, Origin};
use keyway_codes::schedule::Schedule;
use keyway_delivery::{
    DeliveryEngine, DeliveryFailure, DeliveryOutcome, LockTransport, TransportError,
};
use keyway_protocol::LockId;

struct Inner {
    config: ClientConfig,
    store: Store,
    secrets: Arc<dyn SecretStore>,
    http: Http,
    events: broadcast::Sender<ClientEvent>,
    shown: Mutex<HashMap<String, LocalCode>>,
    hook: Mutex<Option<StageHook>>,
    transport: Mutex<Option<Arc<dyn LockTransport>>>,
    /// One sync or delivery at a time.
    busy: tokio::sync::Mutex<()>,
    online: Mutex<Option<bool>>,
    /// No queued request is sent before this instant (the server's Retry-After).
    hold_until: Mutex<Option<std::time::Instant>>,
}

/// The phone's client: one per data directory. Cheap to clone; every clone
/// shares the store.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server_url", &self.inner.config.server_url)
            .field("data_dir", &self.inner.config.data_dir)
            .finish_non_exhaustive()
    }
}

/// Result of sending one outbox entry.
enum Sent {
    Accepted,
    Refused(ClientError),
    /// Not answered; `never_sent`: the connection could not even be made.
    Unreachable(ClientError, bool),
    /// Rate limited: hold every queued request this long.
    Held(Duration),
}

impl Client {
    /// Opens (or creates) the store in `config.data_dir`, with the device
    /// token in a [`FileSecretStore`] there (`secrets.json`, 0600): the
    /// desktop's and the tests' default. Nothing goes over the network. See
    /// [`Client::open_with_secret_store`].
    pub fn open(config: ClientConfig) -> Result<Self, ClientError> {
        let secrets = Arc::new(FileSecretStore::in_dir(&config.data_dir));
        Self::open_with_secret_store(config, secrets)
    }

    /// Opens (or creates) the store in `config.data_dir`, with the device
    /// token in `secrets` (on a phone, the platform's key store). A store
    /// written by an older version that kept the token in the database moves
    /// it to `secrets` first (`secret_store` if that fails; nothing is lost).
    /// Nothing goes over the network. Fails with `invalid_argument` for a
    /// device name that is empty or longer than 100 characters, and for a
    /// server URL that is not `https://` (plain `http://` only to this
    /// device itself).
    pub fn open_with_secret_store(
        config: ClientConfig,
        secrets: Arc<dyn SecretStore>,
    ) -> Result<Self, ClientError> {
        if config.device_name.trim().is_empty() || config.device_name.chars().count() > 100 {
            return Err(ClientError::invalid(
                "the device name has 1 to 100 characters",
            ));
        }
        let http = Http::new(&config.server_url, config.request_timeout)?;
        std::fs::create_dir_all(&config.data_dir).map_err(|e| ClientError::Storage {
            detail: format!("cannot create the data directory: {e}"),
        })?;
        let store = Store::open(&config.data_dir.join("keyway.sqlite3"))?;
        move_legacy_token(&store, secrets.as_ref())?;
        let (events, _) = broadcast::channel(256);
        let client = Self {
            inner: Arc::new(Inner {
                config,
                store,
                secrets,
                http,
                events,
                shown: Mutex::new(HashMap::new()),
                hook: Mutex::new(None),
                transport: Mutex::new(None),
                busy: tokio::sync::Mutex::new(()),
                online: Mutex::new(None),
                hold_until: Mutex::new(None),
            }),
        };
        let now: HashMap<String, LocalCode> = client
            .codes()?
            .into_iter()
            .map(|c| (c.id.clone(), c))
            .collect();
        *lock(&client.inner.shown) = now;
        Ok(client)
    }

    /// The configuration it was opened with.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.config
    }

    /// Every change the app shows, from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<ClientEvent> {
        self.inner.events.subscribe()
    }

    /// Sets (or clears) the callback run at each [`Stage`] (tests only).
    pub fn set_stage_hook(&self, hook: Option<StageHook>) {
        *lock(&self.inner.hook) = hook;
    }

    /// Sets the Bluetooth transport deliveries use (btleplug's
    /// `BleTransport`, or an app's own).
    pub fn set_transport(&self, transport: Arc<dyn LockTransport>) {
        *lock(&self.inner.transport) = Some(transport);
    }

    fn stage(&self, stage: Stage) {
        let hook = lock(&self.inner.hook).clone();
        if let Some(hook) = hook {
            hook(stage);
        }
    }

    // ---- session ----

    /// The logged-in device, if any (from the store; no network).
    pub fn session(&self) -> Result<Option<Session>, ClientError> {
        self.inner.store.read(|conn| {
            let device_id = store::get_meta(conn, "device_id")?;
            match (device_id, view::session_parts(conn)) {
                (Some(device_id), Ok((user, property))) => Ok(Some(Session {
                    user,
                    property,
                    device_id,
                })),
                (_, Err(ClientError::NotLoggedIn)) | (None, _) => Ok(None),
                (_, Err(e)) => Err(e),
            }
        })
    }

    /// The device token: from the secret store, and only if it is the one
    /// this database saved (its SHA-256 matches).
    fn token(&self) -> Result<String, ClientError> {
        let digest = self
            .inner
            .store
            .read(|conn| store::get_meta(conn, TOKEN_DIGEST))?
            .ok_or(ClientError::NotLoggedIn)?;
        let token = self
            .inner
            .secrets
            .get(DEVICE_TOKEN.into())?
            .ok_or(ClientError::NotLoggedIn)?;
        if secrets::token_digest(&token) != digest {
            log::warn!("the secret store holds a device token this store did not save: log in");
            return Err(ClientError::NotLoggedIn);
        }
        String::from_utf8(token).map_err(|_| ClientError::SecretStore {
            detail: "the stored device token is not text".into(),
        })
    }

    /// Logs `token` out at the server, best effort.
    async fn logout_at_server(&self, token: &str) {
        let result: Result<serde_json::Value, CallError> = self
            .inner
            .http
            .call(Method::POST, "/v1/logout", Some(token), None, None::<&()>)
            .await;
        if let Err(e) = result {
            log::info!(
                "logout at the server failed: {}",
                e.into_client_error().code()
            );
        }
    }

    /// Trades an API token (from the operator) for this device's token,
    /// stores it, and pulls everything. Logging in as another user first
    /// forgets the previous user's data. The device token it replaces is
    /// revoked at the server (best effort: if that call fails, it stays valid
    /// until the operator's `admin token revoke`).
    pub async fn login(&self, api_token: &str) -> Result<Session, ClientError> {
        let api_token = api_token.trim();
        if api_token.is_empty() || api_token.len() > 200 {
            return Err(ClientError::invalid("the API token is empty or too long"));
        }
        let _busy = self.inner.busy.lock().await;
        // The token this login replaces, if any: revoked once the new one is
        // in place, so a copy of the phone's files stops opening the API.
        let replaced = self.token().ok();
        let request = LoginRequest {
            token: api_token.to_owned(),
            device_name: self.inner.config.device_name.clone(),
        };
        let answer: LoginResponse = self
            .call_with_retries(Method::POST, "/v1/login", None, None, Some(&request))
            .await?;
        let me: MeResponse = self
            .call_with_retries(
                Method::GET,
                "/v1/me",
                Some(&answer.device_token),
                None,
                None::<&()>,
            )
            .await?;
        // The token goes to the secret store first: until the transaction
        // below commits its digest, no store row matches it, so a kill in
        // between leaves the previous state (or none), never a mix.
        let token = answer.device_token.as_bytes();
        if let Err(e) = self.inner.secrets.set(DEVICE_TOKEN.into(), token.to_vec()) {
            self.logout_at_server(&answer.device_token).await;
            return Err(e.into());
        }
        let committed = self.inner.store.write(|tx| {
            let previous: Option<UserView> = store::get_meta_json(&tx.tx, "user")?;
            if previous.is_some_and(|p| p.id != answer.user.id) {
                store::wipe(tx)?;
            }
            store::set_meta(&tx.tx, TOKEN_DIGEST, &secrets::token_digest(token))?;
            store::set_meta(&tx.tx, "device_id", &answer.device_id)?;
            store::set_meta(&tx.tx, "user", &serde_json::to_string(&me.user)?)?;
            store::set_meta(&tx.tx, "property", &serde_json::to_string(&me.property)?)?;
            Ok(())
        });
        if let Err(e) = committed {
            let _ = self.inner.secrets.delete(DEVICE_TOKEN.into());
            self.logout_at_server(&answer.device_token).await;
            return Err(e);
        }
        if let Some(replaced) = replaced.filter(|t| *t != answer.device_token) {
            self.logout_at_server(&replaced).await;
        }
        // Another user's data was wiped: scrub the file of it.
        self.inner.store.scrub_if_pending()?;
        log::info!(
            "logged in as a {} (device {})",
            me.user.role.as_str(),
            answer.device_id
        );
        self.sync_locked().await?;
        Ok(Session {
            user: me.user,
            property: me.property,
            device_id: answer.device_id,
        })
    }

    /// Logs this device out at the server (best effort), deletes the device
    /// token from the secret store and forgets everything stored, queued
    /// requests included. The store is wiped even when the secret store
    /// fails; that failure is then returned (`secret_store`).
    pub async fn logout(&self) -> Result<(), ClientError> {
        let _busy = self.inner.busy.lock().await;
        if let Ok(token) = self.token() {
            self.logout_at_server(&token).await;
        }
        let forgotten = self.inner.secrets.delete(DEVICE_TOKEN.into());
        self.inner.store.write(store::wipe)?;
        self.publish();
        self.inner.store.scrub_if_pending()?;
        Ok(forgotten?)
    }

    // ---- reads ----

    /// The doors the user may use or carry jobs to, as last synced.
    pub fn doors(&self) -> Result<Vec<Door>, ClientError> {
        let locks = self.inner.store.read(store::locks)?;
        Ok(locks
            .into_iter()
            .map(|l| Door {
                job_waiting: l.target_version.is_some(),
                lock_id: l.lock_id,
                name: l.name,
                access_point: l.access_point,
                unit_id: l.unit_id,
                enter_key: l.enter_key,
                constraints: l.constraints,
                confirmed_version: l.confirmed_version,
                target_version: l.target_version,
            })
            .collect())
    }

    /// Every code the phone knows, with its state on each lock.
    pub fn codes(&self) -> Result<Vec<LocalCode>, ClientError> {
        self.inner.store.read(view::codes)
    }

    /// One code by its id on this phone.
    pub fn code(&self, id: &str) -> Result<LocalCode, ClientError> {
        self.codes()?
            .into_iter()
            .find(|c| c.id == id || c.server_id.as_deref() == Some(id))
            .ok_or_else(|| ClientError::not_found("code"))
    }

    /// The outbox: requests not answered yet, and refused ones not dismissed.
    pub fn outbox(&self) -> Result<Vec<QueuedRequest>, ClientError> {
        let rows = self.inner.store.read(store::outbox)?;
        Ok(rows
            .into_iter()
            .filter_map(|r| {
                Some(QueuedRequest {
                    op: PendingOp::parse(&r.op)?,
                    seq: r.seq,
                    code_id: r.code_id,
                    idempotency_key: r.idem_key,
                    attempts: u32::try_from(r.attempts).unwrap_or(u32::MAX),
                    failed: r.state == "failed",
                })
            })
            .collect())
    }

    /// The newest uses of the user's codes sync brought, newest first, at
    /// most `limit` (the phone keeps the newest 1,000).
    pub fn uses(&self, limit: u32) -> Result<Vec<CodeUse>, ClientError> {
        self.inner
            .store
            .read(|conn| store::uses(conn, i64::from(limit.min(1000))))
    }

    /// Receipts waiting to be uploaded.
    pub fn pending_receipts(&self) -> Result<u64, ClientError> {
        self.inner.store.read(store::receipt_count)
    }

    /// Whether the last call reached the server (`None`: no call yet).
    pub fn is_online(&self) -> Option<bool> {
        *lock(&self.inner.online)
    }

    /// Emits an event for every code whose view changed since the last call.
    fn publish(&self) {
        let now = match self.codes() {
            Ok(codes) => codes,
            Err(e) => {
                log::warn!("cannot read codes for events: {}", e.code());
                return;
            }
        };
        let mut shown = lock(&self.inner.shown);
        let mut next = HashMap::with_capacity(now.len());
        for code in now {
            if shown.get(&code.id) != Some(&code) {
                let _ = self
                    .inner
                    .events
                    .send(ClientEvent::CodeChanged { code: code.clone() });
            }
            next.insert(code.id.clone(), code);
        }
        for id in shown.keys() {
            if !next.contains_key(id) {
                let _ = self
                    .inner
                    .events
                    .send(ClientEvent::CodeRemoved { id: id.clone() });
            }
        }
        *shown = next;
        drop(shown);
        self.announce_uses();
    }

    /// Tells the app of each use it was not told of yet, then records that
    /// it was (a kill in between tells it again at the next sync: at least
    /// once, and once in every run that completes).
    fn announce_uses(&self) {
        let result = (|| {
            let fresh = self.inner.store.read(store::unannounced)?;
            if fresh.is_empty() {
                return Ok(());
            }
            for used in &fresh {
                let _ = self.inner.events.send(ClientEvent::CodeUsed {
                    id: used.id.clone(),
                    code_id: used.code_id.clone(),
                    code_name: used.code_name.clone(),
                    lock_id: used.lock_id.clone(),
                    lock_name: used.lock_name.clone(),
                    at: used.at,
                    kind: used.kind.clone(),
                });
            }
            let ids: Vec<String> = fresh.into_iter().map(|u| u.id).collect();
            self.inner.store.write(|tx| store::mark_announced(tx, &ids))
        })();
        if let Err(e) = result {
            log::warn!("cannot announce code uses: {}", e.code());
        }
    }
}

/// Where the database keeps the SHA-256 of the device token it saved.
const TOKEN_DIGEST: &str = "device_token_sha256";

/// Moves a device token an older version kept in `meta` to the secret
/// store, leaving its digest.
fn move_legacy_token(store: &Store, secrets: &dyn SecretStore) -> Result<(), ClientError> {
    let Some(token) = store.read(|conn| store::get_meta(conn, "device_token"))? else {
        return Ok(());
    };
    secrets.set(DEVICE_TOKEN.into(), token.as_bytes().to_vec())?;
    store.write(|tx| {
        store::set_meta(
            &tx.tx,
            TOKEN_DIGEST,
            &secrets::token_digest(token.as_bytes()),
        )?;
        store::delete_meta(&tx.tx, "device_token")?;
        store::mark_for_scrub(tx)
    })?;
    store.scrub_if_pending()?;
    log::info!("moved the device token from the database to the secret store");
    Ok(())
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
