//! bleak, the Python library behind Home Assistant's Bluetooth, against the
//! simulated BlueZ (`bleak_visit.py`): it discovers the lock twice, connects
//! by address, starts notifications, writes a status request for a challenge
//! the played server issued, and gets the lock's sealed status back, which
//! the server accepts.
//!
//! bleak is installed into `target/tools/python` by `.ci/install-deps`
//! (`KEYWAY_TOOLS_DIR` moves `target/tools`). Without it the test says so and
//! passes.

use std::path::PathBuf;
use std::process::Command;

use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::radio::RadioConfig;
use keyway_delivery::VisitServer;
use keyway_protocol::frame::{Reassembler, split};
use keyway_protocol::{Message, NOTIFY_CHAR_UUID, WRITE_CHAR_UUID, uuid_string};
use keyway_testkit::standalone;

fn python_path() -> PathBuf {
    let tools = std::env::var_os("KEYWAY_TOOLS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/tools"));
    tools.join("python")
}

fn bleak_installed(python_path: &PathBuf) -> bool {
    Command::new("python3")
        .args(["-c", "import bleak"])
        .env("PYTHONPATH", python_path)
        .output()
        .is_ok_and(|o| o.status.success())
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bleak_discovers_twice_connects_writes_and_gets_the_locks_answer() {
    let python_path = python_path();
    if !bleak_installed(&python_path) {
        eprintln!(
            "SKIPPED: bleak is not installed in {} (run .ci/install-deps)",
            python_path.display()
        );
        return;
    }
    let bus = PrivateBus::start().unwrap();
    let (h, lock) = standalone::one_lock(bus.address(), "Unit 6", 2.0, RadioConfig::default())
        .await
        .unwrap();
    let server = h.played_server();
    let address = h.sim.lock("Unit 6").unwrap().address;

    // The server's challenge for this visit, as a status request in frames.
    let ticket = server.open_visit(lock.lock_id).await.unwrap();
    let request = Message::StatusRequest {
        challenge: ticket.challenge,
        since_seq: ticket.since_seq,
    }
    .encode();
    let frames = split(&request, usize::from(RadioConfig::default().mtu)).unwrap();

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bleak_visit.py");
    let mut command = Command::new("python3");
    command
        .arg(script)
        .arg(&address)
        .arg(uuid_string(NOTIFY_CHAR_UUID))
        .arg(uuid_string(WRITE_CHAR_UUID))
        .args(frames.iter().map(|f| hex(f)))
        .env("PYTHONPATH", &python_path)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus.address());
    let out = tokio::task::spawn_blocking(move || command.output())
        .await
        .unwrap()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "bleak failed:\n{stdout}\n{stderr}");
    let answer: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();

    // Both discoveries heard the lock, near the model's -65 dBm.
    let scans = answer["scans"].as_array().unwrap();
    assert_eq!(scans.len(), 2, "{answer}");
    assert!(
        scans
            .iter()
            .all(|r| (-68..=-62).contains(&r.as_i64().unwrap())),
        "{answer}"
    );

    // The notifications carry the lock's status for this challenge.
    let mut reassembler = Reassembler::new();
    let mut message = None;
    for frame in answer["notified"].as_array().unwrap() {
        message = reassembler
            .push(&unhex(frame.as_str().unwrap()))
            .unwrap()
            .or(message);
    }
    let Ok(Message::Status(sealed)) = Message::decode(&message.expect("a whole message")) else {
        panic!("not a status: {answer}");
    };
    server
        .present_status(&ticket, sealed)
        .await
        .expect("the server accepts the lock's status");
    // A read of the notify characteristic returns the last frame notified.
    let notified = answer["notified"].as_array().unwrap();
    assert_eq!(answer["read"], notified[notified.len() - 1], "{answer}");
    let view = h.sim.lock("Unit 6").unwrap();
    assert_eq!((view.connected, view.stats.connections), (false, 1));
    h.shutdown().await;
}
