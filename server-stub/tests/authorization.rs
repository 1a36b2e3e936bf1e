//! Who may do what: the authorization table of `docs/security.md` ("Who may
//! do what"), parsed from that very file and called cell by cell against the
//! real server, so the document and the server cannot drift apart. The table
//! must name every route of the router (`server-stub/src/api/mod.rs`).

mod support;

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use support::Fixture;
use support::table::{Digits, Row};

const ROLES: [&str; 4] = ["anonymous", "resident", "staff", "manager"];

/// The table between its markers in docs/security.md.
fn table() -> Vec<Row> {
    support::table::table(
        include_str!("../../docs/security.md"),
        "authorization table",
        4,
    )
}

/// Every (method, path) the router serves, read from its source.
fn routes() -> BTreeSet<(String, String)> {
    support::table::routes(include_str!("../src/api/mod.rs"), ".fallback(")
}

/// The test's world: the fixture, two more users, and the other property's
/// things.
struct World {
    f: Fixture,
    stu: String,
    max: String,
    policy: Value,
}

/// An object a cell acts on: the id in its path, the code whose digits
/// the answer may show, and a courier's PIN (for the key card).
#[derive(Default)]
struct Object {
    path_id: Option<String>,
    code_id: Option<String>,
    pin: Option<String>,
}

impl World {
    fn token(&self, who: &str) -> String {
        self.f.tokens[who].clone()
    }

    fn ok(&self, who: &str, method: Method, path: &str, body: Value) -> Value {
        self.f.ok(&self.token(who), method, path, body)
    }

