//! The delivery engine: a visit to one lock in one connection (status,
//! server, jobs, receipts), retries with backoff and jitter, typed outcomes.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;

use super::{
    DEFAULT_MIN_RSSI, HeardDevice, LockLink, LockSighting, LockTransport, TransportError,
    WantedDevice,
};
use keyway_protocol::frame::{Reassembler, split};
use keyway_protocol::message::MAX_BATCH;
use keyway_protocol::seal::envelope_lock_id;
use keyway_protocol::{ErrorCode, LockId, Message};

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
    /// Connection attempts per visit, the first included.
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

/// The server's half of a visit: its single-use challenge for the lock's
/// status, and how far it has stored the lock's audit events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitTicket {
    /// The visit, as the server names it.
    pub visit_id: String,
    /// The lock visited.
    pub lock_id: LockId,
    /// What the lock's sealed status must echo.
    pub challenge: [u8; 16],
    /// The highest audit sequence number the server stored for the lock.
    pub since_seq: u32,
}

/// Why the server could not take part in a visit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VisitError {
    /// The server could not be reached (the phone is offline): nothing can be
    /// delivered, since jobs are sealed for the lock's session at the door.
    #[error("the server is unreachable: {0}")]
    Unreachable(String),
    /// The server answered with a refusal.
    #[error("the server refused the visit ({code}): {detail}")]
    Refused {
        /// Its stable machine code.
        code: String,
        /// What it said.
        detail: String,
    },
}

/// The server, as the engine needs it for a visit. The phone's client
/// implements it over HTTP (`docs/api.md`, visits); the simulator's scenario
/// runner and tests play it in process.
#[async_trait]
pub trait VisitServer: Send + Sync {
    /// Opens a visit of `lock`: a fresh challenge, and the audit events the
    /// server already has.
    async fn open_visit(&self, lock: LockId) -> Result<VisitTicket, VisitError>;

    /// Hands over the lock's sealed status for `ticket`; the server settles it
    /// and answers with the jobs it sealed for the session the status opened
    /// (none when the lock needs nothing).
    async fn present_status(
        &self,
        ticket: &VisitTicket,
        status: Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, VisitError>;
}

/// Why a visit did not complete. Each has a stable code.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "uniffi", derive(uniffi::Enum))]
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
    /// The server's jobs cannot be delivered as given (nothing was sent).
    InvalidJobs {
        /// What is wrong with them.
        reason: String,
    },
    /// Bluetooth is off, blocked or absent.
    BluetoothUnavailable {
        /// What the stack said.
        message: String,
    },
    /// The server could not be reached during the visit.
    ServerUnreachable {
        /// What went wrong.
        detail: String,
    },
    /// The server refused its part of the visit.
    ServerRefused {
        /// The server's stable code.
        code: String,
        /// What it said.
        detail: String,
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
            Self::ServerUnreachable { .. } => "server_unreachable",
            Self::ServerRefused { .. } => "server_refused",
        }
    }

    fn retryable(&self) -> bool {
        match self {
            Self::ConnectionLost | Self::TimedOut | Self::BadResponse { .. } => true,
            Self::LockRefused { error } => matches!(
                error,
                ErrorCode::Busy | ErrorCode::MalformedFrame | ErrorCode::NoSession
            ),
            // A visit that went stale or expired: a new visit may succeed.
            Self::ServerRefused { code, .. } => code == "visit_stale" || code == "visit_expired",
            Self::OutOfRange { .. }
            | Self::InvalidJobs { .. }
            | Self::BluetoothUnavailable { .. }
            | Self::ServerUnreachable { .. } => false,
        }
    }
}

impl From<TransportError> for DeliveryFailure {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::AdapterUnavailable { detail: message } => {
                Self::BluetoothUnavailable { message }
            }
            TransportError::NotFound { .. } => Self::OutOfRange { rssi: None },
            TransportError::Timeout => Self::TimedOut,
            TransportError::Incompatible { detail: reason } => Self::BadResponse { reason },
            TransportError::ConnectFailed { .. }
            | TransportError::Disconnected
            | TransportError::Other { .. } => Self::ConnectionLost,
        }
    }
}

