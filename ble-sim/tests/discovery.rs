//! Discovery as a plain D-Bus client sees it (zbus, on a private bus): the
//! signals BlueZ sends per advertisement report, RSSI that varies like a
//! radio's, temporary devices, and addresses that rotate.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use keyway_ble_sim::bluez::{ADAPTER_PATH, device_path};
use keyway_ble_sim::bus::PrivateBus;
use keyway_ble_sim::harness::Harness;
use keyway_ble_sim::radio::RadioConfig;
use keyway_testkit::standalone;
use zbus::message::Type;
use zbus::zvariant::{OwnedObjectPath, OwnedValue};
use zbus::{Connection, MatchRule, MessageStream};

/// A signal from `org.bluez`.
#[derive(Debug, Clone)]
enum Signal {
    Added(String),
    Removed(String),
    Changed {
        path: String,
        changed: HashMap<String, OwnedValue>,
        invalidated: Vec<String>,
    },
}

/// A D-Bus client of the simulated BlueZ that records every signal.
struct Client {
    conn: Connection,
    signals: Arc<Mutex<Vec<Signal>>>,
}

impl Client {
    async fn new(address: &str) -> Self {
        let conn = zbus::connection::Builder::address(address)
            .unwrap()
            .build()
            .await
            .unwrap();
        let rule = MatchRule::builder()
            .msg_type(Type::Signal)
            .sender("org.bluez")
            .unwrap()
            .build();
        let mut stream = MessageStream::for_match_rule(rule, &conn, Some(1024))
            .await
            .unwrap();
        let signals = Arc::new(Mutex::new(Vec::new()));
        let sink = signals.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = stream.next().await {
                if let Some(signal) = parse(&msg) {
                    sink.lock().unwrap().push(signal);
                }
            }
        });
        Self { conn, signals }
    }

    async fn adapter(&self, method: &str) -> zbus::Result<()> {
        self.conn
            .call_method(
                Some("org.bluez"),
                ADAPTER_PATH,
                Some("org.bluez.Adapter1"),
                method,
                &(),
            )
            .await
            .map(|_| ())
    }

    /// Device1 properties of `path` as `GetAll` answers.
    async fn device(&self, path: &str) -> zbus::Result<HashMap<String, OwnedValue>> {
        let reply = self
            .conn
            .call_method(
                Some("org.bluez"),
                path,
                Some("org.freedesktop.DBus.Properties"),
                "GetAll",
                &("org.bluez.Device1",),
            )
            .await?;
        reply.body().deserialize()
    }

    fn take(&self) -> Vec<Signal> {
        std::mem::take(&mut *self.signals.lock().unwrap())
    }

    /// Waits until a recorded signal satisfies `f` (consuming the signals
    /// up to it).
    async fn wait_for(&self, what: &str, within: Duration, f: impl Fn(&Signal) -> bool) -> Signal {
        let deadline = Instant::now() + within;
        loop {
            {
                let mut signals = self.signals.lock().unwrap();
                if let Some(i) = signals.iter().position(&f) {
                    let found = signals[i].clone();
                    signals.drain(..=i);
                    return found;
                }
            }
            assert!(Instant::now() < deadline, "no {what} within {within:?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

fn parse(msg: &zbus::Message) -> Option<Signal> {
    let header = msg.header();
    let member = header.member()?.to_string();
    let path = header.path()?.to_string();
    match member.as_str() {
        "InterfacesAdded" => {
            let (path, _): (
                OwnedObjectPath,
                HashMap<String, HashMap<String, OwnedValue>>,
            ) = msg.body().deserialize().ok()?;
            Some(Signal::Added(path.to_string()))
        }
        "InterfacesRemoved" => {
            let (path, _): (OwnedObjectPath, Vec<String>) = msg.body().deserialize().ok()?;
            Some(Signal::Removed(path.to_string()))
        }
        "PropertiesChanged" => {
            let (_, changed, invalidated): (String, HashMap<String, OwnedValue>, Vec<String>) =
                msg.body().deserialize().ok()?;
            Some(Signal::Changed {
                path,
                changed,
                invalidated,
            })
        }
        _ => None,
    }
}

fn rssi_of(signal: &Signal, device: &str) -> Option<i16> {
    match signal {
        Signal::Changed { path, changed, .. } if path == device => {
            changed.get("RSSI").and_then(|v| i16::try_from(v).ok())
        }
        _ => None,
    }
}

/// One lock 2 m from the phone (about -65 dBm) on a fresh private bus.
async fn start(radio: RadioConfig) -> (PrivateBus, Harness, String) {
    let bus = PrivateBus::start().unwrap();
    let (h, _) = standalone::one_lock(bus.address(), "Unit 3", 2.0, radio)
        .await
        .unwrap();
    let address = h.sim.lock("Unit 3").unwrap().address;
    (bus, h, address)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rssi_varies_from_report_to_report_within_a_few_db_of_the_model() {
    let radio = RadioConfig {
        seed: Some(7),
        ..RadioConfig::default()
    };
    let (bus, h, address) = start(radio).await;
    let device = device_path(&address);
    let model = radio.rssi_at(2.0);
    let client = Client::new(bus.address()).await;
    client.adapter("StartDiscovery").await.unwrap();
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    client.adapter("StopDiscovery").await.unwrap();
    let mut values: Vec<i16> = client
        .take()
        .iter()
        .filter_map(|s| rssi_of(s, &device))
        .collect();
    assert!(
        values.len() >= 4,
        "a report every 200 ms changes RSSI: {values:?}"
    );
    let spread = i16::from(radio.rssi_spread_db);
    assert!(
        values.iter().all(|v| (v - model).abs() <= spread),
        "{values:?} strays beyond {model} ± {spread}"
    );
    values.sort_unstable();
    values.dedup();
    assert!(values.len() >= 3, "RSSI barely varies: {values:?}");

    // A pinned RSSI is reported exactly.
    h.sim.set_rssi("Unit 3", Some(-60)).unwrap();
    client.adapter("StartDiscovery").await.unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    client.adapter("StopDiscovery").await.unwrap();
    let pinned: Vec<i16> = client
        .take()
        .iter()
        .filter_map(|s| rssi_of(s, &device))
        .collect();
    assert_eq!(
        pinned,
        vec![-60],
        "one change to the pinned value, then none"
    );
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_session_reports_the_lock_and_a_temporary_device_goes_after_discovery() {
    let radio = RadioConfig {
        temporary_timeout_s: 1.0,
        rssi_hold_ms: 200,
        ..RadioConfig::default()
    };
    let (bus, h, address) = start(radio).await;
    let device = device_path(&address);
    let client = Client::new(bus.address()).await;

    // Session 1: the device appears.
    client.adapter("StartDiscovery").await.unwrap();
    client
        .wait_for(
            "the device",
            Duration::from_secs(2),
            |s| matches!(s, Signal::Added(p) if *p == device),
        )
        .await;
    client.adapter("StopDiscovery").await.unwrap();
    // Right after: still there with its RSSI (held for clients that read it now).
    assert!(client.device(&device).await.unwrap().contains_key("RSSI"));
    // Then BlueZ invalidates RSSI ...
    client
        .wait_for("RSSI invalidated", Duration::from_secs(2), |s| {
            matches!(s, Signal::Changed { path, invalidated, .. }
                if *path == device && invalidated.contains(&"RSSI".to_owned()))
        })
        .await;
    assert!(!client.device(&device).await.unwrap().contains_key("RSSI"));

    // Session 2 while the device is still known: a report changes its RSSI.
    client.adapter("StartDiscovery").await.unwrap();
    client
        .wait_for("an RSSI report", Duration::from_secs(2), |s| {
            rssi_of(s, &device).is_some()
        })
        .await;
    client.adapter("StopDiscovery").await.unwrap();

    // Not connected, not heard: removed after the temporary timeout.
    let stopped = Instant::now();
    client
        .wait_for(
            "the device removed",
            Duration::from_secs(5),
            |s| matches!(s, Signal::Removed(p) if *p == device),
        )
        .await;
    assert!(
        stopped.elapsed() >= Duration::from_millis(900),
        "{:?}",
        stopped.elapsed()
    );
    assert!(h.bluez().devices().is_empty());
    assert!(client.device(&device).await.is_err());

    // Session 3: it is back.
    client.adapter("StartDiscovery").await.unwrap();
    client
        .wait_for(
            "the device again",
            Duration::from_secs(2),
            |s| matches!(s, Signal::Added(p) if *p == device),
        )
        .await;
    client.adapter("StopDiscovery").await.unwrap();
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_joining_a_session_hears_the_lock_too() {
    let (bus, h, address) = start(RadioConfig::default()).await;
    let device = device_path(&address);
    let first = Client::new(bus.address()).await;
    first.adapter("StartDiscovery").await.unwrap();
    first
        .wait_for(
            "the device",
            Duration::from_secs(2),
            |s| matches!(s, Signal::Added(p) if *p == device),
        )
        .await;
    // Another program starts discovering while the first still does: it
    // learns of the lock from the reports that keep coming.
    let second = Client::new(bus.address()).await;
    second.adapter("StartDiscovery").await.unwrap();
    second
        .wait_for("a report", Duration::from_secs(3), |s| {
            rssi_of(s, &device).is_some()
        })
        .await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_change_moves_a_disconnected_lock_to_a_new_address() {
    let radio = RadioConfig {
        temporary_timeout_s: 1.0,
        ..RadioConfig::default()
    };
    let (bus, h, first) = start(radio).await;
    let client = Client::new(bus.address()).await;
    client.adapter("StartDiscovery").await.unwrap();
    client
        .wait_for(
            "the device",
            Duration::from_secs(2),
            |s| matches!(s, Signal::Added(p) if *p == device_path(&first)),
        )
        .await;
    // A wrong code: the lock now has events pending, a new nonce, a new
    // address (a resolvable private one: top bits 01).
    h.sim.enter_code("Unit 3", "0000").unwrap();
    let second = h.sim.lock("Unit 3").unwrap().address;
    assert_ne!(first, second);
    assert!(
        u8::from_str_radix(&second[..2], 16).unwrap() >> 6 == 0b01,
        "{second}"
    );
    client
        .wait_for(
            "the new address",
            Duration::from_secs(2),
            |s| matches!(s, Signal::Added(p) if *p == device_path(&second)),
        )
        .await;
    // The old address is heard no more and goes like any temporary device.
    client
        .wait_for(
            "the old address removed",
            Duration::from_secs(5),
            |s| matches!(s, Signal::Removed(p) if *p == device_path(&first)),
        )
        .await;
    assert_eq!(h.bluez().devices(), vec![second]);
    h.shutdown().await;
}
