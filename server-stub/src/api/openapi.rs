//! The OpenAPI 3.1 document, generated from the handlers' annotations and
//! completed here: the bearer security scheme, and on every operation the
//! answers its extractors and the server's middleware can give — 400 (a
//! malformed path, query or body, a `%00` anywhere, a missing or invalid
//! idempotency key), 401 (secured operations), 404 (an id in the path that
//! names nothing of the caller's), 413 (a body over the limit), 422 (an
//! idempotency key used for another request) and 500 — each refusal as
//! `application/problem+json` with the `Problem` schema and an example.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::response::{Response as ApiResponse, ResponseBuilder};
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr};

use super::problem::PROBLEM_JSON;
use super::{
    carriers, codes, couriers, locks, notices, policy, public, receipts, recipients, session,
    staff, sync, uses, visits, webhooks,
};

/// The OpenAPI document.
#[derive(OpenApi)]
#[openapi(
    info(title = "Keyway server API", description = "Door codes, locks and package-room access. See docs/api.md."),
    paths(
        session::healthz, openapi_json, session::login, session::logout, session::me, session::doors,
        codes::list_codes, codes::create_code, codes::get_code, codes::change_code,
        codes::disable_code, codes::enable_code, codes::delete_code, uses::code_uses,
        codes::hand_out_backup, locks::set_backup_pool,
        notices::get_contact, notices::put_contact, notices::get_notify, notices::put_notify,
        sync::sync, receipts::post_receipts, locks::lock_audit,
        visits::open_visit, visits::present_status,
        policy::get_policy, policy::put_policy, locks::list_locks,
        carriers::list_carriers, carriers::create_carrier, carriers::set_carrier_code,
        couriers::list_couriers, couriers::create_courier, couriers::set_courier_pin,
        couriers::courier_qr, couriers::courier_key_card,
        staff::list_staff, staff::set_staff_pin,
        recipients::list_recipients, recipients::create_recipient, recipients::one_time_pin,
        recipients::lookup_pin, webhooks::list_webhooks, webhooks::create_webhook,
        webhooks::delete_webhook, webhooks::webhook_deliveries, public::forgot_pin,
    ),
    components(schemas(keyway_api::Problem)),
    modifiers(&BearerAuth, &Completeness),
)]
pub struct ApiDoc;

/// This OpenAPI document.
#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API", body = Object, content_type = "application/json")))]
pub async fn openapi_json() -> Response {
    match ApiDoc::openapi().to_json() {
        Ok(json) => super::extract::json_response(StatusCode::OK, json),
        Err(e) => crate::error::Error::internal("openapi", e).into_response(),
    }
}

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        if let Some(components) = openapi.components.as_mut() {
            components.add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
        }
    }
}

/// Adds the answers every operation of its shape can give, and makes every
/// refusal a problem document with an example.
struct Completeness;

impl utoipa::Modify for Completeness {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            for operation in [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                complete(operation);
            }
        }
    }
}

/// The answers an operation's shape implies, beyond its own.
fn implied(operation: &Operation) -> Vec<(u16, &'static str)> {
    let has =
        |place: ParameterIn, name: Option<&str>| {
            operation.parameters.iter().flatten().any(|p| {
                p.parameter_in == place && name.is_none_or(|n| p.name.eq_ignore_ascii_case(n))
            })
        };
    let mut out = vec![(
        400,
        "invalid_request: a malformed path, query or body, or `%00` in the path or query",
    )];
    if operation.security.is_some() {
        out.push((401, "unauthorized: no, unknown or revoked bearer token"));
    }
    if has(ParameterIn::Path, None) {
        out.push((404, "not_found: no such thing in the caller's property"));
    }
    if operation.request_body.is_some() {
        out.push((413, "payload_too_large: a body over 2 MB"));
    }
    if has(ParameterIn::Header, Some("Idempotency-Key")) {
        out.push((
            400,
            "idempotency_key_required, idempotency_key_invalid: a write needs a usable key",
        ));
        out.push((
            422,
            "idempotency_key_reused: the key was used for another request",
        ));
    }
    out.push((500, "internal: the server failed; nothing changed, retry"));
    out
}

fn complete(operation: &mut Operation) {
    for (status, description) in implied(operation) {
        let responses = &mut operation.responses.responses;
        match responses.get_mut(&status.to_string()) {
            Some(RefOr::T(response)) => {
                if !response.description.contains(description) {
                    response.description = format!("{}; {description}", response.description);
                }
            }
            Some(RefOr::Ref(_)) => {}
            None => {
                let response = ResponseBuilder::new().description(description).build();
                responses.insert(status.to_string(), RefOr::T(response));
            }
        }
    }
    for (status, response) in &mut operation.responses.responses {
        if let (Ok(code), RefOr::T(response)) = (status.parse::<u16>(), response)
            && code >= 400
        {
            as_problem(code, response);
        }
    }
}

/// A refusal's content: `application/problem+json`, the `Problem` schema,
/// and an example.
fn as_problem(status: u16, response: &mut ApiResponse) {
    let code = example_code(status, &response.description);
    let title = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    let example = json!({
        "type": format!("urn:keyway:problem:{code}"),
        "title": title,
        "status": status,
        "code": code,
        "detail": response.description.split(';').next().unwrap_or_default().trim(),
    });
    response.content.clear();
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        ContentBuilder::new()
            .schema(Some(Ref::from_schema_name("Problem")))
            .example(Some(example))
            .build(),
    );
}

/// The machine code of a status's example: the code its description
/// starts with (`no_active_pin: …`), else the status's generic one.
fn example_code(status: u16, description: &str) -> String {
    let named: String = description
        .chars()
        .take_while(|c| c.is_ascii_lowercase() || *c == '_')
        .collect();
    if named.contains('_')
        || ["forbidden", "unauthorized", "internal", "exhausted"].contains(&named.as_str())
    {
        return named;
    }
    match status {
        400 => "invalid_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "payload_too_large",
        422 => "policy_violation",
        429 => "rate_limited",
        _ => "internal",
    }
    .to_owned()
}
