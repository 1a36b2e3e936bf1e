//! The bench's pages (askama templates in `ble-sim/templates/bench/`): the
//! dashboard, its fragments the script fetches again on each change, and
//! the package room's kiosk.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;

use super::BenchState;
use super::phone_view::{PhoneView, backup_refusal};
use super::views::{Card, Floor};
use crate::api::ApiError;
use crate::recording::Recorder;
use crate::scenario::Step;

/// Renders `page`, or a plain 500 if a template fails.
fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            log::error!("bench template failed: {e}");
            (StatusCode::INTERNAL_SERVER_ERROR, "template failed").into_response()
        }
    }
}

/// The recording as the dashboard shows it.
#[derive(Debug)]
pub(super) struct RecordingView {
    pub(super) on: bool,
    pub(super) steps: Vec<String>,
}

impl RecordingView {
    fn of(recorder: &Recorder) -> Self {
        Self {
            on: recorder.is_recording(),
            steps: recorder.steps().iter().map(describe).collect(),
        }
    }
}

/// A recorded step in words (a code's digits or a card's id never shown here).
fn describe(step: &Step) -> String {
    match step {
        Step::MovePhone { x, y } => format!("move the phone to ({x:.1}, {y:.1})"),
        Step::Keypad {
            lock,
            code,
            keys,
            expect,
            ..
        } => {
            let n = code.as_ref().or(keys.as_ref()).map_or(0, String::len);
            format!("{n} key(s) on {lock}: {expect}")
        }
        Step::Card { lock, expect, .. } => format!("a key card at {lock}: {expect}"),
        Step::Deliver { lock, ops, .. } => format!("deliver {} change(s) to {lock}", ops.len()),
        Step::Clock { lock, .. } => format!("move the clock of {lock}"),
        Step::Faults { lock, .. } => format!("set faults on {lock}"),
        Step::Power { lock, action } => format!("power {action} {lock}"),
        Step::Adapter { powered, blocked } => {
            format!("adapter powered={powered} blocked={blocked}")
        }
        Step::SetRssi { lock, rssi } => format!("pin the RSSI of {lock} to {rssi:?}"),
        Step::Scan { .. } => "scan".into(),
        Step::Status { lock, .. } => format!("visit {lock} for its status"),
        Step::Check { lock, .. } => format!("check {lock}"),
    }
}

#[derive(Template)]
#[template(path = "bench/dashboard.html")]
struct Dashboard {
    floor: Floor,
    cards: Vec<Card>,
    recording: RecordingView,
    phone: Option<PhoneView>,
}

/// `GET /`: the dashboard.
pub(super) async fn dashboard(State(state): State<BenchState>) -> Response {
    let sim = &state.control.sim;
    render(&Dashboard {
        floor: Floor::of(sim),
        cards: Card::all(sim),
        recording: RecordingView::of(&state.control.recorder),
        phone: state.bench.phone.as_ref().map(|p| p.view()),
    })
}

#[derive(Template)]
#[template(path = "bench/floor.html")]
struct FloorPart {
    floor: Floor,
}

#[derive(Template)]
#[template(path = "bench/locks.html")]
struct LocksPart {
    cards: Vec<Card>,
}

#[derive(Template)]
#[template(path = "bench/recording.html")]
struct RecordingPart {
    recording: RecordingView,
}

#[derive(Template)]
#[template(path = "bench/phone.html")]
struct PhonePart {
    phone: Option<PhoneView>,
}

