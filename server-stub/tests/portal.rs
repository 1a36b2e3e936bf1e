//! The Portal's defences, at the HTTP level against the real server (no
//! browser): the CSRF token and the origin on every post, idle and old
//! sessions, session fixation, sign-out and password changes ending
//! sessions, staff on managers' pages and forms, names escaped in every
//! page, the security headers, sign-in's answers, limits and work for known
//! and unknown addresses, residents refused, invitations, forms sent twice.

mod support;

use std::time::{Duration, Instant};

use keyway_server::admin;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::portal::{Browser, account, form_key, signed_in};
use support::{Fixture, eventually};

/// The property's carriers' names, as the API lists them.
fn carrier_names(f: &Fixture) -> Vec<String> {
    let (_, carriers) = f.get(&f.tokens["mia"], "/v1/manage/carriers");
    carriers
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

fn carrier_form<'a>(csrf: &'a str, idem: &'a str, name: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("idem", idem),
        ("name", name),
        ("mode", "generate"),
    ]
}

/// Runs SQL on the test's database (to age a session).
fn sql(f: &Fixture, statement: &str) {
    let inspector = f.db.inspect();
    inspector
        .block_on(sqlx::query(sqlx::AssertSqlSafe(statement.to_owned())).execute(&inspector.pool))
        .unwrap();
}

/// Waits, if needed, until a fixed 15-minute rate-limit window has more
/// than a minute left, so a test's attempts fall into one window.
fn inside_one_window() {
    let now = jiff::Timestamp::now().as_second();
    let left = 900 - now.rem_euclid(900);
    if left < 60 {
        std::thread::sleep(Duration::from_secs(u64::try_from(left).unwrap() + 1));
    }
}

#[test]
fn a_post_without_the_sessions_csrf_token_is_refused_and_changes_nothing() {
    let f = Fixture::new();
    let (mut mia, _) = signed_in(&f, "mia");
    let (mut sam, _) = signed_in(&f, "sam");
    let csrf = mia.session_csrf();
    let other_session = sam.session_csrf();
    let key = form_key();
    let wrong = "0".repeat(csrf.len());
    let without = vec![
        ("idem", key.as_str()),
        ("name", "No Token"),
        ("mode", "generate"),
    ];
    for fields in [
        without,
        carrier_form("", &key, "Empty Token"),
        carrier_form(&wrong, &key, "Wrong Token"),
        carrier_form(&other_session, &key, "Another Session's Token"),
    ] {
        let page = mia.post("/carriers", &fields);
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{fields:?}");
        assert!(page.body.contains("csrf_failed"), "{}", page.body);
    }
    // Sign-out is a form too.
    assert_eq!(mia.post("/sign-out", &[]).status, StatusCode::FORBIDDEN);
    assert!(carrier_names(&f).is_empty(), "nothing was created");
    assert_eq!(
        mia.get("/carriers").status,
        StatusCode::OK,
        "still signed in"
    );
    let page = mia.post("/carriers", &carrier_form(&csrf, &key, "Token Freight"));
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(carrier_names(&f), ["Token Freight"]);
}

#[test]
fn a_post_from_another_origin_is_refused_even_with_the_right_token() {
    let f = Fixture::new();
    let (mut mia, _) = signed_in(&f, "mia");
    let csrf = mia.session_csrf();
    let own = mia.base.clone();
    let elsewhere_on_this_host = own
        .rsplit_once(':')
        .map(|(host, _)| format!("{host}:1"))
        .unwrap();
    let refer_elsewhere = "http://evil.example/page".to_owned();
    let refused: Vec<Vec<(&str, &str)>> = vec![
        vec![("origin", "http://evil.example")],
        vec![("origin", "null")],
        vec![("origin", &elsewhere_on_this_host)],
        vec![],
        vec![("referer", &refer_elsewhere)],
        vec![("origin", &own), ("sec-fetch-site", "cross-site")],
        vec![("origin", &own), ("sec-fetch-site", "same-site")],
    ];
    for headers in refused {
        let key = form_key();
        let page = mia.post_with(
            "/carriers",
            &carrier_form(&csrf, &key, "Cross Site"),
            &headers,
        );
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{headers:?}");
    }
    assert!(carrier_names(&f).is_empty(), "nothing was created");
    let referer = format!("{own}/carriers");
    let key = form_key();
    let page = mia.post_with(
        "/carriers",
        &carrier_form(&csrf, &key, "Same Site"),
        &[("referer", &referer), ("sec-fetch-site", "same-origin")],
    );
    assert_eq!(
        page.status,
        StatusCode::SEE_OTHER,
        "a same-origin Referer is enough"
    );
    assert_eq!(carrier_names(&f), ["Same Site"]);
}

