//! Idempotent writes: every authenticated write runs under the property's
//! write lock with its answer stored, sealed, per (principal, key) in the
//! same transaction; a retry with the same request gets the stored answer,
//! another request with the same key is refused.

use std::future::Future;
use std::pin::Pin;

use crate::auth::{Caller, Idem};
use crate::clock::now_secs;
use crate::crypto::Cell;
use crate::db::idempotency::{self, Stored};
use crate::db::{Store, Write};
use crate::error::{Error, Result};

/// A boxed future borrowing a write.
pub type WriteFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'a>>;

/// An answer: its HTTP status and its JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The JSON body.
    pub body: String,
}

/// Runs `work` (given the write and the caller) as one idempotent write to
/// the caller's property: under the
/// property's write lock, a key seen before with the same request returns
/// the stored answer; with another request it is refused; otherwise the
/// work runs and its answer (`status`) is stored with it, all in one
/// transaction. The stored answer is sealed (it may show a code's digits)
/// and the request is recognised by a keyed MAC, so a database dump reveals
/// neither.
pub async fn run<T, F>(
    store: &Store,
    caller: &Caller,
    idem: &Idem,
    body: &[u8],
    status: u16,
    work: F,
) -> Result<Answer>
where
    T: serde::Serialize,
    F: for<'a> FnOnce(&'a mut Write, &'a Caller) -> WriteFuture<'a, T>,
{
    let key = store.key().clone();
    let hash = key.request_mac(&[idem.target.as_bytes(), body]);
    let mut w = store
        .begin_write(&caller.property_id)
        .await?
        .ok_or_else(|| Error::not_found("property"))?;
    let row = Cell::key_of(&[&caller.principal, &idem.key]);
    let cell = Cell::new("idempotency", "body", &row);
    if let Some(stored) = idempotency::stored(&mut w, &caller.principal, &idem.key).await? {
        if stored.request_hash != hash {
            return Err(Error::unprocessable(
                "idempotency_key_reused",
                "this idempotency key was used for another request; use a new key",
            ));
        }
        return Ok(Answer {
            status: u16::try_from(stored.status).unwrap_or(200),
            body: key.open_str(cell, &stored.body)?,
        });
    }
    let value = work(&mut w, caller).await?;
    let answer = serde_json::to_string(&value)?;
    let stored = Stored {
        request_hash: hash,
        status: i64::from(status),
        body: key.seal_str(cell, &answer)?,
    };
    idempotency::store(&mut w, &caller.principal, &idem.key, stored, now_secs()).await?;
    w.commit().await?;
    Ok(Answer {
        status,
        body: answer,
    })
}
