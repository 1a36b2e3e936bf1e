//! `keyway-phone-helper`: drives the phone core (`keyway_client`) from
//! the command line, for tests that need the phone in its own process: the
//! kill test SIGKILLs it at chosen points, the delivery tests give it the
//! simulator's bus (libdbus reads `DBUS_SYSTEM_BUS_ADDRESS` once per process).
//!
//! ```sh
//! keyway-phone-helper --server URL --data DIR [--kill-at STAGE:N] [--scan-ms MS] COMMAND
//! ```
//!
//! Commands: `login TOKEN`, `sync`, `deliver`, `status`, `script FILE`.
//! Every result is one JSON line on stdout. With `--kill-at STAGE:N` the
//! helper prints `PAUSED STAGE N` when it reaches stage `STAGE` for the N-th
//! time and then waits to be killed.
//!
//! A script is a JSON list of intents, each done only if the store does not
//! show it done yet, so a restarted helper resumes without repeating itself:
//! `{"pick": "4821", "name": "k1"}`, `{"generate": "resident"|"guest", "name": "g1"}`,
//! `{"disable": "k1"}`, `{"change": "k2", "to": "6047"}`, `{"sync": true}`,
//! `{"deliver": true}`.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use keyway_api::{CodeStatus, GuestType};
use keyway_client::{Client, ClientConfig, ClientError, LocalCode, NewCode, Stage};
use keyway_delivery::ble::BleTransport;
use serde_json::{Value, json};

fn main() -> ExitCode {
    let _ = env_logger::Builder::from_env(env_logger::Env::new().filter_or("KEYWAY_LOG", "warn"))
        .try_init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut server = None;
    let mut data = None;
    let mut kill_at = None;
    let mut scan_ms = 1000u64;
    let mut rest = Vec::new();
    let mut i = 0;
    while i < args.len() {
        let value = args.get(i + 1).cloned();
        match args[i].as_str() {
            "--server" => server = value,
            "--data" => data = value,
            "--kill-at" => kill_at = value,
            "--scan-ms" => scan_ms = value.and_then(|v| v.parse().ok()).unwrap_or(scan_ms),
            _ => {
                rest = args[i..].to_vec();
                break;
            }
        }
        i += 2;
    }
    let (Some(server), Some(data), Some(command)) = (server, data, rest.first().cloned()) else {
        eprintln!("usage: keyway-phone-helper --server URL --data DIR [--kill-at STAGE:N] COMMAND");
        return ExitCode::from(2);
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(3);
        }
    };
    let result = runtime.block_on(run(server, data, kill_at, scan_ms, command, rest));
    match result {
        Ok(value) => {
            println!("{value}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            println!("{}", json!({"error": e.code(), "detail": e.to_string()}));
            ExitCode::FAILURE
        }
    }
}

fn hook(kill_at: Option<String>) -> Arc<dyn Fn(Stage) + Send + Sync> {
    let target = kill_at.and_then(|spec| {
        let (stage, n) = spec.split_once(':')?;
        Some((Stage::parse(stage)?, n.parse::<u32>().ok()?))
    });
    let counts: Arc<std::sync::Mutex<HashMap<Stage, u32>>> = Arc::default();
    let total = Arc::new(AtomicU32::new(0));
    Arc::new(move |stage: Stage| {
        total.fetch_add(1, Ordering::SeqCst);
        let n = {
            let mut counts = counts.lock().unwrap_or_else(|p| p.into_inner());
            let n = counts.entry(stage).or_insert(0);
            *n += 1;
            *n
        };
        if target == Some((stage, n)) {
            println!("PAUSED {} {n}", stage.as_str());
            // Wait here, in the middle of the work, for the SIGKILL.
            loop {
                std::thread::sleep(Duration::from_secs(3600));
            }
        }
    })
}

