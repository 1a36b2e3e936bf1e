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
//!   shows it, after each committed transaction.
//!
//! Nothing here logs a code, a key, a token or a job's bytes.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
#[cfg(feature = "uniffi")]
uniffi::use_remote_type!(keyway_codes::jiff::Timestamp);

mod delivery;
mod error;
mod http;
mod requests;
mod secrets;
mod store;
mod sync;
mod view;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use tokio::sync::broadcast;

pub use delivery::WatchHandle;
pub use error::ClientError;
pub use secrets::{DEVICE_TOKEN, FileSecretStore, SECRETS_FILE, SecretStore, SecretStoreError};

use self::http::{CallError, Http};
use self::store::{OutboxRow, Store};
use keyway_api::{
    CodeMode, CodeOnLock, CodeState, CodeStatus, CodeView, CreateCodeRequest, GuestType, LockSync,
    LoginRequest, LoginResponse, MeResponse, PropertyView, ReceiptBatch, ReceiptBatchResponse,
    SetCodeRequest, SyncResponse, UserView, decode_bytes, encode_bytes,
};
use keyway_codes::code::{AccessPoint, CodeKind, Origin};
use keyway_codes::policy::{ModelConstraint, Violation};
use keyway_codes::schedule::Schedule;
use keyway_delivery::{
    Backoff, DeliveryConfig, DeliveryEngine, DeliveryFailure, DeliveryOutcome, LockTransport,
    TransportError,
};
use keyway_protocol::LockId;

/// Most receipts in one upload (the server's limit).
pub const MAX_RECEIPTS_PER_BATCH: usize = 256;

/// How the client retries a call to the server that failed on the way
/// (network errors, 5xx, 429) within one sync.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// Delays between attempts (doubling, with jitter).
    pub backoff: Backoff,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            attempts: 3,
            backoff: Backoff {
                initial: Duration::from_millis(200),
                max: Duration::from_secs(5),
                jitter: 0.5,
            },
        }
    }
}

/// Where the client keeps its data and whom it talks to.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientConfig {
    /// The server, like `https://keyway.example.org` (a path prefix is
    /// allowed; no query, fragment or credentials). [`Client::open`] refuses
    /// plain `http://` unless the host is this device (`localhost`,
    /// `127.0.0.0/8`, `[::1]`): `invalid_argument`.
    pub server_url: String,
    /// A directory of the app's own; the store is `keyway.sqlite3` in it.
    pub data_dir: PathBuf,
    /// The name this device gets at login ("Alice's Pixel").
    pub device_name: String,
    /// The longest wait for one HTTP answer.
    pub request_timeout: Duration,
    /// Retries of failed calls.
    pub retry: RetryPolicy,
    /// How deliveries scan, connect and retry.
    pub delivery: DeliveryConfig,
}

impl ClientConfig {
    /// A configuration with default timeouts and retries.
    pub fn new(
        server_url: impl Into<String>,
        data_dir: impl Into<PathBuf>,
        device_name: impl Into<String>,
    ) -> Self {
        Self {
            server_url: server_url.into(),
            data_dir: data_dir.into(),
            device_name: device_name.into(),
            request_timeout: Duration::from_secs(30),
            retry: RetryPolicy::default(),
            delivery: DeliveryConfig::default(),
        }
    }
}

/// The logged-in device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Session {
    /// Who is logged in.
    pub user: UserView,
    /// Their property and its policy.
    pub property: PropertyView,
    /// This device's id at the server.
    pub device_id: String,
}

/// A door the user may use or carry jobs to, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct Door {
    /// The lock's id (16 hex digits).
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// The kind of door.
    pub access_point: AccessPoint,
    /// The unit, for unit doors.
    pub unit_id: Option<String>,
    /// Whether its keypad has an enter key.
    pub enter_key: bool,
    /// Its model's constraints.
    pub constraints: Vec<ModelConstraint>,
    /// The version the server last confirmed on the lock.
    pub confirmed_version: u32,
    /// The version the server wants it at (`None`: nothing to carry).
    pub target_version: Option<u32>,
    /// A change waits to be carried to it (sealed at the door, on the next visit).
    pub job_waiting: bool,
}

/// A request queued on the phone that the server has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum PendingOp {
    /// Create the code.
    Create,
    /// New digits.
    Change,
    /// Deactivate.
    Disable,
    /// Reactivate.
    Enable,
    /// Delete.
    Delete,
}

impl PendingOp {
    /// The stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Change => "change",
            Self::Disable => "disable",
            Self::Enable => "enable",
            Self::Delete => "delete",
        }
    }

    /// Parses [`PendingOp::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Create,
            Self::Change,
            Self::Disable,
            Self::Enable,
            Self::Delete,
        ]
        .into_iter()
        .find(|op| op.as_str() == text)
    }
}

