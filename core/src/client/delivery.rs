//! Delivery: carrying sealed jobs to the locks in range and their receipts
//! back, and the watch loop that keeps doing it.

use super::*;

impl Client {
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
