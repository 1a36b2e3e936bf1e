//! The engine against real lock firmware over an in-memory link and a server
//! played in memory with the lock's keys: the radio and HTTP are the only
//! parts replaced (the btleplug path is tested in `keyway-ble-sim`, the HTTP
//! one against the real server in `keyway-testkit`).

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::mpsc;

use super::*;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_lock::{Lock, LockConfig};
use keyway_protocol::{
    BaseVersion, ErrorCode, Job, JobId, LockKeys, Op, Outcome, ReplyTo, RootKey, SlotEntry,
};

const LOCK: LockId = LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 9]);
const DEVICE: &str = "AA:BB:CC:00:00:09";

fn root() -> RootKey {
    RootKey::from_bytes([7; 32])
}

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

struct Shared {
    lock: Mutex<Lock>,
    rssi: i16,
    connects: AtomicU32,
    /// Drop the link after this many more frames from the phone (0: never).
    drop_after: AtomicU32,
    /// Drop the link instead of sending the lock's next answers: after this
    /// many more answers (0: never).
    drop_answer: AtomicU32,
    /// The lock's address now (a lock rotates it when its state changes).
    address: Mutex<String>,
    /// Rotate the address whenever a link drops.
    rotate_on_drop: AtomicBool,
}

struct MemoryTransport(Arc<Shared>);

impl Shared {
    fn rotate(&self) {
        if self.rotate_on_drop.load(Ordering::SeqCst) {
            let mut address = self.address.lock().unwrap();
            *address = format!("{address}'");
        }
    }
}

struct MemoryLink {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    alive: Mutex<bool>,
}

#[async_trait]
impl LockTransport for MemoryTransport {
    async fn scan(&self, _: Duration) -> Result<Vec<HeardDevice>, TransportError> {
        let payload = self.0.lock.lock().unwrap().advertising_payload(now());
        Ok(vec![HeardDevice {
            device: self.0.address.lock().unwrap().clone(),
            manufacturer_data: payload,
            rssi: Some(self.0.rssi),
        }])
    }

    async fn connect(
        &self,
        device: &str,
        _: Duration,
    ) -> Result<Arc<dyn LockLink>, TransportError> {
        if device != *self.0.address.lock().unwrap() {
            return Err(TransportError::NotFound {
                device: device.into(),
            });
        }
        self.0.connects.fetch_add(1, Ordering::SeqCst);
        let (tx, rx) = mpsc::unbounded_channel();
        Ok(Arc::new(MemoryLink {
            shared: self.0.clone(),
            tx,
            rx: tokio::sync::Mutex::new(rx),
            alive: Mutex::new(true),
        }))
    }
}

#[async_trait]
impl LockLink for MemoryLink {
    fn mtu(&self) -> usize {
        23
    }

    async fn write_frame(&self, frame: Vec<u8>, _: bool) -> Result<(), TransportError> {
        if !*self.alive.lock().unwrap() {
            return Err(TransportError::Disconnected);
        }
        let mut lock = self.shared.lock.lock().unwrap();
        if let Some(response) = lock.receive_frame(&frame, now()) {
            let left = self.shared.drop_answer.load(Ordering::SeqCst);
            if left > 0 {
                self.shared.drop_answer.store(left - 1, Ordering::SeqCst);
                if left == 1 {
                    *self.alive.lock().unwrap() = false;
                    lock.disconnected();
                    self.shared.rotate();
                    return Err(TransportError::Disconnected);
                }
            }
            for f in keyway_protocol::frame::split(&response, 23).unwrap() {
                let _ = self.tx.send(f);
            }
        }
        let left = self.shared.drop_after.load(Ordering::SeqCst);
        if left > 0 {
            self.shared.drop_after.store(left - 1, Ordering::SeqCst);
            if left == 1 {
                *self.alive.lock().unwrap() = false;
                lock.disconnected();
                return Err(TransportError::Disconnected);
            }
        }
        Ok(())
    }

