//! The resident's desktop client: every command that works through the
//! phone core (`keyway_client`), the same API the mobile bindings
//! expose — log in, doors and codes with their state on each lock, new,
//! changed, disabled, enabled and deleted codes, guest codes, when codes
//! opened doors, sync, delivery to locks in range over btleplug, and
//! watching state changes.

use std::collections::HashMap;
use std::io::BufRead as _;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Args, Subcommand, ValueEnum};
use jiff::civil::{DateTime, Time};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use keyway_api::{CodeState, GuestType, Role};
use keyway_client::{Client, ClientEvent, LocalCode, NewCode, Session};
use keyway_codes::code::AccessPoint;
use keyway_codes::schedule::{Recurring, Schedule, Weekdays, Window};
use keyway_delivery::ble::BleTransport;

use crate::output::{BLUETOOTH, Failure, SUCCESS, print_json};
use crate::render::{self, CodeJson, DeliveryJson, DoorJson, SyncJson};
use crate::settings::{self, DEFAULT_DEVICE_NAME, GlobalArgs};

mod args;
mod guest;
mod radio;

pub(crate) use args::*;
use guest::guest;
use radio::{deliver, watch};

/// Runs a client command and returns the process exit code.
pub(crate) fn run(command: ClientCommand, global: &GlobalArgs) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            return Failure::new("internal", format!("cannot start: {e}")).report(global.json);
        }
    };
    match runtime.block_on(execute(command, global)) {
        Ok(code) => code,
        Err(failure) => failure.report(global.json),
    }
}

type Outcome = Result<ExitCode, Failure>;

async fn execute(command: ClientCommand, global: &GlobalArgs) -> Outcome {
    let json = global.json;
    match command {
        ClientCommand::Login(args) => login(args, global).await,
        ClientCommand::Logout => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            client.logout().await?;
            if json {
                print_json(&serde_json::json!({"logged_out": true}));
            } else {
                println!("Logged out; this computer's store is empty.");
            }
            ok()
        }
        ClientCommand::Status => status(global),
        ClientCommand::Doors => doors(global),
        ClientCommand::Codes(args) => codes(args, global),
        ClientCommand::Uses(args) => uses(args, global),
        ClientCommand::Notify(args) => notify(args, global).await,
        ClientCommand::Contact(args) => contact(args, global).await,
        ClientCommand::Backup(args) => backup(args, global).await,
        ClientCommand::Generate(args) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let mut new = NewCode::resident();
            new.length = args.length;
            place(&client, &mut new, args.placement)?;
            let code = client.generate_code(new).await?;
            show_request(&client, &code, "Generated", json)
        }
        ClientCommand::Pick(args) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let mut new = NewCode::resident();
            place(&client, &mut new, args.placement)?;
            if args.dry_run {
                client.check_code(args.code.trim(), &new)?;
                if json {
                    print_json(&serde_json::json!({"ok": true, "violations": []}));
                } else {
                    println!("{} is acceptable on those doors.", args.code.trim());
                }
                return ok();
            }
            let code = client.pick_code(&args.code, new).await?;
            show_request(&client, &code, "Picked", json)
        }
        ClientCommand::Change(args) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let code = client
                .change_code(&args.id, args.code.as_deref(), args.length)
                .await?;
            show_request(&client, &code, "Changed", json)
        }
        ClientCommand::Disable(IdArg { id }) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let code = client.disable_code(&id).await?;
            show_request(&client, &code, "Disabled", json)
        }
        ClientCommand::Enable(IdArg { id }) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let code = client.enable_code(&id).await?;
            show_request(&client, &code, "Enabled", json)
        }
        ClientCommand::Delete(IdArg { id }) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let code = client.delete_code(&id).await?;
            show_request(&client, &code, "Deleted", json)
        }
        ClientCommand::Dismiss(IdArg { id }) => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            client.dismiss_failure(&id)?;
            if json {
                print_json(&serde_json::json!({"dismissed": id}));
            } else {
                println!("Dismissed the refused request of {id}.");
            }
            ok()
        }
        ClientCommand::Guest(args) => guest(args, global).await,
        ClientCommand::Sync => {
            let client = global.open(DEFAULT_DEVICE_NAME, None)?;
            let bar = render::spinner("Syncing with the server", json);
            let report = client.sync().await;
            bar.finish_and_clear();
            let report = report?;
            if json {
                print_json(&SyncJson::from(&report));
            } else {
                println!(
                    "Synced: {} request(s) sent, {} refused, {} still queued; {} receipt(s) uploaded.",
                    report.sent, report.refused, report.queued, report.receipts_uploaded
                );
            }
            ok()
        }
        ClientCommand::Deliver(args) => deliver(args, global).await,
        ClientCommand::Watch(args) => watch(args, global).await,
    }
}

fn ok() -> Outcome {
    Ok(ExitCode::from(SUCCESS))
}

