//! The HTTP JSON control API QA drives the simulator with (axum). Reference
//! with examples: `docs/simulator.md`.
//!
//! Every error is `{"error": {"code": "...", "message": "..."}}` with a stable
//! code; a refused request changes nothing. Keypad and card requests answer
//! with outcomes only, and no code or card id reaches a log line.

use std::sync::Arc;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRef, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::radio::{Faults, Position, RadioConfig};
use crate::recording::Recorder;
use crate::scenario::{Step, entry_code};
use crate::sim::{Sim, SimError};

/// What the control API's handlers share: the simulator and the recorder
/// that turns the actions taken while it runs into scenario steps.
#[derive(Debug, Clone)]
pub struct Control {
    /// The simulated building.
    pub sim: Arc<Sim>,
    /// The recording, when one runs.
    pub recorder: Arc<Recorder>,
}

impl Control {
    /// The control of `sim`, no recording running.
    pub fn new(sim: Arc<Sim>) -> Self {
        Self {
            sim,
            recorder: Arc::default(),
        }
    }
}

impl FromRef<Control> for Arc<Sim> {
    fn from_ref(control: &Control) -> Self {
        control.sim.clone()
    }
}

impl FromRef<Control> for Arc<Recorder> {
    fn from_ref(control: &Control) -> Self {
        control.recorder.clone()
    }
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
    reasons: Vec<String>,
}

impl ApiError {
    /// An error answer with its status, stable code and message.
    pub fn new(
        status: StatusCode,
        code: impl Into<String>,
        message: impl std::fmt::Display,
    ) -> Self {
        Self {
            status,
            code: code.into(),
            message: message.to_string(),
            reasons: Vec::new(),
        }
    }

    /// The same, listing reasons in words (a refused code's violated rules).
    pub fn with_reasons(mut self, reasons: Vec<String>) -> Self {
        self.reasons = reasons;
        self
    }
}

impl From<SimError> for ApiError {
    fn from(e: SimError) -> Self {
        let status = match e {
            SimError::UnknownLock(_) => StatusCode::NOT_FOUND,
            SimError::InvalidKeys | SimError::InvalidCard | SimError::InvalidValue(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            SimError::LockOff(_) => StatusCode::CONFLICT,
            SimError::Store(_) => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self::new(status, e.code(), e)
    }
}

impl From<JsonRejection> for ApiError {
    fn from(e: JsonRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut error = json!({"code": self.code, "message": self.message});
        if !self.reasons.is_empty() {
            error["reasons"] = json!(self.reasons);
        }
        (self.status, Json(json!({ "error": error }))).into_response()
    }
}

type Answer = Result<Json<Value>, ApiError>;

fn answer(value: impl Serialize) -> Answer {
    serde_json::to_value(value)
        .map(Json)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e))
}

/// The control API's routes on `sim`, with no recording.
pub fn router(sim: Arc<Sim>) -> Router {
    routes().with_state(Control::new(sim))
}

/// The control API's routes, for a [`Control`] state.
pub fn routes() -> Router<Control> {
    Router::new()
        .route("/health", get(|| async { Json(json!({"ok": true})) }))
        .route("/locks", get(list_locks))
        .route("/locks/{lock}", get(get_lock))
        .route("/locks/{lock}/keypad", post(keypad))
        .route("/locks/{lock}/card", post(card))
        .route("/locks/{lock}/position", put(move_lock))
        .route("/locks/{lock}/rssi", put(set_rssi))
        .route("/locks/{lock}/clock", get(get_clock).post(change_clock))
        .route(
            "/locks/{lock}/faults",
            get(get_faults).put(put_faults).delete(clear_faults),
        )
        .route("/locks/{lock}/power", post(power))
        .route("/locks/{lock}/stats", get(get_stats).delete(reset_stats))
        .route("/phone", get(get_phone).put(move_phone))
        .route("/radio", get(get_radio).put(put_radio))
        .route("/adapter", get(get_adapter).put(put_adapter))
}

async fn list_locks(State(sim): State<Arc<Sim>>) -> Answer {
    answer(sim.locks())
}

async fn get_lock(State(sim): State<Arc<Sim>>, Path(lock): Path<String>) -> Answer {
    answer(sim.lock(&lock)?)
}

/// `{"keys": "4817#"}` presses keys one by one; `{"code": "4817"}` types a
/// whole code and enter.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct KeypadRequest {
    #[serde(default)]
    keys: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

async fn keypad(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<KeypadRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let (step, answered) = match (request.keys, request.code) {
        (Some(keys), None) => {
            let entries = sim.press(&lock, &keys)?;
            let expect = entry_code(entries.last().map(|r| &r.entry));
            let step = keypad_step(named(&sim, &lock), None, Some(keys), expect);
            (step, json!({"entries": entries}))
        }
        (None, Some(code)) => {
            let entry = sim.enter_code(&lock, &code)?;
            let step = keypad_step(
                named(&sim, &lock),
                Some(code),
                None,
                entry_code(entry.as_ref()),
            );
            (step, json!({"entry": entry}))
        }
        _ => {
            return Err(
                SimError::InvalidValue("give exactly one of `keys` and `code`".into()).into(),
            );
        }
    };
    recorder.note(step);
    answer(answered)
}

/// `{"card_id": "card-0042"}`: a key card held to the lock's reader.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardRequest {
    card_id: String,
}

async fn card(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<CardRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let entry = sim.present_card(&lock, &request.card_id)?;
    recorder.note(Step::Card {
        lock: named(&sim, &lock),
        card: request.card_id,
        expect: entry_code(Some(&entry)),
    });
    answer(json!({ "entry": entry }))
}

