//! Job receipts carried back from locks: every receipt is opened and its
//! job looked up before the property's write lock is taken ([`check`]), and
//! only receipts of unsettled jobs take it ([`settle`], one savepoint per
//! receipt, so one that fails leaves no partial change).

use keyway_api::{ReceiptBatchResponse, ReceiptResult, decode_bytes};
use keyway_protocol::seal::envelope_lock_id;
use keyway_protocol::{Receipt, ReplyTo};

use crate::auth::Caller;
use crate::crypto::hex;
use crate::db::locks::{self, LockRow};
use crate::db::{Store, Write, jobs};
use crate::error::{Error, Result};
use crate::ops::limits::rate_limit;
use crate::ops::reconcile::settle_receipt;

/// Most receipts in one batch.
pub const MAX_RECEIPTS: usize = 256;
/// Receipt batches a user may send per minute.
pub const RECEIPT_BATCHES_PER_MINUTE: i64 = 60;

/// What one receipt is, found out before the write lock is taken.
pub enum Checked {
    /// Answered already: a stable code (`accepted` for a receipt whose job
    /// the server settled before).
    Answered(Option<String>, &'static str),
    /// A genuine receipt of a job not settled yet.
    ToSettle(Box<(LockRow, Receipt)>),
}

/// Checks a batch: its size, the caller's rate, then each receipt.
pub async fn check(store: &Store, caller: &Caller, receipts: &[String]) -> Result<Vec<Checked>> {
    if receipts.len() > MAX_RECEIPTS {
        return Err(Error::invalid(format!(
            "at most {MAX_RECEIPTS} receipts per batch"
        )));
    }
    rate_limit(
        store,
        &format!("receipts:{}", caller.user_id),
        60,
        RECEIPT_BATCHES_PER_MINUTE,
    )
    .await?;
    let mut read = store.read().await?;
    let mut checked = Vec::with_capacity(receipts.len());
    for text in receipts {
        checked.push(check_one(&mut read, caller, text).await?);
    }
    Ok(checked)
}

/// Opens a receipt and finds its job, without writing anything.
async fn check_one(read: &mut crate::db::Read, caller: &Caller, text: &str) -> Result<Checked> {
    let Some(bytes) = decode_bytes(text) else {
        return Ok(Checked::Answered(None, "malformed"));
    };
    let Ok(lock_id) = envelope_lock_id(&bytes) else {
        return Ok(Checked::Answered(None, "malformed"));
    };
    let lock_id = lock_id.to_string();
    let answered = |code| Ok(Checked::Answered(Some(lock_id.clone()), code));
    let lock = match locks::load(read, &caller.property_id, &lock_id).await {
        Ok(lock) if caller.may_reach_lock(&lock) => lock,
        Ok(_) | Err(_) => return answered("unknown_lock"),
    };
    let key = crate::db::Context::key(read).clone();
    let receipt = match lock.keys(&key)?.open_receipt(&bytes) {
        Ok(receipt) => receipt,
        Err(e) => return answered(e.code()),
    };
    let ReplyTo::Job(job_id) = receipt.reply_to else {
        return answered("status_needs_visit");
    };
    match jobs::load(read, &lock.id, &hex(&job_id.0)).await? {
        None => answered("unknown_job"),
        Some(job) if job.outcome.is_some() => answered("accepted"),
        Some(_) => Ok(Checked::ToSettle(Box::new((lock, receipt)))),
    }
}

/// The results of a batch none of whose receipts needs the write, or the
/// batch back when one does.
pub fn answered(checked: Vec<Checked>) -> std::result::Result<ReceiptBatchResponse, Vec<Checked>> {
    if checked.iter().any(|c| matches!(c, Checked::ToSettle(..))) {
        return Err(checked);
    }
    let results = checked
        .into_iter()
        .enumerate()
        .filter_map(|(index, c)| match c {
            Checked::Answered(lock_id, status) => Some(ReceiptResult {
                index,
                lock_id,
                status: status.to_owned(),
            }),
            Checked::ToSettle(..) => None,
        })
        .collect();
    Ok(ReceiptBatchResponse { results })
}

/// Settles the checked receipts in this write; one result per receipt.
pub async fn settle(w: &mut Write, checked: Vec<Checked>) -> Result<ReceiptBatchResponse> {
    let mut results = Vec::with_capacity(checked.len());
    for (index, c) in checked.into_iter().enumerate() {
        let (lock_id, status) = match c {
            Checked::Answered(lock_id, status) => (lock_id, status),
            Checked::ToSettle(boxed) => {
                let (lock, receipt) = *boxed;
                let lock_id = lock.id.clone();
                (Some(lock_id), settle_one(w, lock, &receipt).await?)
            }
        };
        results.push(ReceiptResult {
            index,
            lock_id,
            status: status.to_owned(),
        });
    }
    Ok(ReceiptBatchResponse { results })
}

/// Settles one receipt inside the write, in a savepoint; its result code.
async fn settle_one(w: &mut Write, lock: LockRow, receipt: &Receipt) -> Result<&'static str> {
    w.savepoint().await?;
    let result = async {
        // Reloaded under the lock: another write may have moved it.
        let mut lock = locks::load(w, &lock.property_id, &lock.id).await?;
        settle_receipt(w, &mut lock, receipt).await
    }
    .await;
    w.settle_savepoint(result.is_ok()).await?;
    Ok(match result {
        Ok(_) => "accepted",
        Err(e) => {
            log::warn!("settling a receipt failed: {}", e.code);
            "internal"
        }
    })
}
