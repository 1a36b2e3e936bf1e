//! What an operator does before anyone logs in, as typed functions: create
//! a property, its doors and locks (each with a fresh root key, written to
//! the provisioning file the simulator and real locks load), users, and API
//! tokens (stored hashed, shown once); list them; revoke a user; seed a
//! synthetic property ([`seed`]). They write through the same data layer as
//! the server, with or without a server running. The `admin` command
//! ([`cli`]) is a thin layer over them; the demo and every test world
//! (`keyway-testkit`) call them directly.

pub mod accounts;
pub mod cli;
pub mod seed;

use std::path::{Path, PathBuf};

use keyway_api::{PolicySettings, Role};
use keyway_codes::AccessPoint;
use keyway_codes::policy::ModelConstraint;
use keyway_protocol::provisioning::{ProvisionedLock, ProvisioningFile};
use keyway_protocol::{LockId, RootKey};
use serde::Serialize;

use crate::app::write_secret;
use crate::clock::now_secs;
use crate::crypto::{Cell, new_id, new_token, token_hash};
use crate::db::locks::NewLock;
use crate::db::properties::{NewProperty, NewUnit};
use crate::db::users::{NewApiToken, NewUser};
use crate::db::{Store, Write, locks, properties, users};
use crate::ops::policy::validate_policy;

pub use accounts::{Invited, PasswordSet, invite_user, set_password};
pub use cli::{AdminArgs, AdminCommand, run};
pub use seed::{SeedSpec, Seeded, seed};

/// Why an admin operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The request is not acceptable (a bad name, a missing unit).
    #[error("{0}")]
    Invalid(String),
    /// Something named does not exist.
    #[error("{0}")]
    NotFound(String),
    /// Something to create exists already.
    #[error("{0}")]
    Exists(String),
    /// The database could not be opened.
    #[error(transparent)]
    Start(#[from] crate::app::StartError),
    /// A file could not be written.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A domain operation or the database failed.
    #[error("{}", .0.detail)]
    Domain(#[from] crate::error::Error),
}

impl From<crate::crypto::CryptoError> for AdminError {
    fn from(e: crate::crypto::CryptoError) -> Self {
        Self::Domain(e.into())
    }
}

/// Results of admin operations.
pub type AdminResult<T> = Result<T, AdminError>;

/// A property to create.
#[derive(Debug, Clone)]
pub struct PropertySpec {
    /// Name ("Maple Court").
    pub name: String,
    /// IANA time zone of recurring schedules.
    pub time_zone: String,
    /// The code policy.
    pub policy: PolicySettings,
}

/// A property, as created or listed.
#[derive(Debug, Clone, Serialize)]
pub struct PropertyCreated {
    /// Its id.
    pub property_id: String,
    /// Name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The code policy.
    pub policy: PolicySettings,
}

/// Creates a property with its code policy.
pub async fn create_property(store: &Store, spec: &PropertySpec) -> AdminResult<PropertyCreated> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("--name must not be empty".into()));
    }
    jiff::tz::TimeZone::get(&spec.time_zone).map_err(|_| {
        AdminError::Invalid(format!(
            "unknown time zone `{}`; use an IANA name like America/New_York",
            spec.time_zone
        ))
    })?;
    validate_policy(&spec.policy).map_err(|e| AdminError::Invalid(e.detail))?;
    let row = NewProperty {
        id: new_id("prop"),
        name: name.to_owned(),
        time_zone: spec.time_zone.clone(),
        policy: spec.policy.clone(),
        change_seq: 0,
        created_at: now_secs(),
    };
    crate::db::insert(&mut store.read().await?, std::slice::from_ref(&row)).await?;
    Ok(PropertyCreated {
        property_id: row.id,
        name: row.name,
        time_zone: row.time_zone,
        policy: row.policy,
    })
}

