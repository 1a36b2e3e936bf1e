//! `keyway-server admin`: what an operator does before anyone logs in —
//! create a property, its doors and locks (each with a fresh root key, written
//! to the provisioning file the simulator and real locks load), users, and API
//! tokens (stored hashed, shown once). Works directly on the database, with or
//! without a running server; `--json` prints one JSON object per command.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use keyway_core::AccessPoint;
use keyway_core::api::{PolicySettings, Role};
use keyway_core::policy::ModelConstraint;
use keyway_core::protocol::{LockId, RootKey};
use keyway_core::provisioning::{ProvisionedLock, ProvisioningFile};
use serde_json::{Value, json};
use sqlx::AnyConnection;

use crate::app::{DbArgs, write_secret};
use crate::crypto::{Cell, DataKey, new_id, new_token, token_hash};
use crate::model::{load_locks_where, validate_policy};
use crate::store::{Store, now_secs};

/// `keyway-server admin`.
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// Database and data key.
    #[command(flatten)]
    pub db: DbArgs,
    /// Print JSON (for scripts) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: AdminCommand,
}

/// Admin commands.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Properties (communities).
    #[command(subcommand)]
    Property(PropertyCommand),
    /// Locks (doors).
    #[command(subcommand)]
    Lock(LockCommand),
    /// Users.
    #[command(subcommand)]
    User(UserCommand),
    /// API tokens.
    #[command(subcommand)]
    Token(TokenCommand),
    /// Fills a new property with synthetic units (a door and a resident
    /// each) and delivered guest codes, for load tests and benchmarks.
    Seed {
        /// Name of the new property.
        #[arg(long, default_value = "Bench Court")]
        name: String,
        /// Units.
        #[arg(long, default_value_t = 10_000)]
        units: usize,
        /// Codes, spread evenly over the unit doors (at most 250 a door).
        #[arg(long, default_value_t = 100_000)]
        codes: u64,
        /// Where to write the residents' API tokens (`<unit> <token>` a line).
        #[arg(long)]
        tokens_out: Option<PathBuf>,
    },
}

/// `admin property …`.
#[derive(Debug, Subcommand)]
pub enum PropertyCommand {
    /// Creates a property with its code policy.
    Create {
        /// Name ("Maple Court").
        #[arg(long)]
        name: String,
        /// IANA time zone of recurring schedules.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
        /// Allow 6-digit resident and guest codes.
        #[arg(long)]
        six_digit: bool,
        /// Refuse codes residents pick themselves.
        #[arg(long)]
        no_custom_codes: bool,
        /// Numbers affiliated with the property (street number, zip), comma-separated.
        #[arg(long, value_delimiter = ',')]
        affiliated: Vec<String>,
        /// Length of one-time PINs.
        #[arg(long, default_value_t = 6)]
        one_time_pin_length: u8,
    },
    /// Lists properties.
    List,
}

/// `admin lock …`.
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Creates a lock with a fresh root key and rewrites the property's
    /// provisioning file.
    Create {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
        /// Name people recognise ("Unit 4B", "Main entrance").
        #[arg(long)]
        name: String,
        /// unit_door, community_entrance, amenity or package_room.
        #[arg(long, default_value = "unit_door")]
        access_point: AccessPoint,
        /// The unit (by name, created if new) for unit doors.
        #[arg(long)]
        unit: Option<String>,
        /// Slots on the lock.
        #[arg(long, default_value_t = 250)]
        capacity: u16,
        /// The keypad has no enter key.
        #[arg(long)]
        no_enter_key: bool,
        /// Model constraints (ids from docs/policy.md), comma-separated.
        #[arg(long, value_delimiter = ',')]
        constraint: Vec<String>,
        /// The lock id (16 hex digits); random when left out.
        #[arg(long)]
        lock_id: Option<String>,
        /// Where to write the provisioning file (secret: it holds root keys).
        #[arg(long, default_value = "keyway-provisioning.json")]
        provisioning: PathBuf,
    },
    /// Lists a property's locks.
    List {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
    },
    /// Writes the provisioning file of a property's locks.
    Provisioning {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
        /// Output file.
        #[arg(long, default_value = "keyway-provisioning.json")]
        out: PathBuf,
    },
}

