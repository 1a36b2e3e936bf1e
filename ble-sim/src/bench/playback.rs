//! The bench's own actions: delivering a code through the phone's delivery
//! engine, recording a session as a scenario, and playing an opened
//! scenario one step at a time on the running simulator.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_protocol::{Credential, Op, SlotEntry};
use serde::Deserialize;
use serde_json::json;

use super::BenchState;
use crate::api::ApiError;
use crate::recording::to_toml;
use crate::scenario::{Scenario, Step, StepFailure};

/// A scenario opened on the bench and how far it has been played.
#[derive(Debug)]
pub struct Playback {
    scenario: Scenario,
    next: usize,
    failed: usize,
}

/// An error answer, as the control API gives them.
fn refuse(status: StatusCode, code: &str, message: impl std::fmt::Display) -> Response {
    ApiError::new(status, code, message).into_response()
}

fn unavailable(e: impl std::fmt::Display) -> Response {
    refuse(StatusCode::SERVICE_UNAVAILABLE, "bluetooth_unavailable", e)
}

/// A code to put on a lock: `{"slot": 0, "code": "204816"}`, optionally
/// `"kind": "guest"` and `"one_time": true`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct DeliverRequest {
    slot: u16,
    code: String,
    #[serde(default = "resident")]
    kind: CodeKind,
    #[serde(default)]
    one_time: bool,
}

fn resident() -> CodeKind {
    CodeKind::Resident
}

/// `POST /bench/locks/{lock}/deliver`: the phone carries a job putting the
/// code in the slot to the lock (the bench plays the server), in one visit
/// over btleplug; recorded as a `deliver` step expecting what came.
pub(super) async fn deliver(
    State(state): State<BenchState>,
    Path(lock): Path<String>,
    body: Result<Json<DeliverRequest>, JsonRejection>,
) -> Response {
    let request = match body {
        Ok(Json(request)) => request,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
    };
    let code = match Code::parse(&request.code) {
        Ok(code) => code,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "invalid_value", e),
    };
    let ops = vec![Op::Put {
        slot: request.slot,
        entry: SlotEntry {
            credential: Credential::Code(code),
            kind: request.kind,
            schedule: Schedule::Always,
            enabled: true,
            one_time: request.one_time,
        },
    }];
    let player = match state.bench.player(&state.control).await {
        Ok(player) => player,
        Err(e) => return unavailable(e),
    };
    match player.deliver_observed(&lock, &ops).await {
        Ok((outcome, receipt)) => {
            state.control.recorder.note(Step::Deliver {
                lock: crate::api::named(&state.control.sim, &lock),
                ops,
                expect: outcome.clone(),
                expect_receipt: receipt.clone(),
                expires_in_seconds: None,
                replay_previous: false,
            });
            Json(json!({"outcome": outcome, "receipt": receipt})).into_response()
        }
        Err(StepFailure::Sim(e)) => refuse(StatusCode::NOT_FOUND, e.code(), e),
        Err(e) => unavailable(e),
    }
}

/// `POST /bench/recording`: starts recording (dropping one under way).
pub(super) async fn start_recording(State(state): State<BenchState>) -> Response {
    state.control.recorder.start(&state.control.sim);
    Json(json!({"recording": true})).into_response()
}

/// `{"name": "..."}`: what the recorded scenario is called.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct StopRequest {
    #[serde(default)]
    name: Option<String>,
}

/// `POST /bench/recording/stop`: ends the recording and answers the
/// scenario file (`application/toml`), checks of every lock's state last.
pub(super) async fn stop_recording(
    State(state): State<BenchState>,
    body: Result<Json<StopRequest>, JsonRejection>,
) -> Response {
    let name = match body {
        Ok(Json(request)) => request.name,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, "invalid_request", e.body_text()),
    };
    let name = name
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "Recorded on the bench".into());
    let control = &state.control;
    let Some(scenario) = control
        .recorder
        .finish(&control.sim, &name, &state.bench.config)
    else {
        return refuse(StatusCode::CONFLICT, "not_recording", "no recording runs");
    };
    match to_toml(&scenario) {
        Ok(text) => (
            [
                (header::CONTENT_TYPE, "application/toml; charset=utf-8"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"recorded.toml\"",
                ),
            ],
            text,
        )
            .into_response(),
        Err(e) => refuse(StatusCode::INTERNAL_SERVER_ERROR, "internal", e),
    }
}

/// `POST /bench/playback` with a scenario file (`Content-Type:
/// application/toml`): opens it for playing step by step on the running
/// simulator (its `config` is not loaded: the steps act on this world).
pub(super) async fn open(
    State(state): State<BenchState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let toml_body = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/toml"));
    if !toml_body {
        return refuse(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "send the scenario file as application/toml",
        );
    }
    let text = String::from_utf8_lossy(&body);
    let scenario: Scenario = match toml::from_str(&text) {
        Ok(scenario) => scenario,
        Err(e) => return refuse(StatusCode::UNPROCESSABLE_ENTITY, "malformed_scenario", e),
    };
    let answer = json!({
        "name": scenario.name,
        "steps": scenario.steps.len(),
    });
    *state.bench.playback() = Some(Playback {
        scenario,
        next: 0,
        failed: 0,
    });
    Json(answer).into_response()
}

/// `POST /bench/playback/next`: plays the opened scenario's next step and
/// reports it like `keyway-ble-sim run` does.
pub(super) async fn next(State(state): State<BenchState>) -> Response {
    let step = {
        let playback = state.bench.playback();
        let Some(playback) = playback.as_ref() else {
            return refuse(StatusCode::CONFLICT, "no_scenario", "open a scenario first");
        };
        let Some(step) = playback.scenario.steps.get(playback.next) else {
            return refuse(
                StatusCode::CONFLICT,
                "scenario_done",
                "every step was played",
            );
        };
        step.clone()
    };
    let player = match state.bench.player(&state.control).await {
        Ok(player) => player,
        Err(e) => return unavailable(e),
    };
    let (action, result) = player.step(&step).await;
    let mut playback = state.bench.playback();
    let Some(playback) = playback.as_mut() else {
        return refuse(
            StatusCode::CONFLICT,
            "no_scenario",
            "the scenario was closed",
        );
    };
    playback.next += 1;
    let (passed, detail) = match result {
        Ok(detail) => (true, detail),
        Err(failure) => {
            playback.failed += 1;
            (false, failure.to_string())
        }
    };
    Json(json!({
        "number": playback.next,
        "action": action,
        "passed": passed,
        "detail": detail,
        "done": playback.next == playback.scenario.steps.len(),
        "failed": playback.failed,
    }))
    .into_response()
}
