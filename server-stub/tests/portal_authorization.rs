//! Who may do what in the Portal: the Portal's authorization table of
//! `docs/security.md`, parsed from that file and called cell by cell, as
//! signed-in staff and managers and without a session, against the real
//! server. The table must name every route of the Portal's router
//! (`server-stub/src/portal/mod.rs`); a refused post must change nothing.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::portal::{Browser, Page, account, form_key};
use support::table::{Digits, Row};
use support::{Fixture, eventually, occurs};

const ROLES: [&str; 3] = ["anonymous", "staff", "manager"];

/// An object a cell acts on: the id its path takes, the id of its code
/// (for the code actions), a form field it needs, and the digits the page
/// may show.
#[derive(Default)]
struct Object {
    path_id: Option<String>,
    code_id: Option<String>,
    field: Option<(&'static str, String)>,
    digits: Option<String>,
}

fn path(id: &str) -> Object {
    Object {
        path_id: Some(id.to_owned()),
        ..Object::default()
    }
}

/// An object at `id` (a JSON string, or null) holding the code view `code`.
fn with_code(id: &Value, code: &Value) -> Object {
    Object {
        path_id: id.as_str().map(str::to_owned),
        code_id: code["id"].as_str().map(str::to_owned),
        digits: code["value"].as_str().map(str::to_owned),
        field: None,
    }
}

/// The fixture, a second manager, the browsers of each role, and links.
struct World {
    f: Fixture,
    max: String,
    mia_email: String,
    unused_link: String,
    used_link: String,
}

impl World {
    fn ok(&self, who: &str, method: Method, path: &str, body: Value) -> Value {
        self.f.ok(&self.f.tokens[who], method, path, body)
    }

    fn staff_pin(&self, user: &str) -> Value {
        self.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/staff/{user}/pin"),
            json!({"mode": "generate"}),
        )
    }

    fn code(value: &Value) -> Option<String> {
        value["value"].as_str().map(str::to_owned)
    }