#[test]
fn an_idle_or_old_session_is_over_for_good() {
    let f = Fixture::new();
    let (mut idle, _) = signed_in(&f, "mia");
    assert_eq!(idle.get("/carriers").status, StatusCode::OK);
    sql(
        &f,
        "UPDATE portal_sessions SET last_seen_at = last_seen_at - 1801",
    );
    let page = idle.get("/carriers");
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/sign-in?next=%2Fcarriers"));
    // Ended, not just late: bringing its clock back does not revive it.
    sql(
        &f,
        "UPDATE portal_sessions SET last_seen_at = last_seen_at + 1801",
    );
    assert_eq!(idle.get("/carriers").status, StatusCode::SEE_OTHER);
    let csrf = idle.get("/sign-in").csrf();
    let key = form_key();
    let page = idle.post("/carriers", &carrier_form(&csrf, &key, "Late"));
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/sign-in"));

    let (mut old, _) = signed_in(&f, "mia");
    assert_eq!(old.get("/").status, StatusCode::OK);
    sql(
        &f,
        "UPDATE portal_sessions SET expires_at = created_at + 1 WHERE ended_at IS NULL",
    );
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(old.get("/").status, StatusCode::SEE_OTHER);
    assert!(carrier_names(&f).is_empty());
}

#[test]
fn a_session_cookie_from_before_sign_in_is_never_kept() {
    let f = Fixture::new();
    let mia = account(&f, "mia");
    // A value the attacker chose.
    let mut victim = Browser::new(&f.server().base);
    victim
        .cookies
        .insert("keyway_session".into(), "kwp_chosen_by_the_attacker".into());
    assert_eq!(
        victim.sign_in(&mia.email, &mia.password).status,
        StatusCode::SEE_OTHER
    );
    let issued = victim.session().unwrap();
    assert_ne!(issued, "kwp_chosen_by_the_attacker");
    let mut attacker = Browser::new(&f.server().base);
    attacker
        .cookies
        .insert("keyway_session".into(), "kwp_chosen_by_the_attacker".into());
    assert_eq!(attacker.get("/").status, StatusCode::SEE_OTHER);

    // A real session of the attacker's own, planted in the victim's browser:
    // signing in ends it and issues another.
    let (attacker, _) = signed_in(&f, "sam");
    let planted = attacker.session().unwrap();
    let mut victim = Browser::new(&f.server().base);
    victim
        .cookies
        .insert("keyway_session".into(), planted.clone());
    assert_eq!(
        victim.sign_in(&mia.email, &mia.password).status,
        StatusCode::SEE_OTHER
    );
    assert_ne!(victim.session().unwrap(), planted);
    let mut replay = Browser::new(&f.server().base);
    replay.cookies.insert("keyway_session".into(), planted);
    assert_eq!(
        replay.get("/").status,
        StatusCode::SEE_OTHER,
        "the planted session ended"
    );
}

