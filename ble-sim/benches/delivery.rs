//! Delivery cost on the simulated link: round trips, frames and simulated air
//! time to deliver 1, 10 and 50 changes at MTU 23 and 185, as Keyway visits a
//! lock (one status, then every change in one sealed job in one `Jobs`
//! message, the server played in process) beside a per-operation
//! challenge-response exchange on the same link (a status for each command,
//! one command sealed for its session, its receipt).
//! Both run through the real btleplug against the simulated BlueZ; air time
//! follows the radio model in `keyway_ble_sim::radio` (one frame per
//! direction per connection event, 30 ms connection interval). Wall time is
//! this machine's, through D-Bus, and only indicative.
//! The rows are also written to `target/bench/results/delivery.json` for
//! `bench/plot.sh`.
//!
//! Run: `cargo bench -p keyway-ble-sim --bench delivery`

use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::SignedDuration;
use keyway_ble_sim::harness::{self, Harness};
use keyway_ble_sim::played::Plan;
use keyway_ble_sim::radio::{LinkStats, RadioConfig};
use keyway_codes::code::{Code, CodeKind};
use keyway_codes::schedule::Schedule;
use keyway_delivery::{DeliveryConfig, DeliveryEngine, DeliveryOutcome, LockLink, LockTransport};
use keyway_protocol::frame::{Reassembler, split};
use keyway_protocol::{BaseVersion, Job, JobId, LockKeys, Message, Op, SessionId, SlotEntry};
use keyway_testkit::{bench_results, standalone};

const REPEATS: usize = 5;

struct Server {
    keys: LockKeys,
    version: u32,
    audit_ack: u32,
    next_code: u32,
}

impl Server {
    fn ops(&mut self, n: usize) -> Vec<Op> {
        (0..n)
            .map(|slot| {
                self.next_code += 1;
                Op::Put {
                    slot: slot as u16,
                    entry: SlotEntry {
                        credential: keyway_protocol::Credential::Code(
                            Code::parse(&format!("{:06}", 100_000 + self.next_code)).unwrap(),
                        ),
                        kind: CodeKind::Resident,
                        schedule: Schedule::Always,
                        enabled: true,
                        one_time: false,
                    },
                }
            })
            .collect()
    }

    fn seal(&mut self, session: SessionId, ops: Vec<Op>) -> Vec<u8> {
        let job = Job {
            job_id: JobId::random(),
            session,
            base: BaseVersion::Exact(self.version),
            target: self.version + 1,
            issued_at: standalone::test_epoch(),
            expires_at: standalone::test_epoch() + SignedDuration::from_hours(24),
            audit_ack: self.audit_ack,
            ops,
        };
        self.version += 1;
        self.keys.seal_job(&job).unwrap()
    }

    fn take_receipt(&mut self, sealed: &[u8]) {
        let receipt = self.keys.open_receipt(sealed).unwrap();
        assert_eq!(receipt.version, self.version, "{receipt:?}");
        if let Some(last) = receipt.events.last() {
            self.audit_ack = self.audit_ack.max(last.seq);
        }
    }
}

async fn exchange(link: &dyn LockLink, request: &[u8]) -> Message {
    let frames = split(request, link.mtu()).unwrap();
    let last = frames.len() - 1;
    for (i, frame) in frames.into_iter().enumerate() {
        link.write_frame(frame, i == last).await.unwrap();
    }
    let mut reassembler = Reassembler::new();
    loop {
        let frame = link
            .next_notification(Duration::from_secs(5))
            .await
            .unwrap();
        if let Some(message) = reassembler.push(&frame).unwrap() {
            return Message::decode(&message).unwrap();
        }
    }
}

struct Row {
    /// `visit` or `per-op`, for the results file.
    pattern: &'static str,
    approach: &'static str,
    mtu: u16,
    changes: usize,
    stats: LinkStats,
    wall: Duration,
}

