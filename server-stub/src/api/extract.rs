//! What handlers take from a request, each refusing with a problem
//! document: the caller ([`Caller`], from the bearer token; with the
//! property's change counter, [`CallerAtHead`]), the
//! idempotency key ([`Idem`]), the path ([`ApiPath`]) and the query
//! ([`ApiQuery`]), the client's address ([`ClientIp`]), and JSON bodies
//! ([`parse_body`]); and how handlers answer: JSON ([`json_response`]) and
//! idempotent writes ([`idempotent`]).

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_api::IDEMPOTENCY_HEADER;

use crate::app::App;
use crate::auth::{Caller, Idem, authenticate, authenticate_at_head};
use crate::db::Write;
use crate::error::{Error, ErrorKind, Result};
use crate::ops::idempotent::WriteFuture;

/// The bearer token of a request (`unauthorized` without one).
fn bearer(parts: &Parts) -> Result<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .ok_or_else(Error::unauthorized)
}

/// Extracts and checks the bearer token.
impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        authenticate(&app.store, bearer(parts)?).await
    }
}

/// The caller and their property's change counter, read with the token in
/// one statement (see [`authenticate_at_head`]): what sync needs to answer
/// an up-to-date cursor without another query.
#[derive(Debug, Clone)]
pub struct CallerAtHead {
    /// The caller.
    pub caller: Caller,
    /// The property's change counter when the token was checked.
    pub head: i64,
}

impl FromRequestParts<App> for CallerAtHead {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        let (caller, head) = authenticate_at_head(&app.store, bearer(parts)?).await?;
        Ok(Self { caller, head })
    }
}

/// The `Idempotency-Key` header of a write, with the method and path.
impl<S: Send + Sync> FromRequestParts<S> for Idem {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self> {
        let key = parts
            .headers
            .get(IDEMPOTENCY_HEADER)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::Invalid,
                    "idempotency_key_required",
                    format!("every write needs an `{IDEMPOTENCY_HEADER}` header (a unique id the client keeps for retries)"),
                )
            })?;
        if key.len() > 200 || !key.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Error::new(
                ErrorKind::Invalid,
                "idempotency_key_invalid",
                "an idempotency key is 1 to 200 printable ASCII characters",
            ));
        }
        Ok(Self {
            key: key.to_owned(),
            target: format!("{} {}", parts.method, parts.uri.path()),
        })
    }
}

/// `axum::extract::Path` whose refusal (bad percent-encoding, invalid UTF-8)
/// is a problem document with the code `invalid_request`, like every other
/// error, instead of axum's plain text.
#[derive(Debug)]
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiPath<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(value)| Self(value))
            .map_err(|_| {
                Error::invalid("the path is malformed (bad percent-encoding or not UTF-8)")
            })
    }
}

/// `axum::extract::Query` whose refusal is a problem document with the code
/// `invalid_request` naming what is wrong.
#[derive(Debug)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Self(value))
            .map_err(|rejection| {
                let why: String = rejection.body_text().chars().take(200).collect();
                Error::invalid(format!("malformed query string: {why}"))
            })
    }
}

/// The client's address, for rate limits: the TCP peer, or what trusted
/// proxies say (see [`App::client_ip`]).
#[derive(Debug, Clone)]
pub struct ClientIp(pub String);

impl FromRequestParts<App> for ClientIp {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self> {
        let ConnectInfo(peer) = ConnectInfo::<SocketAddr>::from_request_parts(parts, app)
            .await
            .map_err(|e| Error::internal("client address", e))?;
        Ok(Self(app.client_ip(peer, &parts.headers).to_string()))
    }
}

/// Parses a JSON body into `T`, answering `invalid_request` with serde's
/// message (which names the field, never echoes a value). Text with a NUL
/// character is refused too: PostgreSQL cannot store it, and no name, code
/// or address needs it.
pub fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T> {
    let parsed = serde_json::from_slice(body)
        .map_err(|e| Error::invalid(format!("malformed JSON body: {e}")))?;
    // JSON can only carry a NUL as the escape `\u0000`: look closer only then.
    if body.windows(6).any(|w| w == b"\\u0000")
        && serde_json::from_slice::<serde_json::Value>(body).is_ok_and(|v| holds_nul(&v))
    {
        return Err(nul_refused());
    }
    Ok(parsed)
}

/// The error for text with a NUL character.
pub fn nul_refused() -> Error {
    Error::invalid("text may not contain NUL characters (\\u0000 or %00)")
}

fn holds_nul(value: &serde_json::Value) -> bool {
    use serde_json::Value;
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(holds_nul),
        Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || holds_nul(v)),
        Value::Null | Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A JSON response from serialised text.
pub fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// Runs `work` (given the write and the caller) as an idempotent write of
/// the caller's property (see
/// [`crate::ops::idempotent::run`]) and answers with its JSON: `status`
/// the first time, the stored answer on a retry.
pub async fn idempotent<T, F>(
    app: &App,
    caller: &Caller,
    idem: &Idem,
    body: &[u8],
    status: StatusCode,
    work: F,
) -> Result<Response>
where
    T: serde::Serialize,
    F: for<'a> FnOnce(&'a mut Write, &'a Caller) -> WriteFuture<'a, T>,
{
    let answer =
        crate::ops::idempotent::run(&app.store, caller, idem, body, status.as_u16(), work).await?;
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    Ok(json_response(status, answer.body))
}
