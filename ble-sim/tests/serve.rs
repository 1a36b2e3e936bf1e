//! `keyway-ble-sim serve`: starts its own bus, prints the address to export,
//! serves BlueZ there and the control API over HTTP, and on SIGTERM stops and
//! leaves nothing behind.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

fn http_get(addr: &str, path: &str) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn serve_prints_the_bus_serves_bluez_and_the_api_and_stops_cleanly() {
    let config = concat!(env!("CARGO_MANIFEST_DIR"), "/config/maple-court.toml");
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyway-ble-sim"))
        .args(["serve", "--config", config, "--http", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut bus = None;
    let mut api = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.strip_prefix("export DBUS_SYSTEM_BUS_ADDRESS='") {
            bus = Some(rest.trim_end_matches('\'').to_owned());
        }
        if let Some(rest) = line.strip_prefix("control API: http://") {
            api = Some(rest.to_owned());
            break;
        }
    }
    let (bus, api) = (
        bus.expect("the bus address is printed"),
        api.expect("the API address is printed"),
    );

    let health = http_get(&api, "/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    let locks = http_get(&api, "/locks");
    assert!(locks.contains("\"name\":\"Package room\""), "{locks}");

    let objects = Command::new("dbus-send")
        .env("DBUS_SYSTEM_BUS_ADDRESS", &bus)
        .args([
            "--system",
            "--print-reply",
            "--dest=org.bluez",
            "/",
            "org.freedesktop.DBus.ObjectManager.GetManagedObjects",
        ])
        .output()
        .unwrap();
    let objects = String::from_utf8_lossy(&objects.stdout);
    assert!(objects.contains("/org/bluez/hci0"), "{objects}");

    let socket = bus
        .trim_start_matches("unix:path=")
        .split(',')
        .next()
        .unwrap()
        .to_owned();
    assert!(std::path::Path::new(&socket).exists());
    // SIGTERM through rustix: no `kill` program needed.
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&child),
        rustix::process::Signal::TERM,
    )
    .expect("send SIGTERM to the simulator");
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    assert!(child.wait().unwrap().success());
    assert!(rest.iter().any(|l| l.contains("stopped")), "{rest:?}");
    assert!(
        !std::path::Path::new(&socket).exists(),
        "the private bus is gone"
    );
}