/// `GET /bench/fragments/{floor|locks|recording|phone}`: one part of the
/// dashboard, for the script to put in place.
pub(super) async fn fragment(
    State(state): State<BenchState>,
    Path(part): Path<String>,
) -> Response {
    let sim = &state.control.sim;
    match part.as_str() {
        "floor" => render(&FloorPart {
            floor: Floor::of(sim),
        }),
        "locks" => render(&LocksPart {
            cards: Card::all(sim),
        }),
        "recording" => render(&RecordingPart {
            recording: RecordingView::of(&state.control.recorder),
        }),
        "phone" => render(&PhonePart {
            phone: state.bench.phone.as_ref().map(|p| p.view()),
        }),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

#[derive(Template)]
#[template(path = "bench/kiosk.html")]
struct Kiosk {
    lock: String,
    enter_key: bool,
    /// Whether a server is attached, so a recipient can ask for a new PIN.
    temporary_access: bool,
    /// Every lock as (id, name), for switching.
    others: Vec<(String, String)>,
}

/// `?lock=` on the kiosk.
#[derive(Debug, Deserialize)]
pub(super) struct KioskQuery {
    lock: Option<String>,
}

/// `GET /kiosk`: the package room's touch screen, on the lock named by
/// `?lock=` (by default the first package-room lock, else the first lock).
pub(super) async fn kiosk(
    State(state): State<BenchState>,
    Query(q): Query<KioskQuery>,
) -> Response {
    let locks = state.control.sim.locks();
    let chosen = match &q.lock {
        Some(name) => locks
            .iter()
            .find(|l| &l.name == name || l.id.to_string() == *name),
        None => locks
            .iter()
            .find(|l| l.access_point == keyway_codes::AccessPoint::PackageRoom)
            .or(locks.first()),
    };
    let Some(lock) = chosen else {
        return (StatusCode::NOT_FOUND, "no such lock").into_response();
    };
    render(&Kiosk {
        lock: lock.name.clone(),
        enter_key: lock.enter_key,
        temporary_access: state.bench.phone.is_some(),
        others: locks
            .iter()
            .map(|l| (l.id.to_string(), l.name.clone()))
            .collect(),
    })
}

/// `{"email": "..."}` or `{"phone": "+1..."}`: who asks for temporary access.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ForgotPin {
    #[serde(default)]
    email: Option<String>,
    #[serde(default)]
    phone: Option<String>,
}

/// `POST /bench/kiosk/forgot-pin`: the kiosk's "Request temporary access",
/// through the attached server's forgot-PIN flow. Answers 202 whether or not
/// the address is known, as the server does.
pub(super) async fn forgot_pin(
    State(state): State<BenchState>,
    body: Result<axum::Json<ForgotPin>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let refuse =
        |status, code: &str, message: String| ApiError::new(status, code, message).into_response();
    let Ok(axum::Json(request)) = body else {
        return refuse(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "send {\"email\": …} or {\"phone\": …}".into(),
        );
    };
    let Some(phone) = &state.bench.phone else {
        return refuse(
            StatusCode::CONFLICT,
            "no_server",
            "start the simulator with --with-server to reach a server".into(),
        );
    };
    match phone.forgot_pin(request.email, request.phone).await {
        Ok(()) => (
            StatusCode::ACCEPTED,
            axum::Json(serde_json::json!({"sent": true})),
        )
            .into_response(),
        Err(super::phone::ForgotPinError::Refused { status, code }) => refuse(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY),
            &code,
            "the server refused the request".into(),
        ),
        Err(e) => refuse(StatusCode::BAD_GATEWAY, "server_unreachable", e.to_string()),
    }
}

/// `POST /bench/phone`: the resident's action on the attached phone core
/// (`{"action": "generate"|"pick"|"change"|"delete", ...}`); a refusal
/// answers `422` with every violated rule in words.
pub(super) async fn phone_action(
    State(state): State<BenchState>,
    body: Result<axum::Json<super::phone::PhoneAction>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let error = |status, code: &str, message: String, reasons: Vec<String>| {
        ApiError::new(status, code, message)
            .with_reasons(reasons)
            .into_response()
    };
    let action = match body {
        Ok(axum::Json(action)) => action,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                e.body_text(),
                vec![],
            );
        }
    };
    let Some(phone) = &state.bench.phone else {
        return error(
            StatusCode::CONFLICT,
            "no_phone",
            "start the simulator with --with-server and --token".into(),
            vec![],
        );
    };
    match phone.act(action).await {
        Ok(code) => axum::Json(serde_json::json!({
            "id": code.id,
            "value": code.value,
            "status": format!("{:?}", code.status),
        }))
        .into_response(),
        Err(e) => {
            let reasons = e.violations().iter().map(|v| v.message.clone()).collect();
            error(status_of(&e), e.code(), e.to_string(), reasons)
        }
    }
}

/// The bench's answer to a phone core's failure.
fn status_of(e: &keyway_client::ClientError) -> StatusCode {
    match e {
        keyway_client::ClientError::NotFound { .. } => StatusCode::NOT_FOUND,
        keyway_client::ClientError::Network { .. } | keyway_client::ClientError::Server { .. } => {
            StatusCode::BAD_GATEWAY
        }
        _ => StatusCode::UNPROCESSABLE_ENTITY,
    }
}

/// `{"id": …, "lock_id": …}`: which code and door want a backup code.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BackupAsk {
    id: String,
    lock_id: String,
}

/// `POST /bench/phone/backup`: the phone panel's "Get a backup code" for a
/// guest code on a door it has not reached; answers the backup code (its
/// digits, door and state), or the refusal with its reason in words.
pub(super) async fn phone_backup(
    State(state): State<BenchState>,
    body: Result<axum::Json<BackupAsk>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let axum::Json(ask) = match body {
        Ok(ask) => ask,
        Err(e) => {
            return ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
                .into_response();
        }
    };
    let Some(phone) = &state.bench.phone else {
        return ApiError::new(
            StatusCode::CONFLICT,
            "no_phone",
            "start the simulator with --with-server and --token",
        )
        .into_response();
    };
    match phone.backup(&ask.id, &ask.lock_id).await {
        Ok(backup) => axum::Json(backup).into_response(),
        Err(e) => {
            // The server's refusals keep their status (409, 403, 404).
            let status = match &e {
                keyway_client::ClientError::Refused { status, .. } => {
                    StatusCode::from_u16(*status).unwrap_or(StatusCode::CONFLICT)
                }
                other => status_of(other),
            };
            ApiError::new(status, e.code(), backup_refusal(&e)).into_response()
        }
    }
}
