//! Signed webhooks against the real server, its delivery worker, the real
//! lock firmware and a real local receiver: each event a manager's webhook
//! follows is POSTed with a signature the receiver verifies; a receiver
//! that answers 500 gets the delivery again after the backoff, and the
//! delivery log shows every attempt. A manager sees, changes and receives
//! only their own property's webhooks and events; residents and staff
//! manage none; URLs on loopback, private and link-local networks are
//! refused unless the operator allows them (docs/security.md, "Webhooks").

mod support;

use std::time::Duration;

use jiff::Timestamp;
use keyway_lock::{Entry, Lock};
use keyway_server::webhooks::sign::verify;
use keyway_testkit::receiver::{Received, WebhookReceiver};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::{Fixture, eventually, occurs, visit};

/// A server whose webhooks may call this machine over plain http, with a
/// quick worker and a 200 ms first retry.
fn fixture() -> Fixture {
    Fixture::with_env(&[
        ("KEYWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP", "true"),
        ("KEYWAY_WEBHOOK_INTERVAL_MS", "50"),
        ("KEYWAY_WEBHOOK_BACKOFF_MS", "200"),
    ])
}

fn granted(lock: &mut Lock, digits: &str) -> bool {
    matches!(
        lock.enter_code(digits, Timestamp::now()),
        Some(Entry::Granted { .. })
    )
}

fn webhook(f: &Fixture, who: &str, url: &str, events: &[&str]) -> Value {
    let (status, hook) = f.write(
        &f.tokens[who],
        Method::POST,
        "/v1/manage/webhooks",
        json!({"url": url, "events": events, "description": "Front desk"}),
    );
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    hook
}

fn of_type<'a>(received: &'a [Received], event: &str) -> Vec<&'a Received> {
    received.iter().filter(|r| r.event == event).collect()
}

fn head(f: &Fixture) -> i64 {
    let rows: Vec<(i64,)> = f.db.inspect().rows(&format!(
        "SELECT change_seq FROM properties WHERE id = '{}'",
        f.property
    ));
    rows[0].0
}

#[test]
fn a_signed_event_reaches_the_receiver_and_a_failed_delivery_is_tried_again() {
    let f = fixture();
    let receiver = WebhookReceiver::start(&[500]).unwrap();
    let hook = webhook(&f, "mia", &receiver.url, &["code.created", "code.used"]);
    let secret = hook["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{hook}");
    // The secret is shown once: never in the list, sealed at rest.
    let (_, list) = f.get(&f.tokens["mia"], "/v1/manage/webhooks");
    assert_eq!(list["webhooks"].as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains(&secret));
    let stored: Vec<(String,)> = f.db.inspect().rows("SELECT secret FROM webhooks");
    assert!(stored[0].0.starts_with("c1:") && !stored[0].0.contains(&secret[6..]));

    let alice = f.login("alice", "phone");
    let mut unit = f.firmware(&f.lock_4b);
    let code = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "guest", "mode": "generate", "name": "Dog walker"}),
    );
    let digits = code["value"].as_str().unwrap().to_owned();
    // code.created: answered 500, then delivered on the retry.
    let got = receiver.wait_for(2);
    let created = of_type(&got, "code.created");
    assert_eq!(created.len(), 2, "{got:?}");
    assert_eq!(
        created[0].delivery, created[1].delivery,
        "the same delivery again"
    );
    assert_eq!((created[0].status, created[1].status), (500, 200));
    let waited = created[1].at - created[0].at;
    assert!(
        waited >= Duration::from_millis(90),
        "the backoff: {waited:?}"
    );
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    let now = Timestamp::now().as_second();
    for r in &created {
        assert!(
            verify(secret.as_bytes(), &r.signature, &r.body, now, 300),
            "{r:?}"
        );
        assert!(!verify(b"whsec_wrong", &r.signature, &r.body, now, 300));
    }
    let body: Value = serde_json::from_str(&created[1].body).unwrap();
    assert_eq!(body["type"], "code.created");
    assert_eq!(body["data"]["code"]["name"], "Dog walker");
    assert_eq!(body["data"]["code"]["id"], code["id"]);

    // The code opens the door; a phone carries the event: code.used.
    visit(&f, &alice, &mut unit);
    assert!(granted(&mut unit, &digits));
    visit(&f, &alice, &mut unit);
    let got = receiver.wait_for(3);
    let used = of_type(&got, "code.used");
    assert_eq!(used.len(), 1, "{got:?}");
    assert!(verify(
        secret.as_bytes(),
        &used[0].signature,
        &used[0].body,
        Timestamp::now().as_second(),
        300
    ));
    let body: Value = serde_json::from_str(&used[0].body).unwrap();
    assert_eq!(body["data"]["use"]["code"]["name"], "Dog walker");
    assert_eq!(body["data"]["use"]["lock"]["name"], "Unit 4B");
    assert_eq!(body["data"]["use"]["kind"], "code_used");
    for r in &got {
        assert!(
            !occurs(&r.body, &digits),
            "digits in a webhook body: {}",
            r.body
        );
    }

    // The delivery log: every attempt, with its status, error and next try.
    let path = format!(
        "/v1/manage/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let log = eventually("the log of the delivered code.used", || {
        let (_, log) = f.get(&f.tokens["mia"], &path);
        let all = log["deliveries"].as_array()?.clone();
        all.iter()
            .all(|d| d["status"] == "delivered")
            .then_some(all)
    });
    let created = log
        .iter()
        .find(|d| d["event_type"] == "code.created")
        .unwrap();
    let attempts = created["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{created}");
    assert_eq!(attempts[0]["status_code"], 500);
    assert_eq!(attempts[0]["error"], "http_status");
    assert!(attempts[0]["next_attempt_at"].is_string());
    assert_eq!(attempts[1]["status_code"], 200);
    assert!(attempts[1]["error"].is_null() && attempts[1]["next_attempt_at"].is_null());
    assert!(attempts.iter().all(|a| a["duration_ms"].is_u64()));

    // Nothing of the secret or the URL's port in the server's log.
    let port = receiver
        .url
        .rsplit(':')
        .next()
        .unwrap()
        .trim_end_matches("/hook")
        .to_owned();
    for line in f.server().log_lines() {
        assert!(
            !line.contains(&secret[6..]),
            "the secret in the log: {line}"
        );
        assert!(
            !line.contains(&format!(":{port}")),
            "the webhook URL in the log: {line}"
        );
    }
}

