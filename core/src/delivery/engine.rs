//! The delivery engine: scan, skip, connect, one `Jobs` message per lock,
//! receipts back, retries with backoff and jitter, typed outcomes.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use super::{DEFAULT_MIN_RSSI, LockLink, LockSighting, LockTransport, TransportError};
use crate::protocol::frame::{Reassembler, split};
use crate::protocol::message::MAX_BATCH;
use crate::protocol::seal::envelope_lock_id;
use crate::protocol::{ErrorCode, LockId, Message};

/// Retry delays: `initial`, doubling per attempt up to `max`, each shortened
/// by a random fraction of up to `jitter` so phones near one door spread out.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// The delay before the second attempt.
    pub initial: Duration,
    /// The longest delay.
    pub max: Duration,
    /// Fraction (0-1) of each delay that is randomised away.
    pub jitter: f64,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(4),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay after failed attempt number `attempt` (from 1).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1).min(16));
        let full = self.initial.saturating_mul(factor).min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0) * rand::random::<f64>();
        full.mul_f64(1.0 - jitter)
    }
}

/// How the engine scans, waits and retries.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryConfig {
    /// How long a scan listens.
    pub scan_time: Duration,
    /// Locks heard weaker than this (dBm) are out of range ([`DEFAULT_MIN_RSSI`]).
    pub min_rssi: i16,
    /// The longest wait for a connection (service discovery included).
    pub connect_timeout: Duration,
    /// The longest wait for each notification of a response.
    pub response_timeout: Duration,
    /// Attempts per lock, the first included.
    pub attempts: u32,
    /// Delays between attempts.
    pub backoff: Backoff,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        Self {
            scan_time: Duration::from_secs(2),
            min_rssi: DEFAULT_MIN_RSSI,
            connect_timeout: Duration::from_secs(10),
            response_timeout: Duration::from_secs(5),
            attempts: 3,
            backoff: Backoff::default(),
        }
    }
}

/// The sealed jobs for one lock and the version they bring it to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockJobs {
    /// The lock.
    pub lock_id: LockId,
    /// The version the lock is at once every job is applied; a lock that
    /// already advertises it is skipped without connecting.
    pub target_version: u32,
    /// Sealed jobs, in the order the lock applies them.
    pub jobs: Vec<Vec<u8>>,
}

/// Why a delivery or a status fetch did not complete. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryFailure {
    /// The lock was not heard, or heard below the RSSI threshold.
    OutOfRange {
        /// The RSSI it was heard at, if it was heard.
        rssi: Option<i16>,
    },
    /// The lock could not read the request and changed nothing (for that job
    /// and the ones after it; jobs before it in the message were applied and
    /// their receipts come back on the next delivery).
    LockRefused {
        /// The lock's unsealed error code.
        error: ErrorCode,
    },
    /// The link dropped on every attempt.
    ConnectionLost,
    /// The lock stopped answering on every attempt.
    TimedOut,
    /// The lock's answer could not be understood.
    BadResponse {
        /// What was wrong with it.
        reason: String,
    },
    /// The jobs cannot be delivered as given (nothing was sent).
    InvalidJobs {
        /// What is wrong with them.
        reason: String,
    },
    /// Bluetooth is off, blocked or absent.
    BluetoothUnavailable {
        /// What the stack said.
        message: String,
    },
}

impl DeliveryFailure {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::OutOfRange { .. } => "out_of_range",
            Self::LockRefused { .. } => "lock_refused",
            Self::ConnectionLost => "connection_lost",
            Self::TimedOut => "timed_out",
            Self::BadResponse { .. } => "bad_response",
            Self::InvalidJobs { .. } => "invalid_jobs",
            Self::BluetoothUnavailable { .. } => "bluetooth_unavailable",
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Self::ConnectionLost | Self::TimedOut | Self::BadResponse { .. } => true,
            Self::LockRefused { error } => {
                matches!(error, ErrorCode::Busy | ErrorCode::MalformedFrame)
            }
            Self::OutOfRange { .. }
            | Self::InvalidJobs { .. }
            | Self::BluetoothUnavailable { .. } => false,
        }
    }
}

impl From<TransportError> for DeliveryFailure {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::AdapterUnavailable(message) => Self::BluetoothUnavailable { message },
            TransportError::NotFound(_) => Self::OutOfRange { rssi: None },
            TransportError::Timeout => Self::TimedOut,
            TransportError::Incompatible(reason) => Self::BadResponse { reason },
            TransportError::ConnectFailed(_)
            | TransportError::Disconnected
            | TransportError::Other(_) => Self::ConnectionLost,
        }
    }
}