#[test]
fn signing_out_or_a_new_password_ends_sessions_on_the_server() {
    let f = Fixture::new();
    let (mut mia, account) = signed_in(&f, "mia");
    let cookie = mia.session().unwrap();
    let csrf = mia.session_csrf();
    let page = mia.post("/sign-out", &[("csrf", &csrf)]);
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/sign-in?done=signed-out"));
    assert!(mia.session().is_none(), "the cookie is removed");
    let mut replay = Browser::new(&f.server().base);
    replay.cookies.insert("keyway_session".into(), cookie);
    assert_eq!(replay.get("/carriers").status, StatusCode::SEE_OTHER);

    // Two sessions; the operator sets a new password: both end.
    let mut one = Browser::new(&f.server().base);
    let mut two = Browser::new(&f.server().base);
    one.sign_in(&account.email, &account.password);
    two.sign_in(&account.email, &account.password);
    let admin = f.admin();
    let set = admin
        .run(admin::set_password(
            &admin.store,
            &account.user_id,
            None,
            "a brand new password",
        ))
        .unwrap();
    assert_eq!(set.sessions_ended, 2);
    assert_eq!(one.get("/").status, StatusCode::SEE_OTHER);
    assert_eq!(two.get("/").status, StatusCode::SEE_OTHER);

    // The user changes it in the Portal: every session ends, this one too.
    let mut this = Browser::new(&f.server().base);
    let mut other = Browser::new(&f.server().base);
    this.sign_in(&account.email, "a brand new password");
    other.sign_in(&account.email, "a brand new password");
    let csrf = this.session_csrf();
    let change = [
        ("csrf", csrf.as_str()),
        ("current", "a brand new password"),
        ("new", "the newest password of all"),
        ("confirm", "the newest password of all"),
    ];
    let page = this.post("/account/password", &change);
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    assert_eq!(this.get("/").status, StatusCode::SEE_OTHER);
    assert_eq!(other.get("/").status, StatusCode::SEE_OTHER);
    let mut again = Browser::new(&f.server().base);
    assert_eq!(
        again
            .sign_in(&account.email, "the newest password of all")
            .status,
        StatusCode::SEE_OTHER
    );
}

