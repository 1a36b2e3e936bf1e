//! `KeywayClient`: the one object an app holds. Each method is a small
//! wrapper around `keyway_client::Client`; async methods run on tokio
//! (uniffi's `tokio` runtime support) and are `suspend` in Kotlin, `async` in
//! Swift and Python. Nothing here panics on input; every failure is a
//! [`KeywayError`].

use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyway_api::{BackupCodeView, ContactDetails, GuestType, NotifyOnUse};
use keyway_client::{
    Client, ClientConfig, ClientEvent, CodeUse, DeliveryReport, Door, LocalCode, NewCode, Session,
    SyncReport, WakeFilter,
};
use keyway_codes::code::CodeKind;
use keyway_codes::schedule::Schedule;

use crate::KeywayError;
use crate::options::CodeOptions;
use keyway_client::SecretStore;
use keyway_delivery::foreign::{ForeignTransport, LockTransport};

/// Implemented by the app to hear every change it shows: a code going
/// `REQUESTED` → `PENDING` → `ACTIVE`, a refusal, a delivery, connectivity.
/// Called on a library thread; hop to the UI thread in the app.
#[uniffi::export(foreign)]
pub trait KeywayListener: Send + Sync {
    /// One change.
    fn on_event(&self, event: ClientEvent);
}

/// The phone's Keyway client: the offline store in `data_dir`, sync with the
/// server at `server_url`, delivery to locks in range.
#[derive(uniffi::Object)]
pub struct KeywayClient {
    client: Client,
    has_transport: Mutex<bool>,
    watch: Mutex<Option<keyway_client::WatchHandle>>,
}

impl std::fmt::Debug for KeywayClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeywayClient").finish_non_exhaustive()
    }
}

impl KeywayClient {
    fn new_code(&self, kind: CodeKind, options: CodeOptions) -> NewCode {
        NewCode {
            kind,
            name: options.name,
            guest_type: None,
            schedule: None,
            lock_ids: options.lock_ids,
            length: options.length,
            unit_id: None,
            notify_on_use: options.notify_on_use,
            offline: false,
        }
    }

    async fn ensure_transport(&self) -> Result<(), KeywayError> {
        let has = *self.has_transport.lock().unwrap_or_else(|p| p.into_inner());
        if has {
            return Ok(());
        }
        #[cfg(feature = "ble")]
        {
            let transport = keyway_delivery::ble::BleTransport::new()
                .await
                .map_err(|e| KeywayError::Bluetooth {
                    detail: e.to_string(),
                })?;
            self.client.set_transport(Arc::new(transport));
            *self.has_transport.lock().unwrap_or_else(|p| p.into_inner()) = true;
            Ok(())
        }
        #[cfg(not(feature = "ble"))]
        Err(KeywayError::Bluetooth {
            detail: "no Bluetooth transport: call set_transport".into(),
        })
    }
}

#[uniffi::export(async_runtime = "tokio")]
impl KeywayClient {
    /// Opens (or creates) the store in `data_dir` for the server at
    /// `server_url` (`https://`; plain `http://` only to the device itself);
    /// `device_name` is what the user sees in their device list. The device
    /// token is kept in `secret_store` — the app's Android Keystore or iOS
    /// Keychain implementation — or, when it is `null`, in a file only the
    /// app can read in `data_dir` (`secrets.json`). A token an older version
    /// kept in the database moves to the secret store here. No network.
    #[uniffi::constructor(default(secret_store = None))]
    pub fn new(
        server_url: String,
        data_dir: String,
        device_name: String,
        secret_store: Option<Arc<dyn SecretStore>>,
    ) -> Result<Arc<Self>, KeywayError> {
        crate::panics::install();
        let config = ClientConfig::new(server_url, data_dir, device_name);
        let client = match secret_store {
            Some(store) => Client::open_with_secret_store(config, store)?,
            None => Client::open(config)?,
        };
        Ok(Arc::new(Self {
            client,
            has_transport: Mutex::new(false),
            watch: Mutex::new(None),
        }))
    }