/// What became of one lock's jobs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// Every job reached the lock; one sealed receipt per job, in order, for
    /// the server to open (applied, version mismatch or refused).
    Delivered {
        /// The sealed receipts.
        receipts: Vec<Vec<u8>>,
    },
    /// The lock already advertises the target version; nothing was sent.
    UpToDate,
    /// The delivery did not complete.
    Failed(DeliveryFailure),
}

impl DeliveryOutcome {
    /// The stable machine code (`delivered`, `up_to_date`, or the failure's).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::UpToDate => "up_to_date",
            Self::Failed(failure) => failure.code(),
        }
    }
}

/// One lock's delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryReport {
    /// The lock.
    pub lock_id: LockId,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// Connection attempts made (0 when nothing needed sending or could be).
    pub attempts: u32,
    /// The version the lock advertised in the scan, if it was heard.
    pub advertised_version: Option<u32>,
}

/// A sealed status and the challenge it must echo (the server checks both).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedStatus {
    /// The fresh random challenge the phone sent.
    pub challenge: [u8; 16],
    /// The lock's sealed status receipt.
    pub sealed: Vec<u8>,
}

/// One lock's status fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusReport {
    /// The lock.
    pub lock_id: LockId,
    /// The sealed status, or why there is none.
    pub outcome: Result<SealedStatus, DeliveryFailure>,
    /// Connection attempts made.
    pub attempts: u32,
}

/// Carries sealed jobs to locks through a [`LockTransport`].
pub struct DeliveryEngine {
    transport: Arc<dyn LockTransport>,
    config: DeliveryConfig,
}

impl std::fmt::Debug for DeliveryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeliveryEngine")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// One attempt's work on an open link.
type Work<'a> = Pin<Box<dyn Future<Output = Result<(), DeliveryFailure>> + Send + 'a>>;

/// A delivery's messages and what has come back so far, kept across attempts.
struct Progress {
    messages: Vec<(Vec<u8>, usize)>,
    done: usize,
    receipts: Vec<Vec<u8>>,
}

/// Room for a message's header and each envelope's length in a `Jobs` message.
const JOBS_HEADER_LEN: usize = 3;
const ENVELOPE_LEN_PREFIX: usize = 2;

impl DeliveryEngine {
    /// An engine on `transport`.
    pub fn new(transport: Arc<dyn LockTransport>, config: DeliveryConfig) -> Self {
        Self { transport, config }
    }

    /// The engine's configuration.
    pub fn config(&self) -> &DeliveryConfig {
        &self.config
    }

    /// Scans once for [`DeliveryConfig::scan_time`].
    pub async fn scan(&self) -> Result<Vec<LockSighting>, TransportError> {
        let sightings = self.transport.scan(self.config.scan_time).await?;
        log::debug!("scan heard {} lock(s)", sightings.len());
        Ok(sightings)
    }

    /// Scans once, then delivers each lock's jobs in turn. Fails only when the
    /// scan itself fails (Bluetooth unavailable); per-lock results are in the
    /// reports, in the order of `batches`.
    pub async fn deliver_all(
        &self,
        batches: &[LockJobs],
    ) -> Result<Vec<DeliveryReport>, TransportError> {
        let sightings = self.scan().await?;
        let mut reports = Vec::with_capacity(batches.len());
        for batch in batches {
            let seen = sightings.iter().find(|s| s.lock_id == batch.lock_id);
            reports.push(self.deliver(batch, seen).await);
        }
        Ok(reports)
    }

    /// Delivers one lock's jobs given what the last scan heard of it (`None`:
    /// not heard). Skips a lock that advertises the target version.
    pub async fn deliver(&self, batch: &LockJobs, seen: Option<&LockSighting>) -> DeliveryReport {
        let report = |outcome, attempts| DeliveryReport {
            lock_id: batch.lock_id,
            outcome,
            attempts,
            advertised_version: seen.map(|s| s.version),
        };
        let messages = match plan(batch) {
            Ok(messages) => messages,
            Err(reason) => {
                return report(
                    DeliveryOutcome::Failed(DeliveryFailure::InvalidJobs { reason }),
                    0,
                );
            }
        };
        let Some(seen) = seen else {
            return report(
                DeliveryOutcome::Failed(DeliveryFailure::OutOfRange { rssi: None }),
                0,
            );
        };
        if seen.version == batch.target_version {
            log::info!(
                "lock {} is up to date (version {})",
                batch.lock_id,
                seen.version
            );
            return report(DeliveryOutcome::UpToDate, 0);
        }
        if messages.is_empty() {
            return report(
                DeliveryOutcome::Failed(DeliveryFailure::InvalidJobs {
                    reason: "no jobs for a lock that is not at the target version".into(),
                }),
                0,
            );
        }
        if !seen.in_range(self.config.min_rssi) {
            return report(
                DeliveryOutcome::Failed(DeliveryFailure::OutOfRange { rssi: seen.rssi }),
                0,
            );
        }
        log::info!(
            "delivering {} job(s) to lock {} in {} message(s)",
            batch.jobs.len(),
            batch.lock_id,
            messages.len()
        );
        let mut progress = Progress {
            messages,
            done: 0,
            receipts: Vec::with_capacity(batch.jobs.len()),
        };
        let (result, attempts) = self
            .with_retries(batch.lock_id, &mut progress, |engine, link, progress| {
                Box::pin(engine.send_jobs(link, progress))
            })
            .await;
        let receipts = progress.receipts;
        let outcome = match result {
            Ok(()) => {
                log::info!("lock {} took {} job(s)", batch.lock_id, receipts.len());
                DeliveryOutcome::Delivered { receipts }
            }
            Err(failure) => {
                log::warn!(
                    "delivery to lock {} failed: {}",
                    batch.lock_id,
                    failure.code()
                );
                DeliveryOutcome::Failed(failure)
            }
        };
        report(outcome, attempts)
    }

