//! Who is calling: bearer tokens (device tokens from `POST /v1/login`, or the
//! API tokens an operator issued), roles, and the scoping rules every handler
//! applies (a property for everyone; for residents, their own unit and codes).
//! Also the idempotency-key extractor and the shared rate limiter.

use axum::extract::FromRequestParts;
use axum::http::Method;
use axum::http::request::Parts;
use keyway_core::api::{IDEMPOTENCY_HEADER, Role, UserView};
use keyway_core::{AccessPoint, CodeKind};

use crate::app::App;
use crate::crypto::token_hash;
use crate::error::{Error, ErrorKind, Result};
use crate::model::{CodeRow, LockRow};
use crate::store::now_secs;

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// User id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// Property.
    pub property_id: String,
    /// Unit, for residents.
    pub unit_id: Option<String>,
    /// Whose idempotency keys these are: `device:<id>` or `token:<id>`.
    pub principal: String,
    /// The device, when logged in with a device token.
    pub device_id: Option<String>,
}

impl Caller {
    /// The API view of the user.
    pub fn view(&self) -> UserView {
        UserView {
            id: self.user_id.clone(),
            name: self.name.clone(),
            role: self.role,
            property_id: self.property_id.clone(),
            unit_id: self.unit_id.clone(),
        }
    }

    /// Staff or manager.
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Staff | Role::Manager)
    }

    /// Refuses residents.
    pub fn require_staff(&self) -> Result<()> {
        if self.is_staff() {
            Ok(())
        } else {
            Err(Error::forbidden("only staff and managers may do this"))
        }
    }

    /// Refuses everyone but managers.
    pub fn require_manager(&self) -> Result<()> {
        if self.role == Role::Manager {
            Ok(())
        } else {
            Err(Error::forbidden("only managers may do this"))
        }
    }

    /// What the caller may do with `code`:
    ///
    /// | code | resident | staff | manager |
    /// |---|---|---|---|
    /// | their own unit's resident and guest codes | own | view | control |
    /// | another unit's | hidden | view | control |
    /// | carrier codes, courier PINs, one-time PINs | hidden | own | own |
    /// | the caller's own staff PIN | — | own | own |
    /// | another staff member's or a manager's staff PIN | hidden | view | own |
    ///
    /// Nobody but a unit's residents chooses or learns the digits of the
    /// unit's codes (whoever knows them could open the unit's door); staff
    /// set and read only their own staff PIN. Anything of another property
    /// is hidden.
    pub fn code_access(&self, code: &CodeRow) -> CodeAccess {
        if code.property_id != self.property_id {
            return CodeAccess::Hidden;
        }
        let unit_code = matches!(code.kind, CodeKind::Resident | CodeKind::Guest);
        match self.role {
            Role::Resident
                if unit_code && code.unit_id.is_some() && code.unit_id == self.unit_id =>
            {
                CodeAccess::Own
            }
            Role::Resident => CodeAccess::Hidden,
            Role::Staff if unit_code => CodeAccess::View,
            Role::Staff
                if code.kind == CodeKind::Staff
                    && code.holder_id.as_deref() != Some(self.user_id.as_str()) =>
            {
                CodeAccess::View
            }
            Role::Staff => CodeAccess::Own,
            Role::Manager if unit_code => CodeAccess::Control,
            Role::Manager => CodeAccess::Own,
        }
    }

    /// Whether the caller may see `code` at all (its state at least).
    pub fn may_use_code(&self, code: &CodeRow) -> bool {
        self.code_access(code) != CodeAccess::Hidden
    }

    /// Whether the digits of `code` are shown to the caller.
    pub fn may_see_value(&self, code: &CodeRow) -> bool {
        self.code_access(code) == CodeAccess::Own
    }

    /// Whether the caller may carry jobs to, and see, `lock`. Residents carry
    /// their unit door, the community doors and the package room: any app
    /// user near a shared door relays its sealed jobs (they never see the
    /// package room's codes, which `may_use_code` keeps from them).
    pub fn may_reach_lock(&self, lock: &LockRow) -> bool {
        if lock.property_id != self.property_id {
            return false;
        }
        match self.role {
            Role::Resident => {
                (lock.access_point == AccessPoint::UnitDoor
                    && lock.unit_id.is_some()
                    && lock.unit_id == self.unit_id)
                    || lock.access_point.is_shared()
                    || lock.access_point == AccessPoint::PackageRoom
            }
            Role::Staff | Role::Manager => true,
        }
    }
}

/// What a caller may do with one code (see [`Caller::code_access`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeAccess {
    /// Not the caller's business: answered `404`, as if it did not exist.
    Hidden,
    /// Its state, without digits; every write is refused (`403`).
    View,
    /// Its state, without digits; it may be disabled, enabled and deleted,
    /// but not given new digits (`403`).
    Control,
    /// Its digits, and every action.
    Own,
}

impl CodeAccess {
    /// Refuses what this access does not allow: `write` is `change` (new
    /// digits) or another write (disable, enable, delete).
    pub fn require(self, change: bool) -> Result<()> {
        match (self, change) {
            (Self::Own, _) | (Self::Control, false) => Ok(()),
            (Self::Hidden, _) => Err(Error::not_found("code")),
            (Self::Control, true) => Err(Error::forbidden(
                "only the unit's residents choose their codes' digits",
            )),
            (Self::View, _) => Err(Error::forbidden(
                "this code is not yours to change; staff change only package-room codes and their own staff PIN",
            )),
        }
    }
}