/// The server refused a queued request; the app shows it until dismissed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct RequestFailure {
    /// What was asked.
    pub op: PendingOp,
    /// The server's stable problem code (`policy_violation`, `lock_full`, ...).
    pub code: String,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every rule broken.
    pub violations: Vec<Violation>,
}

/// A code as the app shows it: the server's view with the phone's queued
/// requests laid over it (`Code` in Kotlin, Swift and Python).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record), uniffi(name = "Code"))]
pub struct LocalCode {
    /// The id on this phone: the server's id, or for a code created here a
    /// local id that never changes (even once the server has accepted it).
    pub id: String,
    /// The server's id, once it accepted the code.
    pub server_id: Option<String>,
    /// What it is for.
    pub kind: CodeKind,
    /// Picked or generated (`None` when not known).
    pub origin: Option<Origin>,
    /// A name.
    pub name: Option<String>,
    /// For guest codes.
    pub guest_type: Option<GuestType>,
    /// The unit.
    pub unit_id: Option<String>,
    /// The digits, when known (a generate queued offline has none yet).
    pub value: Option<String>,
    /// When it opens.
    pub schedule: Schedule,
    /// Meant to open (not deactivated).
    pub enabled: bool,
    /// Overall status.
    pub status: CodeStatus,
    /// Its state on each lock (`requested` while queued on the phone).
    pub locks: Vec<CodeOnLock>,
    /// A request queued on the phone for it.
    pub pending: Option<PendingOp>,
    /// The last request the server refused.
    pub failure: Option<RequestFailure>,
    /// When it was created.
    pub created_at: Timestamp,
    /// When it last changed.
    pub updated_at: Timestamp,
}

impl LocalCode {
    /// Its state on `lock_id`, if it is meant for that lock.
    pub fn state_on(&self, lock_id: &str) -> Option<CodeState> {
        self.locks
            .iter()
            .find(|l| l.lock_id == lock_id)
            .map(|l| l.state)
    }
}

/// A new code: what it is for and where it goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCode {
    /// `Resident` or `Guest`.
    pub kind: CodeKind,
    /// A name ("Dog walker").
    pub name: Option<String>,
    /// For guest codes (default permanent).
    pub guest_type: Option<GuestType>,
    /// For temporary, delivery (a window) and recurring guest codes.
    pub schedule: Option<Schedule>,
    /// The doors; default: the unit's doors, plus the community doors for
    /// generated resident codes.
    pub lock_ids: Option<Vec<String>>,
    /// The length to generate (4, or 6 where the community allows it).
    pub length: Option<u8>,
    /// The unit (staff and managers only).
    pub unit_id: Option<String>,
}

impl NewCode {
    /// A resident's own code on the default doors.
    pub fn resident() -> Self {
        Self {
            kind: CodeKind::Resident,
            name: None,
            guest_type: None,
            schedule: None,
            lock_ids: None,
            length: None,
            unit_id: None,
        }
    }

    /// A guest code of `guest_type` with `schedule`.
    pub fn guest(guest_type: GuestType, schedule: Option<Schedule>) -> Self {
        Self {
            kind: CodeKind::Guest,
            guest_type: Some(guest_type),
            schedule,
            ..Self::resident()
        }
    }

    fn request(&self, mode: CodeMode, code: Option<String>) -> CreateCodeRequest {
        CreateCodeRequest {
            kind: self.kind,
            mode,
            code,
            length: self.length,
            name: self.name.clone(),
            guest_type: self.guest_type,
            schedule: self.schedule.clone(),
            lock_ids: self.lock_ids.clone(),
            unit_id: self.unit_id.clone(),
        }
    }
}

/// What one delivery did at one lock.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct LockVisit {
    /// The lock.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// What the visit came to.
    pub outcome: VisitOutcome,
}

/// What a visit to one lock came to, as the app shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
pub enum VisitOutcome {
    /// The lock took the server's jobs and answered with this many sealed
    /// receipts (uploaded, or kept for the next sync).
    Delivered {
        /// Sealed receipts brought back.
        receipts: u32,
    },
    /// The server settled the lock's status and had nothing to send.
    Checked,
    /// The visit did not complete (out of range, the link dropped, the lock
    /// or the server refused, …).
    Failed {
        /// Why.
        failure: DeliveryFailure,
    },
}

impl VisitOutcome {
    /// The stable machine code: `delivered`, `checked`, or the failure's
    /// (`out_of_range`, `server_unreachable`, `connection_lost`, …).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Checked => "checked",
            Self::Failed { failure } => failure.code(),
        }
    }

    /// The sealed receipts the lock answered with (none unless delivered).
    pub fn receipts(&self) -> u32 {
        match self {
            Self::Delivered { receipts } => *receipts,
            Self::Checked | Self::Failed { .. } => 0,
        }
    }
}

