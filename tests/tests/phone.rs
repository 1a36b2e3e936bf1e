//! The phone core against a real server: login, local policy checks, the
//! outbox offline and online, refusals, restarts, events. Bluetooth is in
//! `delivery.rs` and the kill test in `kill.rs` (separate processes).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use keyway_api::{CodeState, CodeStatus, GuestType};
use keyway_client::{
    Client, ClientConfig, ClientError, ClientEvent, DEVICE_TOKEN, FileSecretStore, NewCode,
    PendingOp, SECRETS_FILE, SecretStore, SecretStoreError,
};
use keyway_codes::policy::Rule;
use keyway_codes::schedule::{Schedule, Window};
use keyway_protocol::provisioning::ProvisioningFile;
use keyway_protocol::seal::derive_key_bytes;
use keyway_testkit::fixture::{Fixture, FixtureOptions};

fn world() -> Fixture {
    Fixture::start(FixtureOptions::server_only()).expect("fixture")
}

fn config(f: &Fixture, dir: &Path) -> ClientConfig {
    let mut config = ClientConfig::new(&f.info.server_url, dir, "test phone");
    config.retry.attempts = 2;
    config.request_timeout = Duration::from_secs(10);
    config
}

fn client(f: &Fixture, dir: &Path) -> Client {
    Client::open(config(f, dir)).expect("open")
}

/// An app's key store (the Android Keystore, the iOS Keychain) as a test
/// double: secrets in memory, and a switch that makes every call fail.
#[derive(Default)]
struct Keychain {
    secrets: Mutex<HashMap<String, Vec<u8>>>,
    broken: AtomicBool,
}

impl Keychain {
    fn check(&self) -> Result<(), SecretStoreError> {
        if self.broken.load(Ordering::SeqCst) {
            return Err(SecretStoreError::new("the keychain is locked"));
        }
        Ok(())
    }

    fn token(&self) -> Option<String> {
        let secrets = self.secrets.lock().unwrap();
        let token = secrets.get(DEVICE_TOKEN)?;
        Some(String::from_utf8(token.clone()).unwrap())
    }
}

impl SecretStore for Keychain {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreError> {
        self.check()?;
        Ok(self.secrets.lock().unwrap().get(&name).cloned())
    }

    fn set(&self, name: String, value: Vec<u8>) -> Result<(), SecretStoreError> {
        self.check()?;
        self.secrets.lock().unwrap().insert(name, value);
        Ok(())
    }

    fn delete(&self, name: String) -> Result<(), SecretStoreError> {
        self.check()?;
        self.secrets.lock().unwrap().remove(&name);
        Ok(())
    }
}

/// What someone who copies the data directory finds: each needle that occurs
/// in the raw bytes of any file under `dir`, with the file.
fn found_in_files<N: AsRef<[u8]>>(dir: &Path, needles: &[N]) -> Vec<String> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(path) = stack.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path).unwrap() {
                stack.push(entry.unwrap().path());
            }
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for needle in needles {
            let needle = needle.as_ref();
            if bytes.windows(needle.len()).any(|w| w == needle) {
                let shown = String::from_utf8_lossy(needle);
                found.push(format!("{shown} in {}", path.display()));
            }
        }
    }
    found
}

/// Every lock's keys from the provisioning file, each as lowercase and
/// uppercase hex and as raw bytes: the ones that seal and open (root, job,
/// receipt), and the advertising keys phones are given.
fn lock_keys(f: &Fixture) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let text = std::fs::read_to_string(f.info.dir.join("provisioning.json")).unwrap();
    let file: ProvisioningFile = serde_json::from_str(&text).unwrap();
    assert_eq!(file.locks.len(), 3);
    let forms = |raw: Vec<u8>| {
        let hex: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        [hex.to_uppercase().into_bytes(), hex.into_bytes(), raw]
    };
    let (mut sealing, mut advert) = (Vec::new(), Vec::new());
    for lock in file.locks {
        let root = &lock.root_key;
        let hex = root.to_hex();
        let raw = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        sealing.extend(forms(raw));
        for label in [&b"job"[..], b"receipt"] {
            sealing.extend(forms(derive_key_bytes(root, lock.lock_id, label).to_vec()));
        }
        advert.extend(forms(
            derive_key_bytes(root, lock.lock_id, b"advert").to_vec(),
        ));
    }
    (sealing, advert)
}