impl From<VisitError> for DeliveryFailure {
    fn from(e: VisitError) -> Self {
        match e {
            VisitError::Unreachable(detail) => Self::ServerUnreachable { detail },
            VisitError::Refused { code, detail } => Self::ServerRefused { code, detail },
        }
    }
}

/// What became of one visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    /// The server's jobs reached the lock; one sealed receipt per job, in
    /// order, for the server to open (applied, version mismatch or refused).
    Delivered {
        /// The sealed receipts.
        receipts: Vec<Vec<u8>>,
    },
    /// The server settled the lock's status and had nothing to send.
    Checked,
    /// The visit did not complete.
    Failed(DeliveryFailure),
}

impl DeliveryOutcome {
    /// The stable machine code (`delivered`, `checked`, or the failure's).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Delivered { .. } => "delivered",
            Self::Checked => "checked",
            Self::Failed(failure) => failure.code(),
        }
    }
}

/// One lock's visit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VisitReport {
    /// The lock.
    pub lock_id: LockId,
    /// What happened.
    pub outcome: DeliveryOutcome,
    /// Connection attempts made (0 when the lock was out of range).
    pub attempts: u32,
    /// The version the lock advertised.
    pub advertised_version: u32,
}

/// Visits locks through a [`LockTransport`], with a [`VisitServer`].
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

/// What a visit has done so far, kept across connection attempts.
#[derive(Default)]
struct Visit {
    /// A ticket not yet presented (it can serve a later attempt).
    ticket: Option<VisitTicket>,
    /// Jobs the server sealed and the phone sent (or began to send) without
    /// receipts back: an attempt asks for them again first.
    jobs: Option<Vec<Vec<u8>>>,
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

    /// Scans once for [`DeliveryConfig::scan_time`]; resolve what was heard
    /// with [`super::resolve`].
    pub async fn scan(&self) -> Result<Vec<HeardDevice>, TransportError> {
        let heard = self.transport.scan(self.config.scan_time).await?;
        log::debug!("scan heard {} Keyway device(s)", heard.len());
        Ok(heard)
    }

    /// Scans for at most [`DeliveryConfig::scan_time`], ending as soon as a
    /// device `wanted` says yes to is heard (a lock with work in range: the
    /// visit need not wait for the rest of the scan).
    pub async fn scan_until(
        &self,
        wanted: &WantedDevice<'_>,
    ) -> Result<Vec<HeardDevice>, TransportError> {
        let heard = self
            .transport
            .scan_until(self.config.scan_time, wanted)
            .await?;
        log::debug!("scan heard {} Keyway device(s)", heard.len());
        Ok(heard)
    }

    /// Visits the lock `seen` in one connection: asks the server for a
    /// challenge (while connecting), the lock for a status (which opens a
    /// session), hands the status to the server, and delivers the jobs it
    /// sealed for that session. Retries a dropped link; jobs sent without
    /// receipts are asked for again first (the lock answers a repeat with
    /// its remembered receipt), and a lost session starts a new visit.
    pub async fn visit(&self, seen: &LockSighting, server: &dyn VisitServer) -> VisitReport {
        let report = |outcome, attempts| VisitReport {
            lock_id: seen.lock_id,
            outcome,
            attempts,
            advertised_version: seen.version,
        };
        if !seen.in_range(self.config.min_rssi) {
            let failure = DeliveryFailure::OutOfRange { rssi: seen.rssi };
            return report(DeliveryOutcome::Failed(failure), 0);
        }
        let mut visit = Visit::default();
        let attempts = self.config.attempts.max(1);
        let mut last = DeliveryFailure::ConnectionLost;
        let mut seen = seen.clone();
        for attempt in 1..=attempts {
            if attempt > 1 {
                let delay = self.config.backoff.delay(attempt - 1);
                log::debug!("visiting lock {} again in {delay:?}", seen.lock_id);
                tokio::time::sleep(delay).await;
                // A lock whose state changed, or that restarted, advertises
                // under a new address: find it again by its key.
                if let Some(found) = self.find_again(&seen).await {
                    seen = found;
                }
            }
            let result = self.attempt(&seen, server, &mut visit).await;
            match result {
                Ok(outcome) => {
                    log::info!("lock {}: {}", seen.lock_id, outcome.code());
                    return report(outcome, attempt);
                }
                Err(failure) if failure.retryable() && attempt < attempts => {
                    log::info!(
                        "visit {attempt} of lock {} failed: {}",
                        seen.lock_id,
                        failure.code()
                    );
                    last = failure;
                }
                Err(failure) => {
                    log::warn!("visit of lock {} failed: {}", seen.lock_id, failure.code());
                    return report(DeliveryOutcome::Failed(failure), attempt);
                }
            }
        }
        report(DeliveryOutcome::Failed(last), attempts)
    }

