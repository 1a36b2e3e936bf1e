//! The network-cut suite: the network between the phone and the server is cut
//! and restored again and again while the resident works; once it is back,
//! the server holds exactly what the resident asked for — no request lost, none
//! applied twice. Connections are dropped mid-request as well as refused, so
//! answers get lost after the server applied the write; the idempotency keys
//! must turn every retry into the first answer.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use keyway_client::{Client, ClientConfig, NewCode};
use keyway_testkit::fixture::{Fixture, FixtureOptions};
use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};

/// What the resident meant a code to be at the end.
#[derive(Debug, Clone)]
struct Intended {
    /// The picked digits; `None` when the server (or the phone, offline)
    /// drew them.
    value: Option<String>,
    /// Picked codes open the unit door only, so they may change to a pick;
    /// generated ones also open the community doors, where picks are refused.
    picked: bool,
    enabled: bool,
    deleted: bool,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Six-digit codes the phone's own check accepts, none used twice. Drawn
/// codes (the server's and the phone's) have the default four digits, so a
/// pick can never meet one the server drew while the phone was cut off
/// (which the server would rightly refuse as a duplicate).
fn fresh_codes(phone: &Client) -> Vec<String> {
    (100_000..1_000_000)
        .step_by(997)
        .map(|n| n.to_string())
        .filter(|c| phone.check_code(c, &NewCode::resident()).is_ok())
        .collect()
}

/// The manager enables six-digit codes for the property.
fn enable_six_digit_codes(f: &Fixture) {
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/v1/manage/policy", f.info.server_direct_url);
    let mia = &f.info.tokens["mia"];
    let mut policy: serde_json::Value = http
        .get(&url)
        .bearer_auth(mia)
        .send()
        .and_then(|r| r.error_for_status())
        .and_then(|r| r.json())
        .expect("the policy");
    policy["six_digit_codes"] = serde_json::json!(true);
    http.put(&url)
        .bearer_auth(mia)
        .header("Idempotency-Key", "six-digit-codes")
        .json(&policy)
        .send()
        .and_then(|r| r.error_for_status())
        .expect("policy updated");
}

fn server_codes(f: &Fixture) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/codes", f.info.server_direct_url))
        .bearer_auth(&f.info.tokens["alice"])
        .send()
        .expect("server reachable directly")
        .json()
        .expect("JSON");
    body["codes"].as_array().expect("codes").clone()
}