    /// The caller of a role.
    fn caller(role: &str) -> Option<&'static str> {
        match role {
            "resident" => Some("alice"),
            "staff" => Some("sam"),
            "manager" => Some("mia"),
            _ => None,
        }
    }

    fn code_object(value: &Value) -> Object {
        Object {
            path_id: value["id"].as_str().map(str::to_owned),
            code_id: value["id"].as_str().map(str::to_owned),
            pin: value["value"].as_str().map(str::to_owned),
        }
    }

    fn staff_pin(&self, user: &str) -> Object {
        Self::code_object(&self.ok(
            "mia",
            Method::PUT,
            &format!("/v1/manage/staff/{user}/pin"),
            json!({"mode": "generate"}),
        ))
    }

    fn courier(&self, who: &str) -> (String, Value) {
        let id = self.ok(
            who,
            Method::POST,
            "/v1/manage/couriers",
            json!({"name": "Route 9"}),
        )["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let pin = if who == "mia" {
            self.ok(
                who,
                Method::PUT,
                &format!("/v1/manage/couriers/{id}/pin"),
                json!({"mode": "generate"}),
            )
        } else {
            Value::Null
        };
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
        self.ok(who, Method::POST, "/v1/manage/webhooks", webhook_body())["id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// A visit of the entrance opened by `who`.
    fn visit(&self, who: &str) -> Object {
        let opened = self.ok(
            who,
            Method::POST,
            &format!("/v1/locks/{}/visits", self.f.entrance),
            json!({}),
        );
        path(opened["visit_id"].as_str().unwrap())
    }

    /// A fresh object named `name` in the table, for a call by `role`.
    fn object(&self, name: &str, role: &str) -> Object {
        let f = &self.f;
        let generate = json!({"kind": "resident", "mode": "generate"});
        match name {
            "—" => Object::default(),
            "code of the resident's unit" => {
                Self::code_object(&self.ok("alice", Method::POST, "/v1/codes", generate))
            }
            "code of another unit" => {
                Self::code_object(&self.ok("bob", Method::POST, "/v1/codes", generate))
            }
            "another property's code" => {
                Self::code_object(&self.ok("yan", Method::POST, "/v1/codes", generate))
            }
            "carrier code" => Self::code_object(
                &self.ok(
                    "mia",
                    Method::POST,
                    "/v1/manage/carriers",
                    json!({"name": "UPS", "mode": "generate"}),
                )["code"],
            ),
            "courier PIN" => Self::code_object(&self.courier("mia").1),
            "one-time PIN" => {
                let recipient = self.recipient("mia");
                Self::code_object(&self.ok(
                    "mia",
                    Method::POST,
                    &format!("/v1/manage/recipients/{recipient}/one-time-pin"),
                    json!({}),
                ))
            }
            "caller's staff PIN" => {
                let who = Self::caller(role)
                    .filter(|w| *w != "alice")
                    .unwrap_or("sam");
                self.staff_pin(&f.users[who])
            }
            "another staff member's PIN" => self.staff_pin(&self.stu),
            "a manager's PIN" => self.staff_pin(&self.max),
            "the resident's unit" | "another unit" => Object::default(),
            "the resident's unit door" => path(&f.lock_4b),
            "another unit's door" => path(&f.lock_5c),
            "the entrance" => path(&f.entrance),
            "another property's lock" => path(&f.other_lock),
            "carrier" => {
                let carrier = self.ok(
                    "mia",
                    Method::POST,
                    "/v1/manage/carriers",
                    json!({"name": "DHL", "mode": "generate"}),
                );
                Object {
                    path_id: carrier["id"].as_str().map(str::to_owned),
                    code_id: carrier["code"]["id"].as_str().map(str::to_owned),
                    pin: None,
                }
            }
            "courier" => {
                let (id, pin) = self.courier("mia");
                Object {
                    path_id: Some(id),
                    code_id: pin["id"].as_str().map(str::to_owned),
                    pin: pin["value"].as_str().map(str::to_owned),
                }
            }
            "recipient" => {
                let recipient = self.recipient("mia");
                let pin = self.ok(
                    "mia",
                    Method::POST,
                    &format!("/v1/manage/recipients/{recipient}/one-time-pin"),
                    json!({}),
                );
                Object {
                    path_id: Some(recipient),
                    code_id: pin["id"].as_str().map(str::to_owned),
                    pin: None,
                }
            }
            // The other property has no package room: its manager can keep
            // carriers, couriers and recipients, not their codes.
            "another property's carrier" => {
                let id = self.ok(
                    "zed",
                    Method::POST,
                    "/v1/manage/couriers",
                    json!({"name": "Oak courier"}),
                );
                // A carrier needs a code, so a courier id stands in: the
                // carrier endpoints must not find it either.
                path(id["id"].as_str().unwrap())
            }
            "another property's courier" => path(&self.courier("zed").0),
            "another property's recipient" => path(&self.recipient("zed")),
            "the caller" => match Self::caller(role) {
                Some(who) => path(&f.users[who]),
                None => path(&f.users["sam"]),
            },
            "another staff member" => path(&self.stu),
            "a manager" => path(&self.max),
            "a resident" => path(&f.users["bob"]),
            "another property's manager" => path(&f.users["zed"]),
            "a webhook" => path(&self.webhook("mia")),
            "another property's webhook" => path(&self.webhook("zed")),
            "the caller's visit" => self.visit(Self::caller(role).unwrap_or("alice")),
            "another user's visit" => self.visit("bob"),
            other => panic!("the test does not know the object `{other}`"),
        }
    }

    /// The request of a cell: path, body, bearer token.
    fn request(
        &self,
        row: &Row,
        role: &str,
        object: &Object,
    ) -> (String, Option<Value>, Option<String>) {
        let f = &self.f;
        let path = match &object.path_id {
            Some(id) => row.path.replace("{id}", id),
            None => row.path.clone(),
        };
        let mut token = Self::caller(role).map(|who| self.token(who));
        let body = match (row.method.as_str(), row.path.as_str()) {
            ("POST", "/v1/login") => {
                let token = token.take().unwrap_or_else(|| "kwa_forged".to_owned());
                Some(json!({"token": token, "device_name": "matrix"}))
            }
            ("POST", "/v1/logout") => {
                token = Self::caller(role).map(|who| f.login(who, "matrix"));
                None
            }
            ("POST", "/v1/codes") => Some(match row.object.as_str() {
                "another unit" => {
                    json!({"kind": "resident", "mode": "generate", "unit_id": f.unit_5c})
                }
                _ => json!({"kind": "resident", "mode": "generate", "unit_id": f.unit_4b}),
            }),
            ("POST", "/v1/receipts") => Some(json!({"receipts": []})),
            // Not a status of the visit's lock: the visit's owner learns so.
            ("POST", "/v1/visits/{id}/status") => Some(json!({"status": "AAAA"})),
            ("PUT", "/v1/manage/policy") => Some(self.policy.clone()),
            ("POST", "/v1/manage/carriers") => Some(json!({"name": "X", "mode": "generate"})),
            ("POST", "/v1/manage/couriers") => Some(json!({"name": "Y"})),
            ("POST", "/v1/manage/webhooks") => Some(webhook_body()),
            ("POST", "/v1/manage/recipients") => {
                Some(json!({"name": "Z", "phone": "+15550000000"}))
            }
            // A card of its own each time: one card is one courier's.
            ("POST", "/v1/manage/couriers/{id}/key-card") => Some(json!({
                "pin": object.pin.clone().unwrap_or_else(|| "482913".into()),
                "key_card_id": format!("C-{}", rand::random::<u32>()),
            })),
            ("POST", "/v1/public/forgot-pin") => Some(json!({
                "property_id": f.property,
                "email": format!("nobody{}@example.org", rand::random::<u32>()),
            })),
            ("POST", p) if p.ends_with("/change") => Some(json!({"mode": "generate"})),
            ("PUT", p) if p.ends_with("/notify") => Some(json!({"notify_on_use": "none"})),
            ("PUT", "/v1/me/contact") => Some(json!({"email": "someone@example.org"})),
            ("PUT", p) if p.ends_with("/backup-pool") => Some(json!({"size": 1})),
            ("POST", p) if p.ends_with("/backup") => Some(json!({"lock_id": f.lock_4b})),
            ("PUT", _) => Some(json!({"mode": "generate"})),
            ("POST", _) => Some(json!({})),
            _ => None,
        };
        (path, body, token)
    }

    /// The property write counters: every write takes the next value, a
    /// refused one none.
    fn write_counters(&self) -> Vec<(String, i64)> {
        self.f
            .db
            .inspect()
            .rows("SELECT id, change_seq FROM properties ORDER BY id")
    }

    /// Every page of the caller's sync, codes merged.
    fn whole_sync(&self, token: &str) -> Value {
        let mut codes = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let path = match &cursor {
                Some(c) => format!("/v1/sync?cursor={c}"),
                None => "/v1/sync".to_owned(),
            };
            let (status, page) = self.f.get(token, &path);
            assert_eq!(status, StatusCode::OK, "{page}");
            codes.extend(page["codes"].as_array().unwrap().iter().cloned());
            cursor = page["cursor"].as_str().map(str::to_owned);
            if page["has_more"] != true {
                return json!({"codes": codes});
            }
        }
    }
}