/// How a recording names `lock` (given by id or name): by its name, which
/// reads better in a scenario file.
pub(crate) fn named(sim: &Sim, lock: &str) -> String {
    sim.lock(lock).map_or_else(|_| lock.to_owned(), |l| l.name)
}

fn keypad_step(lock: String, code: Option<String>, keys: Option<String>, expect: String) -> Step {
    Step::Keypad {
        lock,
        code,
        keys,
        expect,
    }
}

async fn move_lock(
    State(sim): State<Arc<Sim>>,
    Path(lock): Path<String>,
    body: Result<Json<Position>, JsonRejection>,
) -> Answer {
    let Json(to) = body?;
    sim.move_lock(&lock, to)?;
    answer(sim.lock(&lock)?)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RssiRequest {
    rssi: Option<i16>,
}

async fn set_rssi(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<RssiRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    sim.set_rssi(&lock, request.rssi)?;
    recorder.note(Step::SetRssi {
        lock: named(&sim, &lock),
        rssi: request.rssi,
    });
    let view = sim.lock(&lock)?;
    answer(json!({"rssi": view.rssi, "heard": view.heard}))
}

async fn get_clock(State(sim): State<Arc<Sim>>, Path(lock): Path<String>) -> Answer {
    answer(sim.clock(&lock)?)
}

/// Exactly one of: `advance_seconds`, `set` (RFC 3339), `frozen`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance_seconds: Option<i64>,
    #[serde(default)]
    set: Option<Timestamp>,
    #[serde(default)]
    frozen: Option<bool>,
}

async fn change_clock(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<ClockRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let step = |advance_seconds, set| Step::Clock {
        lock: named(&sim, &lock),
        advance_seconds,
        set,
    };
    match (request.advance_seconds, request.set, request.frozen) {
        (Some(seconds), None, None) => {
            let now = sim.advance_clock(&lock, seconds)?;
            recorder.note(step(Some(seconds), None));
            now
        }
        (None, Some(to), None) => {
            let now = sim.set_clock(&lock, to)?;
            recorder.note(step(None, Some(to)));
            now
        }
        (None, None, Some(frozen)) => sim.freeze_clock(&lock, frozen)?,
        _ => {
            return Err(SimError::InvalidValue(
                "give exactly one of `advance_seconds`, `set`, `frozen`".into(),
            )
            .into());
        }
    };
    get_clock(State(sim), Path(lock)).await
}

async fn get_faults(State(sim): State<Arc<Sim>>, Path(lock): Path<String>) -> Answer {
    answer(sim.lock(&lock)?.faults)
}

async fn put_faults(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<Faults>, JsonRejection>,
) -> Answer {
    let Json(faults) = body?;
    sim.set_faults(&lock, faults)?;
    recorder.note(Step::Faults {
        lock: named(&sim, &lock),
        faults,
    });
    log::info!("faults set on lock {lock}");
    answer(sim.lock(&lock)?.faults)
}

async fn clear_faults(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
) -> Answer {
    sim.set_faults(&lock, Faults::default())?;
    recorder.note(Step::Faults {
        lock: named(&sim, &lock),
        faults: Faults::default(),
    });
    answer(sim.lock(&lock)?.faults)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PowerRequest {
    action: PowerAction,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "snake_case")]
enum PowerAction {
    Off,
    On,
    Cycle,
}

async fn power(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    Path(lock): Path<String>,
    body: Result<Json<PowerRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    let (on, off, word) = match request.action {
        PowerAction::Off => (false, true, "off"),
        PowerAction::On => (true, false, "on"),
        PowerAction::Cycle => (true, true, "cycle"),
    };
    sim.power(&lock, on, off)?;
    recorder.note(Step::Power {
        lock: named(&sim, &lock),
        action: word.to_owned(),
    });
    let view = sim.lock(&lock)?;
    answer(json!({"powered": view.powered, "version": view.version}))
}

async fn get_stats(State(sim): State<Arc<Sim>>, Path(lock): Path<String>) -> Answer {
    answer(sim.stats(&lock)?)
}

async fn reset_stats(State(sim): State<Arc<Sim>>, Path(lock): Path<String>) -> Answer {
    sim.reset_stats(&lock)?;
    answer(sim.stats(&lock)?)
}

async fn get_phone(State(sim): State<Arc<Sim>>) -> Answer {
    answer(sim.phone())
}

async fn move_phone(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    body: Result<Json<Position>, JsonRejection>,
) -> Answer {
    let Json(to) = body?;
    sim.move_phone(to)?;
    recorder.note(Step::MovePhone { x: to.x, y: to.y });
    let heard: Vec<Value> = sim
        .locks()
        .into_iter()
        .map(|l| json!({"id": l.id, "name": l.name, "rssi": l.rssi, "heard": l.heard}))
        .collect();
    answer(json!({"phone": sim.phone(), "locks": heard}))
}

async fn get_radio(State(sim): State<Arc<Sim>>) -> Answer {
    answer(sim.radio())
}

async fn put_radio(
    State(sim): State<Arc<Sim>>,
    body: Result<Json<RadioConfig>, JsonRejection>,
) -> Answer {
    let Json(radio) = body?;
    sim.set_radio(radio)?;
    answer(sim.radio())
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct AdapterRequest {
    powered: bool,
    #[serde(default)]
    blocked: bool,
}

async fn get_adapter(State(sim): State<Arc<Sim>>) -> Answer {
    answer(sim.adapter())
}

async fn put_adapter(
    State(sim): State<Arc<Sim>>,
    State(recorder): State<Arc<Recorder>>,
    body: Result<Json<AdapterRequest>, JsonRejection>,
) -> Answer {
    let Json(request) = body?;
    sim.set_adapter(request.powered, request.blocked);
    recorder.note(Step::Adapter {
        powered: request.powered,
        blocked: request.blocked,
    });
    get_adapter(State(sim)).await
}