#[test]
fn cutting_the_network_again_and_again_loses_and_doubles_nothing() {
    let f = Fixture::start(FixtureOptions::server_only()).expect("fixture");
    enable_six_digit_codes(&f);
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = ClientConfig::new(&f.info.server_url, dir.path(), "flaky phone");
    config.retry.attempts = 2;
    config.request_timeout = Duration::from_secs(5);
    let phone = Client::open(config).expect("open");
    let rt = runtime();
    rt.block_on(phone.login(&f.info.tokens["alice"]))
        .expect("login");

    // A flapper cuts and restores the link at random moments while the
    // resident works (seeded, so a failure replays).
    let stop = Arc::new(AtomicBool::new(false));
    let cuts = Arc::new(AtomicU32::new(0));
    let flapper = {
        let (net, stop, cuts) = (f.net.clone(), stop.clone(), cuts.clone());
        std::thread::spawn(move || {
            let mut rng = StdRng::seed_from_u64(0x6e65_7477);
            while !stop.load(Ordering::SeqCst) {
                std::thread::sleep(Duration::from_millis(rng.random_range(2..40)));
                let up = !net.is_up();
                if !up {
                    cuts.fetch_add(1, Ordering::SeqCst);
                }
                net.set_up(up);
            }
            net.set_up(true);
        })
    };

    let mut rng = StdRng::seed_from_u64(0x6b77);
    let mut pool = fresh_codes(&phone).into_iter();
    let mut intended: BTreeMap<String, Intended> = BTreeMap::new();
    let mut creates = 0usize;
    let mut failed_syncs = 0usize;
    for _ in 0..40 {
        let live: Vec<String> = intended
            .iter()
            .filter(|(_, i)| !i.deleted)
            .map(|(id, _)| id.clone())
            .collect();
        let choice = if live.len() < 2 {
            0
        } else {
            rng.random_range(0..10)
        };
        match choice {
            0..=3 => {
                // Half the codes are picked, half generated: picks are rate
                // limited by the server, so the retries stay within it.
                let value = rng
                    .random_bool(0.5)
                    .then(|| pool.next().expect("enough fresh codes"));
                let code = match &value {
                    Some(value) => rt.block_on(phone.pick_code(value, NewCode::resident())),
                    None => rt.block_on(phone.generate_code(NewCode::resident())),
                }
                .expect("a valid request is queued even offline");
                creates += 1;
                intended.insert(
                    code.id,
                    Intended {
                        picked: value.is_some(),
                        value,
                        enabled: true,
                        deleted: false,
                    },
                );
            }
            4..=5 => {
                let id = &live[rng.random_range(0..live.len())];
                let entry = intended.get_mut(id).expect("live code");
                let result = if entry.enabled {
                    rt.block_on(phone.disable_code(id))
                } else {
                    rt.block_on(phone.enable_code(id))
                };
                result.expect("a toggle is queued even offline");
                entry.enabled = !entry.enabled;
            }
            6..=7 => {
                let id = &live[rng.random_range(0..live.len())];
                let picked = intended[id].picked;
                let value = (picked && rng.random_bool(0.5))
                    .then(|| pool.next().expect("enough fresh codes"));
                rt.block_on(phone.change_code(id, value.as_deref(), None))
                    .expect("a change is queued even offline");
                intended.get_mut(id).expect("live code").value = value;
            }
            _ => {
                let id = &live[rng.random_range(0..live.len())];
                rt.block_on(phone.delete_code(id))
                    .expect("a delete is queued even offline");
                intended.get_mut(id).expect("live code").deleted = true;
            }
        }
        if rt.block_on(phone.sync()).is_err() {
            failed_syncs += 1;
        }
    }
    stop.store(true, Ordering::SeqCst);
    flapper.join().expect("flapper");

    // The network is back: the outbox drains (after the server's Retry-After,
    // should the retries have met its limit on picks).
    for _ in 0..20 {
        if phone.outbox().expect("outbox").is_empty() {
            break;
        }
        match rt.block_on(phone.sync()) {
            Ok(report) => {
                if let Some(wait) = report.retry_after {
                    assert!(wait <= Duration::from_secs(61), "{wait:?}");
                    std::thread::sleep(wait + Duration::from_millis(50));
                }
            }
            Err(e) => panic!("sync with the network up: {e:?}"),
        }
    }
    let left = phone.outbox().expect("outbox");
    assert!(left.is_empty(), "every request went through: {left:#?}");
    assert!(cuts.load(Ordering::SeqCst) >= 10, "the link was cut often");
    assert!(failed_syncs > 0, "some syncs met a cut link");

    // The server holds exactly what was meant: every code it has is one the
    // phone asked for (a doubled create would be a stranger), each live one
    // with the value and flag the resident left it with; deleted ones are gone
    // or marked deleted.
    let server = server_codes(&f);
    let mut known = HashSet::new();
    let mut live = 0;
    for (local_id, want) in &intended {
        let code = match phone.code(local_id) {
            Ok(code) => code,
            // A deleted code the server settled is gone from the phone too.
            Err(e) if want.deleted && e.code() == "not_found" => continue,
            Err(e) => panic!("{local_id}: {e:?}"),
        };
        let server_id = code.server_id.clone().expect("accepted by the server");
        assert!(
            known.insert(server_id.clone()),
            "one server code per request"
        );
        let got = server.iter().find(|c| c["id"] == server_id.as_str());
        if want.deleted {
            assert!(
                got.is_none_or(|c| c["status"] == "deleted"),
                "{local_id}: {got:?}"
            );
            continue;
        }
        live += 1;
        let got = got.unwrap_or_else(|| panic!("{local_id} lost"));
        // Drawn digits: the phone shows what the server holds.
        let value = want
            .value
            .clone()
            .or(code.value.clone())
            .expect("digits known once synced");
        assert_eq!(got["value"], value.as_str(), "{local_id}: {code:?}, {got}");
        assert_eq!(code.value.as_deref(), Some(value.as_str()), "{local_id}");
        assert_eq!(got["enabled"], want.enabled, "{local_id}");
        assert_ne!(got["status"], "deleted", "{local_id}");
    }
    for code in server.iter().filter(|c| c["status"] != "deleted") {
        let id = code["id"].as_str().expect("id");
        assert!(
            known.contains(id),
            "the server holds a code nobody asked for: {code}"
        );
    }
    let on_server = server.iter().filter(|c| c["status"] != "deleted").count();
    assert_eq!(on_server, live, "no create lost and none doubled");
    assert!(creates > live, "the workload deleted some codes");
}