/// Whether the server still takes `token`.
fn server_takes(f: &Fixture, token: &str) -> bool {
    reqwest::blocking::Client::new()
        .get(format!("{}/v1/me", f.info.server_direct_url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .status()
        .is_success()
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// The server's view of Alice's codes, straight from the API.
fn server_codes(f: &Fixture) -> Vec<serde_json::Value> {
    let body: serde_json::Value = reqwest::blocking::Client::new()
        .get(format!("{}/v1/codes", f.info.server_direct_url))
        .bearer_auth(&f.info.tokens["alice"])
        .send()
        .unwrap()
        .json()
        .unwrap();
    body["codes"].as_array().unwrap().clone()
}

#[test]
fn a_resident_logs_in_and_sees_doors_and_every_violated_rule() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    assert!(matches!(
        phone.check_code("4821", &NewCode::resident()),
        Err(ClientError::NotLoggedIn)
    ));
    let session = rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    assert_eq!(
        session.user.unit_id.as_deref(),
        Some(f.info.units["4B"].as_str())
    );
    let doors = phone.doors().unwrap();
    let ids: Vec<&str> = doors.iter().map(|d| d.lock_id.as_str()).collect();
    assert!(ids.contains(&f.info.locks["unit_4b"].as_str()));
    assert!(ids.contains(&f.info.locks["entrance"].as_str()));
    assert!(
        ids.contains(&f.info.locks["package_room"].as_str()),
        "residents relay the package room's sealed jobs"
    );

    // 1234 is refused on the phone, with every rule, before any request.
    let err = rt
        .block_on(phone.pick_code("1234", NewCode::resident()))
        .unwrap_err();
    let rules: Vec<Rule> = err.violations().iter().map(|v| v.rule).collect();
    assert_eq!(rules, vec![Rule::Sequential, Rule::CommonPin]);
    assert_eq!(err.code(), "policy_violation");
    assert!(
        phone.outbox().unwrap().is_empty(),
        "a refused pick queues nothing"
    );
    // An affiliated number, and a custom code on the community door.
    let err = phone.check_code("1440", &NewCode::resident()).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::PropertyNumber)
    );
    let mut shared = NewCode::resident();
    shared.lock_ids = Some(vec![f.info.locks["entrance"].clone()]);
    let err = phone.check_code("4821", &shared).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::CustomNotAllowed)
    );
    assert!(matches!(
        phone.check_code("12a4", &NewCode::resident()),
        Err(ClientError::InvalidFormat { .. })
    ));
}

#[test]
fn picks_and_generated_codes_go_pending_and_duplicates_are_caught_locally() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let mut events = phone.subscribe();

    let picked = rt
        .block_on(phone.pick_code("4821", NewCode::resident()))
        .unwrap();
    assert!(picked.server_id.is_some());
    assert_eq!(picked.value.as_deref(), Some("4821"));
    assert_eq!(
        picked.state_on(&f.info.locks["unit_4b"]),
        Some(CodeState::Pending)
    );
    assert!(phone.outbox().unwrap().is_empty());
    // The app saw it requested, then pending.
    let mut states = Vec::new();
    while let Ok(event) = events.try_recv() {
        if let ClientEvent::CodeChanged { code } = event
            && code.id == picked.id
        {
            states.push(code.state_on(&f.info.locks["unit_4b"]).unwrap());
        }
    }
    assert_eq!(states, vec![CodeState::Requested, CodeState::Pending]);

    // The same digits again: the phone knows they are on the door.
    let err = phone.check_code("4821", &NewCode::resident()).unwrap_err();
    assert!(
        err.violations()
            .iter()
            .any(|v| v.rule == Rule::DuplicateOnLock)
    );

    let generated = rt
        .block_on(phone.generate_code(NewCode::resident()))
        .unwrap();
    assert_eq!(generated.value.as_ref().map(String::len), Some(4));
    assert_eq!(
        generated.state_on(&f.info.locks["entrance"]),
        Some(CodeState::Pending),
        "generated resident codes also go on the community door"
    );
    let window = Window::new(
        jiff::Timestamp::now(),
        jiff::Timestamp::now() + jiff::SignedDuration::from_hours(48),
    )
    .unwrap();
    let guest = rt
        .block_on(phone.generate_code(NewCode::guest(
            GuestType::Temporary,
            Some(Schedule::Window(window)),
        )))
        .unwrap();
    assert_eq!(guest.guest_type, Some(GuestType::Temporary));
    assert!(matches!(guest.schedule, Schedule::Window(_)));
    let err = rt
        .block_on(phone.generate_code(NewCode::guest(GuestType::Recurring, None)))
        .unwrap_err();
    assert_eq!(err.code(), "invalid_argument");

    // Change, disable, enable, delete, each reflected at the server.
    let changed = rt
        .block_on(phone.change_code(&picked.id, Some("5930"), None))
        .unwrap();
    assert_eq!(changed.id, picked.id, "the id on the phone never changes");
    assert_eq!(changed.value.as_deref(), Some("5930"));
    let disabled = rt.block_on(phone.disable_code(&picked.id)).unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.status, CodeStatus::Disabled);
    let enabled = rt.block_on(phone.enable_code(&picked.id)).unwrap();
    assert!(enabled.enabled);
    rt.block_on(phone.delete_code(&guest.id)).unwrap();
    let at_server = server_codes(&f);
    assert_eq!(
        at_server.len(),
        2,
        "the deleted guest code is gone: {at_server:?}"
    );
    let server_picked = at_server
        .iter()
        .find(|c| c["id"] == picked.server_id.clone().unwrap().as_str())
        .unwrap();
    assert_eq!(server_picked["value"], "5930");
    assert_eq!(server_picked["enabled"], true);
    assert!(
        phone.code(&guest.id).is_err(),
        "a tombstone removes it on the phone"
    );
}