    async fn next_notification(&self, timeout: Duration) -> Result<Vec<u8>, TransportError> {
        if !*self.alive.lock().unwrap() {
            return Err(TransportError::Disconnected);
        }
        match tokio::time::timeout(timeout, self.rx.lock().await.recv()).await {
            Ok(Some(frame)) => Ok(frame),
            Ok(None) => Err(TransportError::Disconnected),
            Err(_) => Err(TransportError::Timeout),
        }
    }

    async fn disconnect(&self) -> Result<(), TransportError> {
        *self.alive.lock().unwrap() = false;
        self.shared.lock.lock().unwrap().disconnected();
        Ok(())
    }
}

fn keys() -> LockKeys {
    LockKeys::derive(&root(), LOCK)
}

/// What the played server seals for the next status.
#[derive(Clone, Default)]
enum Plan {
    /// Nothing to do.
    #[default]
    Nothing,
    /// A job putting `n` codes from the lock's version.
    Put(usize),
    /// This job, as is (to test what the engine does with a bad one).
    Fixed(Vec<u8>),
}

/// The server's half of a visit, played with the lock's keys.
#[derive(Default)]
struct MemoryServer {
    plan: Mutex<Plan>,
    issued: Mutex<Vec<[u8; 16]>>,
    statuses: Mutex<Vec<keyway_protocol::Receipt>>,
    offline: AtomicBool,
}

#[async_trait]
impl VisitServer for MemoryServer {
    async fn open_visit(&self, lock: LockId) -> Result<VisitTicket, VisitError> {
        if self.offline.load(Ordering::SeqCst) {
            return Err(VisitError::Unreachable("offline".into()));
        }
        let challenge: [u8; 16] = rand::random();
        self.issued.lock().unwrap().push(challenge);
        Ok(VisitTicket {
            visit_id: format!("visit-{}", self.issued.lock().unwrap().len()),
            lock_id: lock,
            challenge,
            since_seq: 0,
        })
    }

    async fn present_status(
        &self,
        ticket: &VisitTicket,
        status: Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, VisitError> {
        let receipt =
            keys()
                .open_status(&status, ticket.challenge)
                .map_err(|e| VisitError::Refused {
                    code: e.code().into(),
                    detail: e.to_string(),
                })?;
        self.statuses.lock().unwrap().push(receipt.clone());
        Ok(match self.plan.lock().unwrap().clone() {
            Plan::Nothing => vec![],
            Plan::Put(n) => vec![keys().seal_job(&job(&receipt, n)).unwrap()],
            Plan::Fixed(job) => vec![job],
        })
    }
}

fn setup(rssi: i16) -> (Arc<Shared>, DeliveryEngine, MemoryServer) {
    let shared = Arc::new(Shared {
        lock: Mutex::new(Lock::new(LockConfig::new(LOCK), &root())),
        rssi,
        connects: AtomicU32::new(0),
        drop_after: AtomicU32::new(0),
        drop_answer: AtomicU32::new(0),
        address: Mutex::new(DEVICE.into()),
        rotate_on_drop: AtomicBool::new(false),
    });
    let config = DeliveryConfig {
        scan_time: Duration::ZERO,
        ..DeliveryConfig::default()
    };
    let engine = DeliveryEngine::new(Arc::new(MemoryTransport(shared.clone())), config);
    (shared, engine, MemoryServer::default())
}

/// A job for the session `status` opened, putting `n` codes.
fn job(status: &keyway_protocol::Receipt, n: usize) -> Job {
    Job {
        job_id: JobId::random(),
        session: status.session,
        base: BaseVersion::Exact(status.version),
        target: status.version + 1,
        issued_at: now(),
        expires_at: Timestamp::from_second(1_800_086_400).unwrap(),
        audit_ack: 0,
        ops: (0..n)
            .map(|i| Op::Put {
                slot: i as u16,
                entry: SlotEntry {
                    credential: keyway_protocol::Credential::Code(
                        Code::parse(&format!("{:06}", 314_159 + i * 7_919)).unwrap(),
                    ),
                    kind: CodeKind::Resident,
                    schedule: Schedule::Always,
                    enabled: true,
                    one_time: false,
                },
            })
            .collect(),
    }
}

async fn sighting(engine: &DeliveryEngine) -> LockSighting {
    let heard = engine.scan().await.unwrap();
    let mut seen = resolve(&heard, &[keys().advert_key().clone()]);
    assert_eq!(seen.len(), 1, "the lock is recognised by its key");
    seen.remove(0)
}

fn receipts(report: &VisitReport) -> Vec<keyway_protocol::Receipt> {
    let DeliveryOutcome::Delivered { receipts } = &report.outcome else {
        panic!("not delivered: {:?}", report.outcome);
    };
    receipts
        .iter()
        .map(|r| keys().open_receipt(r).unwrap())
        .collect()
}

fn applied_jobs(shared: &Shared) -> usize {
    shared
        .lock
        .lock()
        .unwrap()
        .state()
        .audit
        .iter()
        .filter(|e| matches!(e.kind, keyway_protocol::AuditKind::JobApplied { .. }))
        .count()
}

#[tokio::test(start_paused = true)]
async fn twenty_changes_travel_in_one_connection() {
    let (shared, engine, server) = setup(-60);
    *server.plan.lock().unwrap() = Plan::Put(20);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.attempts, 1);
    let got = receipts(&report);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].outcome, Outcome::Applied);
    assert_eq!(shared.connects.load(Ordering::SeqCst), 1);
    assert_eq!(shared.lock.lock().unwrap().state().slots.len(), 20);
    // The status the server saw echoed its own challenge and named the
    // session the job was applied in.
    let statuses = server.statuses.lock().unwrap();
    assert_eq!(
        statuses[0].reply_to,
        ReplyTo::Status(server.issued.lock().unwrap()[0])
    );
    assert_eq!(got[0].session, statuses[0].session);
}