fn webhook_body() -> Value {
    json!({"url": "https://93.184.215.14/hook", "events": ["lock.needs_attention"]})
}

fn path(id: &str) -> Object {
    Object {
        path_id: Some(id.to_owned()),
        ..Object::default()
    }
}

/// Every code view in `answer` (any object with `kind`, `status` and `locks`).
fn code_views(answer: &Value, out: &mut Vec<Value>) {
    match answer {
        Value::Object(map) => {
            if map.contains_key("kind") && map.contains_key("status") && map.contains_key("locks") {
                out.push(answer.clone());
            }
            map.values().for_each(|v| code_views(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| code_views(v, out)),
        _ => {}
    }
}

fn check_digits(what: &str, expected: Digits, answer: &Value, code_id: Option<&str>) {
    if expected == Digits::Any {
        return;
    }
    let mut views = Vec::new();
    code_views(answer, &mut views);
    if let Some(id) = code_id {
        views.retain(|v| v["id"] == id);
    }
    match expected {
        Digits::Absent => assert!(
            views.is_empty(),
            "{what}: must leave the code out: {answer}"
        ),
        Digits::Shown => {
            assert!(!views.is_empty(), "{what}: the code is missing: {answer}");
            assert!(
                views.iter().all(|v| v["value"].is_string()),
                "{what}: the digits must be shown: {answer}"
            );
        }
        Digits::Hidden => {
            assert!(!views.is_empty(), "{what}: the code is missing: {answer}");
            assert!(
                views.iter().all(|v| v["value"].is_null()),
                "{what}: the digits must not be shown: {answer}"
            );
        }
        Digits::Any => {}
    }
}

#[test]
fn every_route_answers_every_role_as_the_table_says() {
    let f = Fixture::new();
    let admin = f.admin();
    let user = |name: &str, role: &str| {
        let role = keyway_api::Role::parse(role).unwrap();
        admin.user(&f.property, name, role, None).unwrap().user_id
    };
    let (stu, max) = (user("stu", "staff"), user("max", "manager"));
    drop(admin);
    let (_, policy) = f.get(&f.tokens["mia"], "/v1/manage/policy");
    let world = World {
        f,
        stu,
        max,
        policy,
    };
    let rows = table();
    assert_eq!(
        support::table::listed(&rows),
        routes(),
        "the table in docs/security.md must list exactly the router's routes"
    );
    let foreign = [world.f.other_property.clone(), world.f.other_lock.clone()];
    let mut called = 0;
    for row in &rows {
        for (role, cell) in ROLES.iter().zip(&row.cells) {
            let Some(expected) = cell else { continue };
            let what = format!("{role} {} {} on {}", row.method, row.path, row.object);
            let object = world.object(&row.object, role);
            let (path, body, token) = world.request(row, role, &object);
            let before = world.write_counters();
            let key = support::fresh_key();
            let (status, answer) = if row.path == "/v1/sync" && token.is_some() {
                (StatusCode::OK, world.whole_sync(token.as_deref().unwrap()))
            } else {
                let idem = (row.method != Method::GET).then_some(key.as_str());
                world
                    .f
                    .call_raw(token.as_deref(), row.method.clone(), &path, body, idem)
            };
            assert_eq!(status.as_u16(), expected.status, "{what}: {answer}");
            if status.is_success() {
                let text = answer.to_string();
                assert!(
                    foreign.iter().all(|id| !text.contains(id.as_str())),
                    "{what} names the other property's things: {text}"
                );
                // A created code is new: whatever code the answer shows.
                let code_id = object
                    .code_id
                    .as_deref()
                    .filter(|_| status != StatusCode::CREATED);
                check_digits(&what, expected.digits, &answer, code_id);
            } else {
                assert!(
                    answer["code"].is_string(),
                    "{what}: a problem document: {answer}"
                );
                assert_eq!(before, world.write_counters(), "{what} changed something");
            }
            called += 1;
        }
    }
    assert!(called > 380, "{called} cells called");
}
