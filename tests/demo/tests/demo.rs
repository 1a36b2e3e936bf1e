//! The demo binary as a user runs it: every step behaves (the last ones:
//! codes for a door no phone has reached), the files it promises are
//! written (the delivery log with the notice of use Alice asked for), and
//! the Portal it prints takes the manager's sign-in it prints (with
//! `--portal` the server stays up until Ctrl-C).

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use serde_json::Value;

/// The value of the sign-in form's token in the page.
fn csrf(page: &str) -> String {
    let at = page.find("name=\"csrf\"").expect("a form token");
    let rest = &page[at..];
    let tag = &rest[..rest.find('>').expect("the tag ends")];
    let value = tag.split("value=\"").nth(1).expect("a value");
    value[..value.find('"').expect("the value ends")].to_owned()
}

/// Signs in through the Portal's form as a browser does; the answer's
/// status and whether a session cookie came with it.
fn sign_in(portal: &str, email: &str, password: &str) -> (StatusCode, bool) {
    let http = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let base = portal.trim_end_matches('/');
    let form = http.get(format!("{base}/sign-in")).send().unwrap();
    let cookies: Vec<String> = form
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let token = csrf(&form.text().unwrap());
    let body = serde_urlencoded::to_string([
        ("csrf", token.as_str()),
        ("email", email),
        ("password", password),
    ])
    .unwrap();
    let answer = http
        .post(format!("{base}/sign-in"))
        .header("cookie", cookies.join("; "))
        .header("origin", base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .unwrap();
    let session = answer
        .headers()
        .get_all("set-cookie")
        .iter()
        .any(|v| v.to_str().is_ok_and(|v| v.starts_with("keyway_session=")));
    (answer.status(), session)
}

#[test]
fn the_demo_plays_every_step_and_its_portal_takes_the_printed_sign_in() {
    let out_dir = tempfile::tempdir().unwrap();
    let mut demo = Command::new(env!("CARGO_BIN_EXE_keyway-demo"))
        .args(["--json", "--portal", "--out-dir"])
        .arg(out_dir.path())
        .env("KEYWAY_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("keyway-demo runs");
    let stdout = demo.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout);
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    let report: Value =
        serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("demo output ({e}): {line}"));
    assert_eq!(report["ok"], true, "{report}");
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 14, "{report}");
    assert!(report["checks"].as_u64().unwrap() >= 50, "{report}");
    // The last four steps: codes for a door no phone has reached, each
    // with every one of its checks passed.
    let titles: Vec<&str> = steps.iter().map(|s| s["title"].as_str().unwrap()).collect();
    for (step, says) in [
        (10, "two backup codes"),
        (11, "works offline"),
        (12, "a backup code opens it once"),
        (13, "told of both uses"),
    ] {
        assert!(
            titles[step].contains(says),
            "step {}: {}",
            step + 1,
            titles[step]
        );
        assert_eq!(steps[step]["ok"], true, "{}", steps[step]);
        assert!(
            steps[step]["checks"].as_array().unwrap().len() >= 2,
            "{}",
            steps[step]
        );
    }
    assert!(out_dir.path().join("courier-qr.svg").is_file());
    assert!(out_dir.path().join("courier-qr.png").is_file());
    let log = std::fs::read_to_string(out_dir.path().join("deliveries.jsonl")).unwrap();
    let sent: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        sent.len(),
        3,
        "Bob's PIN by email and SMS, Alice's notice of use: {log}"
    );
    let notice: Vec<&Value> = sent
        .iter()
        .filter(|m| m["to"] == "alice@example.org")
        .collect();
    assert_eq!(notice.len(), 1, "{log}");
    assert_eq!(notice[0]["channel"], "email");
    let body = notice[0]["body"].as_str().unwrap();
    assert!(
        body.starts_with("Dog walker's code opened Unit 4B at "),
        "{body}"
    );

    // The server is still up: the printed sign-in opens the Portal.
    let portal = &report["portal"];
    let url = portal["url"].as_str().unwrap();
    let email = portal["email"].as_str().unwrap();
    let password = portal["password"].as_str().unwrap();
    assert_eq!(
        sign_in(url, email, password),
        (StatusCode::SEE_OTHER, true),
        "the printed sign-in works"
    );
    let (status, session) = sign_in(url, email, "not the password at all");
    assert!(!session, "a wrong password gets no session ({status})");

    // The bench serves the same locks, with Alice's phone core.
    let mut line = String::new();
    lines.read_line(&mut line).unwrap();
    let bench: Value = serde_json::from_str(line.trim()).unwrap_or_else(|e| panic!("{e}: {line}"));
    let page = reqwest::blocking::get(bench["bench"].as_str().unwrap())
        .unwrap()
        .text()
        .unwrap();
    for shown in [
        "Unit 4B",
        "Main entrance",
        "Package room",
        "Alice",
        "Generate a code",
    ] {
        assert!(page.contains(shown), "the bench shows {shown}");
    }

    // Ctrl-C ends it cleanly.
    rustix::process::kill_process(
        rustix::process::Pid::from_child(&demo),
        rustix::process::Signal::INT,
    )
    .unwrap();
    let status = demo.wait().unwrap();
    assert!(status.success(), "{status}");
}
