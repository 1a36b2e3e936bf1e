//! Signed webhooks: property managers register `https://` endpoints
//! ([`crate::ops::webhooks`]); every event they follow is written as a
//! delivery in the write that makes it, and a worker ([`worker`]) POSTs each
//! one signed ([`sign`]), retrying failures with exponential backoff and
//! jitter up to a limit and recording every attempt. Endpoints are checked
//! against server-side request forgery ([`target`]): plain `http://` only
//! to this machine and only when the operator allows it, and no address on
//! a private, loopback or link-local network unless the operator allows it,
//! checked when the webhook is created and again, with the connection
//! pinned to the checked address, at every attempt.

pub mod sign;
pub mod target;
pub mod worker;

use clap::Args;

pub use target::TargetPolicy;

/// How webhooks are delivered.
#[derive(Debug, Clone, Args)]
pub struct WebhookSettings {
    /// Allow `http://` webhook URLs whose host is this machine (localhost,
    /// 127.0.0.0/8, ::1), and loopback addresses as targets. For tests and
    /// development; never needed in production.
    #[arg(long, env = "KEYWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP")]
    pub webhooks_allow_loopback_http: bool,
    /// Allow webhook URLs that resolve to private, link-local or other
    /// non-public addresses (10/8, 172.16/12, 192.168/16, 169.254/16,
    /// fc00::/7, fe80::/10, …): only when the receivers are on the
    /// operator's own network.
    #[arg(long, env = "KEYWAY_WEBHOOKS_ALLOW_PRIVATE")]
    pub webhooks_allow_private: bool,
    /// How often the worker looks for due deliveries, in milliseconds.
    #[arg(long, env = "KEYWAY_WEBHOOK_INTERVAL_MS", default_value_t = 1000)]
    pub webhook_interval_ms: u64,
    /// Attempts before a delivery is given up.
    #[arg(long, env = "KEYWAY_WEBHOOK_MAX_ATTEMPTS", default_value_t = 10)]
    pub webhook_max_attempts: i64,
    /// The first retry's delay in milliseconds; it doubles with each
    /// attempt (at most an hour), and each delay is drawn between half of
    /// it and all of it (jitter).
    #[arg(long, env = "KEYWAY_WEBHOOK_BACKOFF_MS", default_value_t = 10_000)]
    pub webhook_backoff_ms: i64,
    /// How long one attempt may take, in seconds.
    #[arg(long, env = "KEYWAY_WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            webhooks_allow_loopback_http: false,
            webhooks_allow_private: false,
            webhook_interval_ms: 1000,
            webhook_max_attempts: 10,
            webhook_backoff_ms: 10_000,
            webhook_timeout_secs: 10,
        }
    }
}

impl WebhookSettings {
    /// What endpoints may be.
    pub fn targets(&self) -> TargetPolicy {
        TargetPolicy {
            allow_loopback_http: self.webhooks_allow_loopback_http,
            allow_private: self.webhooks_allow_private,
        }
    }
}