#[test]
fn a_receiver_that_keeps_failing_is_given_up_and_a_deleted_webhook_gets_nothing() {
    let f = Fixture::with_env(&[
        ("KEYWAY_WEBHOOKS_ALLOW_LOOPBACK_HTTP", "true"),
        ("KEYWAY_WEBHOOK_INTERVAL_MS", "50"),
        ("KEYWAY_WEBHOOK_BACKOFF_MS", "50"),
        ("KEYWAY_WEBHOOK_MAX_ATTEMPTS", "3"),
    ]);
    let receiver = WebhookReceiver::start(&[500, 503, 500, 500, 500]).unwrap();
    let hook = webhook(&f, "mia", &receiver.url, &["code.created"]);
    let alice = f.login("alice", "phone");
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let path = format!(
        "/v1/manage/webhooks/{}/deliveries",
        hook["id"].as_str().unwrap()
    );
    let given_up = eventually("the delivery given up", || {
        let (_, log) = f.get(&f.tokens["mia"], &path);
        let first = log["deliveries"].as_array()?.first()?.clone();
        (first["status"] == "failed").then_some(first)
    });
    let attempts = given_up["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 3, "{given_up}");
    assert!(attempts[2]["next_attempt_at"].is_null());
    assert_eq!(receiver.received().len(), 3);
    // Deleted: later events are not written for it.
    f.ok(
        &f.tokens["mia"],
        Method::DELETE,
        &format!("/v1/manage/webhooks/{}", hook["id"].as_str().unwrap()),
        json!({}),
    );
    f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    std::thread::sleep(Duration::from_millis(400));
    assert_eq!(receiver.received().len(), 3);
    let (_, list) = f.get(&f.tokens["mia"], "/v1/manage/webhooks");
    assert!(list["webhooks"].as_array().unwrap().is_empty());
}

#[test]
fn a_manager_sees_changes_and_receives_only_their_own_propertys_webhooks() {
    let f = fixture();
    let ours = WebhookReceiver::start(&[]).unwrap();
    let theirs = WebhookReceiver::start(&[]).unwrap();
    let hook = webhook(&f, "mia", &ours.url, &["code.created"]);
    let foreign = webhook(&f, "zed", &theirs.url, &["code.created", "code.used"]);
    let id = hook["id"].as_str().unwrap();
    let zed = &f.tokens["zed"];
    // Zed's list has only Zed's; Mia's webhook is not found for Zed.
    let (_, list) = f.get(zed, "/v1/manage/webhooks");
    let ids: Vec<&str> = list["webhooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [foreign["id"].as_str().unwrap()]);
    let (status, _) = f.get(zed, &format!("/v1/manage/webhooks/{id}/deliveries"));
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = f.write(
        zed,
        Method::DELETE,
        &format!("/v1/manage/webhooks/{id}"),
        json!({}),
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Residents and staff manage none.
    for who in ["alice", "sam"] {
        let token = &f.tokens[who];
        let (status, _) = f.get(token, "/v1/manage/webhooks");
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
        let (status, _) = f.write(
            token,
            Method::POST,
            "/v1/manage/webhooks",
            json!({"url": ours.url, "events": ["code.used"]}),
        );
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
        let (status, _) = f.get(token, &format!("/v1/manage/webhooks/{id}/deliveries"));
        assert_eq!(status, StatusCode::FORBIDDEN, "{who}");
    }
    // Maple Court's event goes to Maple Court's receiver only.
    f.ok(
        &f.tokens["alice"],
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    assert_eq!(ours.wait_for(1).len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(theirs.received().is_empty(), "{:?}", theirs.received());
    // And the other property's event to theirs only.
    f.ok(
        &f.tokens["yan"],
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    assert_eq!(theirs.wait_for(1).len(), 1);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(ours.received().len(), 1);
}

#[test]
fn urls_on_loopback_private_or_link_local_networks_are_refused_and_change_nothing() {
    // The default server: https only, public addresses only.
    let f = Fixture::new();
    let receiver = WebhookReceiver::start(&[]).unwrap();
    let before = head(&f);
    let port = receiver.url.rsplit(':').next().unwrap();
    for url in [
        receiver.url.clone(),
        format!("https://127.0.0.1:{port}"),
        "https://localhost/hook".to_owned(),
        "https://[::1]/hook".to_owned(),
        "https://169.254.169.254/latest/meta-data/".to_owned(),
        "https://10.0.0.7/hook".to_owned(),
        "https://192.168.1.20/hook".to_owned(),
        "https://[fd00::7]/hook".to_owned(),
        "https://[::ffff:127.0.0.1]/hook".to_owned(),
        "https://0.0.0.0/hook".to_owned(),
        "http://hooks.example.org/hook".to_owned(),
        "https://user:pass@hooks.example.org/hook".to_owned(),
        "ftp://hooks.example.org/hook".to_owned(),
    ] {
        let (status, answer) = f.write(
            &f.tokens["mia"],
            Method::POST,
            "/v1/manage/webhooks",
            json!({"url": url, "events": ["code.used"]}),
        );
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{url}: {answer}");
        assert_eq!(answer["code"], "webhook_url_refused", "{url}");
    }
    let (status, _) = f.write(
        &f.tokens["mia"],
        Method::POST,
        "/v1/manage/webhooks",
        json!({"url": "https://93.184.215.14/hook", "events": []}),
    );
    assert_eq!(status, StatusCode::BAD_REQUEST, "at least one event");
    assert_eq!(head(&f), before, "a refused webhook writes nothing");
    let (_, list) = f.get(&f.tokens["mia"], "/v1/manage/webhooks");
    assert!(list["webhooks"].as_array().unwrap().is_empty());
    assert!(receiver.received().is_empty());
}

#[test]
fn the_portal_page_adds_shows_the_secret_once_logs_and_deletes() {
    let f = fixture();
    let receiver = WebhookReceiver::start(&[500]).unwrap();
    let (mut mia, _) = support::portal::signed_in(&f, "mia");
    let csrf = mia.session_csrf();
    let page = mia.get("/webhooks");
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("No webhooks yet."));
    let idem = page.field("idem").unwrap();
    let form = [
        ("csrf", csrf.as_str()),
        ("idem", idem.as_str()),
        ("url", receiver.url.as_str()),
        ("description", "Front <desk>"),
        ("ev_code_created", "on"),
    ];
    // Without the session's token: refused, nothing added.
    let forged = [
        ("csrf", "forged"),
        ("idem", "k-1"),
        ("url", receiver.url.as_str()),
        ("ev_code_created", "on"),
    ];
    assert_eq!(mia.post("/webhooks", &forged).status, StatusCode::FORBIDDEN);
    let added = mia.post("/webhooks", &form);
    assert_eq!(added.status, StatusCode::OK, "{}", added.body);
    let secret = added
        .body
        .split("class=\"secret-value\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .unwrap()
        .to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(added.body.contains("Front &#60;desk&#62;"), "escaped");
    // Shown once: not on the list again, nor on the log page.
    let list = mia.get("/webhooks");
    assert!(!list.body.contains(&secret));
    let (_, hooks) = f.get(&f.tokens["mia"], "/v1/manage/webhooks");
    let id = hooks["webhooks"][0]["id"].as_str().unwrap().to_owned();
    // An event, refused once by the receiver, then delivered: the log shows both.
    f.ok(
        &f.tokens["alice"],
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let got = receiver.wait_for(2);
    assert!(verify(
        secret.as_bytes(),
        &got[1].signature,
        &got[1].body,
        Timestamp::now().as_second(),
        300
    ));
    let log = eventually("the log page with both attempts", || {
        let page = mia.get(&format!("/webhooks/{id}"));
        page.body.contains("200, ").then_some(page)
    });
    assert!(log.body.contains("500 (http_status)"), "{}", log.body);
    assert!(log.body.contains("code.created"));
    assert!(!log.body.contains(&secret));
    // Staff see neither the page nor the link to it.
    let (mut sam, _) = support::portal::signed_in(&f, "sam");
    assert_eq!(sam.get("/webhooks").status, StatusCode::FORBIDDEN);
    assert!(!sam.get("/").body.contains("href=\"/webhooks\""));
    assert!(mia.get("/").body.contains("href=\"/webhooks\""));
    // Delete.
    let idem = mia.get(&format!("/webhooks/{id}")).field("idem").unwrap();
    let deleted = mia.post(
        &format!("/webhooks/{id}/delete"),
        &[("csrf", &csrf), ("idem", &idem)],
    );
    assert_eq!(deleted.status, StatusCode::SEE_OTHER);
    assert!(mia.get("/webhooks").body.contains("No webhooks yet."));
}