async fn login(args: LoginArgs, global: &GlobalArgs) -> Outcome {
    let token = match args.token.or_else(|| std::env::var("KEYWAY_TOKEN").ok()) {
        Some(token) => token,
        None => {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line).map_err(|e| {
                Failure::usage("invalid_argument", format!("cannot read stdin: {e}"))
            })?;
            line
        }
    };
    if token.trim().is_empty() {
        return Err(Failure::usage(
            "invalid_argument",
            "give the API token as an argument, in KEYWAY_TOKEN, or on stdin",
        ));
    }
    let client = global.open(&args.device_name, None)?;
    let bar = render::spinner("Logging in", global.json);
    let session = client.login(&token).await;
    bar.finish_and_clear();
    let session = session?;
    let dir = global.data_dir()?;
    settings::save_server(&dir, &client.config().server_url)?;
    let doors = client.doors()?;
    let codes = client.codes()?;
    if global.json {
        print_json(&serde_json::json!({
            "user": session.user,
            "property": {"id": session.property.id, "name": session.property.name, "time_zone": session.property.time_zone},
            "device_id": session.device_id,
            "doors": doors.len(),
            "codes": codes.len(),
        }));
    } else {
        println!(
            "Logged in as {} ({}) at {}; this computer is device {}.",
            session.user.name,
            session.user.role.as_str(),
            session.property.name,
            session.device_id
        );
        println!("{} door(s), {} code(s).", doors.len(), codes.len());
    }
    ok()
}

fn session_of(client: &Client) -> Result<Session, Failure> {
    client
        .session()?
        .ok_or_else(|| Failure::from(keyway_client::ClientError::NotLoggedIn))
}

fn time_zone(session: &Session) -> TimeZone {
    TimeZone::get(&session.property.time_zone).unwrap_or(TimeZone::UTC)
}

fn status(global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let session = session_of(&client)?;
    let outbox = client.outbox()?;
    let queued = outbox.iter().filter(|r| !r.failed).count();
    let refused = outbox.len() - queued;
    let receipts = client.pending_receipts()?;
    if global.json {
        print_json(&serde_json::json!({
            "server_url": client.config().server_url,
            "data_dir": client.config().data_dir,
            "user": session.user,
            "property": {"id": session.property.id, "name": session.property.name, "time_zone": session.property.time_zone, "policy": session.property.policy},
            "device_id": session.device_id,
            "queued_requests": queued,
            "refused_requests": refused,
            "receipts_waiting": receipts,
        }));
    } else {
        let policy = &session.property.policy;
        println!(
            "{} ({}) at {}, device {}",
            session.user.name,
            session.user.role.as_str(),
            session.property.name,
            session.device_id
        );
        println!("server      {}", client.config().server_url);
        println!("data        {}", client.config().data_dir.display());
        println!(
            "policy      {}-digit codes, custom codes {}",
            if policy.six_digit_codes {
                "4- or 6"
            } else {
                "4"
            },
            if policy.custom_codes { "on" } else { "off" }
        );
        println!("queued      {queued} request(s), {refused} refused");
        println!("receipts    {receipts} waiting for upload");
    }
    ok()
}

fn doors(global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let session = session_of(&client)?;
    let doors = client.doors()?;
    if global.json {
        let list: Vec<DoorJson<'_>> = doors.iter().map(Into::into).collect();
        print_json(&serde_json::json!({ "doors": list }));
        return ok();
    }
    if doors.is_empty() {
        println!("No doors yet.");
    }
    let width = doors
        .iter()
        .map(|d| d.name.chars().count())
        .max()
        .unwrap_or(0);
    for door in &doors {
        let relay =
            session.user.role == Role::Resident && door.access_point == AccessPoint::PackageRoom;
        let state = match door.target_version {
            Some(target) if door.job_waiting => format!(
                "a job waits: v{} -> v{target} (bring a phone within ~30 ft)",
                door.confirmed_version
            ),
            _ => format!("up to date (v{})", door.confirmed_version),
        };
        println!(
            "{}  {:width$}  {:18}  {}{}",
            door.lock_id,
            door.name,
            door.access_point.as_str(),
            state,
            if relay {
                "  [you relay its sealed jobs]"
            } else {
                ""
            }
        );
    }
    ok()
}

fn codes(args: CodesArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let session = session_of(&client)?;
    let tz = time_zone(&session);
    match args.id {
        Some(id) => {
            let code = client.code(&id)?;
            if global.json {
                print_json(&CodeJson::from(&code));
            } else {
                println!("{}", render::code_text(&code, &tz));
            }
        }
        None => {
            let codes = client.codes()?;
            if global.json {
                let list: Vec<CodeJson<'_>> = codes.iter().map(Into::into).collect();
                print_json(&serde_json::json!({ "codes": list }));
            } else if codes.is_empty() {
                println!("No codes yet: `keyway generate` or `keyway pick CODE`.");
            } else {
                for code in &codes {
                    println!("{}", render::code_text(code, &tz));
                }
            }
        }
    }
    ok()
}