#[test]
fn offline_requests_wait_as_requested_and_go_out_once_on_sync() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();

    f.net.set_up(false);
    let picked = rt
        .block_on(phone.pick_code("6047", NewCode::resident()))
        .unwrap();
    assert_eq!(picked.server_id, None);
    assert_eq!(picked.value.as_deref(), Some("6047"));
    assert_eq!(
        picked.state_on(&f.info.locks["unit_4b"]),
        Some(CodeState::Requested)
    );
    assert_eq!(picked.pending, Some(PendingOp::Create));
    // Offline, a generated code on the unit door only is drawn on the phone.
    let mut unit_only = NewCode::resident();
    unit_only.lock_ids = Some(vec![f.info.locks["unit_4b"].clone()]);
    let drawn = rt.block_on(phone.generate_code(unit_only)).unwrap();
    let digits = drawn.value.clone().expect("drawn on the phone");
    assert_eq!(digits.len(), 4);
    // With the community door, only the server may draw: no digits yet.
    let waiting = rt
        .block_on(phone.generate_code(NewCode::resident()))
        .unwrap();
    assert_eq!(waiting.value, None);
    assert_eq!(
        waiting.state_on(&f.info.locks["entrance"]),
        Some(CodeState::Requested)
    );
    assert!(matches!(
        rt.block_on(phone.sync()),
        Err(ClientError::Network { .. })
    ));
    assert_eq!(phone.outbox().unwrap().len(), 3);
    assert_eq!(phone.is_online(), Some(false));
    // A restart keeps everything.
    drop(phone);
    let phone = client(&f, dir.path());
    assert_eq!(phone.outbox().unwrap().len(), 3);
    assert_eq!(
        phone.code(&picked.id).unwrap().value.as_deref(),
        Some("6047")
    );

    f.net.set_up(true);
    let report = rt.block_on(phone.sync()).unwrap();
    assert_eq!(report.sent, 3);
    assert!(phone.outbox().unwrap().is_empty());
    for id in [&picked.id, &drawn.id, &waiting.id] {
        let code = phone.code(id).unwrap();
        assert!(code.server_id.is_some());
        assert_eq!(
            code.state_on(&f.info.locks["unit_4b"]),
            Some(CodeState::Pending)
        );
        assert!(code.value.is_some());
    }
    assert_eq!(phone.code(&drawn.id).unwrap().value, Some(digits));
    // A second sync sends nothing again; the server holds each code once.
    assert_eq!(rt.block_on(phone.sync()).unwrap().sent, 0);
    assert_eq!(server_codes(&f).len(), 3);
}

