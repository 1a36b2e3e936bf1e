//! The phone's client (feature `client`): the offline store, sync with the
//! server, and delivery of sealed jobs to locks in range. The mobile bindings
//! and the desktop `keyway` command are thin layers over [`Client`].
//!
//! This module owns the phone's side of the system end to end:
//!
//! - **Store** (`store`): one SQLite file with a mirror of what the server
//!   last said, the local overlay (codes created here, the outbox of requests
//!   each with its idempotency key), receipts waiting for upload, the sync
//!   cursor and the device token. Every change is one transaction; the file
//!   survives a kill at any instant.
//! - **Requests**: picking, generating, changing, disabling, enabling and
//!   deleting codes are queued first (one transaction), checked locally with
//!   the server's own policy engine, shown as `requested`, then sent.
//! - **Sync** ([`Client::sync`]): uploads the outbox oldest first (retries
//!   with backoff and jitter; the server's idempotency turns a retry into the
//!   first answer), uploads receipts in batches, pulls the delta since the
//!   cursor page by page (each page one transaction).
//! - **Delivery** ([`Client::deliver_nearby`]): scans, carries each lock's
//!   sealed job when the lock advertises another version, asks locks with
//!   pending audit events (or a lost receipt) for a status, stores the
//!   receipts, uploads them and pulls the settled states.
//! - **Events** ([`Client::subscribe`]): every change of a code as the app
//!   shows it, after each committed transaction.
//!
//! Nothing here logs a code, a key, a token or a job's bytes.

mod error;
mod http;
mod store;
mod view;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::Timestamp;
use reqwest::Method;
use tokio::sync::broadcast;

pub use error::ClientError;

use self::http::{CallError, Http};
use self::store::{OutboxRow, Store};
use crate::api::{
    CodeMode, CodeOnLock, CodeState, CodeStatus, CodeView, CreateCodeRequest, GuestType, LockSync,
    LoginRequest, LoginResponse, MeResponse, PropertyView, ReceiptBatch, ReceiptBatchResponse,
    SetCodeRequest, SyncResponse, UserView, decode_bytes, encode_bytes,
};
use crate::code::{AccessPoint, CodeKind, Origin};
use crate::delivery::{
    Backoff, DeliveryConfig, DeliveryEngine, DeliveryOutcome, LockJobs, LockTransport,
    TransportError,
};
use crate::policy::{ModelConstraint, Violation};
use crate::protocol::LockId;
use crate::schedule::Schedule;

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
    /// The server, like `https://keyway.example.org` (no path).
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
    /// The version its waiting job brings it to (`None`: nothing to carry).
    pub target_version: Option<u32>,
    /// A sealed job waits to be carried to it.
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
/// requests laid over it.
#[derive(Debug, Clone, PartialEq, Eq)]
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
pub struct LockDelivery {
    /// The lock.
    pub lock_id: String,
    /// Its name.
    pub name: String,
    /// `delivered`, `status_fetched`, `up_to_date`, or a failure code
    /// (`out_of_range`, `connection_lost`, `timed_out`, `lock_refused`, ...).
    pub outcome: String,
    /// Sealed receipts brought back.
    pub receipts: u32,
}

/// What [`Client::deliver_nearby`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Keyway locks heard in the scan (the user's and others').
    pub heard: u32,
    /// Per lock of the user's that was heard and needed something.
    pub locks: Vec<LockDelivery>,
    /// Receipts uploaded to the server.
    pub receipts_uploaded: u32,
    /// Whether the server was reached to upload and settle.
    pub synced: bool,
}

/// What [`Client::sync`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
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

