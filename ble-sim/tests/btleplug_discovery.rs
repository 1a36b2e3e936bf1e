//! btleplug (the phone core's Bluetooth library) scanning the simulated
//! BlueZ as often as it likes: every session reports the locks, two
//! transports (two D-Bus clients) find and visit them in any order, and a
//! lock whose address rotated is still found and visited. Each test runs in
//! its own process (rusty-fork) with its own bus: libdbus keeps one system
//! bus address per process.

use std::sync::Arc;
use std::time::Duration;

use btleplug::api::{Central, CentralEvent, Manager as _, ScanFilter};
use btleplug::platform::Manager;
use futures::StreamExt;
use keyway_ble_sim::harness::Harness;
use keyway_ble_sim::played::{Plan, PlayedServer};
use keyway_ble_sim::radio::RadioConfig;
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_delivery::ble::BleTransport;
use keyway_delivery::{
    DeliveryConfig, DeliveryEngine, DeliveryOutcome, LockSighting, LockTransport, VisitReport,
};
use keyway_protocol::provisioning::ProvisionedLock;
use keyway_protocol::{Op, Outcome, SERVICE_UUID, SlotEntry};
use keyway_testkit::standalone;

fn forked<F: std::future::Future<Output = ()>>(body: impl FnOnce(String) -> F) {
    standalone::on_system_bus(body).expect("dbus-daemon runs");
}

async fn start(address: &str, radio: RadioConfig) -> (Harness, ProvisionedLock, PlayedServer) {
    let (h, lock) = standalone::one_lock(address, "Unit 5", 2.0, radio)
        .await
        .unwrap();
    let server = h.played_server();
    (h, lock, server)
}

fn engine(transport: &Arc<BleTransport>) -> DeliveryEngine {
    DeliveryEngine::new(
        transport.clone(),
        DeliveryConfig {
            scan_time: Duration::from_millis(300),
            connect_timeout: Duration::from_secs(5),
            response_timeout: Duration::from_secs(5),
            attempts: 2,
            ..DeliveryConfig::default()
        },
    )
}

fn put(slot: u16, code: &str) -> Vec<Op> {
    vec![Op::Put {
        slot,
        entry: SlotEntry {
            credential: keyway_protocol::Credential::Code(Code::parse(code).unwrap()),
            kind: CodeKind::Resident,
            schedule: Schedule::Always,
            enabled: true,
            one_time: false,
        },
    }]
}

async fn sighting(
    server: &PlayedServer,
    engine: &DeliveryEngine,
    lock: &ProvisionedLock,
) -> LockSighting {
    server
        .sighting(engine, lock.lock_id)
        .await
        .unwrap()
        .expect("the lock is heard and recognised")
}

async fn visit(
    server: &PlayedServer,
    engine: &DeliveryEngine,
    lock: &ProvisionedLock,
) -> VisitReport {
    let seen = sighting(server, engine, lock).await;
    engine.visit(&seen, server).await
}

fn applied(server: &PlayedServer, lock: &ProvisionedLock, report: &VisitReport) {
    let receipts = server.receipts(lock.lock_id, &report.outcome).unwrap();
    assert_eq!(receipts.len(), 1, "{report:?}");
    assert_eq!(receipts[0].outcome, Outcome::Applied);
}

