//! Store-level tests on a real SQLite file (no server: the end-to-end tests
//! against a real server are in the keyway-testkit crate).

use std::collections::HashMap;
use std::sync::Mutex;

use super::store::{self, Store};
use super::*;

fn store_in(dir: &std::path::Path) -> Store {
    Store::open(&dir.join("keyway.sqlite3")).unwrap()
}

#[test]
fn the_store_is_in_wal_mode_and_keeps_the_outbox_across_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = store_in(dir.path());
        s.write(|tx| {
            store::enqueue(tx, "lc_a", "create", "{}", "key-1")?;
            store::enqueue(tx, "lc_a", "disable", "{}", "key-2")?;
            Ok(())
        })
        .unwrap();
        // A failed transaction leaves nothing behind.
        let failed: Result<(), ClientError> = s.write(|tx| {
            store::enqueue(tx, "lc_b", "create", "{}", "key-3")?;
            Err(ClientError::invalid("stop"))
        });
        assert!(failed.is_err());
    }
    let s = store_in(dir.path());
    let mode: String = s
        .read(|c| Ok(c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?))
        .unwrap();
    assert_eq!(mode, "wal");
    let outbox = s.read(store::outbox).unwrap();
    let keys: Vec<&str> = outbox.iter().map(|e| e.idem_key.as_str()).collect();
    assert_eq!(
        keys,
        ["key-1", "key-2"],
        "oldest first, the rolled-back one absent"
    );
    // A key is unique: the same request can never be queued twice.
    assert!(
        s.write(|tx| store::enqueue(tx, "lc_a", "create", "{}", "key-1"))
            .is_err()
    );
}

#[test]
fn a_receipt_batch_keeps_its_key_until_it_is_answered() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_in(dir.path());
    s.write(|tx| {
        for i in 0..3 {
            store::add_receipt(tx, "6b77000000000001", &format!("r{i}"))?;
        }
        Ok(())
    })
    .unwrap();
    let (key, rows) = s
        .write(|tx| store::receipt_batch(tx, 2, "first"))
        .unwrap()
        .unwrap();
    assert_eq!(key, "first");
    assert_eq!(rows.len(), 2);
    // The answer was lost: the same batch goes again under the same key.
    let (again, rows_again) = s
        .write(|tx| store::receipt_batch(tx, 2, "second"))
        .unwrap()
        .unwrap();
    assert_eq!(again, "first");
    assert_eq!(rows_again, rows);
    s.write(|tx| store::remove_batch(tx, "first")).unwrap();
    let (key, rows) = s
        .write(|tx| store::receipt_batch(tx, 2, "third"))
        .unwrap()
        .unwrap();
    assert_eq!((key.as_str(), rows.len()), ("third", 1));
    s.write(|tx| store::remove_batch(tx, "third")).unwrap();
    assert!(
        s.write(|tx| store::receipt_batch(tx, 2, "fourth"))
            .unwrap()
            .is_none()
    );
    assert_eq!(s.read(store::receipt_count).unwrap(), 0);
}

#[test]
fn a_tombstoned_code_never_comes_back_from_a_stale_answer() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_in(dir.path());
    s.write(|tx| {
        store::put_code(tx, "code_1", "{}")?;
        store::enqueue(tx, "code_1", "disable", "{}", "k")?;
        store::tombstone(tx, "code_1")?;
        store::put_code_if_absent(tx, "code_1", "{}")?;
        store::put_code(tx, "code_1", "{}")
    })
    .unwrap();
    assert!(s.read(store::mirror_codes).unwrap().is_empty());
    assert!(
        s.read(store::outbox).unwrap().is_empty(),
        "its requests go too"
    );
}

#[test]
fn every_change_bumps_the_change_counter() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_in(dir.path());
    let a = s.write(|tx| Ok(tx.counter)).unwrap();
    let b = s.write(|tx| Ok(tx.counter)).unwrap();
    assert_eq!(b, a + 1);
}

#[test]
fn names_are_stable() {
    for stage in Stage::ALL {
        assert_eq!(Stage::parse(stage.as_str()), Some(stage));
    }
    for op in ["create", "change", "disable", "enable", "delete"] {
        assert_eq!(PendingOp::parse(op).map(PendingOp::as_str), Some(op));
    }
    assert_eq!(PendingOp::parse("drop"), None);
}