    /// Fetches a sealed status from a lock heard in `seen`, with a fresh random
    /// challenge and the audit events after `since_seq`.
    pub async fn fetch_status(&self, seen: &LockSighting, since_seq: u32) -> StatusReport {
        let lock_id = seen.lock_id;
        if !seen.in_range(self.config.min_rssi) {
            return StatusReport {
                lock_id,
                outcome: Err(DeliveryFailure::OutOfRange { rssi: seen.rssi }),
                attempts: 0,
            };
        }
        let challenge: [u8; 16] = rand::random();
        let request = Message::StatusRequest {
            challenge,
            since_seq,
        }
        .encode();
        let mut state = (request, None);
        let (result, attempts) = self
            .with_retries(lock_id, &mut state, |engine, link, (request, sealed)| {
                Box::pin(engine.request_status(link, request, sealed))
            })
            .await;
        let sealed = state.1;
        let outcome = result.and_then(|()| {
            sealed
                .map(|sealed| SealedStatus { challenge, sealed })
                .ok_or(DeliveryFailure::BadResponse {
                    reason: "no status".into(),
                })
        });
        StatusReport {
            lock_id,
            outcome,
            attempts,
        }
    }

    /// Fetches a status from every lock in `sightings` that advertises
    /// `events_pending` and for which `since_seq` gives the server's last
    /// stored audit sequence number, so audit events reach the server.
    pub async fn collect_events(
        &self,
        sightings: &[LockSighting],
        since_seq: impl Fn(LockId) -> Option<u32>,
    ) -> Vec<StatusReport> {
        let mut reports = Vec::new();
        for seen in sightings.iter().filter(|s| s.events_pending) {
            if let Some(since) = since_seq(seen.lock_id) {
                reports.push(self.fetch_status(seen, since).await);
            }
        }
        reports
    }