impl From<&DeliveryOutcome> for VisitOutcome {
    fn from(outcome: &DeliveryOutcome) -> Self {
        match outcome {
            DeliveryOutcome::Delivered { receipts } => Self::Delivered {
                receipts: u32::try_from(receipts.len()).unwrap_or(u32::MAX),
            },
            DeliveryOutcome::Checked => Self::Checked,
            DeliveryOutcome::Failed(failure) => Self::Failed {
                failure: failure.clone(),
            },
        }
    }
}

/// What [`Client::deliver_nearby`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct DeliveryReport {
    /// The user's locks recognised in the scan.
    pub heard: u32,
    /// Per lock of the user's that was heard and needed something.
    pub locks: Vec<LockVisit>,
    /// Receipts uploaded to the server.
    pub receipts_uploaded: u32,
    /// Whether the server was reached to upload and settle.
    pub synced: bool,
}

/// What [`Client::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Record))]
pub struct SyncReport {
    /// Requests the server accepted.
    pub sent: u32,
    /// Requests the server refused (now shown as failures).
    pub refused: u32,
    /// Requests still queued (the server could not be reached).
    pub queued: u32,
    /// Receipts uploaded.
    pub receipts_uploaded: u32,
    /// Delta pages applied.
    pub pages: u32,
    /// The server asked the phone to hold its queued requests this long
    /// (rate limited); they are sent by the first sync after it.
    pub retry_after: Option<Duration>,
}

/// Something the app shows changed (`KeywayEvent` in Kotlin, Swift and
/// Python).
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum), uniffi(name = "KeywayEvent"))]
// Crosses the FFI by value (uniffi lowers enum fields; it cannot box them).
#[allow(clippy::large_enum_variant)]
pub enum ClientEvent {
    /// A code appeared or changed (state on a lock, digits, pending request,
    /// failure).
    CodeChanged {
        /// The code now.
        code: LocalCode,
    },
    /// A code is gone (deleted and removed from every lock, or dismissed).
    CodeRemoved {
        /// Its id on this phone.
        id: String,
    },
    /// A lock was visited by a delivery.
    Delivery {
        /// What happened there.
        visit: LockVisit,
    },
    /// The server became reachable or unreachable.
    Connectivity {
        /// Whether the last call reached it.
        online: bool,
    },
}

/// A named point in the client's work, for fault-injection tests (the kill
/// test stops the process at each one). Production apps set no hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// A request is about to be committed to the outbox.
    Queueing,
    /// A request was committed to the outbox.
    OutboxCommitted,
    /// A request is about to be sent (its attempt is recorded).
    Sending,
    /// The server answered a request; the answer is not committed yet.
    Answered,
    /// The answer is committed (the request left the outbox).
    AnswerCommitted,
    /// A delta page is applied inside its transaction, not committed yet.
    DeltaApplying,
    /// A delta page and its cursor are committed.
    DeltaCommitted,
    /// A lock answered a delivery; its receipts are not stored yet.
    ReceiptsCollected,
    /// Receipts are stored.
    ReceiptsStored,
    /// A receipt batch was accepted; it is not removed locally yet.
    ReceiptsUploaded,
}

impl Stage {
    /// Every stage.
    pub const ALL: [Stage; 10] = [
        Self::Queueing,
        Self::OutboxCommitted,
        Self::Sending,
        Self::Answered,
        Self::AnswerCommitted,
        Self::DeltaApplying,
        Self::DeltaCommitted,
        Self::ReceiptsCollected,
        Self::ReceiptsStored,
        Self::ReceiptsUploaded,
    ];

    /// The stable snake_case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queueing => "queueing",
            Self::OutboxCommitted => "outbox_committed",
            Self::Sending => "sending",
            Self::Answered => "answered",
            Self::AnswerCommitted => "answer_committed",
            Self::DeltaApplying => "delta_applying",
            Self::DeltaCommitted => "delta_committed",
            Self::ReceiptsCollected => "receipts_collected",
            Self::ReceiptsStored => "receipts_stored",
            Self::ReceiptsUploaded => "receipts_uploaded",
        }
    }

    /// Parses [`Stage::as_str`] output.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// A callback at each [`Stage`].
pub type StageHook = Arc<dyn Fn(Stage) + Send + Sync>;

/// A queued request, as the outbox holds it (for diagnostics and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedRequest {
    /// Position in the outbox.
    pub seq: i64,
    /// The code it is for (id on this phone).
    pub code_id: String,
    /// What it asks.
    pub op: PendingOp,
    /// Its idempotency key.
    pub idempotency_key: String,
    /// Attempts made.
    pub attempts: u32,
    /// Refused by the server (kept until dismissed).
    pub failed: bool,
}

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
    /// forgets the previous user's data.
    pub async fn login(&self, api_token: &str) -> Result<Session, ClientError> {
        let api_token = api_token.trim();
        if api_token.is_empty() || api_token.len() > 200 {
            return Err(ClientError::invalid("the API token is empty or too long"));
        }
        let _busy = self.inner.busy.lock().await;
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
