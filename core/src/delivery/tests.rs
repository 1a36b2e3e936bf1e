//! The engine against real lock firmware over an in-memory link: the radio is
//! the only part replaced (the btleplug path is tested in `keyway-ble-sim`).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use jiff::Timestamp;
use tokio::sync::mpsc;

use super::*;
use crate::code::{Code, CodeKind};
use crate::lock::{Lock, LockConfig};
use crate::protocol::{
    BaseVersion, Job, JobId, LockKeys, Op, Outcome, ReplyTo, RootKey, SlotEntry,
};
use crate::schedule::Schedule;

const LOCK: LockId = LockId([0x6b, 0x77, 0, 0, 0, 0, 0, 9]);

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
}

struct MemoryTransport(Arc<Shared>);

struct MemoryLink {
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Vec<u8>>,
    rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Vec<u8>>>,
    alive: Mutex<bool>,
}

#[async_trait]
impl LockTransport for MemoryTransport {
    async fn scan(&self, _: Duration) -> Result<Vec<LockSighting>, TransportError> {
        let ad = self.0.lock.lock().unwrap().advertisement(now());
        Ok(vec![LockSighting::new(ad, Some(self.0.rssi))])
    }

    async fn connect(&self, id: LockId, _: Duration) -> Result<Arc<dyn LockLink>, TransportError> {
        if id != LOCK {
            return Err(TransportError::NotFound(id));
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
            for f in crate::protocol::frame::split(&response, 23).unwrap() {
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

fn setup(rssi: i16) -> (Arc<Shared>, DeliveryEngine) {
    let shared = Arc::new(Shared {
        lock: Mutex::new(Lock::new(LockConfig::new(LOCK), &root())),
        rssi,
        connects: AtomicU32::new(0),
        drop_after: AtomicU32::new(0),
    });
    let config = DeliveryConfig {
        scan_time: Duration::ZERO,
        ..DeliveryConfig::default()
    };
    let engine = DeliveryEngine::new(Arc::new(MemoryTransport(shared.clone())), config);
    (shared, engine)
}

fn job(base: u32, ops: usize) -> Job {
    Job {
        job_id: JobId::random(),
        base: BaseVersion::Exact(base),
        target: base + 1,
        issued_at: now(),
        expires_at: Timestamp::from_second(1_800_086_400).unwrap(),
        audit_ack: 0,
        ops: (0..ops)
            .map(|i| Op::Put {
                slot: i as u16,
                entry: SlotEntry {
                    code: Code::parse(&format!("{:06}", 314_159 + i * 7_919)).unwrap(),
                    kind: CodeKind::Resident,
                    schedule: Schedule::Always,
                    enabled: true,
                    one_time: false,
                },
            })
            .collect(),
    }
}

fn batch(job: &Job) -> LockJobs {
    LockJobs {
        lock_id: LOCK,
        target_version: job.target,
        jobs: vec![LockKeys::derive(&root(), LOCK).seal_job(job).unwrap()],
    }
}

fn receipts(report: &DeliveryReport) -> Vec<crate::protocol::Receipt> {
    let DeliveryOutcome::Delivered { receipts } = &report.outcome else {
        panic!("not delivered: {:?}", report.outcome);
    };
    let keys = LockKeys::derive(&root(), LOCK);
    receipts
        .iter()
        .map(|r| keys.open_receipt(r).unwrap())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn twenty_changes_travel_in_one_connection() {
    let (shared, engine) = setup(-60);
    let job = job(0, 20);
    let reports = engine.deliver_all(&[batch(&job)]).await.unwrap();
    assert_eq!(reports[0].attempts, 1);
    let got = receipts(&reports[0]);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].outcome, Outcome::Applied);
    assert_eq!(got[0].reply_to, ReplyTo::Job(job.job_id));
    assert_eq!(shared.connects.load(Ordering::SeqCst), 1);
    assert_eq!(shared.lock.lock().unwrap().state().slots.len(), 20);
}

#[tokio::test(start_paused = true)]
async fn an_up_to_date_lock_is_skipped_and_a_far_one_is_out_of_range() {
    let (shared, engine) = setup(-60);
    let first = job(0, 1);
    engine.deliver_all(&[batch(&first)]).await.unwrap();
    let again = engine.deliver_all(&[batch(&first)]).await.unwrap();
    assert_eq!(again[0].outcome, DeliveryOutcome::UpToDate);
    assert_eq!(again[0].advertised_version, Some(1));
    assert_eq!(shared.connects.load(Ordering::SeqCst), 1);

    let (far, engine) = setup(DEFAULT_MIN_RSSI - 1);
    let report = engine.deliver_all(&[batch(&job(0, 1))]).await.unwrap();
    assert_eq!(report[0].outcome.code(), "out_of_range");
    assert_eq!(far.connects.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_dropped_link_is_retried_and_the_job_applies_once() {
    let (shared, engine) = setup(-60);
    shared.drop_after.store(3, Ordering::SeqCst);
    let job = job(0, 20);
    let report = engine.deliver_all(&[batch(&job)]).await.unwrap();
    assert_eq!(report[0].attempts, 2);
    assert_eq!(receipts(&report[0])[0].outcome, Outcome::Applied);
    let lock = shared.lock.lock().unwrap();
    assert_eq!(lock.state().version, 1);
    let applied = lock
        .state()
        .audit
        .iter()
        .filter(|e| matches!(e.kind, crate::protocol::AuditKind::JobApplied { .. }))
        .count();
    assert_eq!(applied, 1);
}

#[tokio::test(start_paused = true)]
async fn misrouted_and_altered_jobs_change_nothing() {
    let (shared, engine) = setup(-60);
    let mut wrong = batch(&job(0, 1));
    wrong.lock_id = LockId([1; 8]);
    let report = engine.deliver(&wrong, None).await;
    assert_eq!(report.outcome.code(), "invalid_jobs");

    let mut altered = batch(&job(0, 1));
    let last = altered.jobs[0].len() - 1;
    altered.jobs[0][last] ^= 1;
    let report = engine.deliver_all(&[altered]).await.unwrap();
    assert_eq!(
        report[0].outcome,
        DeliveryOutcome::Failed(DeliveryFailure::LockRefused {
            error: crate::protocol::ErrorCode::BadSeal
        })
    );
    assert_eq!(report[0].attempts, 1, "a bad seal is not retried");
    assert_eq!(shared.lock.lock().unwrap().state().version, 0);
}

#[tokio::test(start_paused = true)]
async fn a_status_echoes_a_fresh_challenge() {
    let (shared, engine) = setup(-60);
    shared.lock.lock().unwrap().enter_code("9999", now());
    let sightings = engine.scan().await.unwrap();
    assert!(sightings[0].events_pending);
    let reports = engine.collect_events(&sightings, |_| Some(0)).await;
    let status = reports[0].outcome.as_ref().unwrap();
    let receipt = LockKeys::derive(&root(), LOCK)
        .open_receipt(&status.sealed)
        .unwrap();
    assert_eq!(receipt.reply_to, ReplyTo::Status(status.challenge));
    assert_eq!(receipt.events.len(), 1);
    let again = engine.fetch_status(&sightings[0], 0).await;
    assert_ne!(again.outcome.unwrap().challenge, status.challenge);
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
    let (_, engine) = setup(-60);
    sync(&engine);
    let batches = [batch(&job(0, 1))];
    send(&engine.deliver_all(&batches));
    let seen = LockSighting {
        lock_id: LOCK,
        version: 0,
        events_pending: true,
        locked_out: false,
        rssi: None,
    };
    send(&engine.fetch_status(&seen, 0));
    send(&engine.collect_events(&[seen], |_| Some(0)));
}
