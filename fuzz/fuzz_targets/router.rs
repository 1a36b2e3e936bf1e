//! The whole HTTP API on arbitrary requests, in process: the server's axum
//! router (every route, extractor and handler) over a real SQLite database
//! seeded with a property, doors, users and tokens, driven with tower's
//! `oneshot`. Methods, paths (every route, with real or arbitrary ids),
//! query strings, tokens of every role, idempotency keys and bodies come
//! from the fuzzer. No request may make the server fail (a 5xx) or panic,
//! and every refusal is a problem document with a stable machine code.

#![no_main]

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use axum::Router;
use axum::body::Body;
use axum::extract::connect_info::MockConnectInfo;
use axum::http::{Method, Request};
use keyway_api::PolicySettings;
use keyway_protocol::{LockId, RootKey};
use keyway_server::app::App;
use keyway_server::crypto::{Cell, DataKey, token_hash};
use keyway_server::db::{Context as _, Store};
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt as _;

const TOKENS: [&str; 3] = [
    "kwa_fuzz-resident-token-000000000000000000000",
    "kwa_fuzz-staff-token-00000000000000000000000",
    "kwa_fuzz-manager-token-000000000000000000000",
];

/// Ids the seeded database holds, for paths that name one.
const IDS: [&str; 8] = [
    "6b77000000000001",
    "6b77000000000002",
    "6b77000000000003",
    "unit_fuzz",
    "user_staff",
    "car_fuzz",
    "cou_fuzz",
    "rcp_fuzz",
];

const ROUTES: [&str; 28] = [
    "/healthz",
    "/openapi.json",
    "/v1/login",
    "/v1/logout",
    "/v1/me",
    "/v1/doors",
    "/v1/codes",
    "/v1/codes/{id}",
    "/v1/codes/{id}/change",
    "/v1/codes/{id}/disable",
    "/v1/codes/{id}/enable",
    "/v1/sync",
    "/v1/receipts",
    "/v1/locks/{id}/audit",
    "/v1/manage/policy",
    "/v1/manage/locks",
    "/v1/manage/carriers",
    "/v1/manage/carriers/{id}/code",
    "/v1/manage/couriers",
    "/v1/manage/couriers/{id}/pin",
    "/v1/manage/couriers/{id}/qr",
    "/v1/manage/couriers/{id}/key-card",
    "/v1/manage/staff",
    "/v1/manage/staff/{id}/pin",
    "/v1/manage/recipients",
    "/v1/manage/recipients/{id}/one-time-pin",
    "/v1/manage/recipients/{id}/pin",
    "/v1/public/forgot-pin",
];

const METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
];

struct Rig {
    runtime: tokio::runtime::Runtime,
    router: Router,
    _dir: tempfile::TempDir,
}