    /// Trades the API token the operator issued for this device's token and
    /// pulls everything; the device token it replaces is revoked.
    pub async fn login(&self, api_token: String) -> Result<Session, KeywayError> {
        self.client.login(&api_token).await
    }

    /// Logs this device out, deletes its token from the secret store and
    /// forgets everything stored on it (even when the secret store fails,
    /// which is then thrown as `SecretStore`).
    pub async fn logout(&self) -> Result<(), KeywayError> {
        self.client.logout().await
    }

    /// The logged-in session, if any (no network).
    pub fn session(&self) -> Result<Option<Session>, KeywayError> {
        self.client.session()
    }

    /// Sends queued requests and receipts, then pulls what changed. Fails
    /// with `Network` offline (requests stay queued).
    pub async fn sync(&self) -> Result<SyncReport, KeywayError> {
        self.client.sync().await
    }

    /// The doors the user may use or carry jobs to (no network).
    pub fn doors(&self) -> Result<Vec<Door>, KeywayError> {
        self.client.doors()
    }

    /// Every code, with its state on each door (no network).
    pub fn codes(&self) -> Result<Vec<LocalCode>, KeywayError> {
        self.client.codes()
    }

    /// One code by its id (no network).
    pub fn code(&self, id: String) -> Result<LocalCode, KeywayError> {
        self.client.code(&id)
    }

    /// When the user's codes opened doors, newest first, at most `limit`,
    /// as sync brought them (no network).
    pub fn uses(&self, limit: u32) -> Result<Vec<CodeUse>, KeywayError> {
        self.client.uses(limit)
    }

    /// The user's contact details for use notices, from the server.
    pub async fn contact(&self) -> Result<ContactDetails, KeywayError> {
        self.client.contact().await
    }

    /// Sets the user's contact details (`None` or empty clears a field).
    pub async fn set_contact(
        &self,
        email: Option<String>,
        phone: Option<String>,
    ) -> Result<ContactDetails, KeywayError> {
        self.client.set_contact(email, phone).await
    }

    /// Be told by email, SMS or both each time code `id` opens a door, or
    /// stop (`NONE`).
    pub async fn set_notify_on_use(
        &self,
        id: String,
        via: NotifyOnUse,
    ) -> Result<NotifyOnUse, KeywayError> {
        self.client.set_notify_on_use(&id, via).await
    }

    /// A backup code for guest code `id` on `lock_id`, which should open
    /// that door now but has not reached it: 8 digits the lock holds, good
    /// for one entry (online; asking again gives the same one).
    pub async fn request_backup(
        &self,
        id: String,
        lock_id: String,
    ) -> Result<BackupCodeView, KeywayError> {
        self.client.request_backup(&id, &lock_id).await
    }

    /// Checks digits for a new resident code on the phone: every violated
    /// rule, no network.
    pub fn check_code(&self, code: String, options: CodeOptions) -> Result<(), KeywayError> {
        let new = self.new_code(CodeKind::Resident, options);
        self.client.check_code(&code, &new)
    }

    /// Picks digits for a new resident code: checked locally, shown as
    /// `REQUESTED`, sent (offline: on the next sync).
    pub async fn pick_code(
        &self,
        code: String,
        options: CodeOptions,
    ) -> Result<LocalCode, KeywayError> {
        let new = self.new_code(CodeKind::Resident, options);
        self.client.pick_code(&code, new).await
    }

    /// Generates a new resident code (by the server; offline, on the phone
    /// where a pick would be accepted, else it waits without digits).
    pub async fn generate_code(&self, options: CodeOptions) -> Result<LocalCode, KeywayError> {
        let new = self.new_code(CodeKind::Resident, options);
        self.client.generate_code(new).await
    }

