//! Delivery: visiting the locks in range that need something (a change the
//! server wants on them, audit events to bring back, a state the server has
//! not confirmed), the server's half of each visit over HTTP, and the watch
//! loop that keeps doing it.

use async_trait::async_trait;

use super::*;
use keyway_api::{VisitAnswer, VisitOpened, VisitStatus};
use keyway_delivery::{
    DeliveryConfig, LockSighting, VisitError, VisitServer, VisitTicket, resolve,
};
use keyway_protocol::AdvertKey;

impl Client {
    /// One round of delivery: scans, recognises the user's locks by their
    /// advertising keys, and visits each one in range that needs it (the
    /// server wants another version on it, it holds audit events, or the
    /// server has not confirmed the version it advertises). A visit needs the
    /// server: the lock's status goes to it and the jobs it seals for the
    /// lock's session come back in the same connection. Receipts are stored
    /// in one transaction per lock, then uploaded with the settled states
    /// pulled (best effort: offline, receipts wait for the next sync).
    pub async fn deliver_nearby(&self) -> Result<DeliveryReport, ClientError> {
        let round = Round {
            target: None,
            config: self.inner.config.delivery.clone(),
            deadline: None,
        };
        self.deliver_round(round).await
    }

    /// One visit to `lock_id` within `budget`, for an app the system woke
    /// because a known lock is near (Android's companion device presence,
    /// iOS background scanning or state restoration, which give the app
    /// seconds): scans until that lock is heard, visits it if it needs it,
    /// and uploads the receipts if time is left. The scan, the connection
    /// and each answer are bounded by shares of the budget; what does not
    /// fit waits for the next wake-up or sync (a job the lock applied is
    /// answered again with its remembered receipt).
    pub async fn deliver_to(
        &self,
        lock_id: &str,
        budget: Duration,
    ) -> Result<DeliveryReport, ClientError> {
        if budget.is_zero() {
            return Err(ClientError::invalid("the time budget must be above zero"));
        }
        let share = |f: f64| budget.mul_f64(f).max(Duration::from_millis(50));
        let round = Round {
            target: Some(lock_id.to_owned()),
            config: DeliveryConfig {
                scan_time: share(0.4),
                connect_timeout: share(0.3),
                response_timeout: share(0.2),
                attempts: 1,
                ..self.inner.config.delivery.clone()
            },
            deadline: Some(tokio::time::Instant::now() + budget),
        };
        self.deliver_round(round).await
    }

    /// The filter an app registers so the system wakes it near one of the
    /// user's locks (what the app persists across a restart is only its
    /// data directory and its secret store: the filter comes from them).
    pub fn wake_filter(&self) -> Result<WakeFilter, ClientError> {
        let locks = self.inner.store.read(store::locks)?;
        Ok(WakeFilter {
            service_uuid: keyway_protocol::uuid_string(keyway_protocol::SERVICE_UUID),
            company_id: keyway_protocol::COMPANY_ID,
            lock_ids: locks.into_iter().map(|l| l.lock_id).collect(),
        })
    }

    async fn deliver_round(&self, round: Round) -> Result<DeliveryReport, ClientError> {
        let transport =
            lock(&self.inner.transport)
                .clone()
                .ok_or_else(|| ClientError::Bluetooth {
                    detail: "no Bluetooth transport was set".into(),
                })?;
        let token = self.token()?;
        let _busy = self.inner.busy.lock().await;
        let engine = DeliveryEngine::new(transport, round.config.clone());
        let locks: Vec<LockSync> = self
            .inner
            .store
            .read(store::locks)?
            .into_iter()
            .filter(|l| round.target.as_ref().is_none_or(|t| &l.lock_id == t))
            .collect();
        if let Some(target) = &round.target
            && locks.is_empty()
        {
            return Err(ClientError::NotFound {
                what: format!("door {target}"),
            });
        }
        let keys: Vec<AdvertKey> = locks.iter().filter_map(advert_key).collect();
        let min_rssi = engine.config().min_rssi;
        // A lock with work in range ends the scan: its visit starts at once.
        let has_work = |device: &keyway_delivery::HeardDevice| {
            resolve(std::slice::from_ref(device), &keys)
                .iter()
                .any(|seen| {
                    seen.in_range(min_rssi)
                        && locks
                            .iter()
                            .any(|l| l.lock_id == seen.lock_id.to_string() && needs_visit(l, seen))
                })
        };
        let heard = engine.scan_until(&has_work).await.map_err(|e| match e {
            TransportError::AdapterUnavailable { detail } => ClientError::Bluetooth { detail },
            other => ClientError::Bluetooth {
                detail: other.to_string(),
            },
        })?;
        let sightings = resolve(&heard, &keys);
        let mut report = DeliveryReport {
            heard: sightings.len() as u32,
            ..DeliveryReport::default()
        };
        let server = HttpVisits {
            client: self,
            token: &token,
        };
        for seen in &sightings {
            let Some(lock) = locks.iter().find(|l| l.lock_id == seen.lock_id.to_string()) else {
                continue;
            };
            if !needs_visit(lock, seen) || round.expired() {
                continue;
            }
            let visit = engine.visit(seen, &server).await;
            if let DeliveryOutcome::Delivered { receipts } = &visit.outcome {
                self.keep_receipts(&lock.lock_id, receipts)?;
            }
            let visit = LockVisit {
                lock_id: lock.lock_id.clone(),
                name: lock.name.clone(),
                outcome: VisitOutcome::from(&visit.outcome),
            };
            log::info!("lock {}: {}", visit.lock_id, visit.outcome.code());
            let _ = self.inner.events.send(ClientEvent::Delivery {
                visit: visit.clone(),
            });
            report.locks.push(visit);
        }
        if report.locks.iter().any(reached_server) && !round.expired() {
            self.settle(&token, &mut report).await;
        }
        self.publish();
        Ok(report)
    }

