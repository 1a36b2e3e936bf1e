//! Delivery to locks in range over btleplug, and watching state changes.

use super::*;

/// The btleplug transport, or why Bluetooth is unavailable.
async fn bluetooth() -> Result<Arc<BleTransport>, Failure> {
    BleTransport::new()
        .await
        .map(Arc::new)
        .map_err(|e| Failure {
            exit: BLUETOOTH,
            ..Failure::new(
                "bluetooth_unavailable",
                format!("Bluetooth is unavailable: {e}"),
            )
        })
}

pub(super) async fn deliver(args: DeliverArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(
        DEFAULT_DEVICE_NAME,
        Some(Duration::from_millis(args.scan.scan_ms)),
    )?;
    session_of(&client)?;
    client.set_transport(bluetooth().await?);
    let mut events = client.subscribe();
    let bar = render::spinner("Syncing, then scanning for locks", global.json);
    // A sync first, so the sealed jobs carried are the current ones; offline,
    // the jobs already stored go and the receipts wait.
    let synced = client.sync().await;
    if let Err(e) = &synced {
        if !e.is_transient() {
            bar.finish_and_clear();
            return Err(Failure::from(e.clone()));
        }
        if !global.json {
            bar.suspend(|| {
                eprintln!(
                    "The server is unreachable: delivering the jobs already on this computer."
                )
            });
        }
    }
    let progress = bar.clone();
    let narrator = tokio::spawn(async move {
        while let Ok(event) = events.recv().await {
            if let ClientEvent::Delivery { visit } = event {
                progress.set_message(format!("{}: {}", visit.name, visit.outcome.code()));
            }
        }
    });
    let report = client.deliver_nearby().await;
    narrator.abort();
    bar.finish_and_clear();
    let report = report?;
    if global.json {
        print_json(&DeliveryJson::from(&report));
        return ok();
    }
    if report.locks.is_empty() {
        println!(
            "Heard {} lock(s); none of yours needed anything.",
            report.heard
        );
    } else {
        println!("Heard {} lock(s):", report.heard);
        let width = report
            .locks
            .iter()
            .map(|l| l.name.chars().count())
            .max()
            .unwrap_or(0);
        for lock in &report.locks {
            println!(
                "  {:width$}  {}",
                lock.name,
                render::describe_outcome(lock.outcome.code())
            );
        }
    }
    if report.receipts_uploaded > 0 || report.synced {
        println!(
            "{} receipt(s) uploaded{}.",
            report.receipts_uploaded,
            if report.synced {
                "; states are up to date"
            } else {
                ""
            }
        );
    } else if client.pending_receipts()? > 0 {
        println!("The server is unreachable: receipts wait for the next `keyway sync`.");
    }
    ok()
}

pub(super) async fn watch(args: WatchArgs, global: &GlobalArgs) -> Outcome {
    let client = global.open(
        DEFAULT_DEVICE_NAME,
        Some(Duration::from_millis(args.scan.scan_ms)),
    )?;
    let session = session_of(&client)?;
    let tz = time_zone(&session);
    match bluetooth().await {
        Ok(transport) => client.set_transport(transport),
        Err(failure) => eprintln!(
            "warning[{}]: {}; syncing only",
            failure.code, failure.message
        ),
    }
    let mut shown: HashMap<String, LocalCode> = client
        .codes()?
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect();
    let mut events = client.subscribe();
    let handle = client.watch(Duration::from_secs(args.every));
    if !global.json {
        eprintln!(
            "Watching every {} s (Ctrl-C stops){}",
            args.every,
            args.duration
                .map(|s| format!(", for {s} s"))
                .unwrap_or_default()
        );
    }
    let deadline = async {
        match args.duration {
            Some(seconds) => tokio::time::sleep(Duration::from_secs(seconds)).await,
            None => std::future::pending().await,
        }
    };
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => break,
            _ = tokio::signal::ctrl_c() => break,
            event = events.recv() => match event {
                Ok(event) => print_event(&event, &mut shown, &tz, global.json),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
        }
    }
    handle.stop();
    ok()
}

fn print_event(
    event: &ClientEvent,
    shown: &mut HashMap<String, LocalCode>,
    tz: &TimeZone,
    json: bool,
) {
    let now = Timestamp::now()
        .to_zoned_datetime(tz.clone())
        .strftime("%H:%M:%S")
        .to_string();
    match event {
        ClientEvent::CodeChanged { code } => {
            if json {
                print_json(
                    &serde_json::json!({"event": "code_changed", "code": CodeJson::from(code)}),
                );
            } else {
                let before = shown.get(&code.id);
                let label = code.name.clone().unwrap_or_else(|| code.id.clone());
                for lock in &code.locks {
                    let old = before.and_then(|b| b.state_on(&lock.lock_id));
                    if old != Some(lock.state) {
                        let from = old
                            .map(|s| format!("{} -> ", state_name(s)))
                            .unwrap_or_default();
                        println!(
                            "{now}  {label}: {}  {from}{}",
                            lock.lock_name,
                            state_name(lock.state)
                        );
                    }
                }
            }
            shown.insert(code.id.clone(), code.clone());
        }
        ClientEvent::CodeRemoved { id } => {
            if json {
                print_json(&serde_json::json!({"event": "code_removed", "id": id}));
            } else {
                println!("{now}  {id}: gone");
            }
            shown.remove(id);
        }
        ClientEvent::Delivery { visit } => {
            if json {
                print_json(
                    &serde_json::json!({"event": "delivery", "delivery": render::LockDeliveryJson::from(visit)}),
                );
            } else if visit.outcome.code() != "out_of_range" {
                println!(
                    "{now}  {}: {}",
                    visit.name,
                    render::describe_outcome(visit.outcome.code())
                );
            }
        }
        ClientEvent::CodeUsed {
            id,
            code_id,
            code_name,
            lock_id,
            lock_name,
            at,
            kind,
        } => {
            if json {
                print_json(
                    &serde_json::json!({"event": "code_used", "id": id, "code_id": code_id, "code_name": code_name, "lock_id": lock_id, "lock_name": lock_name, "at": at, "kind": kind}),
                );
            } else {
                println!(
                    "{now}  {}",
                    render::use_text(code_name.as_deref(), lock_name, *at, tz)
                );
            }
        }
        ClientEvent::Connectivity { online } => {
            if json {
                print_json(&serde_json::json!({"event": "connectivity", "online": online}));
            } else if *online {
                println!("{now}  the server is reachable");
            } else {
                println!("{now}  the server is unreachable; requests stay queued");
            }
        }
    }
}

fn state_name(state: CodeState) -> &'static str {
    match state {
        CodeState::Requested => "requested",
        CodeState::Pending => "pending",
        CodeState::Active => "active",
        CodeState::Disabling => "disabling",
        CodeState::Disabled => "disabled",
        CodeState::Removing => "removing",
        CodeState::Removed => "removed",
        CodeState::Expired => "expired",
        CodeState::Used => "used",
        CodeState::Failed => "failed",
    }
}