async fn run(
    server: String,
    data: String,
    kill_at: Option<String>,
    scan_ms: u64,
    command: String,
    args: Vec<String>,
) -> Result<Value, ClientError> {
    let mut config = ClientConfig::new(server, data, "helper phone");
    config.delivery.scan_time = Duration::from_millis(scan_ms);
    config.request_timeout = Duration::from_secs(20);
    let client = Client::open(config)?;
    client.set_stage_hook(Some(hook(kill_at)));
    if std::env::var_os("DBUS_SYSTEM_BUS_ADDRESS").is_some() {
        match BleTransport::new().await {
            Ok(transport) => client.set_transport(Arc::new(transport)),
            Err(e) => eprintln!("no Bluetooth: {e}"),
        }
    }
    match command.as_str() {
        "login" => {
            let token = args.get(1).cloned().unwrap_or_default();
            let session = client.login(&token).await?;
            Ok(json!({"user": session.user.id, "device": session.device_id}))
        }
        "sync" => {
            let report = client.sync().await?;
            Ok(json!({"sent": report.sent, "refused": report.refused, "pages": report.pages}))
        }
        "deliver" => {
            let report = client.deliver_nearby().await?;
            Ok(delivery_json(&report))
        }
        "status" => status(&client),
        "script" => {
            let text =
                std::fs::read_to_string(args.get(1).cloned().unwrap_or_default()).map_err(|e| {
                    ClientError::InvalidArgument {
                        detail: e.to_string(),
                    }
                })?;
            let intents: Vec<Value> =
                serde_json::from_str(&text).map_err(|e| ClientError::InvalidArgument {
                    detail: e.to_string(),
                })?;
            for intent in &intents {
                do_intent(&client, intent).await?;
            }
            status(&client)
        }
        other => Err(ClientError::InvalidArgument {
            detail: format!("unknown command {other}"),
        }),
    }
}

fn delivery_json(report: &keyway_client::DeliveryReport) -> Value {
    json!({
        "heard": report.heard,
        "receipts_uploaded": report.receipts_uploaded,
        "synced": report.synced,
        "locks": report.locks.iter().map(|l| json!({"lock_id": l.lock_id, "outcome": l.outcome.code(), "receipts": l.outcome.receipts()})).collect::<Vec<_>>(),
    })
}

fn by_name<'a>(codes: &'a [LocalCode], name: &str) -> Option<&'a LocalCode> {
    codes.iter().find(|c| c.name.as_deref() == Some(name))
}

async fn do_intent(client: &Client, intent: &Value) -> Result<(), ClientError> {
    let codes = client.codes()?;
    let name = intent["name"].as_str().unwrap_or_default();
    if let Some(pick) = intent["pick"].as_str() {
        if by_name(&codes, name).is_none() {
            let mut new = NewCode::resident();
            new.name = Some(name.to_owned());
            client.pick_code(pick, new).await?;
        }
    } else if let Some(kind) = intent["generate"].as_str() {
        if by_name(&codes, name).is_none() {
            let mut new = if kind == "guest" {
                NewCode::guest(GuestType::Permanent, None)
            } else {
                NewCode::resident()
            };
            new.name = Some(name.to_owned());
            client.generate_code(new).await?;
        }
    } else if let Some(target) = intent["disable"].as_str() {
        if let Some(code) = by_name(&codes, target)
            && code.enabled
            && code.status != CodeStatus::Disabled
        {
            client.disable_code(&code.id).await?;
        }
    } else if let Some(target) = intent["change"].as_str() {
        let to = intent["to"].as_str().unwrap_or_default();
        if let Some(code) = by_name(&codes, target)
            && code.value.as_deref() != Some(to)
        {
            client.change_code(&code.id, Some(to), None).await?;
        }
    } else if intent["sync"].as_bool() == Some(true) {
        match client.sync().await {
            Ok(_) => {}
            Err(e) if e.is_transient() => {}
            Err(e) => return Err(e),
        }
    } else if intent["deliver"].as_bool() == Some(true) {
        client.deliver_nearby().await?;
    }
    Ok(())
}

fn status(client: &Client) -> Result<Value, ClientError> {
    let codes = client.codes()?;
    let outbox = client.outbox()?;
    Ok(json!({
        "codes": codes.iter().map(|c| json!({
            "id": c.id,
            "server_id": c.server_id,
            "name": c.name,
            "value": c.value,
            "enabled": c.enabled,
            "status": c.status,
            "pending": c.pending.map(|p| p.as_str()),
            "failure": c.failure.as_ref().map(|f| f.code.clone()),
            "locks": c.locks.iter().map(|l| json!({"lock_id": l.lock_id, "state": l.state})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "outbox": outbox.iter().map(|e| json!({"op": e.op.as_str(), "code_id": e.code_id, "failed": e.failed})).collect::<Vec<_>>(),
        "receipts": client.pending_receipts()?,
    }))
}
