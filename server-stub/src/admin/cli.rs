//! `keyway-server admin`: a thin command line over the typed admin
//! functions ([`super`]): it parses the arguments, calls one function, and
//! prints text, or with `--json` one JSON object per command (errors as
//! `{"error": "…"}`, exit status 1).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use keyway_api::{PolicySettings, Role};
use keyway_codes::AccessPoint;
use keyway_codes::policy::ModelConstraint;
use keyway_protocol::LockId;
use serde_json::{Value, json};

use super::{AdminError, AdminResult, LockSpec, PropertySpec, SeedSpec, UserSpec};
use crate::app::DbArgs;
use crate::db::Store;

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
        /// The address a manager or staff member signs in to the Portal with.
        #[arg(long)]
        email: Option<String>,
    },
    /// Lists a property's users.
    List {
        /// Property id (optional when there is only one).
        #[arg(long)]
        property: Option<String>,
    },
    /// Sends a manager or staff member a single-use, expiring link to set
    /// their Portal password, through the notification outbox.
    Invite {
        /// The user id.
        #[arg(long)]
        user: String,
        /// Their sign-in address (needed unless it is set already).
        #[arg(long)]
        email: Option<String>,
        /// The Portal's address as the invitee's browser reaches it.
        #[arg(
            long,
            env = "KEYWAY_PORTAL_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        portal_url: String,
        /// How long the link works, in hours (at most two weeks).
        #[arg(long, default_value_t = 72)]
        valid_hours: u32,
    },
    /// Sets a user's Portal password, read from the first line of standard
    /// input (never from the command line); ends their Portal sessions.
    SetPassword {
        /// The user id.
        #[arg(long)]
        user: String,
        /// Their sign-in address, if it is to be set now.
        #[arg(long)]
        email: Option<String>,
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

/// The first line of standard input, without its line ending.
fn read_password() -> AdminResult<String> {
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| {
        AdminError::Invalid(format!("cannot read the password from standard input: {e}"))
    })?;
    Ok(line.trim_end_matches(['\n', '\r']).to_owned())
}

fn parse_role(text: &str) -> Result<Role, UnknownRole> {
    Role::parse(text).ok_or(UnknownRole)
}