fn uses(args: UsesArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let session = session_of(&client)?;
    let tz = time_zone(&session);
    let mut uses = client.uses(1000)?;
    if let Some(id) = &args.code {
        let code = client.code(id)?;
        uses.retain(|u| u.code_id == code.id || Some(&u.code_id) == code.server_id.as_ref());
    }
    uses.truncate(args.limit as usize);
    if global.json {
        let list: Vec<render::UseJson<'_>> = uses.iter().map(Into::into).collect();
        print_json(&serde_json::json!({ "uses": list }));
    } else if uses.is_empty() {
        println!("No uses yet: they come with `keyway sync` once a phone carries a lock's events.");
    } else {
        for used in &uses {
            println!(
                "{}",
                render::use_text(used.code_name.as_deref(), &used.lock_name, used.at, &tz)
            );
        }
    }
    ok()
}

async fn notify(args: NotifyArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let via = client.set_notify_on_use(&args.id, args.how.into()).await?;
    if global.json {
        print_json(&serde_json::json!({"id": args.id, "notify_on_use": via.as_str()}));
    } else if via == keyway_api::NotifyOnUse::None {
        println!("{}: you are told of its uses in the app only", args.id);
    } else {
        println!("{}: you are told of each use by {}", args.id, via.as_str());
    }
    ok()
}

/// The door `keyway backup` means: the one named, or the code's only door
/// it has not reached.
fn backup_door(client: &Client, args: &BackupArgs) -> Result<String, Failure> {
    let code = client.code(&args.id)?;
    let waiting: Vec<&keyway_api::CodeOnLock> = code
        .locks
        .iter()
        .filter(|l| l.state != keyway_api::CodeState::Active)
        .collect();
    match &args.lock {
        Some(wanted) => {
            let doors = client.doors()?;
            doors
                .iter()
                .find(|d| &d.lock_id == wanted || d.name.eq_ignore_ascii_case(wanted))
                .map(|d| d.lock_id.clone())
                .ok_or_else(|| {
                    Failure::usage("invalid_argument", format!("no door \"{wanted}\" here"))
                })
        }
        None if waiting.len() == 1 => Ok(waiting[0].lock_id.clone()),
        None => Err(Failure::usage(
            "invalid_argument",
            "name the door with --lock (the code is waiting for several, or for none)",
        )),
    }
}

async fn backup(args: BackupArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let lock_id = backup_door(&client, &args)?;
    let backup = client.request_backup(&args.id, &lock_id).await?;
    if global.json {
        print_json(&serde_json::json!({
            "id": args.id,
            "lock_id": backup.lock_id,
            "lock_name": backup.lock_name,
            "value": backup.value,
            "handed_at": backup.handed_at.to_string(),
            "state": backup.state,
        }));
    } else {
        println!(
            "Backup code for {} at {}: {} (one entry; retired once the code reaches the door)",
            args.id,
            backup.lock_name,
            backup.value.as_deref().unwrap_or("(not shown)")
        );
    }
    ok()
}

async fn contact(args: ContactArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(DEFAULT_DEVICE_NAME, None)?;
    let details = if args.email.is_none() && args.phone.is_none() {
        client.contact().await?
    } else {
        let current = client.contact().await?;
        client
            .set_contact(args.email.or(current.email), args.phone.or(current.phone))
            .await?
    };
    if global.json {
        print_json(&serde_json::json!({"email": details.email, "phone": details.phone}));
    } else {
        println!("email  {}", details.email.as_deref().unwrap_or("-"));
        println!("phone  {}", details.phone.as_deref().unwrap_or("-"));
    }
    ok()
}

/// Resolves `--door` names and ids and the name of a new code.
fn place(client: &Client, new: &mut NewCode, placement: PlacementArgs) -> Result<(), Failure> {
    new.name = placement.name;
    new.notify_on_use = placement.notify_on_use.map(Into::into);
    if placement.doors.is_empty() {
        return Ok(());
    }
    let doors = client.doors()?;
    let mut ids = Vec::new();
    for wanted in &placement.doors {
        let door = doors
            .iter()
            .find(|d| d.lock_id == *wanted || d.name.eq_ignore_ascii_case(wanted))
            .ok_or_else(|| {
                Failure::new(
                    "not_found",
                    format!("no door `{wanted}`: `keyway doors` lists yours"),
                )
            })?;
        ids.push(door.lock_id.clone());
    }
    new.lock_ids = Some(ids);
    Ok(())
}

/// Prints a code after a request, with what happens next.
fn show_request(client: &Client, code: &LocalCode, verb: &str, json: bool) -> Outcome {
    if json {
        print_json(&CodeJson::from(code));
        return ok();
    }
    let tz = client
        .session()
        .ok()
        .flatten()
        .map(|s| time_zone(&s))
        .unwrap_or(TimeZone::UTC);
    println!("{verb}: {}", render::code_text(code, &tz));
    let states: Vec<CodeState> = code.locks.iter().map(|l| l.state).collect();
    if states.contains(&CodeState::Requested) {
        println!(
            "The server is unreachable: the request is queued and goes out with `keyway sync`."
        );
    } else if states.iter().any(|s| {
        matches!(
            s,
            CodeState::Pending | CodeState::Disabling | CodeState::Removing
        )
    }) {
        println!("Bring this computer within ~30 ft (9 m) of each lock and run `keyway deliver`.");
    }
    ok()
}
