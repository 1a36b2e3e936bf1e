//! The Portal in a real browser: a real `keyway-server` on a real database
//! (SQLite unless `KEYWAY_TEST_DATABASE_URL` says otherwise), set up with the
//! typed admin functions and the API, and Debian's Chromium driven by
//! playwright-core through the Node test file `tests/portal/portal.test.mjs`
//! (`node --test`). The test fails with the runner's summary lines.
//!
//! Needs `chromium` and the test folder's `npm ci` (`.ci/install-deps`
//! installs both). `KEYWAY_PORTAL_SCREENSHOTS=docs/portal` writes the
//! screenshots of `docs/portal.md` there (paths relative to the
//! workspace); otherwise they go to the test's temporary directory.
//! `cargo xtask test` runs this test as its own step.

mod support;

use std::ffi::OsStr;

use jiff::Timestamp;
use reqwest::Method;
use serde_json::{Value, json};
use support::{Fixture, visit};

use keyway_testkit::browser::{run_node_tests, workspace};
use keyway_testkit::receiver::WebhookReceiver;

/// `who`'s Portal account (the operator's typed function), as the Node
/// tests want it.
fn account(f: &Fixture, who: &str) -> Value {
    let account = support::portal::account(f, who);
    json!({"email": account.email, "password": account.password, "user_id": account.user_id})
}

/// The property as the browser tests find it: accounts, a recipient, a
/// manager's staff PIN, a unit door with codes that a phone delivered, then
/// used once and missed once at the keypad, and the front desk's webhook
/// that followed it all.
fn set_up(f: &Fixture, receiver: &WebhookReceiver) -> Value {
    let mia = account(f, "mia");
    let sam = account(f, "sam");
    let alice = account(f, "alice");
    let zed = account(f, "zed");
    let mia_token = &f.tokens["mia"];
    let mia_pin = f.ok(
        mia_token,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["mia"]),
        json!({"mode": "generate"}),
    );
    let recipient = f.ok(
        mia_token,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Dana Ruiz", "email": "dana@example.com", "phone": "+15551234567"}),
    );
    f.ok(
        mia_token,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": "Omar Haddad", "email": "omar@example.com"}),
    );
    // The front desk's webhook, which refuses its first delivery.
    let desk = f.ok(
        mia_token,
        Method::POST,
        "/v1/manage/webhooks",
        json!({"url": receiver.url, "events": ["code.created", "code.used"], "description": "Front desk"}),
    );
    let alice_device = f.login("alice", "phone");
    let code = f.ok(
        &alice_device,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "pick", "code": "3859", "name": "Alice"}),
    );
    f.ok(
        &alice_device,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker", "guest_type": "permanent"}),
    );
    let mut door = f.firmware(&f.lock_4b);
    visit(f, &alice_device, &mut door);
    door.enter_code("3859", Timestamp::now());
    door.enter_code("1111", Timestamp::now());
    visit(f, &alice_device, &mut door);
    json!({
        "manager": mia,
        "staff": sam,
        "resident": alice,
        "limited": zed,
        "manager_pin": mia_pin["value"],
        "resident_code": code["value"],
        "recipient": recipient,
        "unit_4b": f.unit_4b,
        "unit_door": f.lock_4b,
        "package_room": f.package_room,
        "webhook": desk["id"],
        "webhook_url": receiver.url,
    })
}

#[test]
fn the_portal_works_in_a_real_browser() {
    let f = Fixture::with_env(&[
        ("KEYWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP", "true"),
        ("KEYWAY_WEBHOOK_INTERVAL_MS", "50"),
        ("KEYWAY_WEBHOOK_BACKOFF_MS", "100"),
    ]);
    let receiver = WebhookReceiver::start(&[500]).unwrap();
    let fixture = set_up(&f, &receiver);
    // The front desk's deliveries are made (one of them on its second try).
    receiver.wait_for(4);
    let fixture_file = f.dir.path().join("portal-fixture.json");
    std::fs::write(&fixture_file, fixture.to_string()).unwrap();
    let screenshots = match std::env::var("KEYWAY_PORTAL_SCREENSHOTS") {
        Ok(dir) if !dir.is_empty() => workspace().join(dir),
        _ => f.dir.path().join("screenshots"),
    };
    std::fs::create_dir_all(&screenshots).unwrap();

    let run = run_node_tests(
        &workspace().join("server-stub/tests/portal"),
        "portal.test.mjs",
        &[
            ("PORTAL_URL", OsStr::new(&f.server().base)),
            ("PORTAL_FIXTURE", fixture_file.as_os_str()),
            ("PORTAL_SCREENSHOTS", screenshots.as_os_str()),
        ],
    )
    .expect("node and the browser run");
    let summary = run.summary("portal browser tests");
    println!("{summary}");
    assert!(run.ok(), "{summary}");

    // The browser saw every password, email and PIN; the server's log saw none.
    let log = f.server().log_lines().join("\n");
    for secret in [
        &fixture["manager"]["password"],
        &fixture["staff"]["password"],
        &fixture["resident"]["password"],
        &fixture["manager"]["email"],
        &fixture["recipient"]["email"],
        &fixture["manager_pin"],
    ] {
        let secret = secret.as_str().unwrap();
        assert!(
            !support::occurs(&log, secret),
            "the server's log holds a secret of the run"
        );
    }
}
