//! `POST /v1/receipts`: sealed job receipts carried back from locks (see
//! [`crate::ops::receipts`]).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{Problem, ReceiptBatch, ReceiptBatchResponse};

use super::extract::{idempotent, json_response, parse_body};
use crate::app::App;
use crate::auth::{Caller, Idem};
use crate::error::Result;
use crate::ops::receipts;

/// Settles sealed job receipts carried back from locks. Each gets a result;
/// a receipt whose job is settled already is `accepted` again and settles
/// nothing. Every receipt is opened and looked up before the property's
/// write lock is taken, and only receipts of unsettled jobs take it.
#[utoipa::path(post, path = "/v1/receipts", tag = "sync", security(("bearer" = [])),
    params(("Idempotency-Key" = String, Header, description = "Unique per write")),
    request_body(content = ReceiptBatch, example = json!({"receipts": ["AQIDBAUG…"]})),
    responses(
        (status = 200, body = ReceiptBatchResponse, example = json!({"results": [{"index": 0, "lock_id": "9f2c4e01a7b35d68", "status": "accepted"}]})),
        (status = 429, description = "rate_limited: 60 batches a minute per user", body = Problem)))]
pub async fn post_receipts(
    State(app): State<App>,
    caller: Caller,
    idem: Idem,
    body: Bytes,
) -> Result<Response> {
    let batch: ReceiptBatch = parse_body(&body)?;
    let checked = receipts::check(&app.store, &caller, &batch.receipts).await?;
    let checked = match receipts::answered(checked) {
        Ok(results) => {
            return Ok(json_response(
                StatusCode::OK,
                serde_json::to_string(&results)?,
            ));
        }
        Err(checked) => checked,
    };
    idempotent(&app, &caller, &idem, &body, StatusCode::OK, move |w, _| {
        Box::pin(receipts::settle(w, checked))
    })
    .await
}