#[test]
fn bad_input_is_refused_before_anything_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let err = Client::open(ClientConfig::new("ftp://x", dir.path(), "phone")).unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    let err = Client::open(ClientConfig::new("http://127.0.0.1:9", dir.path(), " ")).unwrap_err();
    assert_eq!(err.code(), "invalid_argument");
    let client =
        Client::open(ClientConfig::new("http://127.0.0.1:9", dir.path(), "phone")).unwrap();
    assert_eq!(client.session().unwrap(), None);
    assert!(matches!(
        client.check_code("4821", &NewCode::resident()),
        Err(ClientError::NotLoggedIn)
    ));
    assert!(client.codes().unwrap().is_empty());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    assert!(matches!(
        runtime.block_on(client.sync()),
        Err(ClientError::NotLoggedIn)
    ));
    assert_eq!(
        runtime.block_on(client.login("")).unwrap_err().code(),
        "invalid_argument"
    );
    // No transport: a typed error, not a panic.
    assert_eq!(
        runtime
            .block_on(client.deliver_nearby())
            .unwrap_err()
            .code(),
        "bluetooth_unavailable"
    );
}

#[test]
fn a_plain_http_server_is_refused_unless_it_is_on_this_phone() {
    let dir = tempfile::tempdir().unwrap();
    let open = |url: &str| Client::open(ClientConfig::new(url, dir.path(), "phone"));
    for url in [
        "http://keyway.example.org",
        "HTTP://keyway.example.org/",
        "http://192.168.1.20:8080",
        "http://10.0.0.1",
        "http://[2001:db8::1]:8080",
        // Look like loopback to a prefix check; the host is elsewhere.
        "http://127.0.0.1.nip.io",
        "http://localhost.keyway.example.org",
        "http://127.0.0.1@keyway.example.org",
        "http://localhost:80@keyway.example.org",
        "http://[::ffff:c0a8:114]",
        // Not a server URL at all.
        "ftp://keyway.example.org",
        "keyway.example.org",
        "https://keyway.example.org/?token=x",
        "https://keyway.example.org/#x",
    ] {
        let err = open(url).expect_err(url);
        assert_eq!(err.code(), "invalid_argument", "{url}: {err}");
    }
    let err = open("http://keyway.example.org").unwrap_err();
    assert!(err.to_string().contains("https://"), "{err}");
    for url in [
        "https://keyway.example.org",
        "https://keyway.example.org/",
        "https://192.168.1.20:8443",
        "http://localhost:8080",
        "http://LOCALHOST",
        "http://127.0.0.1:3000",
        "http://127.10.20.30",
        "http://[::1]:8080/",
    ] {
        open(url).unwrap_or_else(|e| panic!("{url}: {e}"));
    }
}

/// A server (or someone in its place) that answers the login with a redirect
/// to another host: the phone must not send the API token after it.
#[test]
fn a_redirect_never_carries_the_login_elsewhere() {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    let elsewhere = TcpListener::bind("127.0.0.1:0").unwrap();
    let elsewhere_addr = elsewhere.local_addr().unwrap();
    elsewhere.set_nonblocking(true).unwrap();
    let server = TcpListener::bind("127.0.0.1:0").unwrap();
    let server_addr = server.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in server.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut request = [0u8; 4096];
            let _ = stream.read(&mut request);
            let answer = format!(
                "HTTP/1.1 307 Temporary Redirect\r\nlocation: http://{elsewhere_addr}/v1/login\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let mut config = ClientConfig::new(format!("http://{server_addr}"), dir.path(), "phone");
    config.retry.attempts = 1;
    config.request_timeout = Duration::from_secs(5);
    let client = Client::open(config).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let result = runtime.block_on(client.login("kwa_secret-api-token"));
    assert!(result.is_err(), "a redirect is not a login");
    std::thread::sleep(Duration::from_millis(200));
    assert!(
        elsewhere.accept().is_err(),
        "the redirect was followed: the API token went to another host"
    );
    assert_eq!(client.session().unwrap(), None);
}

/// An app's key store as a test double.
#[derive(Default)]
struct MemorySecrets {
    secrets: Mutex<HashMap<String, Vec<u8>>>,
    broken: std::sync::atomic::AtomicBool,
}

impl SecretStore for MemorySecrets {
    fn get(&self, name: String) -> Result<Option<Vec<u8>>, SecretStoreError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SecretStoreError::new("locked"));
        }
        Ok(lock(&self.secrets).get(&name).cloned())
    }

    fn set(&self, name: String, value: Vec<u8>) -> Result<(), SecretStoreError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SecretStoreError::new("locked"));
        }
        lock(&self.secrets).insert(name, value);
        Ok(())
    }

    fn delete(&self, name: String) -> Result<(), SecretStoreError> {
        if self.broken.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(SecretStoreError::new("locked"));
        }
        lock(&self.secrets).remove(&name);
        Ok(())
    }
}