/// `admin user …`.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Creates a user and issues their first API token (shown once).
    Create {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
        /// Display name.
        #[arg(long)]
        name: String,
        /// resident, staff or manager.
        #[arg(long, value_parser = parse_role)]
        role: Role,
        /// The unit (by name, created if new), for residents.
        #[arg(long)]
        unit: Option<String>,
    },
    /// Lists a property's users.
    List {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
    },
}

/// `admin token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issues another API token for a user (shown once).
    Issue {
        /// The user id.
        #[arg(long)]
        user: String,
    },
    /// Revokes every API token and device of a user.
    Revoke {
        /// The user id.
        #[arg(long)]
        user: String,
    },
}

fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| "role is resident, staff or manager".to_owned())
}

/// Runs an admin command; returns the process exit code.
pub async fn run(args: AdminArgs) -> std::process::ExitCode {
    let json_out = args.json;
    match execute(args).await {
        Ok((value, text)) => {
            if json_out {
                println!("{value}");
            } else {
                println!("{text}");
            }
            std::process::ExitCode::SUCCESS
        }
        Err(message) => {
            if json_out {
                println!("{}", json!({ "error": message }));
            }
            eprintln!("error: {message}");
            std::process::ExitCode::FAILURE
        }
    }
}

type Outcome = Result<(Value, String), String>;

/// Runs an admin command and returns what `--json` would print, without
/// printing anything (for programs that embed the server, like `keyway demo`).
pub async fn execute_json(args: AdminArgs) -> Result<Value, String> {
    execute(args).await.map(|(value, _)| value)
}

async fn execute(args: AdminArgs) -> Outcome {
    let (store, key) = args.db.open().await?;
    let result = match args.command {
        AdminCommand::Property(PropertyCommand::Create {
            name,
            time_zone,
            six_digit,
            no_custom_codes,
            affiliated,
            one_time_pin_length,
        }) => {
            let policy = PolicySettings {
                six_digit_codes: six_digit,
                custom_codes: !no_custom_codes,
                affiliated_numbers: affiliated,
                one_time_pin_length,
                common_pins_builtin: true,
            };
            create_property(&store, &name, &time_zone, policy).await
        }
        AdminCommand::Property(PropertyCommand::List) => list_properties(&store).await,
        AdminCommand::Lock(LockCommand::Create {
            property,
            name,
            access_point,
            unit,
            capacity,
            no_enter_key,
            constraint,
            lock_id,
            provisioning,
        }) => {
            let property = resolve_property(&store, property).await?;
            let spec = LockSpec {
                name,
                access_point,
                unit,
                capacity,
                enter_key: !no_enter_key,
                constraints: constraint,
                lock_id,
            };
            create_lock(&store, &key, &property, spec, &provisioning).await
        }
        AdminCommand::Lock(LockCommand::List { property }) => {
            let property = resolve_property(&store, property).await?;
            list_locks(&store, &property).await
        }
        AdminCommand::Lock(LockCommand::Provisioning { property, out }) => {
            let property = resolve_property(&store, property).await?;
            let count = write_provisioning(&store, &key, &property, &out).await?;
            Ok((
                json!({ "property_id": property, "provisioning": out, "locks": count }),
                format!("wrote {count} lock(s) to {}", out.display()),
            ))
        }
        AdminCommand::User(UserCommand::Create {
            property,
            name,
            role,
            unit,
        }) => {
            let property = resolve_property(&store, property).await?;
            create_user(&store, &property, &name, role, unit.as_deref()).await
        }
        AdminCommand::User(UserCommand::List { property }) => {
            let property = resolve_property(&store, property).await?;
            list_users(&store, &property).await
        }
        AdminCommand::Token(TokenCommand::Issue { user }) => issue_token(&store, &user).await,
        AdminCommand::Token(TokenCommand::Revoke { user }) => revoke(&store, &user).await,
        AdminCommand::Seed {
            name,
            units,
            codes,
            tokens_out,
        } => {
            let started = std::time::Instant::now();
            crate::seed::seed(&store, &key, &name, units, codes, tokens_out.as_deref())
                .await
                .map_err(|e| e.to_string())
                .map(|seeded| {
                    let text = format!(
                        "seeded property {} with {} units and {} codes in {:.1} s",
                        seeded.property_id,
                        seeded.units,
                        seeded.codes,
                        started.elapsed().as_secs_f64()
                    );
                    (json!(seeded), text)
                })
        }
    };
    store.pool.close().await;
    result
}