/// Extracts and checks the bearer token.
impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .ok_or_else(Error::unauthorized)?;
        authenticate(app, token).await
    }
}

/// Looks a bearer token up.
pub async fn authenticate(app: &App, token: &str) -> Result<Caller> {
    let hash = token_hash(token);
    let (sql, kind): (&'static str, &str) = if token.starts_with("kwd_") {
        (
            "SELECT d.id, u.id, u.name, u.role, u.property_id, u.unit_id FROM devices d JOIN users u ON u.id = d.user_id WHERE d.token_hash = $1 AND d.revoked_at IS NULL",
            "device",
        )
    } else if token.starts_with("kwa_") {
        (
            "SELECT t.id, u.id, u.name, u.role, u.property_id, u.unit_id FROM api_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1 AND t.revoked_at IS NULL",
            "token",
        )
    } else {
        return Err(Error::unauthorized());
    };
    let row: Option<(String, String, String, String, String, Option<String>)> = sqlx::query_as(sql)
        .bind(hash)
        .fetch_optional(&app.store.pool)
        .await?;
    let (credential, user_id, name, role, property_id, unit_id) =
        row.ok_or_else(Error::unauthorized)?;
    let role = Role::parse(&role).ok_or_else(|| Error::internal("role", role.as_str()))?;
    Ok(Caller {
        user_id,
        name,
        role,
        property_id,
        unit_id,
        principal: format!("{kind}:{credential}"),
        device_id: (kind == "device").then_some(credential),
    })
}

/// The idempotency key of a write, with what identifies the request.
#[derive(Debug, Clone)]
pub struct Idem {
    /// The key the client chose.
    pub key: String,
    /// Method and path, hashed with the body.
    pub target: String,
}

impl<S: Send + Sync> FromRequestParts<S> for Idem {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
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
        let method: &Method = &parts.method;
        Ok(Self {
            key: key.to_owned(),
            target: format!("{method} {}", parts.uri.path()),
        })
    }
}

/// What a pick chooses digits for, which sets its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PickOf {
    /// A unit's resident or guest code: compared with the unit's own codes
    /// only, so a refusal says nothing about anyone else; 30 a minute.
    UnitCode,
    /// A carrier code, courier PIN or staff PIN: the answer may say
    /// `duplicate_on_lock`, `prefix_conflict` or `deleted_pin_reuse` about
    /// another holder's code on the package room, so picks are few:
    /// [`PIN_PICKS_PER_HOUR`] an hour and [`PIN_PICKS_PER_DAY`] a day per user.
    PackageRoomCode,
}

/// Picks of package-room codes a user may make in an hour.
pub const PIN_PICKS_PER_HOUR: i64 = 10;
/// Picks of package-room codes a user may make in a day (UTC).
pub const PIN_PICKS_PER_DAY: i64 = 20;

/// Picking a code answers whether those digits are taken, so picks are
/// limited per user (see [`PickOf`]) to keep that from becoming a way to
/// guess codes.
pub async fn limit_picks(
    app: &App,
    caller: &Caller,
    idem: &Idem,
    mode: keyway_core::api::CodeMode,
    of: PickOf,
) -> Result<()> {
    if mode != keyway_core::api::CodeMode::Pick {
        return Ok(());
    }
    // A retry of a pick the server already answered (same key) reveals nothing
    // new, so a phone on a flaky network is not throttled by its own retries.
    let answered: Option<(String,)> =
        sqlx::query_as("SELECT key FROM idempotency WHERE principal = $1 AND key = $2")
            .bind(caller.principal.clone())
            .bind(idem.key.clone())
            .fetch_optional(&app.store.pool)
            .await?;
    if answered.is_some() {
        return Ok(());
    }
    match of {
        PickOf::UnitCode => rate_limit(app, &format!("pick:{}", caller.user_id), 60, 30).await,
        PickOf::PackageRoomCode => {
            let user = &caller.user_id;
            rate_limit(app, &format!("pin-pick:{user}"), 3600, PIN_PICKS_PER_HOUR).await?;
            rate_limit(
                app,
                &format!("pin-pick-day:{user}"),
                86_400,
                PIN_PICKS_PER_DAY,
            )
            .await
        }
    }
}

/// Counts one attempt in `bucket` (a fixed window of `window_secs`, shared by
/// every server instance through the database); refuses past `max`.
pub async fn rate_limit(app: &App, bucket: &str, window_secs: i64, max: i64) -> Result<()> {
    let now = now_secs();
    let window_start = now - now.rem_euclid(window_secs);
    let (hits,): (i64,) = sqlx::query_as(
        "INSERT INTO rate_limits (bucket, window_start, hits) VALUES ($1, $2, 1) ON CONFLICT (bucket) DO UPDATE SET hits = CASE WHEN rate_limits.window_start = excluded.window_start THEN rate_limits.hits + 1 ELSE 1 END, window_start = excluded.window_start RETURNING hits",
    )
    .bind(bucket.to_owned())
    .bind(window_start)
    .fetch_one(&app.store.pool)
    .await?;
    if hits > max {
        let retry = (window_start + window_secs - now).max(1);
        log::warn!(
            "rate limit reached for a {} bucket",
            bucket.split(':').next().unwrap_or("?")
        );
        return Err(Error::rate_limited(u64::try_from(retry).unwrap_or(1)));
    }
    Ok(())
}