async fn seed(store: &Store, key: &DataKey) -> Result<(), keyway_server::error::Error> {
    let mut read = store.read().await?;
    let policy = serde_json::to_string(&PolicySettings {
        six_digit_codes: true,
        custom_codes: true,
        affiliated_numbers: vec!["1440".into()],
        one_time_pin_length: 6,
        common_pins_builtin: true,
    })
    .unwrap();
    let statements: Vec<(&str, Vec<String>)> = vec![
        (
            "INSERT INTO properties (id, name, time_zone, policy, change_seq, created_at) VALUES ($1, 'Fuzz Court', 'America/New_York', $2, 0, 0)",
            vec!["prop_fuzz".into(), policy],
        ),
        (
            "INSERT INTO units (id, property_id, name) VALUES ('unit_fuzz', 'prop_fuzz', '4B')",
            vec![],
        ),
        (
            "INSERT INTO users (id, property_id, role, name, unit_id, created_at) VALUES ('user_res', 'prop_fuzz', 'resident', 'Res', 'unit_fuzz', 0)",
            vec![],
        ),
        (
            "INSERT INTO users (id, property_id, role, name, unit_id, created_at) VALUES ('user_staff', 'prop_fuzz', 'staff', 'Staff', NULL, 0)",
            vec![],
        ),
        (
            "INSERT INTO users (id, property_id, role, name, unit_id, created_at) VALUES ('user_mgr', 'prop_fuzz', 'manager', 'Mgr', NULL, 0)",
            vec![],
        ),
        (
            "INSERT INTO carriers (id, property_id, name, created_at) VALUES ('car_fuzz', 'prop_fuzz', 'Parcel Co', 0)",
            vec![],
        ),
        (
            "INSERT INTO couriers (id, property_id, name, created_at) VALUES ('cou_fuzz', 'prop_fuzz', 'Dana', 0)",
            vec![],
        ),
        (
            "INSERT INTO recipients (id, property_id, name, email, email_mac, created_at) VALUES ('rcp_fuzz', 'prop_fuzz', 'Ravi', $1, $2, 0)",
            vec![
                key.seal_str(
                    Cell::new("recipients", "email", "rcp_fuzz"),
                    "ravi@example.org",
                )
                .unwrap(),
                key.lookup_mac("email", "ravi@example.org"),
            ],
        ),
    ];
    for (sql, binds) in statements {
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for bind in binds {
            query = query.bind(bind);
        }
        query.execute(read.conn()).await?;
    }
    for (token, user) in TOKENS.iter().zip(["user_res", "user_staff", "user_mgr"]) {
        sqlx::query(
            "INSERT INTO api_tokens (id, user_id, token_hash, created_at) VALUES ($1, $2, $3, 0)",
        )
        .bind(format!("tok_{user}"))
        .bind(user)
        .bind(token_hash(token))
        .execute(read.conn())
        .await?;
    }
    for (n, access_point, unit) in [
        (1u8, "unit_door", Some("unit_fuzz")),
        (2, "community_entrance", None),
        (3, "package_room", None),
    ] {
        let id = LockId([0x6b, 0x77, 0, 0, 0, 0, 0, n]);
        let root = RootKey::from_bytes([n; 32]);
        sqlx::query("INSERT INTO locks (id, property_id, name, access_point, unit_id, capacity, enter_key, constraints, root_key, change_seq, created_at) VALUES ($1, 'prop_fuzz', $2, $3, $4, 40, 1, '[]', $5, 0, 0)")
            .bind(id.to_string())
            .bind(format!("Door {n}"))
            .bind(access_point)
            .bind(unit)
            .bind(
                key.seal_str(Cell::new("locks", "root_key", &id.to_string()), &root.to_hex())
                    .unwrap(),
            )
            .execute(read.conn())
            .await?;
    }
    Ok(())
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("fuzz.sqlite").display()
        );
        let store = runtime
            .block_on(Store::open(&url, DataKey::from_bytes(&[7; 32])))
            .unwrap();
        runtime.block_on(seed(&store, store.key())).unwrap();
        let app = App {
            store,
            trusted_proxies: Arc::from([]),
            webhook_targets: Default::default(),
        };
        let router = keyway_server::api::router(app)
            .layer(MockConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
        Rig {
            runtime,
            router,
            _dir: dir,
        }
    })
}

#[derive(Arbitrary, Debug)]
enum PathInput {
    Route { route: u8, id: u8 },
    RouteWithId { route: u8, id: String },
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    method: u8,
    path: PathInput,
    query: Option<String>,
    /// 0: none; 1-3: a resident's, staff's, manager's token; else `raw`.
    auth: u8,
    raw_auth: String,
    idempotency_key: Option<String>,
    json: bool,
    forwarded_for: Option<String>,
    body: Vec<u8>,
}

fn request(input: &Input) -> Option<Request<Body>> {
    let method = METHODS[usize::from(input.method) % METHODS.len()].clone();
    let mut path = match &input.path {
        PathInput::Route { route, id } => ROUTES[usize::from(*route) % ROUTES.len()]
            .replace("{id}", IDS[usize::from(*id) % IDS.len()]),
        PathInput::RouteWithId { route, id } => {
            ROUTES[usize::from(*route) % ROUTES.len()].replace("{id}", id)
        }
        PathInput::Raw(raw) => raw.clone(),
    };
    if let Some(query) = &input.query {
        path = format!("{path}?{query}");
    }
    let mut builder = Request::builder().method(method).uri(path);
    match input.auth % 5 {
        0 => {}
        n @ 1..=3 => {
            builder = builder.header(
                "authorization",
                format!("Bearer {}", TOKENS[usize::from(n) - 1]),
            );
        }
        _ => builder = builder.header("authorization", input.raw_auth.as_str()),
    }
    if let Some(key) = &input.idempotency_key {
        builder = builder.header("idempotency-key", key.as_str());
    }
    if input.json {
        builder = builder.header("content-type", "application/json");
    }
    if let Some(forwarded) = &input.forwarded_for {
        builder = builder.header("x-forwarded-for", forwarded.as_str());
    }
    builder.body(Body::from(input.body.clone())).ok()
}

fuzz_target!(|input: Input| {
    let Some(request) = request(&input) else {
        return;
    };
    let rig = rig();
    let (status, content_type, body) = rig.runtime.block_on(async {
        let response = rig.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = axum::body::to_bytes(response.into_body(), 1 << 22)
            .await
            .unwrap();
        (status, content_type, body)
    });
    assert!(
        !status.is_server_error(),
        "{input:?} failed the server: {status} {}",
        String::from_utf8_lossy(&body)
    );
    if status.is_client_error() {
        assert_eq!(
            content_type,
            "application/problem+json",
            "{input:?}: {status} {}",
            String::from_utf8_lossy(&body)
        );
        let problem: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            problem["code"].as_str().is_some_and(|c| !c.is_empty()),
            "{problem}"
        );
    }
});
