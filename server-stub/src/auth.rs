//! Who is calling: bearer tokens (device tokens from `POST /v1/login`, or the
//! API tokens an operator issued) looked up once per request (one statement,
//! which also reads the property's change counter for sync), roles, and the
//! scoping rules every operation applies (a property for everyone; for
//! residents, their own unit and codes; [`Caller::code_access`] code by
//! code). The HTTP extractors that produce a [`Caller`] and an [`Idem`] are
//! in [`crate::api::extract`].

use keyway_api::{Role, UserView};
use keyway_codes::{AccessPoint, CodeKind};

use crate::crypto::token_hash;
use crate::db::codes::CodeRow;
use crate::db::locks::LockRow;
use crate::db::{Store, users};
use crate::error::{Error, Result};

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

    /// Refuses a staff member managing another's staff PIN: staff set and
    /// read only their own; managers everyone's (the holder is checked to be
    /// a staff member of the property by the operation).
    pub fn require_staff_pin_of(&self, staff_user_id: &str) -> Result<()> {
        self.require_staff()?;
        if self.role == Role::Staff && self.user_id != staff_user_id {
            return Err(Error::forbidden(
                "staff set only their own PIN; a manager sets others'",
            ));
        }
        Ok(())
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
        if code.property_id != self.property_id || code.kind == CodeKind::Backup {
            // A lock's backup codes are nobody's: their digits reach the
            // holders of a code they stand in for, through its view alone.
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

/// Looks a bearer token up: a device token (`kwd_…`) or an API token
/// (`kwa_…`) that is not revoked.
pub async fn authenticate(store: &Store, token: &str) -> Result<Caller> {
    Ok(authenticate_at_head(store, token).await?.0)
}

/// [`authenticate`], with the caller's property's change counter read in
/// the same statement: what an up-to-date sync answers from
/// ([`crate::ops::sync::sync`]).
pub async fn authenticate_at_head(store: &Store, token: &str) -> Result<(Caller, i64)> {
    let hash = token_hash(token);
    let mut read = store.read().await?;
    let (found, kind) = if token.starts_with("kwd_") {
        (users::by_device_token(&mut read, &hash).await?, "device")
    } else if token.starts_with("kwa_") {
        (users::by_api_token(&mut read, &hash).await?, "token")
    } else {
        return Err(Error::unauthorized());
    };
    let found = found.ok_or_else(Error::unauthorized)?;
    let role =
        Role::parse(&found.role).ok_or_else(|| Error::internal("role", found.role.as_str()))?;
    let caller = Caller {
        user_id: found.user_id,
        name: found.name,
        role,
        property_id: found.property_id,
        unit_id: found.unit_id,
        principal: format!("{kind}:{}", found.id),
        device_id: (kind == "device").then_some(found.id),
    };
    Ok((caller, found.head))
}

/// The idempotency key of a write, with what identifies the request.
#[derive(Debug, Clone)]
pub struct Idem {
    /// The key the client chose.
    pub key: String,
    /// Method and path, hashed with the body.
    pub target: String,
}