    /// The lock `seen` as a short scan hears it now (its address may have
    /// changed); `None` when the scan does not hear it.
    async fn find_again(&self, seen: &LockSighting) -> Option<LockSighting> {
        let listen = self.config.scan_time.min(Duration::from_millis(500));
        let heard = self.transport.scan(listen).await.ok()?;
        super::resolve(&heard, std::slice::from_ref(&seen.key))
            .into_iter()
            .next()
    }

    /// One connection: opens it (and a server ticket at the same time when
    /// the visit needs one), runs the visit on it, closes it.
    async fn attempt(
        &self,
        seen: &LockSighting,
        server: &dyn VisitServer,
        visit: &mut Visit,
    ) -> Result<DeliveryOutcome, DeliveryFailure> {
        let need_ticket = visit.ticket.is_none() && visit.jobs.is_none();
        let link = if need_ticket {
            let (link, ticket) =
                tokio::join!(self.connect(&seen.device), server.open_visit(seen.lock_id));
            match ticket {
                Ok(ticket) => visit.ticket = Some(ticket),
                Err(e) => {
                    if let Ok(link) = link {
                        self.close(link.as_ref(), seen.lock_id).await;
                    }
                    return Err(e.into());
                }
            }
            link?
        } else {
            self.connect(&seen.device).await?
        };
        let result = self
            .on_link(link.as_ref(), seen.lock_id, server, visit)
            .await;
        self.close(link.as_ref(), seen.lock_id).await;
        result
    }

    async fn close(&self, link: &dyn LockLink, lock_id: LockId) {
        if tokio::time::timeout(self.config.response_timeout, link.disconnect())
            .await
            .is_err()
        {
            log::debug!("closing the link to lock {lock_id} timed out");
        }
    }

    /// The visit's messages on an open link.
    async fn on_link(
        &self,
        link: &dyn LockLink,
        lock_id: LockId,
        server: &dyn VisitServer,
        visit: &mut Visit,
    ) -> Result<DeliveryOutcome, DeliveryFailure> {
        if let Some(jobs) = &visit.jobs {
            match self.send_jobs(link, jobs).await {
                Ok(receipts) => return Ok(DeliveryOutcome::Delivered { receipts }),
                // Not applied, and the session is gone: start the visit over.
                Err(DeliveryFailure::LockRefused {
                    error: ErrorCode::NoSession,
                }) => visit.jobs = None,
                Err(failure) => return Err(failure),
            }
        }
        let ticket = match visit.ticket.take() {
            Some(ticket) => ticket,
            None => server.open_visit(lock_id).await?,
        };
        let request = Message::StatusRequest {
            challenge: ticket.challenge,
            since_seq: ticket.since_seq,
        }
        .encode();
        let status = match self.exchange(link, &request).await {
            Ok(Message::Status(status)) => status,
            Ok(other) => {
                visit.ticket = Some(ticket);
                return Err(unexpected(other, "a status request"));
            }
            Err(failure) => {
                visit.ticket = Some(ticket);
                return Err(failure);
            }
        };
        let jobs = server.present_status(&ticket, status).await?;
        if jobs.is_empty() {
            return Ok(DeliveryOutcome::Checked);
        }
        plan(lock_id, &jobs)?;
        log::info!("delivering {} job(s) to lock {lock_id}", jobs.len());
        let sent = visit.jobs.insert(jobs);
        let receipts = self.send_jobs(link, sent).await?;
        Ok(DeliveryOutcome::Delivered { receipts })
    }

