//! How a client is set up: its server, directory, retries and delivery settings.

use std::path::PathBuf;
use std::time::Duration;

use keyway_delivery::{Backoff, DeliveryConfig};

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
    /// The server, like `https://keyway.example.org` (a path prefix is
    /// allowed; no query, fragment or credentials). [`Client::open`] refuses
    /// plain `http://` unless the host is this device (`localhost`,
    /// `127.0.0.0/8`, `[::1]`): `invalid_argument`.
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