#[test]
fn staff_cannot_use_managers_pages_or_forms() {
    let f = Fixture::new();
    let mia_token = f.tokens["mia"].clone();
    let mia_pin = f.ok(
        &mia_token,
        Method::PUT,
        &format!("/v1/manage/staff/{}/pin", f.users["mia"]),
        json!({"mode": "generate"}),
    );
    let alice = f.login("alice", "phone");
    let unit_code = f.ok(
        &alice,
        Method::POST,
        "/v1/codes",
        json!({"kind": "resident", "mode": "generate"}),
    );
    let (_, policy_before) = f.get(&mia_token, "/v1/manage/policy");
    let (mut sam, _) = signed_in(&f, "sam");
    let csrf = sam.session_csrf();
    assert_eq!(sam.get("/policy/edit").status, StatusCode::FORBIDDEN);
    let policy = [
        ("csrf", csrf.as_str()),
        ("idem", "k-policy"),
        ("six_digit_codes", "on"),
        ("affiliated", ""),
        ("one_time_pin_length", "8"),
    ];
    assert_eq!(sam.post("/policy", &policy).status, StatusCode::FORBIDDEN);
    let mia_page = format!("/staff/{}", f.users["mia"]);
    assert_eq!(sam.get(&mia_page).status, StatusCode::FORBIDDEN);
    let pin = [
        ("csrf", csrf.as_str()),
        ("idem", "k-pin"),
        ("mode", "generate"),
    ];
    assert_eq!(
        sam.post(&format!("{mia_page}/pin"), &pin).status,
        StatusCode::FORBIDDEN
    );
    for action in ["disable", "delete"] {
        let path = format!("/codes/{}/{action}", mia_pin["id"].as_str().unwrap());
        let key = form_key();
        let fields = [("csrf", csrf.as_str()), ("idem", key.as_str())];
        assert_eq!(
            sam.post(&path, &fields).status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
        let path = format!("/codes/{}/{action}", unit_code["id"].as_str().unwrap());
        assert_eq!(
            sam.post(&path, &fields).status,
            StatusCode::FORBIDDEN,
            "{path}"
        );
    }
    // Nothing changed.
    let (_, policy_after) = f.get(&mia_token, "/v1/manage/policy");
    assert_eq!(policy_after, policy_before);
    let (_, pin_after) = f.get(
        &mia_token,
        &format!("/v1/codes/{}", mia_pin["id"].as_str().unwrap()),
    );
    assert_eq!(pin_after["value"], mia_pin["value"]);
    assert_eq!(pin_after["status"], "active");
    let (_, code_after) = f.get(
        &mia_token,
        &format!("/v1/codes/{}", unit_code["id"].as_str().unwrap()),
    );
    assert_eq!(code_after["status"], "active");
    // The manager may.
    let (mut mia, _) = signed_in(&f, "mia");
    assert_eq!(mia.get("/policy/edit").status, StatusCode::OK);
}

#[test]
fn names_and_queries_are_escaped_in_every_page() {
    let f = Fixture::new();
    let evil = r#"<script>alert(1)</script><img src=x onerror="alert(2)">"#;
    let token = f.tokens["mia"].clone();
    f.ok(
        &token,
        Method::POST,
        "/v1/manage/carriers",
        json!({"name": evil, "mode": "generate"}),
    );
    let courier = f.ok(
        &token,
        Method::POST,
        "/v1/manage/couriers",
        json!({"name": evil}),
    );
    let recipient = f.ok(
        &token,
        Method::POST,
        "/v1/manage/recipients",
        json!({"name": evil, "email": "evil@example.com"}),
    );
    let (mut mia, _) = signed_in(&f, "mia");
    let courier_page = format!("/couriers/{}", courier["id"].as_str().unwrap());
    let recipient_page = format!("/recipients/{}", recipient["id"].as_str().unwrap());
    for path in [
        "/carriers",
        "/couriers",
        courier_page.as_str(),
        "/recipients",
        recipient_page.as_str(),
        "/one-time-pin",
        "/recipients?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
        "/one-time-pin?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E",
    ] {
        let page = mia.get(path);
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert!(
            !page.body.contains("<script>alert"),
            "{path} lets a script through"
        );
        assert!(
            !page.body.contains("<img src=x"),
            "{path} lets markup through"
        );
        assert!(
            page.body
                .contains("&#60;script&#62;alert(1)&#60;/script&#62;"),
            "{path}"
        );
    }
    let mut anonymous = Browser::new(&f.server().base);
    let page = anonymous.get("/set-password?token=%22%3E%3Cscript%3Ealert(3)%3C%2Fscript%3E");
    assert!(!page.body.contains("<script>alert(3)"));
    let page = anonymous.get("/sign-in?next=%22%3E%3Cscript%3Ealert(4)%3C%2Fscript%3E");
    assert!(!page.body.contains("<script>alert(4)"));
}

#[test]
fn every_portal_answer_carries_the_security_headers() {
    let f = Fixture::new();
    let csp = keyway_server::portal::page::CONTENT_SECURITY_POLICY;
    let (mut mia, _) = signed_in(&f, "mia");
    let mut anonymous = Browser::new(&f.server().base);
    let pages = [
        ("/sign-in", anonymous.get("/sign-in"), true),
        ("/ anonymous", anonymous.get("/"), true),
        ("/no-such-page", anonymous.get("/no-such-page"), true),
        (
            "/assets/portal.css",
            anonymous.get("/assets/portal.css"),
            false,
        ),
        (
            "POST /carriers anonymous",
            anonymous.post("/carriers", &[]),
            true,
        ),
        ("/carriers", mia.get("/carriers"), true),
        ("/policy/edit", mia.get("/policy/edit"), true),
        ("/couriers/nope", mia.get("/couriers/nope"), true),
    ];
    for (what, page, data) in pages {
        let header = |name: &str| {
            page.headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("")
        };
        assert_eq!(header("content-security-policy"), csp, "{what}");
        assert_eq!(header("x-content-type-options"), "nosniff", "{what}");
        assert_eq!(header("referrer-policy"), "same-origin", "{what}");
        assert_eq!(header("x-frame-options"), "DENY", "{what}");
        if data {
            assert_eq!(header("cache-control"), "no-store", "{what}");
        }
    }
    for policy in [
        "default-src 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(policy));
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    // No inline script or style anywhere in a page (the CSP would block it).
    let page = mia.get("/couriers");
    assert!(
        !page.body.contains("<script>")
            && !page.body.contains(" style=")
            && !page.body.contains("onclick")
    );
    // The cookie's attributes.
    let mut fresh = Browser::new(&f.server().base);
    let form = fresh.get("/sign-in");
    let account = support::portal::account(&f, "sam");
    let page = fresh.post(
        "/sign-in",
        &[
            ("csrf", &form.csrf()),
            ("email", &account.email),
            ("password", &account.password),
        ],
    );
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("keyway_session="))
        .unwrap();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    assert!(
        !cookie.contains("Secure"),
        "plain HTTP without a trusted proxy: {cookie}"
    );
}

#[test]
fn behind_a_trusted_proxy_that_says_https_the_cookie_is_secure() {
    let f = Fixture::with_env(&[("KEYWAY_TRUSTED_PROXIES", "127.0.0.1")]);
    let account = account(&f, "mia");
    let mut browser = Browser::new(&f.server().base);
    let form = browser.get("/sign-in");
    let host = browser.base.trim_start_matches("http://").to_owned();
    let page = browser.post_with(
        "/sign-in",
        &[
            ("csrf", &form.csrf()),
            ("email", &account.email),
            ("password", &account.password),
        ],
        &[
            ("origin", &format!("https://{host}")),
            ("x-forwarded-proto", "https"),
        ],
    );
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.body);
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("keyway_session="))
        .unwrap();
    assert!(cookie.contains("Secure"), "{cookie}");
}