#[test]
fn a_request_the_server_refuses_later_shows_as_failed_until_dismissed() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    // Offline, Alice picks digits; meanwhile another phone of hers takes them.
    f.net.set_up(false);
    let queued = rt
        .block_on(phone.pick_code("7315", NewCode::resident()))
        .unwrap();
    let other_dir = tempfile::tempdir().unwrap();
    let mut other_config = ClientConfig::new(&f.info.server_direct_url, other_dir.path(), "tablet");
    other_config.retry.attempts = 1;
    let other = Client::open(other_config).unwrap();
    rt.block_on(other.login(&f.info.tokens["alice"])).unwrap();
    rt.block_on(other.pick_code("7315", NewCode::resident()))
        .unwrap();
    f.net.set_up(true);
    let report = rt.block_on(phone.sync()).unwrap();
    assert_eq!(report.refused, 1);
    let failed = phone.code(&queued.id).unwrap();
    assert_eq!(failed.status, CodeStatus::Failed);
    let failure = failed.failure.expect("failure shown");
    assert_eq!(failure.code, "policy_violation");
    assert!(
        failure
            .violations
            .iter()
            .any(|v| v.rule == Rule::DuplicateOnLock)
    );
    phone.dismiss_failure(&queued.id).unwrap();
    assert!(phone.code(&queued.id).is_err());
    assert!(phone.outbox().unwrap().is_empty());
    // Bob has no door: the server's refusal comes back as the call's error
    // and leaves nothing behind.
    let bob_dir = tempfile::tempdir().unwrap();
    let bob = client(&f, bob_dir.path());
    rt.block_on(bob.login(&f.info.tokens["bob"])).unwrap();
    let err = rt
        .block_on(bob.generate_code(NewCode::guest(GuestType::Permanent, None)))
        .unwrap_err();
    assert_eq!(err.code(), "no_locks", "{err}");
    assert!(bob.codes().unwrap().is_empty());
    assert!(bob.outbox().unwrap().is_empty());
}

#[test]
fn the_device_token_lives_in_the_apps_secret_store_never_in_the_database() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let keychain = Arc::new(Keychain::default());
    let phone = Client::open_with_secret_store(config(&f, dir.path()), keychain.clone()).unwrap();
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    rt.block_on(phone.pick_code("4821", NewCode::resident()))
        .unwrap();
    let token = keychain.token().expect("the token is in the keychain");
    assert!(token.starts_with("kwd_"));
    // Someone who copies the data directory finds no device token in it,
    // and no key that seals or opens a lock's jobs (root, job and receipt
    // keys, as hex or raw bytes).
    let found = found_in_files(dir.path(), &[token.clone(), "kwd_".into()]);
    assert!(found.is_empty(), "{found:?}");
    let (sealing, advert) = lock_keys(&f);
    let found = found_in_files(dir.path(), &sealing);
    assert!(found.is_empty(), "{found:?}");
    assert!(
        !found_in_files(dir.path(), &advert).is_empty(),
        "the search finds the advertising keys phones hold"
    );
    // The phone works from the keychain, across a restart too.
    drop(phone);
    let phone = Client::open_with_secret_store(config(&f, dir.path()), keychain.clone()).unwrap();
    rt.block_on(phone.sync()).unwrap();

    // A keychain holding a token this store did not save (shared by mistake,
    // left by an earlier installation): never sent, the phone is logged out.
    let bob_keychain = Arc::new(Keychain::default());
    let bob_dir = tempfile::tempdir().unwrap();
    let bob =
        Client::open_with_secret_store(config(&f, bob_dir.path()), bob_keychain.clone()).unwrap();
    rt.block_on(bob.login(&f.info.tokens["bob"])).unwrap();
    let bobs_token = bob_keychain.token().unwrap();
    keychain
        .set(DEVICE_TOKEN.into(), bobs_token.as_bytes().to_vec())
        .unwrap();
    assert!(matches!(
        rt.block_on(phone.sync()),
        Err(ClientError::NotLoggedIn)
    ));
    keychain
        .set(DEVICE_TOKEN.into(), token.as_bytes().to_vec())
        .unwrap();
    rt.block_on(phone.sync()).unwrap();

    // Logout ends the token at the server and takes it out of the keychain;
    // Alice's other device and her codes are untouched.
    let tablet_dir = tempfile::tempdir().unwrap();
    let tablet = client(&f, tablet_dir.path());
    rt.block_on(tablet.login(&f.info.tokens["alice"])).unwrap();
    rt.block_on(phone.logout()).unwrap();
    assert_eq!(keychain.token(), None);
    assert!(!server_takes(&f, &token));
    assert!(server_takes(&f, &device_token(tablet_dir.path())));
    assert!(server_takes(&f, &bobs_token));
    rt.block_on(tablet.sync()).unwrap();
    let values: Vec<_> = tablet
        .codes()
        .unwrap()
        .into_iter()
        .map(|c| c.value)
        .collect();
    assert_eq!(values, [Some("4821".to_owned())]);
}