fn db(e: impl std::fmt::Display) -> String {
    format!("database: {e}")
}

async fn resolve_property(store: &Store, given: Option<String>) -> Result<String, String> {
    let ids: Vec<(String,)> = sqlx::query_as("SELECT id FROM properties ORDER BY created_at")
        .fetch_all(&store.pool)
        .await
        .map_err(db)?;
    match given {
        Some(id) if ids.iter().any(|(p,)| p == &id) => Ok(id),
        Some(id) => Err(format!("no property `{id}` (see `admin property list`)")),
        None if ids.len() == 1 => Ok(ids[0].0.clone()),
        None if ids.is_empty() => {
            Err("no property yet: run `admin property create --name ...` first".into())
        }
        None => Err("several properties: pass --property ID".into()),
    }
}

async fn create_property(
    store: &Store,
    name: &str,
    time_zone: &str,
    policy: PolicySettings,
) -> Outcome {
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    jiff::tz::TimeZone::get(time_zone).map_err(|_| {
        format!("unknown time zone `{time_zone}`; use an IANA name like America/New_York")
    })?;
    validate_policy(&policy).map_err(|e| e.detail)?;
    let id = new_id("prop");
    sqlx::query("INSERT INTO properties (id, name, time_zone, policy, change_seq, created_at) VALUES ($1, $2, $3, $4, 0, $5)")
        .bind(id.clone())
        .bind(name.trim().to_owned())
        .bind(time_zone.to_owned())
        .bind(serde_json::to_string(&policy).map_err(|e| e.to_string())?)
        .bind(now_secs())
        .execute(&store.pool)
        .await
        .map_err(db)?;
    Ok((
        json!({ "property_id": id, "name": name.trim(), "time_zone": time_zone, "policy": policy }),
        format!("created property {id} ({})", name.trim()),
    ))
}

async fn list_properties(store: &Store) -> Outcome {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT id, name, time_zone FROM properties ORDER BY created_at")
            .fetch_all(&store.pool)
            .await
            .map_err(db)?;
    let text = rows
        .iter()
        .map(|(id, name, tz)| format!("{id}  {name}  ({tz})"))
        .collect::<Vec<_>>()
        .join("\n");
    let value = json!({ "properties": rows.iter().map(|(id, name, tz)| json!({"id": id, "name": name, "time_zone": tz})).collect::<Vec<_>>() });
    Ok((value, text))
}

async fn unit_id(conn: &mut AnyConnection, property: &str, name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.len() > 40 {
        return Err("--unit must be 1 to 40 characters".into());
    }
    let found: Option<(String,)> =
        sqlx::query_as("SELECT id FROM units WHERE property_id = $1 AND name = $2")
            .bind(property.to_owned())
            .bind(name.to_owned())
            .fetch_optional(&mut *conn)
            .await
            .map_err(db)?;
    if let Some((id,)) = found {
        return Ok(id);
    }
    let id = new_id("unit");
    sqlx::query("INSERT INTO units (id, property_id, name) VALUES ($1, $2, $3)")
        .bind(id.clone())
        .bind(property.to_owned())
        .bind(name.to_owned())
        .execute(&mut *conn)
        .await
        .map_err(db)?;
    Ok(id)
}

struct LockSpec {
    name: String,
    access_point: AccessPoint,
    unit: Option<String>,
    capacity: u16,
    enter_key: bool,
    constraints: Vec<String>,
    lock_id: Option<String>,
}