#[test]
fn sign_in_answers_alike_for_unknown_addresses_and_wrong_passwords() {
    let f = Fixture::new();
    let mia = account(&f, "mia");
    let mut browser = Browser::new(&f.server().base);
    let csrf = browser.get("/sign-in").csrf();
    let attempt = |browser: &mut Browser, email: &str, password: &str| {
        let started = Instant::now();
        let page = browser.post(
            "/sign-in",
            &[("csrf", &csrf), ("email", email), ("password", password)],
        );
        (page, started.elapsed())
    };
    let (known, _) = attempt(&mut browser, &mia.email, "not the password");
    let (unknown, _) = attempt(&mut browser, "nobody@keyway.example", "not the password");
    assert_eq!(known.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        known.body.replace(&mia.email, "EMAIL"),
        unknown.body.replace("nobody@keyway.example", "EMAIL"),
        "the same page for both"
    );
    // The same work: an unknown address is checked against a decoy hash.
    let mut known_times = Vec::new();
    let mut unknown_times = Vec::new();
    for i in 0..5 {
        known_times.push(attempt(&mut browser, &mia.email, &format!("wrong {i}")).1);
        unknown_times.push(attempt(&mut browser, &format!("nobody{i}@keyway.example"), "x").1);
    }
    known_times.sort();
    unknown_times.sort();
    let (known, unknown) = (known_times[2], unknown_times[2]);
    assert!(
        unknown.as_secs_f64() > 0.3 * known.as_secs_f64(),
        "an unknown address answers in {unknown:?}, a known one in {known:?}"
    );
}

#[test]
fn sign_in_failures_are_limited_per_account_known_or_not() {
    inside_one_window();
    let f = Fixture::new();
    let mia = account(&f, "mia");
    let mut browser = Browser::new(&f.server().base);
    for _ in 0..12 {
        assert_eq!(
            browser.sign_in(&mia.email, &mia.password).status,
            StatusCode::SEE_OTHER,
            "successes do not count"
        );
    }
    for email in [mia.email.as_str(), "nobody@keyway.example"] {
        for i in 0..10 {
            let page = browser.sign_in(email, &format!("wrong {i}"));
            assert_eq!(page.status, StatusCode::UNAUTHORIZED, "{email} attempt {i}");
        }
        let page = browser.sign_in(email, &mia.password);
        assert_eq!(page.status, StatusCode::TOO_MANY_REQUESTS, "{email}");
        assert!(page.headers.contains_key("retry-after"));
        assert!(page.body.contains("rate_limited"));
    }
}

#[test]
fn a_resident_is_refused_in_words_and_gets_no_session() {
    let f = Fixture::new();
    let alice = account(&f, "alice");
    let mut browser = Browser::new(&f.server().base);
    let page = browser.sign_in(&alice.email, "not her password");
    assert_eq!(
        page.status,
        StatusCode::UNAUTHORIZED,
        "the role is told only to the password's holder"
    );
    let page = browser.sign_in(&alice.email, &alice.password);
    assert_eq!(page.status, StatusCode::FORBIDDEN);
    assert!(page.body.contains("Keyway app"), "{}", page.body);
    assert!(page.body.contains("portal_not_for_residents"));
    assert!(browser.session().is_none());
    let admin = f.admin();
    let spec = admin::accounts::InviteSpec {
        user_id: alice.user_id.clone(),
        email: None,
        portal_url: f.server().base.clone(),
        valid_hours: 1,
    };
    assert!(
        admin.run(admin::invite_user(&admin.store, &spec)).is_err(),
        "no invitation for a resident"
    );
}