/// A `--role` other than resident, staff or manager.
#[derive(Debug, thiserror::Error)]
#[error("role is resident, staff or manager")]
pub struct UnknownRole;

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
        Err(error) => {
            if json_out {
                println!("{}", json!({ "error": error.to_string() }));
            }
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Runs an admin command: its JSON and its text.
async fn execute(args: AdminArgs) -> AdminResult<(Value, String)> {
    let store = args.db.open().await?;
    let result = dispatch(&store, args.command).await;
    store.close().await;
    result
}

fn to_value(value: impl serde::Serialize) -> AdminResult<Value> {
    serde_json::to_value(value).map_err(|e| AdminError::Domain(e.into()))
}

async fn dispatch(store: &Store, command: AdminCommand) -> AdminResult<(Value, String)> {
    match command {
        AdminCommand::Property(command) => property(store, command).await,
        AdminCommand::Lock(command) => lock(store, command).await,
        AdminCommand::User(command) => user(store, command).await,
        AdminCommand::Token(TokenCommand::Issue { user }) => {
            let issued = super::issue_token(store, &user).await?;
            let text = format!("API token for {user} (shown once):\n{}", issued.token);
            Ok((to_value(issued)?, text))
        }
        AdminCommand::Token(TokenCommand::Revoke { user }) => {
            let revoked = super::revoke(store, &user).await?;
            let text = format!(
                "revoked {} token(s) and {} device(s) of {user}",
                revoked.revoked_tokens, revoked.revoked_devices
            );
            Ok((to_value(revoked)?, text))
        }
        AdminCommand::Seed {
            name,
            units,
            codes,
            tokens_out,
        } => {
            let started = std::time::Instant::now();
            let spec = SeedSpec {
                name,
                units,
                codes,
                tokens_out,
            };
            let seeded = super::seed(store, &spec).await?;
            let text = format!(
                "seeded property {} with {} units and {} codes in {:.1} s",
                seeded.property_id,
                seeded.units,
                seeded.codes,
                started.elapsed().as_secs_f64()
            );
            Ok((to_value(seeded)?, text))
        }
    }
}

async fn property(store: &Store, command: PropertyCommand) -> AdminResult<(Value, String)> {
    match command {
        PropertyCommand::Create {
            name,
            time_zone,
            six_digit,
            no_custom_codes,
            affiliated,
            one_time_pin_length,
        } => {
            let spec = PropertySpec {
                name,
                time_zone,
                policy: PolicySettings {
                    six_digit_codes: six_digit,
                    custom_codes: !no_custom_codes,
                    affiliated_numbers: affiliated,
                    one_time_pin_length,
                    common_pins_builtin: true,
                },
            };
            let created = super::create_property(store, &spec).await?;
            let text = format!(
                "created property {} ({})",
                created.property_id, created.name
            );
            Ok((to_value(created)?, text))
        }
        PropertyCommand::List => {
            let all = super::list_properties(store).await?;
            let text = all
                .iter()
                .map(|p| format!("{}  {}  ({})", p.property_id, p.name, p.time_zone))
                .collect::<Vec<_>>()
                .join("\n");
            let value = json!({ "properties": all.iter().map(|p| json!({"id": p.property_id, "name": p.name, "time_zone": p.time_zone})).collect::<Vec<_>>() });
            Ok((value, text))
        }
    }
}

async fn lock(store: &Store, command: LockCommand) -> AdminResult<(Value, String)> {
    match command {
        LockCommand::Create {
            property,
            name,
            access_point,
            unit,
            capacity,
            no_enter_key,
            constraint,
            lock_id,
            provisioning,
        } => {
            let constraints: Vec<ModelConstraint> = constraint
                .iter()
                .map(|c| {
                    c.parse().map_err(|e: keyway_codes::code::UnknownName| {
                        AdminError::Invalid(e.to_string())
                    })
                })
                .collect::<Result<_, _>>()?;
            let lock_id = lock_id
                .map(|text| {
                    text.parse::<LockId>()
                        .map_err(|e| AdminError::Invalid(e.to_string()))
                })
                .transpose()?;
            let property = super::resolve_property(store, property.as_deref()).await?;
            let spec = LockSpec {
                name,
                access_point,
                unit,
                capacity,
                enter_key: !no_enter_key,
                constraints,
                lock_id,
            };
            let created = super::create_lock(store, &property, &spec).await?;
            let count = super::write_provisioning(store, &property, &provisioning).await?;
            let text = format!(
                "created lock {} ({}); {} now lists {count} lock(s)",
                created.lock_id,
                created.name,
                provisioning.display()
            );
            let mut value = to_value(created)?;
            value["provisioning"] = to_value(&provisioning)?;
            Ok((value, text))
        }
        LockCommand::List { property } => {
            let property = super::resolve_property(store, property.as_deref()).await?;
            let all = super::list_locks(store, &property).await?;
            let text = all
                .iter()
                .map(|l| {
                    format!(
                        "{}  {}  {}  desired v{} confirmed v{}",
                        l.lock_id,
                        l.access_point.as_str(),
                        l.name,
                        l.desired_version,
                        l.confirmed_version
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok((json!({ "locks": to_value(all)? }), text))
        }
        LockCommand::Provisioning { property, out } => {
            let property = super::resolve_property(store, property.as_deref()).await?;
            let count = super::write_provisioning(store, &property, &out).await?;
            Ok((
                json!({ "property_id": property, "provisioning": out, "locks": count }),
                format!("wrote {count} lock(s) to {}", out.display()),
            ))
        }
    }
}

async fn user(store: &Store, command: UserCommand) -> AdminResult<(Value, String)> {
    match command {
        UserCommand::Create {
            property,
            name,
            role,
            unit,
            email,
        } => {
            let property = super::resolve_property(store, property.as_deref()).await?;
            let spec = UserSpec {
                name,
                role,
                unit,
                email,
            };
            let created = super::create_user(store, &property, &spec).await?;
            let text = format!(
                "created {} {} ({})\nAPI token (shown once, keep it secret):\n{}",
                created.role.as_str(),
                created.user_id,
                created.name,
                created.token
            );
            Ok((to_value(created)?, text))
        }
        UserCommand::List { property } => {
            let property = super::resolve_property(store, property.as_deref()).await?;
            let all = super::list_users(store, &property).await?;
            let text = all
                .iter()
                .map(|u| {
                    format!(
                        "{}  {}  {}{}",
                        u.user_id,
                        u.role,
                        u.name,
                        u.unit
                            .as_ref()
                            .map(|unit| format!("  unit {unit}"))
                            .unwrap_or_default()
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            Ok((json!({ "users": to_value(all)? }), text))
        }
        UserCommand::Invite {
            user,
            email,
            portal_url,
            valid_hours,
        } => {
            let spec = super::accounts::InviteSpec {
                user_id: user,
                email,
                portal_url,
                valid_hours,
            };
            let invited = super::invite_user(store, &spec).await?;
            let text = format!(
                "sent {} a set-password link (in the notification outbox); it works once, until {}",
                invited.user_id, invited.expires_at
            );
            Ok((to_value(invited)?, text))
        }
        UserCommand::SetPassword { user, email } => {
            let password = read_password()?;
            let set = super::set_password(store, &user, email.as_deref(), &password).await?;
            let text = format!(
                "set the password of {}; {} Portal session(s) ended",
                set.user_id, set.sessions_ended
            );
            Ok((to_value(set)?, text))
        }
    }
}
