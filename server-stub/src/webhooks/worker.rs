//! The delivery worker: claims due deliveries with a lease (several
//! instances never send one twice at once), POSTs each signed body to its
//! webhook's checked address, and records the attempt — the receiver's
//! status, the kind of error, how long it took and when the next attempt is
//! due. A 2xx answer delivers; anything else is tried again after an
//! exponential backoff with jitter, until the attempts run out (`failed`).
//! Log lines name deliveries and webhooks by id, never a URL or a secret.

use std::time::{Duration, Instant};

use reqwest::header::{CONTENT_TYPE, HeaderValue, USER_AGENT};

use super::WebhookSettings;
use super::sign::{HEADER, signature};
use super::target::{self, TargetError};
use crate::clock::now_secs;
use crate::crypto::{Cell, DataKey};
use crate::db::Store;
use crate::db::webhooks::{self, AttemptRow, HookRow};
use crate::error::Result;

/// Unix milliseconds now.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// The delay before attempt `attempts + 1`: the first retry's delay doubled
/// per attempt, at most an hour, drawn between half of it and all of it.
pub fn backoff_ms(settings: &WebhookSettings, attempts: i64) -> i64 {
    let base = settings.webhook_backoff_ms.max(1);
    let doubled = base.saturating_mul(1 << (attempts - 1).clamp(0, 30));
    let delay = doubled.min(3_600_000);
    let half = delay / 2;
    half + (rand::random::<u64>() % (u64::try_from(delay - half).unwrap_or(0) + 1)) as i64
}

/// What one attempt came to.
struct Outcome {
    status_code: Option<u16>,
    error: Option<&'static str>,
}

/// Delivers due deliveries until `stop` turns true.
pub async fn run_worker(
    store: Store,
    settings: WebhookSettings,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let interval = Duration::from_millis(settings.webhook_interval_ms.max(20));
    loop {
        match deliver_due(&store, &settings).await {
            Ok(n) if n > 0 => log::debug!("{n} webhook attempt(s)"),
            Ok(_) => {}
            Err(e) => log::warn!("webhook worker: {}", e.detail),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {},
            _ = stop.changed() => return,
        }
    }
}

/// One pass: claims due deliveries, attempts each, records the outcome.
/// Returns how many attempts were made.
pub async fn deliver_due(store: &Store, settings: &WebhookSettings) -> Result<usize> {
    let timeout = Duration::from_secs(settings.webhook_timeout_secs.max(1));
    let lease = i64::try_from(timeout.as_millis()).unwrap_or(60_000) * 2 + 5_000;
    let claimed = webhooks::claim_due(&mut store.read().await?, now_ms(), lease).await?;
    let count = claimed.len();
    for (id, webhook_id, event_type, body, attempts) in claimed {
        let hook = webhooks::by_id(&mut store.read().await?, &webhook_id).await?;
        let at_ms = now_ms();
        let started = Instant::now();
        let outcome = match hook.filter(|h| h.deleted_at.is_none()) {
            Some(hook) => attempt(store.key(), &hook, &id, &event_type, &body, settings).await,
            None => Outcome {
                status_code: None,
                error: Some("webhook_deleted"),
            },
        };
        let delivered = outcome.error.is_none();
        let give_up = !delivered
            && (attempts >= settings.webhook_max_attempts
                || outcome.error == Some("webhook_deleted"));
        let next = (!delivered && !give_up).then(|| now_ms() + backoff_ms(settings, attempts));
        let row = AttemptRow {
            delivery_id: id.clone(),
            attempt: attempts,
            at_ms,
            status_code: outcome.status_code.map(i64::from),
            error: outcome.error.map(str::to_owned),
            duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            next_attempt_ms: next,
        };
        let status = match (delivered, give_up) {
            (true, _) => "delivered",
            (false, true) => "failed",
            (false, false) => "pending",
        };
        webhooks::record_attempt(&mut store.read().await?, &row, status).await?;
        match outcome.error {
            None => log::info!("webhook delivery {id} ({event_type}) delivered to {webhook_id}"),
            Some(kind) => log::warn!(
                "webhook delivery {id} ({event_type}) to {webhook_id} failed (attempt {attempts}: {kind}{}){}",
                outcome
                    .status_code
                    .map(|s| format!(" {s}"))
                    .unwrap_or_default(),
                if give_up { "; giving up" } else { "" }
            ),
        }
    }
    Ok(count)
}

/// POSTs one delivery: the URL checked again, the connection pinned to the
/// addresses just checked, no redirect followed.
async fn attempt(
    key: &DataKey,
    hook: &HookRow,
    delivery_id: &str,
    event_type: &str,
    body: &str,
    settings: &WebhookSettings,
) -> Outcome {
    let failed = |error| Outcome {
        status_code: None,
        error: Some(error),
    };
    let policy = settings.targets();
    let url = match target::check_url(&hook.url, policy) {
        Ok(url) => url,
        Err(e) => return failed(e.kind()),
    };
    let addrs = match target::resolve(&url, policy).await {
        Ok(addrs) => addrs,
        Err(e) => return failed(TargetError::kind(&e)),
    };
    let Ok(secret) = key.open(Cell::new("webhooks", "secret", &hook.id), &hook.secret) else {
        return failed("secret");
    };
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(settings.webhook_timeout_secs.max(1)))
        .no_proxy();
    if let Some(host) = url.host_str().filter(|h| !h.starts_with('[')) {
        builder = builder.resolve_to_addrs(host, &addrs);
    }
    let Ok(client) = builder.build() else {
        return failed("request");
    };
    let request = client
        .post(url)
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .header(USER_AGENT, HeaderValue::from_static("keyway-webhooks/1"))
        .header(HEADER, signature(&secret, now_secs(), body))
        .header("Keyway-Event", event_type)
        .header("Keyway-Delivery", delivery_id)
        .body(body.to_owned());
    match request.send().await {
        Ok(response) if response.status().is_success() => Outcome {
            status_code: Some(response.status().as_u16()),
            error: None,
        },
        Ok(response) => Outcome {
            status_code: Some(response.status().as_u16()),
            error: Some("http_status"),
        },
        Err(e) if e.is_timeout() => failed("timeout"),
        Err(e) if e.is_connect() => failed("connect"),
        Err(_) => failed("request"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_stops_at_an_hour() {
        let settings = WebhookSettings {
            webhook_backoff_ms: 1000,
            ..WebhookSettings::default()
        };
        for _ in 0..100 {
            let first = backoff_ms(&settings, 1);
            assert!((500..=1000).contains(&first), "{first}");
            let third = backoff_ms(&settings, 3);
            assert!((2000..=4000).contains(&third), "{third}");
            let late = backoff_ms(&settings, 40);
            assert!((1_800_000..=3_600_000).contains(&late), "{late}");
        }
    }
}