    /// Sends `jobs` in as few messages as the limits allow, collecting one
    /// receipt per job.
    async fn send_jobs(
        &self,
        link: &dyn LockLink,
        jobs: &[Vec<u8>],
    ) -> Result<Vec<Vec<u8>>, DeliveryFailure> {
        let mut receipts = Vec::with_capacity(jobs.len());
        for chunk in batches(jobs) {
            let request = Message::Jobs(chunk.to_vec()).encode();
            match self.exchange(link, &request).await? {
                Message::Receipts(got) if got.len() == chunk.len() => receipts.extend(got),
                Message::Receipts(got) => {
                    return Err(DeliveryFailure::BadResponse {
                        reason: format!("{} receipts for {} jobs", got.len(), chunk.len()),
                    });
                }
                other => return Err(unexpected(other, "jobs")),
            }
        }
        Ok(receipts)
    }

    async fn connect(&self, device: &str) -> Result<Arc<dyn LockLink>, DeliveryFailure> {
        let timeout = self.config.connect_timeout;
        // The transport enforces the timeout; this one only guards against a
        // transport that does not.
        let guard = timeout + Duration::from_secs(1);
        match tokio::time::timeout(guard, self.transport.connect(device, timeout)).await {
            Ok(Ok(link)) => Ok(link),
            Ok(Err(TransportError::ConnectFailed { detail: reason })) => {
                log::info!("connecting failed: {reason}");
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

/// The failure for an answer of the wrong kind (an unsealed error included).
fn unexpected(message: Message, to: &str) -> DeliveryFailure {
    match message {
        Message::Error(error) => DeliveryFailure::LockRefused { error },
        _ => DeliveryFailure::BadResponse {
            reason: format!("the lock answered {to} with another message"),
        },
    }
}

/// Checks that every job is addressed to `lock_id` and fits in one message.
fn plan(lock_id: LockId, jobs: &[Vec<u8>]) -> Result<(), DeliveryFailure> {
    let max_len = keyway_protocol::frame::MAX_MESSAGE_LEN;
    let invalid = |reason: String| DeliveryFailure::InvalidJobs { reason };
    for (i, job) in jobs.iter().enumerate() {
        let addressed = envelope_lock_id(job).map_err(|e| invalid(format!("job {i}: {e}")))?;
        if addressed != lock_id {
            return Err(invalid(format!("job {i} is addressed to another lock")));
        }
        if JOBS_HEADER_LEN + ENVELOPE_LEN_PREFIX + job.len() > max_len {
            return Err(invalid(format!("job {i} is too large for one message")));
        }
    }
    Ok(())
}

/// Splits jobs into `Jobs` messages within the batch and length limits
/// (usually one).
fn batches(jobs: &[Vec<u8>]) -> Vec<&[Vec<u8>]> {
    let max_len = keyway_protocol::frame::MAX_MESSAGE_LEN;
    let mut out = Vec::new();
    let (mut start, mut len) = (0, JOBS_HEADER_LEN);
    for (i, job) in jobs.iter().enumerate() {
        let add = ENVELOPE_LEN_PREFIX + job.len();
        if i - start == MAX_BATCH || len + add > max_len {
            out.push(&jobs[start..i]);
            start = i;
            len = JOBS_HEADER_LEN;
        }
        len += add;
    }
    if start < jobs.len() {
        out.push(&jobs[start..]);
    }
    out
}