#[test]
fn without_an_app_secret_store_the_token_is_in_a_file_only_its_owner_reads() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let file = FileSecretStore::in_dir(dir.path());
    let token = String::from_utf8(file.get(DEVICE_TOKEN.into()).unwrap().unwrap()).unwrap();
    assert!(server_takes(&f, &token));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let meta = std::fs::metadata(dir.path().join(SECRETS_FILE)).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    }
    let mut database = Vec::new();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap() != SECRETS_FILE {
            database.push(path);
        }
    }
    for path in &database {
        let found = found_in_files(path, std::slice::from_ref(&token));
        assert!(found.is_empty(), "{found:?}");
    }
    rt.block_on(phone.logout()).unwrap();
    assert!(!dir.path().join(SECRETS_FILE).exists());
    assert!(!server_takes(&f, &token));
}

#[test]
fn a_failing_secret_store_is_a_typed_error_and_never_a_half_login() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let keychain = Arc::new(Keychain::default());
    let phone = Client::open_with_secret_store(config(&f, dir.path()), keychain.clone()).unwrap();
    keychain.broken.store(true, Ordering::SeqCst);
    let err = rt
        .block_on(phone.login(&f.info.tokens["alice"]))
        .unwrap_err();
    assert_eq!(err.code(), "secret_store", "{err}");
    assert_eq!(phone.session().unwrap(), None);
    keychain.broken.store(false, Ordering::SeqCst);
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let token = keychain.token().unwrap();
    keychain.broken.store(true, Ordering::SeqCst);
    assert_eq!(
        rt.block_on(phone.sync()).unwrap_err().code(),
        "secret_store"
    );
    // Logout still wipes the store, and says the keychain failed.
    let err = rt.block_on(phone.logout()).unwrap_err();
    assert_eq!(err.code(), "secret_store");
    assert_eq!(phone.session().unwrap(), None);
    keychain.broken.store(false, Ordering::SeqCst);
    assert_eq!(keychain.token().as_deref(), Some(token.as_str()));
    assert!(matches!(
        rt.block_on(phone.sync()),
        Err(ClientError::NotLoggedIn)
    ));
}

/// Every log record of this process (the phone's side; the server is another
/// process), at every level, dependencies included.
struct Collect;

static RECORDS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Collect {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &log::Record<'_>) {
        let line = format!("{} {}: {}", record.level(), record.target(), record.args());
        RECORDS.lock().unwrap().push(line);
    }

    fn flush(&self) {}
}

fn collect_logs() {
    static COLLECT: Collect = Collect;
    let _ = log::set_logger(&COLLECT);
    log::set_max_level(log::LevelFilter::Trace);
}

/// Lets the community's residents use 6-digit codes (the manager's policy).
fn enable_six_digit_codes(f: &Fixture) {
    let http = reqwest::blocking::Client::new();
    let url = format!("{}/v1/manage/policy", f.info.server_direct_url);
    let mut policy: serde_json::Value = http
        .get(&url)
        .bearer_auth(&f.info.tokens["mia"])
        .send()
        .unwrap()
        .json()
        .unwrap();
    policy["six_digit_codes"] = true.into();
    let status = http
        .put(&url)
        .bearer_auth(&f.info.tokens["mia"])
        .header("idempotency-key", "six-digit-codes")
        .json(&policy)
        .send()
        .unwrap()
        .status();
    assert!(status.is_success(), "{status}");
}

fn device_token(dir: &Path) -> String {
    let token = FileSecretStore::in_dir(dir)
        .get(DEVICE_TOKEN.into())
        .unwrap();
    String::from_utf8(token.expect("logged in")).unwrap()
}