    /// Creates a guest code (always generated): permanent (no schedule),
    /// temporary or delivery (a window; delivery defaults to the next 24 h),
    /// recurring (weekdays and a daily window). With `offline` (temporary,
    /// recurring and delivery codes, doors with an enter key and no model
    /// constraints) each door gets its own 8 digits it accepts with no phone
    /// visit (`Code.offline`: digits and exact window per door; a delivery
    /// code's are one-time, a recurring code's cover its first occurrence).
    #[uniffi::method(default(offline = false))]
    pub async fn create_guest_code(
        &self,
        guest_type: GuestType,
        schedule: Option<Schedule>,
        name: Option<String>,
        offline: bool,
    ) -> Result<LocalCode, KeywayError> {
        let mut new = NewCode::guest(guest_type, schedule);
        new.name = name;
        new.offline = offline;
        self.client.generate_code(new).await
    }

    /// Gives a code new digits: `new_code` (checked locally) or generated
    /// (`None`). The old digits open the doors until each lock confirms.
    pub async fn change_code(
        &self,
        id: String,
        new_code: Option<String>,
    ) -> Result<LocalCode, KeywayError> {
        self.client
            .change_code(&id, new_code.as_deref(), None)
            .await
    }

    /// Deactivates a code (kept on the locks, refused at the keypad).
    pub async fn disable_code(&self, id: String) -> Result<LocalCode, KeywayError> {
        self.client.disable_code(&id).await
    }

    /// Reactivates a code.
    pub async fn enable_code(&self, id: String) -> Result<LocalCode, KeywayError> {
        self.client.enable_code(&id).await
    }

    /// Deletes a code from every door.
    pub async fn delete_code(&self, id: String) -> Result<LocalCode, KeywayError> {
        self.client.delete_code(&id).await
    }

    /// Forgets a refused request (and a refused new code).
    pub fn dismiss_failure(&self, id: String) -> Result<(), KeywayError> {
        self.client.dismiss_failure(&id)
    }

    /// Scans once and carries waiting jobs to the user's locks in range
    /// (relaying for shared doors too), then uploads the receipts and pulls
    /// the settled states. Uses the app's transport, else btleplug.
    pub async fn deliver_nearby(&self) -> Result<DeliveryReport, KeywayError> {
        self.ensure_transport().await?;
        self.client.deliver_nearby().await
    }

    /// One visit to `lock_id` within `budget_ms`, for an app the system woke
    /// near a lock (Android companion device presence, iOS background
    /// scanning or state restoration): see docs/bindings.md, "Background
    /// wake-ups".
    pub async fn deliver_to(
        &self,
        lock_id: String,
        budget_ms: u64,
    ) -> Result<DeliveryReport, KeywayError> {
        self.ensure_transport().await?;
        self.client
            .deliver_to(&lock_id, Duration::from_millis(budget_ms))
            .await
    }

    /// What to register with the system to be woken near the user's locks.
    pub fn wake_filter(&self) -> Result<WakeFilter, KeywayError> {
        self.client.wake_filter()
    }

    /// Uses the app's own Bluetooth stack instead of btleplug.
    pub fn set_transport(&self, transport: Arc<dyn LockTransport>) {
        self.client
            .set_transport(Arc::new(ForeignTransport(transport)));
        *self.has_transport.lock().unwrap_or_else(|p| p.into_inner()) = true;
    }

    /// Sends every change to `listener` (replacing none: each call adds one).
    pub fn set_listener(&self, listener: Arc<dyn KeywayListener>) {
        let mut events = self.client.subscribe();
        std::thread::spawn(move || {
            loop {
                match events.blocking_recv() {
                    Ok(event) => listener.on_event(event),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                        log::warn!("the listener missed {n} event(s)");
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
                }
            }
        });
    }

    /// Syncs and delivers every `interval_ms` in the background until
    /// `stop_watching` (e.g. while the app is in the foreground).
    pub async fn start_watching(&self, interval_ms: u64) -> Result<(), KeywayError> {
        self.ensure_transport().await?;
        let handle = self
            .client
            .watch(Duration::from_millis(interval_ms.max(1000)));
        *self.watch.lock().unwrap_or_else(|p| p.into_inner()) = Some(handle);
        Ok(())
    }

    /// Stops the background loop.
    pub fn stop_watching(&self) {
        if let Some(handle) = self.watch.lock().unwrap_or_else(|p| p.into_inner()).take() {
            handle.stop();
        }
    }
}
