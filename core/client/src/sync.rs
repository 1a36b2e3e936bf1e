//! Sync: the outbox uploaded oldest first, receipts in batches, the delta
//! pulled page by page; retries with backoff and jitter, offline draws, and
//! the server's Retry-After.

use super::requests::idempotency_key;
use super::*;

impl Client {
    /// Uploads the outbox and the receipts, then pulls what changed since
    /// the cursor. Fails with `network` when the server cannot be reached
    /// (queued requests stay queued).
    pub async fn sync(&self) -> Result<SyncReport, ClientError> {
        let _busy = self.inner.busy.lock().await;
        self.sync_locked().await
    }

    pub(super) async fn sync_locked(&self) -> Result<SyncReport, ClientError> {
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
            if request.offline || !view::may_draw_locally(&ctx) {
                return Ok(false);
            }
            let mut rng = keyway_codes::secure_rng()?;
            let code = keyway_codes::generate(&ctx, &mut rng)?;
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
    pub(super) async fn upload_receipts(&self, token: &str) -> Result<u32, ClientError> {
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
    pub(super) async fn pull(&self, token: &str) -> Result<u32, ClientError> {
        let mut pages = 0;
        let mut restarted = false;
        // A store that never synced (a login) takes the uses it is brought
        // as history: stored, not announced.
        let first = self
            .inner
            .store
            .read(|c| store::get_meta(c, "cursor"))?
            .is_none();
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
            let history = first && !restarted;
            self.inner.store.write(|tx| {
                // Before tombstones: a use maps to the id the app knows the
                // code by while the code is still here.
                for used in &page.uses {
                    store::put_use(tx, used, history)?;
                }
                if !page.uses.is_empty() {
                    store::prune_uses(tx)?;
                }
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

    pub(super) async fn call_with_retries<
        B: serde::Serialize + ?Sized,
        T: serde::de::DeserializeOwned,
    >(
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