/// Someone who gets the phone's files after its user logged out (or after
/// another user logged in on it) searches them for the device token and for
/// every code the phone held: the mirror, codes created here, requests in the
/// outbox, digits changed away. 6-digit codes, so no chance match.
#[test]
fn after_logout_or_another_users_login_no_token_or_code_is_left_in_the_files() {
    collect_logs();
    let f = world();
    enable_six_digit_codes(&f);
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let six = |mut new: NewCode| {
        new.length = Some(6);
        new
    };
    let picked = rt
        .block_on(phone.pick_code("582619", NewCode::resident()))
        .unwrap();
    rt.block_on(phone.change_code(&picked.id, Some("730416"), None))
        .unwrap();
    rt.block_on(phone.generate_code(six(NewCode::resident())))
        .unwrap();
    rt.block_on(phone.generate_code(six(NewCode::guest(GuestType::Permanent, None))))
        .unwrap();
    f.net.set_up(false);
    rt.block_on(phone.pick_code("941752", NewCode::resident()))
        .unwrap();
    let mut unit_only = six(NewCode::resident());
    unit_only.lock_ids = Some(vec![f.info.locks["unit_4b"].clone()]);
    rt.block_on(phone.generate_code(unit_only)).unwrap();
    f.net.set_up(true);
    assert_eq!(phone.outbox().unwrap().len(), 2, "two requests queued");
    let mut held: Vec<String> = vec!["582619".into(), "730416".into(), "941752".into()];
    held.extend(phone.codes().unwrap().into_iter().filter_map(|c| c.value));
    held.sort();
    held.dedup();
    assert_eq!(held.len(), 6, "{held:?}");
    assert!(held.iter().all(|v| v.len() == 6), "{held:?}");
    assert!(
        !found_in_files(dir.path(), &held).is_empty(),
        "the search finds the codes while they are held"
    );
    let alice_token = device_token(dir.path());

    // Bob logs in on the same phone: Alice's data is wiped.
    rt.block_on(phone.login(&f.info.tokens["bob"])).unwrap();
    let mut needles = held.clone();
    needles.push(alice_token);
    let found = found_in_files(dir.path(), &needles);
    assert!(found.is_empty(), "after another user's login: {found:?}");

    // Bob logs out: nothing of his either.
    let bob_token = device_token(dir.path());
    rt.block_on(phone.logout()).unwrap();
    needles.push(bob_token);
    let found = found_in_files(dir.path(), &needles);
    assert!(found.is_empty(), "after logout: {found:?}");
    assert!(!dir.path().join(SECRETS_FILE).exists());

    // Nor did any log line carry them, or the API tokens, at any level.
    needles.push(f.info.tokens["alice"].clone());
    needles.push(f.info.tokens["bob"].clone());
    let records = RECORDS.lock().unwrap();
    assert!(
        records
            .iter()
            .any(|r| r.contains("logged in as a resident")),
        "the phone's logs were collected"
    );
    for record in records.iter() {
        for needle in &needles {
            assert!(
                !record.contains(needle.as_str()),
                "{needle} logged: {record}"
            );
        }
    }
}

/// Someone copied the phone's files (a backup, another app) and so holds its
/// device token. Each time the phone logs in again — the same resident after
/// a scare, or another user — and when it logs out, the copied token stops
/// opening the API: only the phone's current token works.
#[test]
fn a_copied_device_token_stops_working_when_the_phone_logs_in_again_or_out() {
    let f = world();
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime();
    let phone = client(&f, dir.path());
    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let copied = device_token(dir.path());
    assert!(server_takes(&f, &copied));

    rt.block_on(phone.login(&f.info.tokens["alice"])).unwrap();
    let current = device_token(dir.path());
    assert_ne!(current, copied);
    assert!(!server_takes(&f, &copied), "the copy after a new login");
    assert!(server_takes(&f, &current));

    rt.block_on(phone.login(&f.info.tokens["bob"])).unwrap();
    assert!(
        !server_takes(&f, &current),
        "Alice's token after Bob's login"
    );
    let bobs = device_token(dir.path());
    assert!(server_takes(&f, &bobs));

    rt.block_on(phone.logout()).unwrap();
    assert!(!server_takes(&f, &bobs), "after logout");
}
