//! `bluetoothctl` (BlueZ's own client, from the `bluez` package) pointed at
//! the simulator's bus lists the locks, connects and reads.

use std::process::Command;

use keyway_ble_sim::bluez::device_path;
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::harness::Harness;
use keyway_ble_sim::radio::RadioConfig;
use keyway_testkit::standalone;

fn bluetoothctl(bus: &str, script: &str) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(script)
        .env("DBUS_SYSTEM_BUS_ADDRESS", bus)
        .output()
        .expect("sh runs");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    // Drop colour escapes.
    let mut clean = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            clean.push(c);
        }
    }
    clean
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluetoothctl_lists_connects_and_reads() {
    assert!(
        Command::new("bluetoothctl")
            .arg("--version")
            .output()
            .is_ok(),
        "bluetoothctl is missing: install the `bluez` package (.ci/install-deps does)"
    );
    let bus = PrivateBus::start().unwrap();
    let lock = standalone::test_lock("Unit 9", true);
    let near = standalone::test_lock("Far lock", true);
    let config = standalone::test_config(
        vec![(lock.clone(), 2.0), (near.clone(), 500.0)],
        RadioConfig::default(),
    );
    let h = Harness::start(bus.address(), &config).await.unwrap();
    let address = bus.address().to_owned();
    let mac = h.sim.lock("Unit 9").unwrap().address;
    let dev = device_path(&mac);

    let run = move |script: String| {
        let address = address.clone();
        tokio::task::spawn_blocking(move || bluetoothctl(&address, &script))
    };

    let scan = run("timeout 10 bluetoothctl --timeout 2 scan on".into())
        .await
        .unwrap();
    assert!(scan.contains(&format!("Device {mac} Unit 9")), "{scan}");
    assert!(
        !scan.contains("Far lock"),
        "a lock out of radio range appeared: {scan}"
    );
    // bluetoothctl left the bus: BlueZ ends its discovery.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert!(
        !h.sim.adapter().discovering,
        "discovery outlived its client"
    );

    // A second bluetoothctl scanning finds the lock again: the device is
    // known, so it shows as an advertisement report ([CHG] ... RSSI).
    let again = run("timeout 10 bluetoothctl --timeout 2 scan on".into())
        .await
        .unwrap();
    assert!(
        again.contains(&format!("Device {mac} RSSI: -"))
            || again.contains(&format!("Device {mac} Unit 9")),
        "{again}"
    );

    let devices = run("timeout 5 bluetoothctl devices".into()).await.unwrap();
    assert!(
        devices.contains(&format!("Device {mac} Unit 9")),
        "{devices}"
    );

    let info = run(format!("timeout 5 bluetoothctl info {mac}"))
        .await
        .unwrap();
    assert!(info.contains("ManufacturerData Key: 0xffff"), "{info}");
    assert!(
        info.contains("4b657977-6179-4c6f-636b-000000000000"),
        "{info}"
    );

    let connect = run(format!("timeout 10 bluetoothctl connect {mac}"))
        .await
        .unwrap();
    assert!(connect.contains("Connection successful"), "{connect}");
    assert!(h.sim.lock("Unit 9").unwrap().connected);

    // Write an empty message (one frame: first+last, length 0) and read the
    // lock's answer from the notify characteristic: Error malformed_message
    // (protocol version 2).
    let session = run(format!(
        "(printf 'menu gatt\\nselect-attribute {dev}/service0001/char0002\\nwrite \"0xc0 0x00 0x00\"\\n'; sleep 1; \
          printf 'select-attribute {dev}/service0001/char0004\\nread\\n'; sleep 1; printf 'quit\\n') \
         | timeout 15 bluetoothctl"
    ))
    .await
    .unwrap();
    assert!(session.contains("c0 03 00 02 e0 02"), "{session}");

    let disconnect = run(format!("timeout 10 bluetoothctl disconnect {mac}"))
        .await
        .unwrap();
    assert!(
        disconnect.contains("Successful disconnected"),
        "{disconnect}"
    );
    assert!(!h.sim.lock("Unit 9").unwrap().connected);
    h.shutdown().await;
}
