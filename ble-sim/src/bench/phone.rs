//! A real phone core on the bench (`serve --with-server URL --token TOKEN`):
//! the resident's `keyway_client::Client`, logged in to a `keyway-server`,
//! talking Bluetooth through btleplug to this simulator. It syncs and
//! delivers every second, so dragging the phone into range of a lock with a
//! pending job shows the job delivered and the code active, with no second
//! terminal. The dashboard shows who it is, its codes (with their offline
//! and backup codes), the uses sync brought and its last visits
//! (`phone_view`).

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jiff::tz::TimeZone;
use keyway_api::{BackupCodeView, GuestType};
use keyway_client::{
    Client, ClientConfig, ClientError, DeliveryReport, LocalCode, NewCode, Session,
};
use keyway_codes::schedule::{Recurring, Schedule, ScheduleError, Weekdays, Window};
use keyway_delivery::LockTransport;

use super::phone_view::{PhoneView, line, use_line};

/// How often the phone core syncs and looks for locks with work.
const ROUND: Duration = Duration::from_secs(1);
/// Visits the dashboard lists.
const VISITS_SHOWN: usize = 8;
/// Uses of the resident's codes the dashboard lists.
const USES_SHOWN: u32 = 8;

/// The phone core and what it last did.
#[derive(Debug)]
pub struct PhoneCore {
    client: Client,
    who: String,
    /// The server's address and the property, for the kiosk's forgot-PIN.
    server: String,
    property_id: String,
    /// The property's time zone, for the times the panel shows.
    zone: TimeZone,
    http: reqwest::Client,
    log: Mutex<PhoneLog>,
}

/// Why the kiosk's request for temporary access did not go out.
#[derive(Debug, thiserror::Error)]
pub enum ForgotPinError {
    /// The server could not be reached.
    #[error("the server cannot be reached: {0}")]
    Unreachable(#[from] reqwest::Error),
    /// The server refused it (a bad address, too many requests).
    #[error("the server refused the request ({status})")]
    Refused {
        /// The HTTP status.
        status: u16,
        /// The problem's machine code.
        code: String,
    },
}

/// What the phone core did lately, for the dashboard.
#[derive(Debug, Default, Clone)]
struct PhoneLog {
    rounds: u64,
    visits: Vec<String>,
    error: Option<String>,
}

/// What the resident asks of the phone core on the bench.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(tag = "action", rename_all = "snake_case", deny_unknown_fields)]
pub(super) enum PhoneAction {
    /// A generated resident code.
    Generate {
        #[serde(default)]
        name: Option<String>,
    },
    /// A resident code the resident picked.
    Pick {
        code: String,
        #[serde(default)]
        name: Option<String>,
    },
    /// New digits for a code (generated when `code` is absent).
    Change {
        id: String,
        #[serde(default)]
        code: Option<String>,
    },
    /// A code removed from every door.
    Delete { id: String },
    /// A guest code (see [`GuestForm`]).
    Guest(GuestForm),
}

/// The bench's guest-code form: temporary and delivery codes open for
/// `hours` from now (a delivery code without hours has no window),
/// recurring ones on `days` from `start` to `end` in the property's time
/// zone; `offline`: it works offline (temporary, recurring and delivery
/// codes: each door's own 8 digits, which it accepts with no job). Fields
/// that do not apply to the chosen type are ignored, as the form shows
/// them all.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct GuestForm {
    guest: GuestType,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    hours: Option<u32>,
    #[serde(default)]
    days: Option<String>,
    #[serde(default)]
    start: Option<String>,
    #[serde(default)]
    end: Option<String>,
    #[serde(default)]
    offline: bool,
}

impl GuestForm {
    /// The guest code the form describes, or which field is wrong.
    fn new_code(&self, session: Option<&Session>) -> Result<NewCode, ClientError> {
        let Self {
            guest,
            name,
            hours,
            days,
            start,
            end,
            offline,
        } = self;
        let invalid = |detail: String| ClientError::InvalidArgument { detail };
        let schedule = match guest {
            GuestType::Permanent => None,
            GuestType::Temporary | GuestType::Delivery => match hours {
                Some(hours) => {
                    let now = jiff::Timestamp::now();
                    let until = now
                        .checked_add(jiff::SignedDuration::from_hours(i64::from(*hours)))
                        .map_err(|e| invalid(e.to_string()))?;
                    let window = Window::new(now, until).map_err(|e| invalid(e.to_string()))?;
                    Some(Schedule::Window(window))
                }
                None if *guest == GuestType::Temporary => {
                    return Err(invalid("a temporary guest code needs its hours".into()));
                }
                None => None,
            },
            GuestType::Recurring => {
                let zone = session
                    .map(|s| s.property.time_zone.clone())
                    .ok_or(ClientError::NotLoggedIn)?;
                let days: Weekdays = required(days, "its days")?
                    .parse()
                    .map_err(|e: ScheduleError| invalid(e.to_string()))?;
                let recurring = Recurring::new(
                    days,
                    time_of_day(start, "its start")?,
                    time_of_day(end, "its end")?,
                    &zone,
                )
                .map_err(|e| invalid(e.to_string()))?;
                Some(Schedule::Recurring(recurring))
            }
        };
        let mut new = NewCode::guest(*guest, schedule);
        new.name = name.clone().filter(|n| !n.trim().is_empty());
        new.offline = *offline;
        Ok(new)
    }
}