/// The set-password link an invitation delivered to `email`.
fn delivered_link(f: &Fixture, email: &str) -> String {
    eventually("the invitation's delivery", || {
        f.delivery_log().iter().rev().find_map(|line: &Value| {
            (line["to"] == email).then_some(())?;
            let body = line["body"].as_str()?;
            let at = body.find("/set-password?token=")?;
            Some(body[at..].split_whitespace().next()?.to_owned())
        })
    })
}

#[test]
fn an_invitation_sets_a_password_once() {
    let f = Fixture::new();
    let admin = f.admin();
    let spec = admin::accounts::InviteSpec {
        user_id: f.users["sam"].clone(),
        email: Some("sam@keyway.example".into()),
        portal_url: f.server().base.clone(),
        valid_hours: 1,
    };
    admin.run(admin::invite_user(&admin.store, &spec)).unwrap();
    let link = delivered_link(&f, "sam@keyway.example");
    let token = link.split("token=").nth(1).unwrap().to_owned();
    let mut browser = Browser::new(&f.server().base);
    let form = browser.get(&link);
    assert_eq!(form.status, StatusCode::OK);
    let csrf = form.csrf();
    let set = |browser: &mut Browser, password: &str, confirm: &str| {
        browser.post(
            "/set-password",
            &[
                ("csrf", &csrf),
                ("token", &token),
                ("password", password),
                ("confirm", confirm),
            ],
        )
    };
    let page = set(&mut browser, "sams new password", "sams other password");
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("passwords_differ"));
    let page = set(&mut browser, "short", "short");
    assert!(page.body.contains("weak_password"));
    let page = set(&mut browser, "sams new password", "sams new password");
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    assert_eq!(page.location(), Some("/sign-in?done=password-set"));
    assert_eq!(
        browser
            .sign_in("sam@keyway.example", "sams new password")
            .status,
        StatusCode::SEE_OTHER
    );
    // Once.
    let mut again = Browser::new(&f.server().base);
    assert_eq!(again.get(&link).status, StatusCode::GONE);
    let csrf = again.get("/sign-in").csrf();
    let page = again.post(
        "/set-password",
        &[
            ("csrf", &csrf),
            ("token", &token),
            ("password", "an attackers password"),
            ("confirm", "an attackers password"),
        ],
    );
    assert_eq!(page.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(page.body.contains("link_invalid"));
    assert!(
        !support::occurs(&f.server().log_lines().join("\n"), &token),
        "the link is in no log line"
    );
}

#[test]
fn a_form_sent_twice_does_its_work_once() {
    let f = Fixture::new();
    let (mut mia, _) = signed_in(&f, "mia");
    let csrf = mia.session_csrf();
    let key = form_key();
    let first = mia.post("/carriers", &carrier_form(&csrf, &key, "Twice Freight"));
    let second = mia.post("/carriers", &carrier_form(&csrf, &key, "Twice Freight"));
    assert_eq!(first.status, StatusCode::SEE_OTHER);
    assert_eq!(
        first.location(),
        second.location(),
        "the first answer again"
    );
    assert_eq!(carrier_names(&f), ["Twice Freight"]);
    // Malformed forms are refused with a code, and change nothing.
    let page = mia.post("/carriers", &[("csrf", &csrf), ("idem", &form_key())]);
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert!(page.body.contains("invalid_request"));
    let page = mia.post(
        "/carriers",
        &[("csrf", &csrf), ("name", "No Key"), ("mode", "generate")],
    );
    assert_eq!(
        page.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "shown at the form"
    );
    assert!(page.body.contains("form is out of date"));
    let page = mia.post(
        "/carriers",
        &[
            ("csrf", &csrf),
            ("idem", &form_key()),
            ("name", "Nul\0Freight"),
            ("mode", "generate"),
        ],
    );
    assert_eq!(page.status, StatusCode::BAD_REQUEST);
    assert_eq!(carrier_names(&f), ["Twice Freight"]);
}