    /// Runs `work` on a fresh link per attempt until it succeeds, fails for
    /// good, or attempts run out. Returns the result and the attempts made.
    async fn with_retries<S, F>(
        &self,
        lock_id: LockId,
        state: &mut S,
        work: F,
    ) -> (Result<(), DeliveryFailure>, u32)
    where
        S: Send,
        F: for<'a> Fn(&'a Self, &'a dyn LockLink, &'a mut S) -> Work<'a>,
    {
        let attempts = self.config.attempts.max(1);
        let mut last = DeliveryFailure::ConnectionLost;
        for attempt in 1..=attempts {
            if attempt > 1 {
                let delay = self.config.backoff.delay(attempt - 1);
                log::debug!("retrying lock {lock_id} in {delay:?} (attempt {attempt})");
                tokio::time::sleep(delay).await;
            }
            let result = match self.connect(lock_id).await {
                Ok(link) => {
                    let result = work(self, link.as_ref(), state).await;
                    let close = link.disconnect();
                    if tokio::time::timeout(self.config.response_timeout, close)
                        .await
                        .is_err()
                    {
                        log::debug!("closing the link to lock {lock_id} timed out");
                    }
                    result
                }
                Err(failure) => Err(failure),
            };
            match result {
                Ok(()) => return (Ok(()), attempt),
                Err(failure) if failure.retryable() && attempt < attempts => {
                    log::info!(
                        "attempt {attempt} on lock {lock_id} failed: {}",
                        failure.code()
                    );
                    last = failure;
                }
                Err(failure) => return (Err(failure), attempt),
            }
        }
        (Err(last), attempts)
    }

    /// Sends the messages not yet answered, collecting their receipts.
    async fn send_jobs(
        &self,
        link: &dyn LockLink,
        progress: &mut Progress,
    ) -> Result<(), DeliveryFailure> {
        // Resume after the messages already answered on an earlier attempt.
        while let Some((request, count)) = progress.messages.get(progress.done) {
            match self.exchange(link, request).await? {
                Message::Receipts(got) if got.len() == *count => {
                    progress.receipts.extend(got);
                    progress.done += 1;
                }
                Message::Receipts(got) => {
                    return Err(DeliveryFailure::BadResponse {
                        reason: format!("{} receipts for {count} jobs", got.len()),
                    });
                }
                Message::Error(error) => return Err(DeliveryFailure::LockRefused { error }),
                _ => {
                    return Err(DeliveryFailure::BadResponse {
                        reason: "the lock answered jobs with another message".into(),
                    });
                }
            }
        }
        Ok(())
    }

    async fn request_status(
        &self,
        link: &dyn LockLink,
        request: &[u8],
        sealed: &mut Option<Vec<u8>>,
    ) -> Result<(), DeliveryFailure> {
        match self.exchange(link, request).await? {
            Message::Status(status) => {
                *sealed = Some(status);
                Ok(())
            }
            Message::Error(error) => Err(DeliveryFailure::LockRefused { error }),
            _ => Err(DeliveryFailure::BadResponse {
                reason: "the lock answered a status request with another message".into(),
            }),
        }
    }

    async fn connect(&self, lock_id: LockId) -> Result<Arc<dyn LockLink>, DeliveryFailure> {
        let timeout = self.config.connect_timeout;
        // The transport enforces the timeout; this one only guards against a
        // transport that does not.
        let guard = timeout + Duration::from_secs(1);
        match tokio::time::timeout(guard, self.transport.connect(lock_id, timeout)).await {
            Ok(Ok(link)) => Ok(link),
            Ok(Err(TransportError::ConnectFailed(reason))) => {
                log::info!("connecting to lock {lock_id} failed: {reason}");
                Err(DeliveryFailure::ConnectionLost)
            }
            Ok(Err(e)) => Err(e.into()),
            Err(_) => Err(DeliveryFailure::TimedOut),
        }
    }

    /// Sends one request message and waits for its one response message.
    async fn exchange(
        &self,
        link: &dyn LockLink,
        request: &[u8],
    ) -> Result<Message, DeliveryFailure> {
        let frames = split(request, link.mtu()).map_err(|e| DeliveryFailure::InvalidJobs {
            reason: e.to_string(),
        })?;
        let last = frames.len() - 1;
        for (i, frame) in frames.into_iter().enumerate() {
            // Commands need no round trip each; the last frame is a request so
            // a dropped link shows before the wait for the response.
            link.write_frame(frame, i == last).await?;
        }
        let mut reassembler = Reassembler::new();
        loop {
            let frame = link.next_notification(self.config.response_timeout).await?;
            match reassembler.push(&frame) {
                Ok(Some(message)) => {
                    return Message::decode(&message).map_err(|e| DeliveryFailure::BadResponse {
                        reason: e.to_string(),
                    });
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(DeliveryFailure::BadResponse {
                        reason: e.to_string(),
                    });
                }
            }
        }
    }
}

/// Checks that every job is addressed to the batch's lock and packs the jobs
/// into as few `Jobs` messages as the message limits allow (usually one).
/// Returns each encoded message with the number of jobs in it.
fn plan(batch: &LockJobs) -> Result<Vec<(Vec<u8>, usize)>, String> {
    let max_len = crate::protocol::frame::MAX_MESSAGE_LEN;
    for (i, job) in batch.jobs.iter().enumerate() {
        let addressed = envelope_lock_id(job).map_err(|e| format!("job {i}: {e}"))?;
        if addressed != batch.lock_id {
            return Err(format!("job {i} is addressed to another lock"));
        }
        if JOBS_HEADER_LEN + ENVELOPE_LEN_PREFIX + job.len() > max_len {
            return Err(format!("job {i} is too large for one message"));
        }
    }
    let mut messages = Vec::new();
    let mut current: Vec<Vec<u8>> = Vec::new();
    let mut len = JOBS_HEADER_LEN;
    for job in &batch.jobs {
        let add = ENVELOPE_LEN_PREFIX + job.len();
        if current.len() == MAX_BATCH || len + add > max_len {
            let count = current.len();
            messages.push((Message::Jobs(std::mem::take(&mut current)).encode(), count));
            len = JOBS_HEADER_LEN;
        }
        current.push(job.clone());
        len += add;
    }
    if !current.is_empty() {
        let count = current.len();
        messages.push((Message::Jobs(current).encode(), count));
    }
    Ok(messages)
}