#[test]
fn a_token_an_older_version_kept_in_the_database_moves_to_the_secret_store() {
    let dir = tempfile::tempdir().unwrap();
    let token = "kwd_legacy-token-kept-in-meta-by-version-one-0123456789";
    {
        let s = store_in(dir.path());
        s.write(|tx| {
            store::set_meta(&tx.tx, "device_token", token)?;
            store::set_meta(&tx.tx, "device_id", "dev_1")
        })
        .unwrap();
    }
    let config = ClientConfig::new("http://127.0.0.1:9", dir.path(), "phone");
    // The secret store is locked: the open fails, typed, and nothing is lost.
    let secrets = Arc::new(MemorySecrets::default());
    secrets
        .broken
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let err = Client::open_with_secret_store(config.clone(), secrets.clone()).unwrap_err();
    assert_eq!(err.code(), "secret_store", "{err}");
    secrets
        .broken
        .store(false, std::sync::atomic::Ordering::SeqCst);
    let client = Client::open_with_secret_store(config, secrets.clone()).unwrap();
    assert_eq!(
        lock(&secrets.secrets).get(DEVICE_TOKEN).map(Vec::as_slice),
        Some(token.as_bytes())
    );
    assert_eq!(client.token().unwrap(), token);
    let kept = client
        .inner
        .store
        .read(|c| store::get_meta(c, "device_token"))
        .unwrap();
    assert_eq!(kept, None, "the database no longer holds the token");
    // Nor do its files, free pages and write-ahead log included.
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(token.len()).any(|w| w == token.as_bytes()),
            "the token is still in {}",
            path.display()
        );
    }
}

/// Whether `needle` is anywhere in the raw bytes of a file in `dir`.
fn in_files(dir: &std::path::Path, needle: &str) -> bool {
    std::fs::read_dir(dir).unwrap().any(|entry| {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
    })
}

#[test]
fn a_wipe_cut_short_by_a_kill_is_scrubbed_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let s = store_in(dir.path());
    s.write(|tx| {
        store::put_code(tx, "code_1", r#"{"value": "582619"}"#)?;
        store::enqueue(tx, "code_1", "change", r#"{"code": "730416"}"#, "k")?;
        Ok(())
    })
    .unwrap();
    s.write(store::wipe).unwrap();
    // Killed before the scrub: the connection never closes (closing would
    // checkpoint), the write-ahead log keeps the old pages.
    std::mem::forget(s);
    assert!(
        in_files(dir.path(), "582619") && in_files(dir.path(), "730416"),
        "the old pages are there to find"
    );
    let _s = store_in(dir.path());
    assert!(!in_files(dir.path(), "582619"));
    assert!(!in_files(dir.path(), "730416"));
}

fn a_use(id: &str, code_id: &str, at: i64) -> keyway_api::CodeUse {
    keyway_api::CodeUse {
        id: id.to_owned(),
        code_id: code_id.to_owned(),
        code_name: Some("Dog walker".to_owned()),
        lock_id: "6b77000000000001".to_owned(),
        lock_name: "Unit 4B".to_owned(),
        at: jiff::Timestamp::from_second(at).unwrap(),
        kind: "code_used".to_owned(),
    }
}

#[test]
fn a_use_is_announced_once_across_syncs_and_reopens_and_history_never() {
    let dir = tempfile::tempdir().unwrap();
    {
        let s = store_in(dir.path());
        s.write(|tx| {
            // A code created here: its use is shown under the phone's id.
            store::insert_local(
                tx,
                &store::LocalRow {
                    id: "lc_walker".into(),
                    server_id: Some("code_walker".into()),
                    request: NewCode::resident().request(CodeMode::Generate, None),
                    lock_ids: vec![],
                    value: None,
                    created_at: 0,
                },
            )?;
            store::put_use(tx, &a_use("use_old", "code_walker", 100), true)?;
            store::put_use(tx, &a_use("use_new", "code_walker", 200), false)
        })
        .unwrap();
        let fresh = s.read(store::unannounced).unwrap();
        assert_eq!(fresh.len(), 1, "history is stored, not announced");
        assert_eq!(fresh[0].id, "use_new");
        assert_eq!(fresh[0].code_id, "lc_walker");
        s.write(|tx| store::mark_announced(tx, &["use_new".to_owned()]))
            .unwrap();
        // The same use in a later page changes nothing.
        s.write(|tx| store::put_use(tx, &a_use("use_new", "code_walker", 200), false))
            .unwrap();
        assert!(s.read(store::unannounced).unwrap().is_empty());
    }
    let s = store_in(dir.path());
    assert!(
        s.read(store::unannounced).unwrap().is_empty(),
        "not after a reopen"
    );
    let all = s.read(|c| store::uses(c, 10)).unwrap();
    assert_eq!(
        all.iter().map(|u| u.id.as_str()).collect::<Vec<_>>(),
        ["use_new", "use_old"],
        "newest first"
    );
    s.write(store::wipe).unwrap();
    assert!(
        s.read(|c| store::uses(c, 10)).unwrap().is_empty(),
        "a logout forgets them"
    );
}