    /// Uploads the receipts just stored and pulls what they settled (best
    /// effort: offline, receipts wait for the next sync).
    async fn settle(&self, token: &str, report: &mut DeliveryReport) {
        match self.upload_receipts(token).await {
            Ok(n) => {
                report.receipts_uploaded = n;
                match self.pull(token).await {
                    Ok(_) => report.synced = true,
                    Err(e) => log::info!("pull after delivery failed: {}", e.code()),
                }
            }
            Err(e) => log::info!("receipts wait for the next sync: {}", e.code()),
        }
    }

    /// Stores one lock's receipts in one transaction before anything else
    /// happens to them.
    fn keep_receipts(&self, lock_id: &str, receipts: &[Vec<u8>]) -> Result<(), ClientError> {
        self.stage(Stage::ReceiptsCollected);
        self.inner.store.write(|tx| {
            for receipt in receipts {
                store::add_receipt(tx, lock_id, &encode_bytes(receipt))?;
            }
            Ok(())
        })?;
        self.stage(Stage::ReceiptsStored);
        Ok(())
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

/// The key that recognises `lock`'s advertisements.
/// One delivery round: every lock of the user's, or one, with the engine's
/// settings, within a deadline or not.
struct Round {
    target: Option<String>,
    config: DeliveryConfig,
    deadline: Option<tokio::time::Instant>,
}

impl Round {
    /// Whether the round's time budget is spent.
    fn expired(&self) -> bool {
        self.deadline
            .is_some_and(|d| tokio::time::Instant::now() >= d)
    }
}

/// Whether the visit reached the server (so receipts may go up now).
fn reached_server(visit: &LockVisit) -> bool {
    !matches!(
        visit.outcome,
        VisitOutcome::Failed {
            failure: DeliveryFailure::ServerUnreachable { .. }
        }
    )
}

fn advert_key(lock: &LockSync) -> Option<AdvertKey> {
    AdvertKey::from_hex(lock.lock_id.parse().ok()?, &lock.advert_key)
}

/// Whether a phone hearing `seen` should visit `lock`: the server wants
/// another version on it, it holds audit events, or it advertises a version
/// the server has not confirmed (a receipt that never reached the server).
fn needs_visit(lock: &LockSync, seen: &LockSighting) -> bool {
    lock.target_version
        .is_some_and(|target| seen.version != target)
        || seen.events_pending
        || seen.version != lock.confirmed_version
}

/// The server's half of a visit, over HTTP with this device's token.
struct HttpVisits<'a> {
    client: &'a Client,
    token: &'a str,
}

fn visit_error(e: ClientError) -> VisitError {
    match e {
        ClientError::Network { detail } | ClientError::Server { detail, .. } => {
            VisitError::Unreachable(detail)
        }
        other => VisitError::Refused {
            code: other.code().to_owned(),
            detail: other.to_string(),
        },
    }
}

#[async_trait]
impl VisitServer for HttpVisits<'_> {
    async fn open_visit(&self, lock: LockId) -> Result<VisitTicket, VisitError> {
        let opened: VisitOpened = self
            .client
            .call_with_retries(
                Method::POST,
                &format!("/v1/locks/{lock}/visits"),
                Some(self.token),
                None,
                None::<&()>,
            )
            .await
            .map_err(visit_error)?;
        let mut challenge = [0u8; 16];
        hex::decode_to_slice(&opened.challenge, &mut challenge).map_err(|_| {
            VisitError::Refused {
                code: "bad_response".into(),
                detail: "the server's challenge is not 32 hex digits".into(),
            }
        })?;
        Ok(VisitTicket {
            visit_id: opened.visit_id,
            lock_id: lock,
            challenge,
            since_seq: opened.since_seq,
        })
    }

    async fn present_status(
        &self,
        ticket: &VisitTicket,
        status: Vec<u8>,
    ) -> Result<Vec<Vec<u8>>, VisitError> {
        let body = VisitStatus {
            status: encode_bytes(&status),
        };
        let answer: VisitAnswer = self
            .client
            .call_with_retries(
                Method::POST,
                &format!("/v1/visits/{}/status", ticket.visit_id),
                Some(self.token),
                None,
                Some(&body),
            )
            .await
            .map_err(visit_error)?;
        answer
            .jobs
            .iter()
            .map(|job| {
                decode_bytes(job).ok_or_else(|| VisitError::Refused {
                    code: "bad_response".into(),
                    detail: "a job is not base64".into(),
                })
            })
            .collect()
    }
}