/// Something the app shows changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientEvent {
    /// A code appeared or changed (state on a lock, digits, pending request,
    /// failure).
    CodeChanged(Box<LocalCode>),
    /// A code is gone (deleted and removed from every lock, or dismissed).
    CodeRemoved {
        /// Its id on this phone.
        id: String,
    },
    /// A lock was visited by a delivery.
    Delivery(LockDelivery),
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
    /// Opens (or creates) the store in `config.data_dir`. Nothing goes over
    /// the network.
    pub fn open(config: ClientConfig) -> Result<Self, ClientError> {
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
        let (events, _) = broadcast::channel(256);
        let client = Self {
            inner: Arc::new(Inner {
                config,
                store,
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

    fn token(&self) -> Result<String, ClientError> {
        self.inner
            .store
            .read(|conn| store::get_meta(conn, "device_token"))?
            .ok_or(ClientError::NotLoggedIn)
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
        self.inner.store.write(|tx| {
            let previous: Option<UserView> = store::get_meta_json(&tx.tx, "user")?;
            if previous.is_some_and(|p| p.id != answer.user.id) {
                store::wipe(tx)?;
            }
            store::set_meta(&tx.tx, "device_token", &answer.device_token)?;
            store::set_meta(&tx.tx, "device_id", &answer.device_id)?;
            store::set_meta(&tx.tx, "user", &serde_json::to_string(&me.user)?)?;
            store::set_meta(&tx.tx, "property", &serde_json::to_string(&me.property)?)?;
            Ok(())
        })?;
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

    /// Logs this device out at the server (best effort) and forgets
    /// everything stored, queued requests included.
    pub async fn logout(&self) -> Result<(), ClientError> {
        let _busy = self.inner.busy.lock().await;
        if let Ok(token) = self.token() {
            let result: Result<serde_json::Value, CallError> = self
                .inner
                .http
                .call(Method::POST, "/v1/logout", Some(&token), None, None::<&()>)
                .await;
            if let Err(e) = result {
                log::info!(
                    "logout at the server failed: {}",
                    e.into_client_error().code()
                );
            }
        }
        self.inner.store.write(store::wipe)?;
        self.publish();
        Ok(())
    }

    // ---- reads ----

    /// The doors the user may use or carry jobs to, as last synced.
    pub fn doors(&self) -> Result<Vec<Door>, ClientError> {
        let locks = self.inner.store.read(store::locks)?;
        Ok(locks
            .into_iter()
            .map(|l| Door {
                job_waiting: l.job.is_some(),
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

    // ---- local checks ----

    /// Checks digits a person picked for a new code, on the phone, with the
    /// same policy engine and the same door data as the server: every
    /// violated rule, no network.
    pub fn check_code(&self, code: &str, new: &NewCode) -> Result<(), ClientError> {
        let request = new.request(CodeMode::Pick, Some(code.to_owned()));
        self.inner.store.read(|conn| {
            let locks = view::request_locks(conn, &request)?;
            let ctx = view::check_context(conn, new.kind, Origin::Custom, None, &locks, None)?;
            ctx.check_text(code)?;
            Ok(())
        })
    }

    /// Checks digits picked as the new value of an existing code.
    pub fn check_change(&self, id: &str, code: &str) -> Result<(), ClientError> {
        let current = self.code(id)?;
        let locks: Vec<String> = current
            .locks
            .iter()
            .filter(|l| !matches!(l.state, CodeState::Removed | CodeState::Failed))
            .map(|l| l.lock_id.clone())
            .collect();
        self.inner.store.read(|conn| {
            let ctx = view::check_context(
                conn,
                current.kind,
                Origin::Custom,
                None,
                &locks,
                Some(&current.id),
            )?;
            ctx.check_text(code)?;
            Ok(())
        })
    }

    // ---- requests ----

    /// Picks `code` for a new code: checked locally (every violated rule, no
    /// network), queued, shown as `requested`, then sent. Offline it stays
    /// `requested` and goes out on the next sync.
    pub async fn pick_code(&self, code: &str, new: NewCode) -> Result<LocalCode, ClientError> {
        validate_new(&new)?;
        let request = new.request(CodeMode::Pick, Some(code.trim().to_owned()));
        self.stage(Stage::Queueing);
        let (id, seq) = self.inner.store.write(|tx| {
            let locks = view::request_locks(&tx.tx, &request)?;
            let ctx = view::check_context(&tx.tx, new.kind, Origin::Custom, None, &locks, None)?;
            let checked = ctx.check_text(code.trim())?;
            self.enqueue_create(tx, request.clone(), locks, Some(checked.as_str()))
        })?;
        self.after_request(&id, seq).await
    }

    /// Generates a new code. Online the server draws it. When the server
    /// cannot be reached and a custom code would be accepted on every door
    /// (a resident's code on unit doors only), the phone draws it with the
    /// same generator and sends it as a pick; otherwise the code is shown as
    /// `requested` without digits until the server draws them.
    pub async fn generate_code(&self, new: NewCode) -> Result<LocalCode, ClientError> {
        validate_new(&new)?;
        let request = new.request(CodeMode::Generate, None);
        self.stage(Stage::Queueing);
        let (id, seq) = self.inner.store.write(|tx| {
            let locks = view::request_locks(&tx.tx, &request)?;
            // Fails early on a length the community does not allow.
            let ctx = view::check_context(
                &tx.tx,
                new.kind,
                Origin::Generated,
                new.length,
                &locks,
                None,
            )?;
            if let Some(length) = new.length
                && !ctx
                    .community
                    .allowed_lengths(new.kind)
                    .contains(&usize::from(length))
            {
                return Err(ClientError::PolicyViolation(crate::policy::Rejection {
                    violations: vec![ctx.length_violation()],
                }));
            }
            self.enqueue_create(tx, request.clone(), locks, None)
        })?;
        self.after_request(&id, seq).await
    }

    /// Gives a code new digits: `pick` (checked locally) or generated by the
    /// server (`None`). The old digits open the doors until each lock confirms.
    pub async fn change_code(
        &self,
        id: &str,
        pick: Option<&str>,
        length: Option<u8>,
    ) -> Result<LocalCode, ClientError> {
        if let Some(code) = pick {
            self.check_change(id, code.trim())?;
        }
        let body = SetCodeRequest {
            mode: if pick.is_some() {
                CodeMode::Pick
            } else {
                CodeMode::Generate
            },
            code: pick.map(|c| c.trim().to_owned()),
            length,
        };
        self.request_op(id, PendingOp::Change, serde_json::to_string(&body)?)
            .await
    }

    /// Deactivates a code (kept on the locks, refused at the keypad).
    pub async fn disable_code(&self, id: &str) -> Result<LocalCode, ClientError> {
        self.request_op(id, PendingOp::Disable, "{}".into()).await
    }

    /// Reactivates a disabled code.
    pub async fn enable_code(&self, id: &str) -> Result<LocalCode, ClientError> {
        self.request_op(id, PendingOp::Enable, "{}".into()).await
    }

    /// Deletes a code: it leaves every lock. A code the server never saw is
    /// simply dropped.
    pub async fn delete_code(&self, id: &str) -> Result<LocalCode, ClientError> {
        let dropped = self.inner.store.write(|tx| {
            let rows = store::local_codes(&tx.tx)?;
            let Some(row) = rows.iter().find(|r| r.id == id) else {
                return Ok(None);
            };
            if row.server_id.is_some() {
                return Ok(None);
            }
            // Never sent (or refused): nothing at the server to delete.
            let entries = store::outbox(&tx.tx)?;
            let sent = entries.iter().any(|e| {
                e.code_id == id && e.op == "create" && e.maybe_sent && e.state != "failed"
            });
            if sent {
                return Ok(None);
            }
            let code = view::codes(&tx.tx)?.into_iter().find(|c| c.id == id);
            store::delete_local(tx, id)?;
            Ok(code)
        })?;
        if let Some(mut code) = dropped {
            self.publish();
            code.status = CodeStatus::Deleted;
            for lock in &mut code.locks {
                lock.state = CodeState::Removed;
            }
            code.pending = None;
            return Ok(code);
        }
        self.request_op(id, PendingOp::Delete, "{}".into()).await
    }

    /// Forgets a refused request (and a refused new code).
    pub fn dismiss_failure(&self, id: &str) -> Result<(), ClientError> {
        self.inner.store.write(|tx| {
            let rows = store::local_codes(&tx.tx)?;
            let unaccepted = rows.iter().any(|r| r.id == id && r.server_id.is_none());
            let entries = store::outbox(&tx.tx)?;
            let failed_create = entries
                .iter()
                .any(|e| e.code_id == id && e.op == "create" && e.state == "failed");
            if unaccepted && failed_create {
                store::delete_local(tx, id)?;
            } else {
                tx.tx.execute(
                    "DELETE FROM outbox WHERE code_id = ?1 AND state = 'failed'",
                    [id],
                )?;
            }
            Ok(())
        })?;
        self.publish();
        Ok(())
    }

    fn enqueue_create(
        &self,
        tx: &store::Tx<'_>,
        request: CreateCodeRequest,
        lock_ids: Vec<String>,
        value: Option<&str>,
    ) -> Result<(String, i64), ClientError> {
        let id = format!("lc_{}", random_hex(12));
        store::insert_local(
            tx,
            &store::LocalRow {
                id: id.clone(),
                server_id: None,
                request: request.clone(),
                lock_ids,
                value: value.map(str::to_owned),
                created_at: store::now(),
            },
        )?;
        let seq = store::enqueue(
            tx,
            &id,
            PendingOp::Create.as_str(),
            &serde_json::to_string(&request)?,
            &idempotency_key(),
        )?;
        Ok((id, seq))
    }

    async fn request_op(
        &self,
        id: &str,
        op: PendingOp,
        body: String,
    ) -> Result<LocalCode, ClientError> {
        let current = self.code(id)?;
        if matches!(current.status, CodeStatus::Deleted) && op != PendingOp::Delete {
            return Err(ClientError::Refused {
                status: 409,
                code: "code_ended".into(),
                detail: "this code is deleted and can no longer change".into(),
            });
        }
        self.stage(Stage::Queueing);
        let seq = self.inner.store.write(|tx| {
            if store::resolve(&tx.tx, &current.id)?.is_none() {
                return Err(ClientError::not_found("code"));
            }
            store::enqueue(tx, &current.id, op.as_str(), &body, &idempotency_key())
        })?;
        match self.after_request(&current.id, seq).await {
            // Deleted before it reached any lock: already a tombstone.
            Err(ClientError::NotFound { .. }) if op == PendingOp::Delete => {
                let mut gone = current;
                gone.status = CodeStatus::Deleted;
                gone.pending = None;
                for lock in &mut gone.locks {
                    lock.state = CodeState::Removed;
                }
                Ok(gone)
            }
            other => other,
        }
    }

    /// After a request is committed: show it, send it (with anything queued
    /// before it) and pull. A refusal of this very request is returned as
    /// the error and leaves nothing behind; a network failure leaves it
    /// queued and returns the code as `requested`.
    async fn after_request(&self, id: &str, seq: i64) -> Result<LocalCode, ClientError> {
        self.stage(Stage::OutboxCommitted);
        self.publish();
        let outcome = {
            let _busy = self.inner.busy.lock().await;
            self.sync_locked().await
        };
        let entry = self
            .inner
            .store
            .read(|conn| store::outbox_entry(conn, seq))?;
        if let Some(entry) = entry
            && entry.state == "failed"
        {
            let error = entry
                .error
                .clone()
                .map(ClientError::from_problem)
                .unwrap_or(ClientError::Refused {
                    status: 400,
                    code: "refused".into(),
                    detail: "the server refused the request".into(),
                });
            self.inner.store.write(|tx| {
                if entry.op == "create" {
                    store::delete_local(tx, id)
                } else {
                    store::remove_entry(tx, seq)
                }
            })?;
            self.publish();
            return Err(error);
        }
        match outcome {
            Ok(_) => {}
            Err(e @ ClientError::Unauthorized { .. }) => return Err(e),
            Err(e) => log::info!("the request stays queued: {}", e.code()),
        }
        self.code(id)
    }

    // ---- sync ----

    /// Uploads the outbox and the receipts, then pulls what changed since
    /// the cursor. Fails with `network` when the server cannot be reached
    /// (queued requests stay queued).
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        let _busy = self.inner.busy.lock().await;
        self.sync_locked().await
    }

    async fn sync_locked(&self) -> Result<SyncReport, ClientError> {
        let token = self.token()?;
        let mut report = SyncReport::default();
        let push = self.push_outbox(&token, &mut report).await;
        self.publish();
        push?;
        report.receipts_uploaded = self.upload_receipts(&token).await?;
        let me: MeResponse = self
            .call_with_retries(Method::GET, "/v1/me", Some(&token), None, None::<&()>)
            .await?;
        self.inner.store.write(|tx| {
            store::set_meta(&tx.tx, "user", &serde_json::to_string(&me.user)?)?;
            store::set_meta(&tx.tx, "property", &serde_json::to_string(&me.property)?)
        })?;
        report.pages = self.pull(&token).await?;
        self.publish();
        Ok(report)
    }

    /// Sends queued requests oldest first until the outbox is empty or the
    /// server cannot be reached.
    async fn push_outbox(&self, token: &str, report: &mut SyncReport) -> Result<(), ClientError> {
        if let Some(wait) = self.held() {
            report.retry_after = Some(wait);
            return Ok(());
        }
        loop {
            let Some(entry) = self.inner.store.read(store::next_queued)? else {
                return Ok(());
            };
            match self.send_entry(token, &entry).await? {
                Sent::Accepted => report.sent += 1,
                Sent::Refused(e) => {
                    log::info!("request {} refused: {}", entry.seq, e.code());
                    report.refused += 1;
                }
                Sent::Held(wait) => {
                    log::info!("the server asks to hold requests for {} s", wait.as_secs());
                    report.retry_after = Some(wait);
                    return Ok(());
                }
                Sent::Unreachable(e, never_sent) => {
                    if never_sent {
                        self.draw_offline_all()?;
                    }
                    report.queued = self
                        .inner
                        .store
                        .read(store::outbox)?
                        .iter()
                        .filter(|e| e.state == "queued")
                        .count() as u32;
                    return Err(e);
                }
            }
        }
    }

    async fn send_entry(&self, token: &str, entry: &OutboxRow) -> Result<Sent, ClientError> {
        let Some(op) = PendingOp::parse(&entry.op) else {
            self.inner
                .store
                .write(|tx| store::remove_entry(tx, entry.seq))?;
            return Ok(Sent::Accepted);
        };
        let (method, path) = match op {
            PendingOp::Create => (Method::POST, "/v1/codes".to_owned()),
            other => {
                let server_id = match self
                    .inner
                    .store
                    .read(|c| store::resolve(c, &entry.code_id))?
                {
                    Some(Some(server_id)) => server_id,
                    Some(None) => {
                        // Its create was refused (older entries go first).
                        let problem = ClientError::Refused {
                            status: 409,
                            code: "create_failed".into(),
                            detail: "the code was never created".into(),
                        }
                        .to_problem();
                        self.inner
                            .store
                            .write(|tx| store::mark_failed(tx, entry.seq, &problem))?;
                        return Ok(Sent::Refused(ClientError::from_problem(problem)));
                    }
                    None => {
                        self.inner
                            .store
                            .write(|tx| store::remove_entry(tx, entry.seq))?;
                        return Ok(Sent::Accepted);
                    }
                };
                match other {
                    PendingOp::Change => (Method::POST, format!("/v1/codes/{server_id}/change")),
                    PendingOp::Disable => (Method::POST, format!("/v1/codes/{server_id}/disable")),
                    PendingOp::Enable => (Method::POST, format!("/v1/codes/{server_id}/enable")),
                    _ => (Method::DELETE, format!("/v1/codes/{server_id}")),
                }
            }
        };
        let body: serde_json::Value = serde_json::from_str(&entry.body)?;
        let body = (method != Method::DELETE).then_some(body);
        let mut entry = entry.clone();
        let attempts = self.inner.config.retry.attempts.max(1);
        let mut last = ClientError::Network {
            detail: "not attempted".into(),
        };
        let mut never_sent = false;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(self.inner.config.retry.backoff.delay(attempt - 1)).await;
            }
            let was_sent = entry.maybe_sent;
            self.inner
                .store
                .write(|tx| store::mark_attempt(tx, entry.seq))?;
            self.stage(Stage::Sending);
            let result: Result<CodeView, CallError> = self
                .inner
                .http
                .call(
                    method.clone(),
                    &path,
                    Some(token),
                    Some(&entry.idem_key),
                    body.as_ref(),
                )
                .await;
            match result {
                Ok(view) => {
                    self.set_online(true);
                    self.stage(Stage::Answered);
                    let body = serde_json::to_string(&view)?;
                    self.inner.store.write(|tx| {
                        if op == PendingOp::Create {
                            store::map_server_id(tx, &entry.code_id, &view.id)?;
                        }
                        store::put_code_if_absent(tx, &view.id, &body)?;
                        store::remove_entry(tx, entry.seq)
                    })?;
                    self.stage(Stage::AnswerCommitted);
                    return Ok(Sent::Accepted);
                }
                Err(CallError::Refused(e @ ClientError::Unauthorized { .. })) => {
                    self.set_online(true);
                    return Err(e);
                }
                Err(CallError::Refused(e)) => {
                    self.set_online(true);
                    let problem = e.to_problem();
                    self.inner
                        .store
                        .write(|tx| store::mark_failed(tx, entry.seq, &problem))?;
                    return Ok(Sent::Refused(e));
                }
                Err(CallError::NotSent(detail)) => {
                    self.set_online(false);
                    self.inner
                        .store
                        .write(|tx| store::mark_not_sent(tx, entry.seq, was_sent))?;
                    entry.maybe_sent = was_sent;
                    last = ClientError::Network { detail };
                    never_sent = true;
                }
                Err(CallError::Transient(e)) => {
                    self.set_online(matches!(e, ClientError::Server { .. }));
                    entry.maybe_sent = true;
                    last = e;
                    never_sent = false;
                }
                Err(CallError::Throttled { retry_after, .. }) => {
                    self.set_online(true);
                    self.hold(retry_after);
                    return Ok(Sent::Held(retry_after));
                }
            }
        }
        Ok(Sent::Unreachable(last, never_sent))
    }

    /// The server cannot be reached: every queued generate it never saw is
    /// drawn here where a pick would be accepted.
    fn draw_offline_all(&self) -> Result<(), ClientError> {
        let entries = self.inner.store.read(store::outbox)?;
        let mut drew = false;
        for entry in entries
            .iter()
            .filter(|e| e.state == "queued" && e.op == "create" && !e.maybe_sent)
        {
            drew |= self.draw_offline(entry)?;
        }
        if drew {
            self.publish();
        }
        Ok(())
    }

    /// A generate the server never saw, while it cannot be reached: draw the
    /// digits here and send them as a pick, where a pick would be accepted.
    fn draw_offline(&self, entry: &OutboxRow) -> Result<bool, ClientError> {
        let request: CreateCodeRequest = serde_json::from_str(&entry.body)?;
        if request.mode != CodeMode::Generate {
            return Ok(false);
        }
        self.inner.store.write(|tx| {
            let rows = store::local_codes(&tx.tx)?;
            let Some(row) = rows.iter().find(|r| r.id == entry.code_id) else {
                return Ok(false);
            };
            let ctx = view::check_context(
                &tx.tx,
                request.kind,
                Origin::Custom,
                request.length,
                &row.lock_ids,
                Some(&row.id),
            )?;
            if !view::may_draw_locally(&ctx) {
                return Ok(false);
            }
            let mut rng = crate::secure_rng()?;
            let code = crate::generate(&ctx, &mut rng)?;
            let pick = CreateCodeRequest {
                mode: CodeMode::Pick,
                code: Some(code.as_str().to_owned()),
                length: None,
                lock_ids: Some(row.lock_ids.clone()),
                ..request.clone()
            };
            store::rewrite(
                tx,
                entry.seq,
                &serde_json::to_string(&pick)?,
                &idempotency_key(),
            )?;
            store::update_local_request(tx, &row.id, &pick, Some(code.as_str()))?;
            log::info!(
                "the server is unreachable: drew code {} on the phone",
                row.id
            );
            Ok(true)
        })
    }

    /// Uploads stored receipts in batches; returns how many were accepted.
    async fn upload_receipts(&self, token: &str) -> Result<u32, ClientError> {
        let mut uploaded = 0;
        loop {
            let fresh = idempotency_key();
            let Some((key, rows)) = self
                .inner
                .store
                .write(|tx| store::receipt_batch(tx, MAX_RECEIPTS_PER_BATCH, &fresh))?
            else {
                return Ok(uploaded);
            };
            let batch = ReceiptBatch {
                receipts: rows.iter().map(|r| r.body.clone()).collect(),
            };
            let answer: Result<ReceiptBatchResponse, ClientError> = self
                .call_with_retries(
                    Method::POST,
                    "/v1/receipts",
                    Some(token),
                    Some(&key),
                    Some(&batch),
                )
                .await;
            match answer {
                Ok(answer) => {
                    for result in answer.results.iter().filter(|r| r.status != "accepted") {
                        log::warn!(
                            "the server did not accept a receipt from lock {}: {}",
                            result.lock_id.as_deref().unwrap_or("?"),
                            result.status
                        );
                    }
                    self.stage(Stage::ReceiptsUploaded);
                }
                Err(e) if e.is_transient() || matches!(e, ClientError::Unauthorized { .. }) => {
                    return Err(e);
                }
                Err(e) => {
                    // The server cannot use this batch at all; keeping it
                    // would block every later one.
                    log::warn!("the server refused a receipt batch: {}", e.code());
                }
            }
            uploaded += rows.len() as u32;
            self.inner.store.write(|tx| store::remove_batch(tx, &key))?;
        }
    }

    /// Pulls the delta since the cursor; each page is one transaction.
    async fn pull(&self, token: &str) -> Result<u32, ClientError> {
        let mut pages = 0;
        let mut restarted = false;
        loop {
            let cursor = self.inner.store.read(|c| store::get_meta(c, "cursor"))?;
            let path = match &cursor {
                Some(cursor) => format!("/v1/sync?cursor={}", url_escape(cursor)),
                None => "/v1/sync".to_owned(),
            };
            let page: SyncResponse = match self
                .call_with_retries(Method::GET, &path, Some(token), None, None::<&()>)
                .await
            {
                Ok(page) => page,
                Err(ClientError::Refused { code, .. })
                    if code == "invalid_cursor" && !restarted =>
                {
                    // The server does not know our cursor (restored from a
                    // backup?): start over from scratch.
                    restarted = true;
                    self.inner.store.write(|tx| {
                        tx.tx
                            .execute_batch("DELETE FROM codes_mirror; DELETE FROM locks_mirror;")?;
                        store::delete_meta(&tx.tx, "cursor")
                    })?;
                    continue;
                }
                Err(e) => return Err(e),
            };
            self.inner.store.write(|tx| {
                for code in &page.codes {
                    store::put_code(tx, &code.id, &serde_json::to_string(code)?)?;
                }
                for gone in &page.tombstones {
                    store::tombstone(tx, &gone.id)?;
                }
                for lock in &page.locks {
                    store::put_lock(tx, lock)?;
                }
                self.stage(Stage::DeltaApplying);
                store::set_meta(&tx.tx, "cursor", &page.cursor)
            })?;
            self.stage(Stage::DeltaCommitted);
            pages += 1;
            if !page.has_more {
                return Ok(pages);
            }
        }
    }

    async fn call_with_retries<B: serde::Serialize + ?Sized, T: serde::de::DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, ClientError> {
        let attempts = self.inner.config.retry.attempts.max(1);
        let mut last = ClientError::Network {
            detail: "not attempted".into(),
        };
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(self.inner.config.retry.backoff.delay(attempt - 1)).await;
            }
            match self
                .inner
                .http
                .call(method.clone(), path, token, idempotency_key, body)
                .await
            {
                Ok(answer) => {
                    self.set_online(true);
                    return Ok(answer);
                }
                Err(CallError::Refused(e)) => {
                    self.set_online(true);
                    return Err(e);
                }
                Err(CallError::NotSent(detail)) => {
                    self.set_online(false);
                    last = ClientError::Network { detail };
                }
                Err(CallError::Transient(e)) => {
                    self.set_online(matches!(e, ClientError::Server { .. }));
                    last = e;
                }
                Err(CallError::Throttled { error, .. }) => {
                    self.set_online(true);
                    return Err(error);
                }
            }
        }
        Err(last)
    }

    /// Holds queued requests for `wait` (the server's Retry-After).
    fn hold(&self, wait: Duration) {
        *lock(&self.inner.hold_until) = Some(std::time::Instant::now() + wait);
    }

    /// How much longer queued requests are held, if they are.
    fn held(&self) -> Option<Duration> {
        let mut hold = lock(&self.inner.hold_until);
        match *hold {
            Some(until) if until > std::time::Instant::now() => {
                Some(until - std::time::Instant::now())
            }
            _ => {
                *hold = None;
                None
            }
        }
    }

    fn set_online(&self, online: bool) {
        let changed = {
            let mut state = lock(&self.inner.online);
            let changed = *state != Some(online);
            *state = Some(online);
            changed
        };
        if changed {
            let _ = self.inner.events.send(ClientEvent::Connectivity { online });
        }
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
                    .send(ClientEvent::CodeChanged(Box::new(code.clone())));
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

    // ---- delivery ----

    /// One round of delivery: scans, carries each heard lock's sealed job
    /// when it advertises another version than the job's target, asks locks
    /// with pending audit events (or whose receipt was lost) for a status,
    /// stores every receipt in one transaction, then uploads them and pulls
    /// the settled states (best effort: offline, the receipts wait).
    pub async fn deliver_nearby(&self) -> Result<DeliveryReport, ClientError> {
        let transport =
            lock(&self.inner.transport)
                .clone()
                .ok_or_else(|| ClientError::Bluetooth {
                    detail: "no Bluetooth transport was set".into(),
                })?;
        let _busy = self.inner.busy.lock().await;
        let engine = DeliveryEngine::new(transport, self.inner.config.delivery.clone());
        let locks = self.inner.store.read(store::locks)?;
        let sightings = engine.scan().await.map_err(|e| match e {
            TransportError::AdapterUnavailable(detail) => ClientError::Bluetooth { detail },
            other => ClientError::Bluetooth {
                detail: other.to_string(),
            },
        })?;
        let mut report = DeliveryReport {
            heard: sightings.len() as u32,
            ..DeliveryReport::default()
        };
        let mut collected: Vec<(String, &'static str, Vec<u8>)> = Vec::new();
        for seen in &sightings {
            let Some(lock) = locks
                .iter()
                .find(|l| l.lock_id.parse::<LockId>().ok() == Some(seen.lock_id))
            else {
                continue;
            };
            let mut visit = LockDelivery {
                lock_id: lock.lock_id.clone(),
                name: lock.name.clone(),
                outcome: String::new(),
                receipts: 0,
            };
            let job = job_of(lock);
            let mut need_status = seen.events_pending;
            if let Some((target, job)) = job {
                if seen.version != target {
                    let batch = LockJobs {
                        lock_id: seen.lock_id,
                        target_version: target,
                        jobs: vec![job],
                    };
                    let delivery = engine.deliver(&batch, Some(seen)).await;
                    visit.outcome = delivery.outcome.code().to_owned();
                    if let DeliveryOutcome::Delivered { receipts } = delivery.outcome {
                        visit.receipts += receipts.len() as u32;
                        for receipt in receipts {
                            collected.push((lock.lock_id.clone(), "job", receipt));
                        }
                        need_status = false;
                    }
                } else if lock.confirmed_version != target {
                    // The lock took the job but the server never got the
                    // receipt: a status lets the server settle it.
                    need_status = true;
                }
            }
            if need_status {
                let status = engine.fetch_status(seen, lock.audit_ack).await;
                match status.outcome {
                    Ok(sealed) => {
                        visit.receipts += 1;
                        if visit.outcome.is_empty() {
                            visit.outcome = "status_fetched".into();
                        }
                        collected.push((lock.lock_id.clone(), "status", sealed.sealed));
                    }
                    Err(failure) if visit.outcome.is_empty() => {
                        visit.outcome = failure.code().to_owned();
                    }
                    Err(_) => {}
                }
            }
            if visit.outcome.is_empty() {
                continue;
            }
            report.locks.push(visit);
        }
        if !collected.is_empty() {
            self.stage(Stage::ReceiptsCollected);
            self.inner.store.write(|tx| {
                for (lock_id, kind, receipt) in &collected {
                    store::add_receipt(tx, lock_id, kind, &encode_bytes(receipt))?;
                }
                Ok(())
            })?;
            self.stage(Stage::ReceiptsStored);
        }
        for visit in &report.locks {
            log::info!("lock {}: {}", visit.lock_id, visit.outcome);
            let _ = self.inner.events.send(ClientEvent::Delivery(visit.clone()));
        }
        match self.token() {
            Ok(token) => match self.upload_receipts(&token).await {
                Ok(n) => {
                    report.receipts_uploaded = n;
                    match self.pull(&token).await {
                        Ok(_) => report.synced = true,
                        Err(e) => log::info!("pull after delivery failed: {}", e.code()),
                    }
                }
                Err(e) => log::info!("receipts wait for the next sync: {}", e.code()),
            },
            Err(e) => log::info!("receipts wait for a login: {}", e.code()),
        }
        self.publish();
        Ok(report)
    }

    /// Runs [`Client::deliver_nearby`] (after a sync) every `every` until the
    /// handle is dropped or stopped. Needs a tokio runtime.
    pub fn watch(&self, every: Duration) -> WatchHandle {
        let client = self.clone();
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = client.sync().await {
                    log::debug!("watch: sync failed: {}", e.code());
                }
                if let Err(e) = client.deliver_nearby().await {
                    log::info!("watch: delivery failed: {}", e.code());
                }
                tokio::time::sleep(every).await;
            }
        });
        WatchHandle { task: Some(task) }
    }
}

/// A running [`Client::watch`] loop; dropping it stops the loop.
#[derive(Debug)]
pub struct WatchHandle {
    task: Option<tokio::task::JoinHandle<()>>,
}

impl WatchHandle {
    /// Stops the loop.
    pub fn stop(mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The lock's waiting job and its target version, when it has one.
fn job_of(lock: &LockSync) -> Option<(u32, Vec<u8>)> {
    let target = lock.target_version?;
    let job = decode_bytes(lock.job.as_deref()?)?;
    Some((target, job))
}

fn validate_new(new: &NewCode) -> Result<(), ClientError> {
    if !matches!(new.kind, CodeKind::Resident | CodeKind::Guest) {
        return Err(ClientError::invalid(
            "the app creates resident and guest codes only",
        ));
    }
    if new.name.as_ref().is_some_and(|n| n.chars().count() > 100) {
        return Err(ClientError::invalid("a name has at most 100 characters"));
    }
    match (new.kind, new.guest_type, &new.schedule) {
        (CodeKind::Resident, None, None | Some(Schedule::Always)) => Ok(()),
        (CodeKind::Resident, _, _) => Err(ClientError::invalid(
            "a resident's own code is always valid; use a guest code for schedules",
        )),
        (CodeKind::Guest, None | Some(GuestType::Permanent), None | Some(Schedule::Always)) => {
            Ok(())
        }
        (CodeKind::Guest, Some(GuestType::Temporary), Some(Schedule::Window(_)))
        | (CodeKind::Guest, Some(GuestType::Delivery), None | Some(Schedule::Window(_)))
        | (CodeKind::Guest, Some(GuestType::Recurring), Some(Schedule::Recurring(_))) => Ok(()),
        (CodeKind::Guest, Some(guest), _) => Err(ClientError::invalid(format!(
            "a {} guest code needs {}",
            match guest {
                GuestType::Permanent => "permanent",
                GuestType::Temporary => "temporary",
                GuestType::Recurring => "recurring",
                GuestType::Delivery => "delivery",
            },
            match guest {
                GuestType::Permanent => "no schedule",
                GuestType::Temporary | GuestType::Delivery => "a window schedule",
                GuestType::Recurring => "a recurring schedule",
            }
        ))),
        _ => Err(ClientError::invalid("unsupported code")),
    }
}

/// A fresh idempotency key: 128 random bits.
fn idempotency_key() -> String {
    format!("kw-{}", random_hex(16))
}

fn random_hex(bytes: usize) -> String {
    let mut out = String::with_capacity(bytes * 2);
    for _ in 0..bytes {
        out.push_str(&format!("{:02x}", rand::random::<u8>()));
    }
    out
}

/// Percent-encodes a query value (cursors are digits today; stay safe).
fn url_escape(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests;