async fn create_lock(
    store: &Store,
    key: &DataKey,
    property: &str,
    spec: LockSpec,
    provisioning: &PathBuf,
) -> Outcome {
    let constraints: Vec<ModelConstraint> = spec
        .constraints
        .iter()
        .map(|c| {
            c.parse()
                .map_err(|e: keyway_core::code::UnknownName| e.to_string())
        })
        .collect::<Result<_, _>>()?;
    if spec.capacity == 0 {
        return Err("--capacity must be at least 1".into());
    }
    let lock_id = match &spec.lock_id {
        Some(text) => text.parse::<LockId>().map_err(|e| e.to_string())?,
        None => LockId::random(),
    };
    let root = RootKey::generate().map_err(|e| e.to_string())?;
    let mut w = store
        .begin_write(property)
        .await
        .map_err(db)?
        .ok_or("no such property")?;
    let unit = match (&spec.unit, spec.access_point) {
        (Some(unit), AccessPoint::UnitDoor) => Some(unit_id(&mut w.tx, property, unit).await?),
        (None, AccessPoint::UnitDoor) => return Err("a unit door needs --unit".into()),
        (Some(_), _) => return Err("--unit is only for unit doors".into()),
        (None, _) => None,
    };
    sqlx::query("INSERT INTO locks (id, property_id, name, access_point, unit_id, capacity, enter_key, constraints, root_key, change_seq, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(lock_id.to_string())
        .bind(property.to_owned())
        .bind(spec.name.clone())
        .bind(spec.access_point.as_str().to_owned())
        .bind(unit.clone())
        .bind(i64::from(spec.capacity))
        .bind(i64::from(spec.enter_key))
        .bind(serde_json::to_string(&constraints).map_err(|e| e.to_string())?)
        .bind(
            key.seal_str(
                Cell::new("locks", "root_key", &lock_id.to_string()),
                &root.to_hex(),
            )
            .map_err(|e| e.to_string())?,
        )
        .bind(w.seq)
        .bind(now_secs())
        .execute(&mut *w.tx)
        .await
        .map_err(|e| if crate::store::is_unique_violation(&e) { format!("lock {lock_id} exists already") } else { db(e) })?;
    w.commit().await.map_err(db)?;
    let count = write_provisioning(store, key, property, provisioning).await?;
    Ok((
        json!({ "lock_id": lock_id.to_string(), "property_id": property, "name": spec.name, "access_point": spec.access_point, "unit_id": unit, "provisioning": provisioning }),
        format!(
            "created lock {lock_id} ({}); {} now lists {count} lock(s)",
            spec.name,
            provisioning.display()
        ),
    ))
}

async fn write_provisioning(
    store: &Store,
    key: &DataKey,
    property: &str,
    out: &std::path::Path,
) -> Result<usize, String> {
    let mut conn = store.pool.acquire().await.map_err(db)?;
    let (name,): (String,) = sqlx::query_as("SELECT name FROM properties WHERE id = $1")
        .bind(property.to_owned())
        .fetch_one(&mut *conn)
        .await
        .map_err(db)?;
    let locks = load_locks_where(&mut conn, property, "", &[])
        .await
        .map_err(|e| e.detail)?;
    let mut provisioned = Vec::new();
    for lock in &locks {
        let root = lock.keys_root(key).map_err(|e| e.detail)?;
        provisioned.push(ProvisionedLock {
            lock_id: lock.lock_id().map_err(|e| e.detail)?,
            name: lock.name.clone(),
            access_point: lock.access_point,
            root_key: root,
            capacity: lock.capacity,
            enter_key: lock.enter_key,
            constraints: lock.constraints.clone(),
        });
    }
    let file = ProvisioningFile::new(name, provisioned);
    write_secret(out, &file.to_json())
        .map_err(|e| format!("cannot write {}: {e}", out.display()))?;
    Ok(locks.len())
}

async fn list_locks(store: &Store, property: &str) -> Outcome {
    let mut conn = store.pool.acquire().await.map_err(db)?;
    let locks = load_locks_where(&mut conn, property, "", &[])
        .await
        .map_err(|e| e.detail)?;
    let text = locks
        .iter()
        .map(|l| {
            format!(
                "{}  {}  {}  desired v{} confirmed v{}",
                l.id,
                l.access_point.as_str(),
                l.name,
                l.desired_version,
                l.confirmed_version
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let value = json!({ "locks": locks.iter().map(|l| json!({
        "lock_id": l.id, "name": l.name, "access_point": l.access_point, "unit_id": l.unit_id,
        "desired_version": l.desired_version, "confirmed_version": l.confirmed_version,
    })).collect::<Vec<_>>() });
    Ok((value, text))
}

async fn create_user(
    store: &Store,
    property: &str,
    name: &str,
    role: Role,
    unit: Option<&str>,
) -> Outcome {
    if name.trim().is_empty() {
        return Err("--name must not be empty".into());
    }
    let mut w = store
        .begin_write(property)
        .await
        .map_err(db)?
        .ok_or("no such property")?;
    let unit_id = match (role, unit) {
        (Role::Resident, Some(unit)) => Some(unit_id(&mut w.tx, property, unit).await?),
        (Role::Resident, None) => return Err("a resident needs --unit".into()),
        (_, Some(_)) => return Err("--unit is only for residents".into()),
        (_, None) => None,
    };
    let id = new_id("user");
    sqlx::query("INSERT INTO users (id, property_id, role, name, unit_id, created_at) VALUES ($1, $2, $3, $4, $5, $6)")
        .bind(id.clone())
        .bind(property.to_owned())
        .bind(role.as_str().to_owned())
        .bind(name.trim().to_owned())
        .bind(unit_id.clone())
        .bind(now_secs())
        .execute(&mut *w.tx)
        .await
        .map_err(db)?;
    let token = insert_token(&mut w.tx, &id).await?;
    w.commit().await.map_err(db)?;
    Ok((
        json!({ "user_id": id, "property_id": property, "name": name.trim(), "role": role, "unit_id": unit_id, "token": token }),
        format!(
            "created {} {id} ({})\nAPI token (shown once, keep it secret):\n{token}",
            role.as_str(),
            name.trim()
        ),
    ))
}

async fn insert_token(conn: &mut AnyConnection, user: &str) -> Result<String, String> {
    let token = new_token("kwa").map_err(|e| e.to_string())?;
    sqlx::query(
        "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(new_id("tok"))
    .bind(user.to_owned())
    .bind(token_hash(&token))
    .bind(now_secs())
    .execute(&mut *conn)
    .await
    .map_err(db)?;
    Ok(token)
}

async fn list_users(store: &Store, property: &str) -> Outcome {
    let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as("SELECT u.id, u.name, u.role, n.name FROM users u LEFT JOIN units n ON n.id = u.unit_id WHERE u.property_id = $1 ORDER BY u.created_at")
        .bind(property.to_owned())
        .fetch_all(&store.pool)
        .await
        .map_err(db)?;
    let text = rows
        .iter()
        .map(|(id, name, role, unit)| {
            format!(
                "{id}  {role}  {name}{}",
                unit.as_ref()
                    .map(|u| format!("  unit {u}"))
                    .unwrap_or_default()
            )
        })
        .collect::<Vec<_>>()
        .join("\n");
    let value = json!({ "users": rows.iter().map(|(id, name, role, unit)| json!({"user_id": id, "name": name, "role": role, "unit": unit})).collect::<Vec<_>>() });
    Ok((value, text))
}

async fn issue_token(store: &Store, user: &str) -> Outcome {
    let mut conn = store.pool.acquire().await.map_err(db)?;
    let exists: Option<(String,)> = sqlx::query_as("SELECT id FROM users WHERE id = $1")
        .bind(user.to_owned())
        .fetch_optional(&mut *conn)
        .await
        .map_err(db)?;
    if exists.is_none() {
        return Err(format!("no user `{user}`"));
    }
    let token = insert_token(&mut conn, user).await?;
    Ok((
        json!({ "user_id": user, "token": token }),
        format!("API token for {user} (shown once):\n{token}"),
    ))
}

async fn revoke(store: &Store, user: &str) -> Outcome {
    let now = now_secs();
    let tokens = sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(user.to_owned())
    .execute(&store.pool)
    .await
    .map_err(db)?
    .rows_affected();
    let devices =
        sqlx::query("UPDATE devices SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL")
            .bind(now)
            .bind(user.to_owned())
            .execute(&store.pool)
            .await
            .map_err(db)?
            .rows_affected();
    Ok((
        json!({ "user_id": user, "revoked_tokens": tokens, "revoked_devices": devices }),
        format!("revoked {tokens} token(s) and {devices} device(s) of {user}"),
    ))
}