    fn courier(&self, who: &str) -> (String, Option<Value>) {
        let id = self.ok(
            who,
            Method::POST,
            "/v1/manage/couriers",
            json!({"name": "Route 9"}),
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let pin = (who == "mia").then(|| {
            self.ok(
                "mia",
                Method::PUT,
                &format!("/v1/manage/couriers/{id}/pin"),
                json!({"mode": "generate"}),
            )
        });
        (id, pin)
    }

    fn recipient(&self, who: &str) -> String {
        self.ok(
            who,
            Method::POST,
            "/v1/manage/recipients",
            json!({"name": "Ravi", "email": "ravi@example.org"}),
        )["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A webhook of `who`'s property (to a public address, following an
    /// event no call of the table makes).
    fn webhook(&self, who: &str) -> String {
        self.ok(
            who,
            Method::POST,
            "/v1/manage/webhooks",
            json!({"url": "https://93.184.215.14/hook", "events": ["lock.needs_attention"]}),
        )["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A fresh object of `row` in the table, for a call by `caller` (the
    /// fixture's user, or None without a session).
    fn object(&self, row: &Row, caller: Option<&str>) -> Object {
        let f = &self.f;
        let resident_code = |who: &str| {
            f.ok(
                &f.tokens[who],
                Method::POST,
                "/v1/codes",
                json!({"kind": "resident", "mode": "generate"}),
            )
        };
        match row.object.as_str() {
            "—" | "a wrong current password" => Object::default(),
            "a wrong password" => Object {
                field: Some(("email", self.mia_email.clone())),
                ..Object::default()
            },
            "an unused link" => path(&self.unused_link),
            "a used link" => path(&self.used_link),
            "carrier code" => {
                let carrier = self.ok(
                    "mia",
                    Method::POST,
                    "/v1/manage/carriers",
                    json!({"name": "UPS", "mode": "generate"}),
                );
                with_code(&carrier["id"], &carrier["code"])
            }
            // The other property has no package room: a courier id of its
            // stands in for a carrier, which the carrier pages must not find.
            "another property's carrier" | "another property's courier" => {
                path(&self.courier("zed").0)
            }
            "courier PIN" => {
                let (id, pin) = self.courier("mia");
                let pin = pin.unwrap_or_default();
                Object {
                    field: Self::code(&pin).map(|digits| ("pin", digits)),
                    ..with_code(&json!(id), &pin)
                }
            }
            "caller's staff PIN" => {
                let user = &f.users[caller.unwrap_or("sam")];
                with_code(&json!(user), &self.staff_pin(user))
            }
            "a manager's PIN" => {
                // Another manager than the caller; without a session, any.
                with_code(&json!(self.max), &self.staff_pin(&self.max))
            }
            "another property's manager" => path(&f.users["zed"]),
            "one-time PIN" => {
                let id = self.recipient("mia");
                let pin = self.ok(
                    "mia",
                    Method::POST,
                    &format!("/v1/manage/recipients/{id}/one-time-pin"),
                    json!({}),
                );
                Object {
                    field: Some(("recipient", id.clone())),
                    ..with_code(&json!(id), &pin)
                }
            }
            "another property's recipient" => {
                let id = self.recipient("zed");
                Object {
                    field: Some(("recipient", id.clone())),
                    ..path(&id)
                }
            }
            "code of a unit" => with_code(&json!(f.unit_4b), &resident_code("alice")),
            "another property's unit" => {
                let code = resident_code("yan");
                with_code(&code["unit_id"], &code)
            }
            "another property's code" => with_code(&Value::Null, &resident_code("yan")),
            "the entrance" => path(&f.entrance),
            "another property's lock" => path(&f.other_lock),
            "a webhook" => path(&self.webhook("mia")),
            "another property's webhook" => path(&self.webhook("zed")),
            other => panic!("the test does not know the object `{other}`"),
        }
    }

    /// The property write counters: every write takes the next value, a
    /// refused one none.
    fn write_counters(&self) -> Vec<(String, i64)> {
        self.f
            .db
            .inspect()
            .rows("SELECT id, change_seq FROM properties ORDER BY id")
    }
}

/// The form of a post to `row`'s path: its tokens and what the page takes.
fn form(row: &Row, object: &Object, csrf: &str) -> Vec<(String, String)> {
    let mut fields = vec![
        ("csrf".to_owned(), csrf.to_owned()),
        ("idem".to_owned(), form_key()),
    ];
    let mut add = |k: &str, v: &str| fields.push((k.to_owned(), v.to_owned()));
    match row.path.as_str() {
        "/sign-in" => add("password", "not the password at all"),
        "/set-password" => {
            add("token", object.path_id.as_deref().unwrap_or_default());
            add("password", "a long enough password");
            add("confirm", "a long enough password");
        }
        "/account/password" => {
            add("current", "not the current password");
            add("new", "a long enough password");
            add("confirm", "a long enough password");
        }
        "/carriers" | "/couriers" | "/recipients" => {
            add("name", "Cell");
            add("email", "cell@example.org");
            add("mode", "generate");
        }
        "/couriers/{id}/key-card" => {
            // A card of its own each time: one card is one courier's.
            add("key_card_id", &format!("card-{}", rand::random::<u32>()));
            if object.field.is_none() {
                add("pin", "482913");
            }
        }
        "/recipients/{id}/one-time-pin" | "/one-time-pin" => {
            add("notify", "email");
            add("expires", "2099-01-01T12:00");
        }
        "/locks/{id}/backup-pool" => add("size", "1"),
        "/webhooks" => {
            add("url", "https://93.184.215.14/hook");
            add("ev_lock_needs_attention", "on");
        }
        "/policy" => {
            add("custom_codes", "on");
            add("common_pins_builtin", "on");
            add("affiliated", "1440, 94110");
            add("one_time_pin_length", "6");
        }
        _ => add("mode", "generate"),
    }
    if let Some((name, value)) = &object.field {
        add(name, value);
    }
    fields
}

/// Calls one cell: the page, or the form (with the role's tokens).
fn call(world: &World, browser: &mut Browser, row: &Row, object: &Object) -> Page {
    let id = if row.path.starts_with("/codes/") {
        &object.code_id
    } else {
        &object.path_id
    };
    let target = match id {
        Some(id) if row.path.contains("{id}") => row.path.replace("{id}", id),
        _ => row.path.clone(),
    };
    let target = match row.path.as_str() {
        "/codes/{id}/{action}" => target.replace("{action}", "disable"),
        "/assets/{file}" => "/assets/portal.css".to_owned(),
        "/set-password" => format!(
            "/set-password?token={}",
            object.path_id.as_deref().unwrap_or_default()
        ),
        _ => target,
    };
    if row.method == Method::GET {
        return browser.get(&target);
    }
    // The token a page of this browser carries: the session's, or the
    // sign-in page's before any session.
    let token_page = match row.path.as_str() {
        "/sign-in" => browser.get("/sign-in"),
        "/set-password" => browser.get(&format!("/set-password?token={}", world.unused_link)),
        _ if browser.session().is_some() => browser.get("/"),
        _ => browser.get("/sign-in"),
    };
    let csrf = token_page.csrf();
    let fields = form(row, object, &csrf);
    let fields: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let path = if row.path == "/set-password" {
        "/set-password".to_owned()
    } else {
        target
    };
    browser.post(&path, &fields)
}

fn check_digits(what: &str, expected: Digits, page: &Page, digits: Option<&str>) {
    let Some(digits) = digits else {
        assert!(
            matches!(expected, Digits::Any),
            "{what}: the object has no digits to look for"
        );
        return;
    };
    match expected {
        Digits::Shown => assert!(
            occurs(&page.body, digits),
            "{what}: the digits must be shown"
        ),
        Digits::Hidden | Digits::Absent => {
            assert!(
                !occurs(&page.body, digits),
                "{what}: the digits must not be shown"
            )
        }
        Digits::Any => {}
    }
}

/// A new set-password link of `user`, from the invitation the outbox
/// delivered: its token.
fn link(f: &Fixture, user: &str) -> String {
    let admin = f.admin();
    let spec = keyway_server::admin::accounts::InviteSpec {
        user_id: user.to_owned(),
        email: None,
        portal_url: f.server().base.clone(),
        valid_hours: 1,
    };
    let seen = f.delivery_log().len();
    admin
        .run(keyway_server::admin::invite_user(&admin.store, &spec))
        .unwrap();
    eventually("the invitation", || {
        let log = f.delivery_log();
        let body = log.get(seen)?["body"].as_str()?.to_owned();
        let token = body.split("token=").nth(1)?.split_whitespace().next()?;
        Some(token.to_owned())
    })
}

#[test]
fn every_portal_route_answers_every_role_as_the_table_says() {
    let f = Fixture::new();
    let admin = f.admin();
    let max = admin
        .user(&f.property, "max", keyway_api::Role::Manager, None)
        .unwrap()
        .user_id;
    drop(admin);
    let sam = account(&f, "sam");
    let mia = account(&f, "mia");
    // A link redeemed (used), then one issued after it (unused).
    let max_email = "max@keyway.example";
    let before = f.delivery_log().len();
    let admin = f.admin();
    admin
        .run(keyway_server::admin::accounts::invite_user(
            &admin.store,
            &keyway_server::admin::accounts::InviteSpec {
                user_id: max.clone(),
                email: Some(max_email.into()),
                portal_url: f.server().base.clone(),
                valid_hours: 1,
            },
        ))
        .unwrap();
    drop(admin);
    // Its message must be in the log before `link` counts the messages, or
    // `link` would take this first link for the next one.
    eventually("the first invitation", || {
        (f.delivery_log().len() > before).then_some(())
    });
    let used_link = link(&f, &max);
    let mut redeem = Browser::new(&f.server().base);
    let csrf = redeem
        .get(&format!("/set-password?token={used_link}"))
        .csrf();
    let password = "max sets a password";
    let fields = [
        ("csrf", csrf.as_str()),
        ("token", &used_link),
        ("password", password),
        ("confirm", password),
    ];
    assert_eq!(
        redeem.post("/set-password", &fields).status,
        StatusCode::SEE_OTHER
    );
    let unused_link = link(&f, &max);
    let world = World {
        max,
        mia_email: mia.email.clone(),
        unused_link,
        used_link,
        f,
    };
    let rows = support::table::table(
        include_str!("../../docs/security.md"),
        "portal authorization table",
        3,
    );
    assert_eq!(
        support::table::listed(&rows),
        support::table::routes(include_str!("../src/portal/mod.rs"), ".layer("),
        "the Portal's table in docs/security.md must list exactly its router's routes"
    );
    let sign_in = |email: &str, password: &str| {
        let mut browser = Browser::new(&world.f.server().base);
        assert_eq!(
            browser.sign_in(email, password).status,
            StatusCode::SEE_OTHER
        );
        browser
    };
    let mut staff = sign_in(&sam.email, &sam.password);
    let mut manager = sign_in(&mia.email, &mia.password);
    let mut called = 0;
    for row in &rows {
        for (role, cell) in ROLES.iter().zip(&row.cells) {
            let Some(expected) = cell else { continue };
            let what = format!("{role} {} {} on {}", row.method, row.path, row.object);
            let caller = match *role {
                "staff" => Some("sam"),
                "manager" => Some("mia"),
                _ => None,
            };
            // One session per role (sign-in is limited per client address),
            // signed in again after a sign-out.
            let mut anonymous = Browser::new(&world.f.server().base);
            let browser = match caller {
                Some("sam") => &mut staff,
                Some(_) => &mut manager,
                None => &mut anonymous,
            };
            if caller.is_some() && browser.session().is_none() {
                let (email, password) = if caller == Some("sam") {
                    (&sam.email, &sam.password)
                } else {
                    (&mia.email, &mia.password)
                };
                *browser = sign_in(email, password);
            }
            let object = world.object(row, caller);
            let before = world.write_counters();
            let page = call(&world, browser, row, &object);
            assert_eq!(
                page.status.as_u16(),
                expected.status,
                "{what}: {}",
                page.body
            );
            if page.status == StatusCode::OK {
                check_digits(&what, expected.digits, &page, object.digits.as_deref());
            }
            if row.method == Method::POST && page.status.is_client_error() {
                assert_eq!(before, world.write_counters(), "{what} changed something");
            }
            called += 1;
        }
    }
    assert!(called > 150, "{called} cells called");
}