rusty_fork::rusty_fork_test! {
    #![rusty_fork(timeout_ms = 120000)]

    #[test]
    fn scans_twice_and_from_two_transports_find_the_lock_and_visits_go_in_any_order() {
        forked(|bus| async move {
            let (h, lock, server) = start(&bus, RadioConfig::default()).await;
            let a = Arc::new(h.transport().await.unwrap());
            let b = Arc::new(h.transport().await.unwrap());
            let scan = Duration::from_millis(300);
            for round in 0..2 {
                assert_eq!(a.scan(scan).await.unwrap().len(), 1, "transport a, scan {round}");
                assert_eq!(b.scan(scan).await.unwrap().len(), 1, "transport b, scan {round}");
            }
            // Both at once: one discovery session shared by two clients.
            let (heard_a, heard_b) = tokio::join!(a.scan(scan), b.scan(scan));
            assert_eq!((heard_a.unwrap().len(), heard_b.unwrap().len()), (1, 1));

            let (ea, eb) = (engine(&a), engine(&b));
            server.plan(lock.lock_id, Plan::seal(put(0, "482915")));
            applied(&server, &lock, &visit(&server, &eb, &lock).await);
            assert_eq!(visit(&server, &ea, &lock).await.outcome, DeliveryOutcome::Checked);
            server.plan(lock.lock_id, Plan::seal(put(1, "739164")));
            applied(&server, &lock, &visit(&server, &ea, &lock).await);
            assert_eq!(visit(&server, &eb, &lock).await.outcome, DeliveryOutcome::Checked);
            // Each transport sees the version the other delivered.
            assert_eq!(sighting(&server, &ea, &lock).await.version, 2);
            assert_eq!(sighting(&server, &eb, &lock).await.version, 2);
            let view = h.sim.lock("Unit 5").unwrap();
            assert_eq!((view.version, view.slots.len(), view.stats.connections), (2, 2, 4));
        });
    }

    #[test]
    fn a_wanted_lock_ends_the_scan_and_an_unwanted_one_does_not() {
        forked(|bus| async move {
            let (h, lock, server) = start(&bus, RadioConfig::default()).await;
            let transport = h.transport().await.unwrap();
            let keys = server.advert_keys();
            let ours = |device: &keyway_delivery::HeardDevice| {
                keyway_delivery::resolve(std::slice::from_ref(device), &keys)
                    .iter()
                    .any(|s| s.lock_id == lock.lock_id)
            };
            // Ten minutes of scanning end as soon as the lock is heard.
            let heard = tokio::time::timeout(
                Duration::from_secs(30),
                transport.scan_until(Duration::from_secs(600), &ours),
            )
            .await
            .expect("the scan ended when the wanted lock was heard")
            .unwrap();
            assert_eq!(heard.len(), 1);
            // Wanting nothing listens the whole time.
            let nothing = tokio::time::timeout(
                Duration::from_secs(3),
                transport.scan_until(Duration::from_secs(600), &|_| false),
            )
            .await;
            assert!(nothing.is_err(), "a scan wanting nothing ended early");
            // The lock stays usable after a scan cut short by the timeout.
            assert_eq!(transport.scan(Duration::from_millis(300)).await.unwrap().len(), 1);
        });
    }

    #[test]
    fn btleplug_events_report_the_lock_in_every_discovery_session() {
        forked(|bus| async move {
            let (h, _lock, _server) = start(&bus, RadioConfig::default()).await;
            let manager = Manager::new().await.unwrap();
            let adapter = manager.adapters().await.unwrap().remove(0);
            let mut events = adapter.events().await.unwrap();
            let filter = ScanFilter { services: vec![uuid::Uuid::from_u128(SERVICE_UUID)] };
            for session in 0..3 {
                adapter.start_scan(filter.clone()).await.unwrap();
                // What an application listening for advertisements learns
                // in this session (btleplug also replays known devices when
                // one subscribes; the subscription here is older).
                let heard = tokio::time::timeout(Duration::from_secs(3), async {
                    while let Some(event) = events.next().await {
                        if matches!(
                            event,
                            CentralEvent::DeviceDiscovered(_)
                                | CentralEvent::RssiUpdate { .. }
                                | CentralEvent::ManufacturerDataAdvertisement { .. }
                        ) {
                            return true;
                        }
                    }
                    false
                })
                .await;
                assert_eq!(heard, Ok(true), "session {session} reported nothing");
                adapter.stop_scan().await.unwrap();
                // Let this session's remaining events pass.
                tokio::time::sleep(Duration::from_millis(300)).await;
                while tokio::time::timeout(Duration::from_millis(10), events.next()).await.is_ok() {}
            }
            h.shutdown().await;
        });
    }

    #[test]
    fn a_lock_at_a_new_address_after_a_state_change_is_found_and_visited() {
        forked(|bus| async move {
            let radio = RadioConfig { temporary_timeout_s: 2.0, ..RadioConfig::default() };
            let (h, lock, server) = start(&bus, radio).await;
            let transport = Arc::new(h.transport().await.unwrap());
            let engine = engine(&transport);
            let first = sighting(&server, &engine, &lock).await;
            let first_address = h.sim.lock("Unit 5").unwrap().address;
            assert!(first.device.contains(&first_address.replace(':', "_")), "{first:?}");

            // Not connected, a keypad entry changes what the lock advertises:
            // new nonce, new address. The phone finds it by key all the same.
            h.sim.enter_code("Unit 5", "1111").unwrap();
            let second_address = h.sim.lock("Unit 5").unwrap().address;
            assert_ne!(first_address, second_address);
            let second = sighting(&server, &engine, &lock).await;
            assert_ne!(second.device, first.device);
            assert!(second.device.contains(&second_address.replace(':', "_")), "{second:?}");
            assert!(second.events_pending);

            // Scan, connect, write, read: the job lands. The address holds
            // during the link and moves on after it (the version changed).
            server.plan(lock.lock_id, Plan::seal(put(3, "615243")));
            let report = engine.visit(&second, &server).await;
            applied(&server, &lock, &report);
            let view = h.sim.lock("Unit 5").unwrap();
            assert_eq!((view.version, view.stats.connections), (1, 1));
            assert_ne!(view.address, second_address);
            let third = sighting(&server, &engine, &lock).await;
            assert_eq!(third.version, 1);
            assert!(third.device.contains(&view.address.replace(':', "_")), "{third:?}");
            assert_eq!(engine.visit(&third, &server).await.outcome, DeliveryOutcome::Checked);

            // The addresses no longer heard go like any temporary device.
            for _ in 0..100 {
                let devices = h.bluez().devices();
                if !devices.contains(&first_address) && !devices.contains(&second_address) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            panic!("old addresses linger: {:?}", h.bluez().devices());
        });
    }
}