/// Every property, oldest first.
pub async fn list_properties(store: &Store) -> AdminResult<Vec<PropertyCreated>> {
    Ok(properties::list(&mut store.read().await?)
        .await?
        .into_iter()
        .map(|p| PropertyCreated {
            property_id: p.id,
            name: p.name,
            time_zone: p.time_zone,
            policy: p.policy,
        })
        .collect())
}

/// The property an operator means: the one given (which must exist), or
/// the only one there is.
pub async fn resolve_property(store: &Store, given: Option<&str>) -> AdminResult<String> {
    let ids: Vec<String> = list_properties(store)
        .await?
        .into_iter()
        .map(|p| p.property_id)
        .collect();
    match given {
        Some(id) if ids.iter().any(|p| p == id) => Ok(id.to_owned()),
        Some(id) => Err(AdminError::NotFound(format!(
            "no property `{id}` (see `admin property list`)"
        ))),
        None if ids.len() == 1 => Ok(ids[0].clone()),
        None if ids.is_empty() => Err(AdminError::NotFound(
            "no property yet: run `admin property create --name ...` first".into(),
        )),
        None => Err(AdminError::Invalid(
            "several properties: pass --property ID".into(),
        )),
    }
}

/// The id of the property's unit named `name`, created if new, in this write.
async fn unit_id(w: &mut Write, name: &str) -> AdminResult<String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 40 {
        return Err(AdminError::Invalid(
            "--unit must be 1 to 40 characters".into(),
        ));
    }
    let property_id = w.property_id().to_owned();
    if let Some(id) = properties::unit_by_name(w, &property_id, name).await? {
        return Ok(id);
    }
    let unit = NewUnit {
        id: new_id("unit"),
        property_id,
        name: name.to_owned(),
    };
    crate::db::insert(w, std::slice::from_ref(&unit)).await?;
    Ok(unit.id)
}

/// A write to an existing property.
async fn begin(store: &Store, property_id: &str) -> AdminResult<Write> {
    store
        .begin_write(property_id)
        .await?
        .ok_or_else(|| AdminError::NotFound("no such property".into()))
}

/// A lock to create.
#[derive(Debug, Clone)]
pub struct LockSpec {
    /// Name people recognise ("Unit 4B", "Main entrance").
    pub name: String,
    /// What kind of door.
    pub access_point: AccessPoint,
    /// The unit (by name, created if new) of a unit door.
    pub unit: Option<String>,
    /// Slots on the lock.
    pub capacity: u16,
    /// Whether the keypad has an enter key.
    pub enter_key: bool,
    /// Model constraints.
    pub constraints: Vec<ModelConstraint>,
    /// The lock id; random when `None`.
    pub lock_id: Option<LockId>,
}

impl LockSpec {
    /// A door of 250 slots with an enter key and no model constraints.
    pub fn new(name: &str, access_point: AccessPoint, unit: Option<&str>) -> Self {
        Self {
            name: name.to_owned(),
            access_point,
            unit: unit.map(str::to_owned),
            capacity: 250,
            enter_key: true,
            constraints: Vec::new(),
            lock_id: None,
        }
    }
}

/// A lock as created.
#[derive(Debug, Clone, Serialize)]
pub struct LockCreated {
    /// The lock id (16 hex digits).
    pub lock_id: String,
    /// Property.
    pub property_id: String,
    /// Name.
    pub name: String,
    /// What kind of door.
    pub access_point: AccessPoint,
    /// The unit of a unit door.
    pub unit_id: Option<String>,
}