/// A recurring code's field, present and not blank.
fn required<'a>(value: &'a Option<String>, what: &str) -> Result<&'a str, ClientError> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ClientError::InvalidArgument {
            detail: format!("a recurring guest code needs {what}"),
        })
}

/// A time of day like `09:00`.
fn time_of_day(value: &Option<String>, what: &str) -> Result<jiff::civil::Time, ClientError> {
    required(value, what)?
        .parse()
        .map_err(|_| ClientError::InvalidArgument {
            detail: format!("{what} is not a time of day like 09:00"),
        })
}

impl PhoneCore {
    /// Opens a phone core in `dir` for the server at `url`, logs it in with
    /// the resident's API token and gives it `transport`.
    pub async fn attach(
        url: &str,
        token: &str,
        dir: &Path,
        transport: Arc<dyn LockTransport>,
    ) -> Result<Arc<Self>, ClientError> {
        let client = Client::open(ClientConfig::new(url, dir, "keyway-ble-sim bench"))?;
        client.set_transport(transport);
        let session = client.login(token).await?;
        let who = format!(
            "{} ({:?}) at {}",
            session.user.name, session.user.role, session.property.name
        );
        let zone = TimeZone::get(&session.property.time_zone).unwrap_or(TimeZone::UTC);
        Ok(Arc::new(Self {
            client,
            who,
            server: url.trim_end_matches('/').to_owned(),
            property_id: session.property.id.clone(),
            zone,
            http: reqwest::Client::new(),
            log: Mutex::new(PhoneLog::default()),
        }))
    }

    /// Asks the server for temporary access to the package room as its
    /// kiosk does (`POST /v1/public/forgot-pin`): a known recipient gets a
    /// new single-use PIN by email or SMS, and its job reaches the lock with
    /// the next phone that passes. The answer is the same whether or not the
    /// address is known.
    pub async fn forgot_pin(
        &self,
        email: Option<String>,
        phone: Option<String>,
    ) -> Result<(), ForgotPinError> {
        let request = keyway_api::ForgotPinRequest {
            property_id: self.property_id.clone(),
            email,
            phone,
        };
        let response = self
            .http
            .post(format!("{}/v1/public/forgot-pin", self.server))
            .json(&request)
            .send()
            .await?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let problem: Option<keyway_api::Problem> = response.json().await.ok();
        Err(ForgotPinError::Refused {
            status: status.as_u16(),
            code: problem.map(|p| p.code).unwrap_or_default(),
        })
    }

    fn log(&self) -> std::sync::MutexGuard<'_, PhoneLog> {
        self.log.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Syncs and delivers once a second until the process ends.
    pub fn run(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let phone = self.clone();
        tokio::spawn(async move {
            loop {
                phone.round().await;
                tokio::time::sleep(ROUND).await;
            }
        })
    }

    async fn round(&self) {
        let synced = self.client.sync().await;
        let delivered = self.client.deliver_nearby().await;
        let mut log = self.log();
        log.rounds += 1;
        log.error = match (&synced, &delivered) {
            (Err(e), _) | (_, Err(e)) => Some(format!("{}: {e}", e.code())),
            _ => None,
        };
        if let Ok(report) = delivered {
            note(&mut log, &report);
        }
    }

    /// Does what the resident asked, as the app would: the phone's local
    /// policy check first (a refusal lists every rule), then the request.
    pub(super) async fn act(&self, action: PhoneAction) -> Result<LocalCode, ClientError> {
        let named = |name: Option<String>| {
            let mut new = NewCode::resident();
            new.name = name.filter(|n| !n.trim().is_empty());
            new
        };
        match action {
            PhoneAction::Generate { name } => self.client.generate_code(named(name)).await,
            PhoneAction::Pick { code, name } => self.client.pick_code(&code, named(name)).await,
            PhoneAction::Change { id, code } => {
                self.client.change_code(&id, code.as_deref(), None).await
            }
            PhoneAction::Delete { id } => self.client.delete_code(&id).await,
            PhoneAction::Guest(form) => {
                let new = form.new_code(self.client.session()?.as_ref())?;
                self.client.generate_code(new).await
            }
        }
    }

    /// Asks the server for a backup code for guest code `id` on `lock_id`,
    /// as the app's "Get a backup code" does; then syncs, so the code's
    /// list shows it at once (a failed sync leaves that to the next round).
    pub(super) async fn backup(
        &self,
        id: &str,
        lock_id: &str,
    ) -> Result<BackupCodeView, ClientError> {
        let backup = self.client.request_backup(id, lock_id).await?;
        if let Err(e) = self.client.sync().await {
            log::info!("the sync after a backup code failed: {}", e.code());
        }
        Ok(backup)
    }

    /// The phone core now.
    pub(super) fn view(&self) -> PhoneView {
        let log = self.log().clone();
        let codes = self
            .client
            .codes()
            .unwrap_or_default()
            .iter()
            .map(|c| line(c, &self.zone))
            .collect();
        let uses = self
            .client
            .uses(USES_SHOWN)
            .unwrap_or_default()
            .iter()
            .map(|u| use_line(u, &self.zone))
            .collect();
        PhoneView {
            who: self.who.clone(),
            rounds: log.rounds,
            codes,
            visits: log.visits,
            uses,
            error: log.error,
        }
    }
}

fn note(log: &mut PhoneLog, report: &DeliveryReport) {
    let at = jiff::Timestamp::now().strftime("%H:%M:%S");
    for visit in &report.locks {
        log.visits
            .insert(0, format!("{at} {}: {}", visit.name, visit.outcome.code()));
    }
    log.visits.truncate(VISITS_SHOWN);
}