#[tokio::test(start_paused = true)]
async fn a_lock_with_nothing_to_do_is_checked_and_a_far_one_is_out_of_range() {
    let (_, engine, server) = setup(-60);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.outcome, DeliveryOutcome::Checked);
    assert_eq!(server.statuses.lock().unwrap().len(), 1);

    let (far, engine, server) = setup(DEFAULT_MIN_RSSI - 1);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.outcome.code(), "out_of_range");
    assert_eq!(far.connects.load(Ordering::SeqCst), 0);
    assert!(server.issued.lock().unwrap().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_lock_the_phone_has_no_key_for_is_not_recognised() {
    let (_, engine, _) = setup(-60);
    let heard = engine.scan().await.unwrap();
    let stranger = LockKeys::derive(&RootKey::from_bytes([8; 32]), LOCK);
    assert!(resolve(&heard, &[stranger.advert_key().clone()]).is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_link_dropped_mid_job_starts_a_new_visit_and_the_job_applies_once() {
    let (shared, engine, server) = setup(-60);
    *server.plan.lock().unwrap() = Plan::Put(20);
    // Two frames of status request, then the link drops inside the jobs.
    shared.drop_after.store(4, Ordering::SeqCst);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.attempts, 2);
    assert_eq!(receipts(&report)[0].outcome, Outcome::Applied);
    assert_eq!(server.statuses.lock().unwrap().len(), 2, "a second visit");
    assert_eq!(shared.lock.lock().unwrap().state().version, 1);
    assert_eq!(applied_jobs(&shared), 1);
}

#[tokio::test(start_paused = true)]
async fn receipts_lost_after_the_lock_applied_come_back_on_the_next_connection() {
    let (shared, engine, server) = setup(-60);
    *server.plan.lock().unwrap() = Plan::Put(3);
    // The first answer (the status) arrives; the second (the receipts) is lost.
    shared.drop_answer.store(2, Ordering::SeqCst);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.attempts, 2);
    assert_eq!(receipts(&report)[0].outcome, Outcome::Applied);
    assert_eq!(
        server.statuses.lock().unwrap().len(),
        1,
        "the job was asked again"
    );
    assert_eq!(applied_jobs(&shared), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retry_finds_the_lock_again_at_its_new_address() {
    let (shared, engine, server) = setup(-60);
    *server.plan.lock().unwrap() = Plan::Put(3);
    // The lock applies the job, the link drops before its answer, and the
    // lock moves to a new address (its state changed).
    shared.drop_answer.store(2, Ordering::SeqCst);
    shared.rotate_on_drop.store(true, Ordering::SeqCst);
    let seen = sighting(&engine).await;
    let report = engine.visit(&seen, &server).await;
    assert_eq!(report.attempts, 2, "{report:?}");
    assert_eq!(receipts(&report)[0].outcome, Outcome::Applied);
    assert_ne!(*shared.address.lock().unwrap(), seen.device);
    assert_eq!(applied_jobs(&shared), 1);
}

#[tokio::test(start_paused = true)]
async fn misrouted_and_altered_jobs_change_nothing() {
    let (shared, engine, server) = setup(-60);
    let other = LockKeys::derive(&root(), LockId([1; 8]));
    let status = keyway_protocol::Receipt {
        lock_id: LockId([1; 8]),
        epoch: keyway_protocol::Epoch([1; 8]),
        reply_to: ReplyTo::Status([0; 16]),
        session: keyway_protocol::SessionId([0; 16]),
        outcome: Outcome::Status,
        version: 0,
        digest: [0; 32],
        lock_time: now(),
        events: vec![],
        events_pending: false,
    };
    *server.plan.lock().unwrap() = Plan::Fixed(other.seal_job(&job(&status, 1)).unwrap());
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.outcome.code(), "invalid_jobs");

    let mut altered = keys().seal_job(&job(&status, 1)).unwrap();
    let last = altered.len() - 1;
    altered[last] ^= 1;
    *server.plan.lock().unwrap() = Plan::Fixed(altered);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(
        report.outcome,
        DeliveryOutcome::Failed(DeliveryFailure::LockRefused {
            error: ErrorCode::BadSeal
        })
    );
    assert_eq!(report.attempts, 1, "a bad seal is not retried");
    assert_eq!(shared.lock.lock().unwrap().state().version, 0);
}

#[tokio::test(start_paused = true)]
async fn an_offline_phone_delivers_nothing_and_asks_the_lock_nothing() {
    let (shared, engine, server) = setup(-60);
    server.offline.store(true, Ordering::SeqCst);
    let report = engine.visit(&sighting(&engine).await, &server).await;
    assert_eq!(report.outcome.code(), "server_unreachable");
    assert_eq!(report.attempts, 1);
    assert!(server.statuses.lock().unwrap().is_empty());
    let lock = shared.lock.lock().unwrap();
    assert_eq!(lock.state().version, 0);
}

#[test]
fn backoff_doubles_up_to_the_cap_with_jitter_below() {
    let backoff = Backoff {
        initial: Duration::from_millis(100),
        max: Duration::from_millis(350),
        jitter: 0.5,
    };
    for _ in 0..50 {
        let d1 = backoff.delay(1);
        assert!(d1 <= Duration::from_millis(100) && d1 >= Duration::from_millis(50));
        let d3 = backoff.delay(3);
        assert!(d3 <= Duration::from_millis(350) && d3 >= Duration::from_millis(175));
    }
}

/// The engine's futures can be spawned on a multi-threaded runtime (the phone
/// core and the bindings do).
#[test]
fn the_engine_and_its_futures_are_send() {
    fn send<T: Send>(_: &T) {}
    fn sync<T: Send + Sync>(_: &T) {}
    let (_, engine, server) = setup(-60);
    sync(&engine);
    let seen = LockSighting {
        lock_id: LOCK,
        device: DEVICE.into(),
        version: 0,
        events_pending: true,
        locked_out: false,
        rssi: None,
        key: keys().advert_key().clone(),
    };
    send(&engine.visit(&seen, &server));
    send(&engine.scan());
}