/// Creates a lock with a fresh root key (write the provisioning file after:
/// [`write_provisioning`]).
pub async fn create_lock(
    store: &Store,
    property_id: &str,
    spec: &LockSpec,
) -> AdminResult<LockCreated> {
    if spec.capacity == 0 {
        return Err(AdminError::Invalid("--capacity must be at least 1".into()));
    }
    let lock_id = spec.lock_id.unwrap_or_else(LockId::random).to_string();
    let root = RootKey::generate().map_err(|e| crate::error::Error::internal("root key", e))?;
    let mut w = begin(store, property_id).await?;
    let unit = match (&spec.unit, spec.access_point) {
        (Some(unit), AccessPoint::UnitDoor) => Some(unit_id(&mut w, unit).await?),
        (None, AccessPoint::UnitDoor) => {
            return Err(AdminError::Invalid("a unit door needs --unit".into()));
        }
        (Some(_), _) => {
            return Err(AdminError::Invalid("--unit is only for unit doors".into()));
        }
        (None, _) => None,
    };
    let row = NewLock {
        root_key: store
            .key()
            .seal_str(Cell::new("locks", "root_key", &lock_id), &root.to_hex())?,
        id: lock_id.clone(),
        property_id: property_id.to_owned(),
        name: spec.name.clone(),
        access_point: spec.access_point,
        unit_id: unit.clone(),
        capacity: spec.capacity,
        enter_key: spec.enter_key,
        constraints: spec.constraints.clone(),
        version: 0,
        change_seq: w.seq(),
        created_at: now_secs(),
    };
    if !locks::insert_new(&mut w, &row).await? {
        return Err(AdminError::Exists(format!("lock {lock_id} exists already")));
    }
    w.commit().await?;
    Ok(LockCreated {
        lock_id,
        property_id: property_id.to_owned(),
        name: spec.name.clone(),
        access_point: spec.access_point,
        unit_id: unit,
    })
}

/// Writes the provisioning file of a property's locks (secret: it holds
/// their root keys); how many locks it lists.
pub async fn write_provisioning(
    store: &Store,
    property_id: &str,
    out: &Path,
) -> AdminResult<usize> {
    let mut read = store.read().await?;
    let property = properties::load(&mut read, property_id).await?;
    let rows = locks::all(&mut read, property_id).await?;
    let key = read.key().clone();
    let mut provisioned = Vec::new();
    for lock in &rows {
        provisioned.push(ProvisionedLock {
            lock_id: lock.lock_id()?,
            name: lock.name.clone(),
            access_point: lock.access_point,
            root_key: lock.keys_root(&key)?,
            capacity: lock.capacity,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
        });
    }
    let file = ProvisioningFile::new(property.name, provisioned);
    write_secret(out, &file.to_json()).map_err(|source| AdminError::Write {
        path: out.to_owned(),
        source,
    })?;
    Ok(rows.len())
}

/// A lock as listed.
#[derive(Debug, Clone, Serialize)]
pub struct LockSummary {
    /// The lock id.
    pub lock_id: String,
    /// Name.
    pub name: String,
    /// What kind of door.
    pub access_point: AccessPoint,
    /// The unit of a unit door.
    pub unit_id: Option<String>,
    /// Version of the desired table.
    pub desired_version: u32,
    /// Version the lock confirmed.
    pub confirmed_version: u32,
}