fn main() {
    let bus = harness::system_bus().expect("dbus-daemon");
    let rows = harness::runtime().unwrap().block_on(async {
        let lock = standalone::test_lock("Bench", true);
        let id = lock.lock_id;
        let key = id.to_string();
        let config = standalone::test_config(vec![(lock.clone(), 2.0)], RadioConfig::default());
        let h = Harness::start(bus.address(), &config).await.unwrap();
        let transport = Arc::new(h.transport().await.unwrap());
        let engine = DeliveryEngine::new(transport.clone(), DeliveryConfig::default());
        let played = h.played_server();
        let mut server = Server {
            keys: LockKeys::derive(&lock.root_key, id),
            version: 0,
            audit_ack: 0,
            next_code: 0,
        };
        let mut rows = Vec::new();
        for mtu in [23u16, 185] {
            h.sim
                .set_radio(RadioConfig {
                    mtu,
                    ..RadioConfig::default()
                })
                .unwrap();
            for changes in [1usize, 10, 50] {
                // A visit: a status, then one job in one Jobs message.
                let mut stats = LinkStats::default();
                let mut walls = Vec::new();
                for _ in 0..REPEATS {
                    let seen = played.sighting(&engine, id).await.unwrap().unwrap();
                    played.plan(id, Plan::seal(server.ops(changes)));
                    h.sim.reset_stats(&key).unwrap();
                    let start = Instant::now();
                    let report = engine.visit(&seen, &played).await;
                    walls.push(start.elapsed());
                    let DeliveryOutcome::Delivered { receipts } = &report.outcome else {
                        panic!("{report:?}");
                    };
                    server.version += 1;
                    server.take_receipt(&receipts[0]);
                    stats = h.sim.stats(&key).unwrap();
                }
                rows.push(Row {
                    pattern: "visit",
                    approach: "a visit (Keyway)",
                    mtu,
                    changes,
                    stats,
                    wall: median(walls),
                });

                // Per operation: a status, one command, its receipt; one link.
                let mut walls = Vec::new();
                for _ in 0..REPEATS {
                    let seen = played.sighting(&engine, id).await.unwrap().unwrap();
                    let ops = server.ops(changes);
                    h.sim.reset_stats(&key).unwrap();
                    let start = Instant::now();
                    let link = transport
                        .connect(&seen.device, Duration::from_secs(5))
                        .await
                        .unwrap();
                    for op in ops {
                        let challenge: [u8; 16] = rand::random();
                        let request = Message::StatusRequest {
                            challenge,
                            since_seq: server.audit_ack,
                        }
                        .encode();
                        let Message::Status(status) = exchange(link.as_ref(), &request).await
                        else {
                            panic!("no status");
                        };
                        let session = server.keys.open_status(&status, challenge).unwrap().session;
                        let sealed = server.seal(session, vec![op]);
                        let Message::Receipts(receipts) =
                            exchange(link.as_ref(), &Message::Jobs(vec![sealed]).encode()).await
                        else {
                            panic!("no receipt");
                        };
                        server.take_receipt(&receipts[0]);
                    }
                    link.disconnect().await.unwrap();
                    walls.push(start.elapsed());
                    stats = h.sim.stats(&key).unwrap();
                }
                rows.push(Row {
                    pattern: "per-op",
                    approach: "per-op challenge-response",
                    mtu,
                    changes,
                    stats,
                    wall: median(walls),
                });
            }
        }
        h.shutdown().await;
        rows
    });
    println!(
        "| approach | MTU | changes | round trips | frames up | frames down | bytes up | bytes down | air time (30 ms interval) | wall time (median of {REPEATS}) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.0} ms | {:.1} ms |",
            r.approach,
            r.mtu,
            r.changes,
            r.stats.round_trips,
            r.stats.frames_up,
            r.stats.frames_down,
            r.stats.bytes_up,
            r.stats.bytes_down,
            r.stats.air_time_ms,
            r.wall.as_secs_f64() * 1000.0
        );
    }
    write_results(&rows);
}

/// The rows as `delivery.json` in the results directory.
fn write_results(rows: &[Row]) {
    let rows: Vec<_> = rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "pattern": r.pattern,
                "approach": r.approach,
                "mtu": r.mtu,
                "changes": r.changes,
                "round_trips": r.stats.round_trips,
                "frames_up": r.stats.frames_up,
                "frames_down": r.stats.frames_down,
                "bytes_up": r.stats.bytes_up,
                "bytes_down": r.stats.bytes_down,
                "air_time_ms": r.stats.air_time_ms,
                "wall_ms": r.wall.as_secs_f64() * 1000.0,
            })
        })
        .collect();
    let results = serde_json::json!({
        "bench": "delivery",
        "connection_interval_ms": RadioConfig::default().connection_interval_ms,
        "repeats": REPEATS,
        "rows": rows,
    });
    let dir = bench_results::results_dir(std::path::Path::new(env!("CARGO_TARGET_TMPDIR")));
    match bench_results::write(&dir, "delivery.json", results) {
        Ok(path) => eprintln!("wrote {}", path.display()),
        Err(e) => eprintln!("could not write the results to {}: {e}", dir.display()),
    }
}

fn median(mut walls: Vec<Duration>) -> Duration {
    walls.sort();
    walls[walls.len() / 2]
}
