//! The server's HTTP API as the phone calls it: reqwest (rustls on ring,
//! the server's certificate verified as the OS does: [`super::tls`]),
//! bearer tokens, idempotency keys on writes, problem documents turned into
//! [`ClientError`]s, and the classification the outbox needs (was the request
//! possibly sent? may it be retried?). Logs name method, path and status only.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ClientError;
use keyway_api::{IDEMPOTENCY_HEADER, Problem};

/// How a call failed, as the outbox needs to know it.
#[derive(Debug)]
pub(crate) enum CallError {
    /// The connection could not be made: the request never left the phone.
    NotSent(String),
    /// The request may have reached the server but no usable answer came back
    /// (timeout, dropped connection, 5xx): retry with the same key.
    Transient(ClientError),
    /// The server answered with a refusal (4xx): retrying will not help.
    Refused(ClientError),
    /// The server asks the phone to wait (429 with `Retry-After`): the request
    /// did nothing; send it again, unchanged, after `retry_after`.
    Throttled {
        /// The server's refusal (`rate_limited`).
        error: ClientError,
        /// How long to wait before the next write.
        retry_after: Duration,
    },
}

impl CallError {
    pub(crate) fn into_client_error(self) -> ClientError {
        match self {
            Self::NotSent(detail) => ClientError::Network { detail },
            Self::Transient(e) | Self::Refused(e) | Self::Throttled { error: e, .. } => e,
        }
    }
}

/// A thin client of one server.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    /// The HTTP client, or why none can reach an `https://` server (a device
    /// with no root certificate at all): every call then fails as not sent,
    /// while the store and everything offline keep working.
    client: Result<reqwest::Client, String>,
    base: String,
}

impl Http {
    /// A client of the server at `base` (see [`server_base`]). Redirects are
    /// never followed: the API has none, and following one would send the
    /// request (a login's API token, a bearer token) to wherever it points.
    pub(crate) fn new(base: &str, timeout: Duration) -> Result<Self, ClientError> {
        let (base, https) = server_base(base)?;
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .user_agent(concat!("keyway-client/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .https_only(https);
        if https {
            match super::tls::client_config() {
                Ok(tls) => builder = builder.use_preconfigured_tls(tls),
                Err(untrusted) => {
                    log::warn!("{untrusted}");
                    return Ok(Self {
                        client: Err(untrusted),
                        base,
                    });
                }
            }
        }
        let client = builder
            .build()
            .map_err(|e| ClientError::invalid(format!("HTTP client: {e}")))?;
        Ok(Self {
            client: Ok(client),
            base,
        })
    }

    /// Sends one request and decodes a JSON answer (or `()` for 204).
    pub(crate) async fn call<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        idempotency_key: Option<&str>,
        body: Option<&B>,
    ) -> Result<T, CallError> {
        let client = self
            .client
            .as_ref()
            .map_err(|e| CallError::NotSent(e.clone()))?;
        let mut request = client.request(method.clone(), format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let log_path = path.split('?').next().unwrap_or(path);
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => {
                let detail = describe(&e);
                log::info!("{method} {log_path}: {detail}");
                return Err(if e.is_connect() {
                    CallError::NotSent(detail)
                } else {
                    CallError::Transient(ClientError::Network { detail })
                });
            }
        };
        let status = response.status();
        log::debug!("{method} {log_path} -> {}", status.as_u16());
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(|e| {
            CallError::Transient(ClientError::Network {
                detail: describe(&e),
            })
        })?;
        if status.is_success() {
            let text = if bytes.is_empty() || status == StatusCode::NO_CONTENT {
                &b"null"[..]
            } else {
                &bytes[..]
            };
            return serde_json::from_slice(text).map_err(|e| {
                CallError::Transient(ClientError::Server {
                    status: status.as_u16(),
                    detail: format!("unreadable answer: {e}"),
                })
            });
        }
        let problem: Problem = serde_json::from_slice(&bytes).unwrap_or_else(|_| Problem {
            type_uri: String::new(),
            title: String::new(),
            status: status.as_u16(),
            code: if status.is_server_error() {
                "internal".into()
            } else {
                "http_error".into()
            },
            detail: format!("HTTP {}", status.as_u16()),
            violations: Vec::new(),
        });
        log::info!("{method} {log_path} refused: {}", problem.code);
        let error = ClientError::from_problem(problem);
        if status == StatusCode::TOO_MANY_REQUESTS {
            // Without a Retry-After the server still asked to slow down: a minute.
            let retry_after = retry_after.unwrap_or(Duration::from_secs(60));
            return Err(CallError::Throttled { error, retry_after });
        }
        if status.is_server_error() || status == StatusCode::REQUEST_TIMEOUT {
            Err(CallError::Transient(error))
        } else {
            Err(CallError::Refused(error))
        }
    }
}

/// Checks a server URL and returns it without a trailing slash, and whether
/// it is `https`. Plain `http://` is refused unless the host is this device
/// (`localhost`, `127.0.0.0/8`, `[::1]`): anywhere else a token and codes
/// would cross the network in clear. The URL is parsed (WHATWG rules, the
/// `url` crate reqwest itself uses), so `http://127.0.0.1@example.org` is
/// `example.org`.
pub(crate) fn server_base(text: &str) -> Result<(String, bool), ClientError> {
    const WANT: &str = "the server URL must be https://HOST[:PORT][/PATH] \
                        (plain http:// only for this device: localhost, 127.0.0.0/8, [::1])";
    let url = reqwest::Url::parse(text.trim())
        .map_err(|e| ClientError::invalid(format!("{WANT}; `{text}` is not a URL ({e})")))?;
    let https = match url.scheme() {
        "https" => true,
        "http" if is_loopback(&url) => false,
        "http" => {
            return Err(ClientError::invalid(format!(
                "{WANT}; refusing plain http:// to {}",
                url.host_str().unwrap_or_default()
            )));
        }
        other => return Err(ClientError::invalid(format!("{WANT}; not `{other}:`"))),
    };
    if url.host().is_none() || url.cannot_be_a_base() {
        return Err(ClientError::invalid(format!("{WANT}; no host")));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ClientError::invalid(format!(
            "{WANT}; no query or fragment"
        )));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ClientError::invalid(format!("{WANT}; no user or password")));
    }
    Ok((url.as_str().trim_end_matches('/').to_owned(), https))
}

/// Whether the URL's host is this device.
fn is_loopback(url: &reqwest::Url) -> bool {
    let Some(host) = url.host_str() else {
        return false;
    };
    // An IPv6 host keeps its brackets; IPv4 is already in dotted decimal
    // (`0x7f000001` was parsed as `127.0.0.1`).
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<std::net::IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => host.eq_ignore_ascii_case("localhost"),
    }
}

/// What went wrong, without the URL (it may carry a cursor) or any header.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_connect() {
        "connection failed"
    } else if e.is_timeout() {
        "timed out"
    } else if e.is_body() || e.is_decode() {
        "the answer was cut off"
    } else {
        "request failed"
    };
    let mut source = std::error::Error::source(e);
    let mut cause = String::new();
    while let Some(s) = source {
        cause = s.to_string();
        source = s.source();
    }
    if cause.is_empty() {
        what.to_owned()
    } else {
        format!("{what} ({cause})")
    }
}