/// A property's locks.
pub async fn list_locks(store: &Store, property_id: &str) -> AdminResult<Vec<LockSummary>> {
    Ok(locks::all(&mut store.read().await?, property_id)
        .await?
        .into_iter()
        .map(|l| LockSummary {
            lock_id: l.id,
            name: l.name,
            access_point: l.access_point,
            unit_id: l.unit_id,
            desired_version: l.desired_version,
            confirmed_version: l.confirmed_version,
        })
        .collect())
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct UserSpec {
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// The unit (by name, created if new) of a resident.
    pub unit: Option<String>,
    /// The address the user signs in to the Portal with (managers and
    /// staff); one account per address.
    pub email: Option<String>,
}

/// A user as created, with their first API token (shown once).
#[derive(Debug, Clone, Serialize)]
pub struct UserCreated {
    /// Their id.
    pub user_id: String,
    /// Property.
    pub property_id: String,
    /// Display name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// A resident's unit.
    pub unit_id: Option<String>,
    /// The API token.
    pub token: String,
}

fn api_token(user_id: &str) -> AdminResult<(String, NewApiToken)> {
    let token = new_token("kwa")?;
    let row = NewApiToken {
        id: new_id("tok"),
        user_id: user_id.to_owned(),
        token_hash: token_hash(&token),
        created_at: now_secs(),
    };
    Ok((token, row))
}

/// Creates a user and issues their first API token.
pub async fn create_user(
    store: &Store,
    property_id: &str,
    spec: &UserSpec,
) -> AdminResult<UserCreated> {
    let name = spec.name.trim();
    if name.is_empty() {
        return Err(AdminError::Invalid("--name must not be empty".into()));
    }
    let mut w = begin(store, property_id).await?;
    let unit_id = match (spec.role, &spec.unit) {
        (Role::Resident, Some(unit)) => Some(unit_id(&mut w, unit).await?),
        (Role::Resident, None) => {
            return Err(AdminError::Invalid("a resident needs --unit".into()));
        }
        (_, Some(_)) => return Err(AdminError::Invalid("--unit is only for residents".into())),
        (_, None) => None,
    };
    let user = NewUser {
        id: new_id("user"),
        property_id: property_id.to_owned(),
        role: spec.role.as_str().to_owned(),
        name: name.to_owned(),
        unit_id: unit_id.clone(),
        created_at: now_secs(),
    };
    crate::db::insert(&mut w, std::slice::from_ref(&user)).await?;
    if let Some(email) = &spec.email {
        crate::ops::accounts::set_email_in(&mut w, &user.id, email).await?;
    }
    let (token, row) = api_token(&user.id)?;
    crate::db::insert(&mut w, &[row]).await?;
    w.commit().await?;
    Ok(UserCreated {
        user_id: user.id,
        property_id: property_id.to_owned(),
        name: user.name,
        role: spec.role,
        unit_id,
        token,
    })
}

/// A user as listed.
#[derive(Debug, Clone, Serialize)]
pub struct UserSummary {
    /// Their id.
    pub user_id: String,
    /// Display name.
    pub name: String,
    /// `resident`, `staff` or `manager`.
    pub role: String,
    /// A resident's unit, by name.
    pub unit: Option<String>,
}

/// A property's users, oldest first.
pub async fn list_users(store: &Store, property_id: &str) -> AdminResult<Vec<UserSummary>> {
    Ok(users::list(&mut store.read().await?, property_id)
        .await?
        .into_iter()
        .map(|u| UserSummary {
            user_id: u.id,
            name: u.name,
            role: u.role,
            unit: u.unit,
        })
        .collect())
}

/// Another API token, shown once.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    /// Whose.
    pub user_id: String,
    /// The token.
    pub token: String,
}

/// Issues another API token for a user.
pub async fn issue_token(store: &Store, user_id: &str) -> AdminResult<IssuedToken> {
    let mut read = store.read().await?;
    if !users::exists(&mut read, user_id).await? {
        return Err(AdminError::NotFound(format!("no user `{user_id}`")));
    }
    let (token, row) = api_token(user_id)?;
    crate::db::insert(&mut read, &[row]).await?;
    Ok(IssuedToken {
        user_id: user_id.to_owned(),
        token,
    })
}

/// What a revocation ended.
#[derive(Debug, Clone, Serialize)]
pub struct Revoked {
    /// Whose.
    pub user_id: String,
    /// API tokens revoked.
    pub revoked_tokens: u64,
    /// Devices revoked.
    pub revoked_devices: u64,
}

/// Revokes every API token and device of a user.
pub async fn revoke(store: &Store, user_id: &str) -> AdminResult<Revoked> {
    let (tokens, devices) =
        users::revoke_user(&mut store.read().await?, user_id, now_secs()).await?;
    Ok(Revoked {
        user_id: user_id.to_owned(),
        revoked_tokens: tokens,
        revoked_devices: devices,
    })
}
