//! The building manager's side of the demo: a small client of the server's
//! manager API (`/v1/manage/...`, `docs/api.md`), authenticated with the
//! manager's API token. Every write carries a fresh idempotency key.

use std::sync::atomic::{AtomicU64, Ordering};

use keyway_api::{IDEMPOTENCY_HEADER, Problem};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// A refusal or failure of a manager call.
#[derive(Debug)]
pub(crate) struct ApiFailure {
    /// The HTTP status (0 when the server was not reached).
    status: u16,
    /// The server's problem code.
    code: String,
    /// What it said.
    detail: String,
}

impl std::fmt::Display for ApiFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({}): {}", self.code, self.status, self.detail)
    }
}

/// The manager's API, as the demo uses it.
#[derive(Debug)]
pub(crate) struct ManagerApi {
    http: reqwest::Client,
    base: String,
    token: String,
    writes: AtomicU64,
}

impl ManagerApi {
    /// A client of `base` with `token`.
    pub(crate) fn new(base: &str, token: &str) -> Result<Self, ApiFailure> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|e| ApiFailure {
                status: 0,
                code: "internal".into(),
                detail: e.to_string(),
            })?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            token: token.to_owned(),
            writes: AtomicU64::new(0),
        })
    }

    /// `GET path` as JSON.
    pub(crate) async fn get<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiFailure> {
        self.call(Method::GET, path, None).await
    }

    /// A write (`POST`, `PUT`, `DELETE`) with a fresh idempotency key.
    pub(crate) async fn write<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Value,
    ) -> Result<T, ApiFailure> {
        self.call(method, path, Some(body)).await
    }

    /// `GET path` as bytes (a QR code).
    pub(crate) async fn bytes(&self, path: &str) -> Result<Vec<u8>, ApiFailure> {
        let response = self.send(Method::GET, path, None).await?;
        Ok(response.bytes().await.map_err(network)?.to_vec())
    }

    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<T, ApiFailure> {
        let response = self.send(method, path, body).await?;
        response.json().await.map_err(network)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<reqwest::Response, ApiFailure> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if method != Method::GET {
            let n = self.writes.fetch_add(1, Ordering::Relaxed);
            let nanos = jiff::Timestamp::now().as_nanosecond();
            request = request.header(IDEMPOTENCY_HEADER, format!("demo-{nanos}-{n}"));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(network)?;
        if response.status().is_success() {
            return Ok(response);
        }
        let status = response.status().as_u16();
        let problem: Option<Problem> = response.json().await.ok();
        Err(match problem {
            Some(p) => ApiFailure {
                status,
                code: p.code,
                detail: p.detail,
            },
            None => ApiFailure {
                status,
                code: "http_error".into(),
                detail: format!("HTTP {status}"),
            },
        })
    }
}

fn network(e: reqwest::Error) -> ApiFailure {
    ApiFailure {
        status: 0,
        code: "network".into(),
        detail: e.to_string(),
    }
}
