//! Endpoints without a caller: `POST /v1/public/forgot-pin`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use keyway_api::{ForgotPinRequest, ForgotPinResponse, Problem};

use super::extract::{ClientIp, json_response, parse_body};
use crate::app::App;
use crate::error::Result;
use crate::ops::recipients::{self, FORGOT_ANSWER};

/// A recipient who forgot their PIN asks for a new single-use PIN by email or
/// phone number. The answer is the same whether or not the address is known,
/// and so is the work done before answering: the rate limits (per client and
/// per address) and a keyed MAC of the address. Looking the address up and
/// issuing the PIN happen after the answer, in the background, so its timing
/// does not tell a known address from an unknown one either.
#[utoipa::path(post, path = "/v1/public/forgot-pin", tag = "public",
    request_body(content = ForgotPinRequest, example = json!({"property_id": "prop_01HV…", "email": "dana@example.com"})),
    responses(
        (status = 202, body = ForgotPinResponse, example = json!({"message": FORGOT_ANSWER})),
        (status = 429, description = "rate_limited: 10 an hour per client, 3 per address, 60 per property", body = Problem)))]
pub async fn forgot_pin(
    State(app): State<App>,
    ClientIp(client): ClientIp,
    body: Bytes,
) -> Result<Response> {
    let forgotten = recipients::check_forgotten(&app.store, &client, || {
        parse_body::<ForgotPinRequest>(&body)
    })
    .await?;
    let answer = serde_json::to_string(&ForgotPinResponse {
        message: FORGOT_ANSWER.to_owned(),
    })?;
    let store = app.store.clone();
    tokio::spawn(async move {
        if let Err(e) = recipients::reissue_forgotten(&store, forgotten).await {
            // Still the same answer: nothing is revealed.
            log::warn!("forgot-pin could not issue a PIN: {}", e.code);
        }
    });
    Ok(json_response(StatusCode::ACCEPTED, answer))
}
