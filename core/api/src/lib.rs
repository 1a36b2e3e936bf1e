//! The server's HTTP API types: every request and response body, shared by
//! the server (which serves them) and the phone's sync client (which sends
//! them), so both sides agree on the JSON byte for byte. `docs/api.md` lists
//! the endpoints that use them.
//!
//! Plain serde types only; with the `openapi` feature they also derive
//! `utoipa::ToSchema` for the server's generated OpenAPI document. Sealed jobs
//! and receipts travel as standard base64 strings ([`encode_bytes`],
//! [`decode_bytes`]); instants are RFC 3339 strings.

#[cfg(feature = "uniffi")]
uniffi::setup_scaffolding!();
// Offline codes' windows are instants (`OfflineCodeView`), lifted as the
// policy crate defines them.
#[cfg(feature = "uniffi")]
uniffi::use_remote_type!(keyway_codes::jiff::Timestamp);

mod accounts;
mod codes;
mod locks;
mod package_room;
mod sync;
mod uses;
mod webhooks;

pub use accounts::*;
pub use codes::*;
pub use locks::*;
pub use package_room::*;
pub use sync::*;
pub use uses::*;
pub use webhooks::*;

use serde::{Deserialize, Serialize};

use keyway_codes::policy::Violation;

/// The header that carries a write's idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// Encodes sealed bytes (a job or a receipt) for JSON: standard base64 with padding.
pub fn encode_bytes(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes [`encode_bytes`] output; `None` when the text is not base64.
pub fn decode_bytes(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

/// An error, as RFC 9457 problem details with a stable machine `code`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Problem {
    /// `urn:keyway:problem:<code>`.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// The stable machine code (`policy_violation`, `not_found`, ...).
    pub code: String,
    /// What to do about it.
    pub detail: String,
    /// For `policy_violation`: every rule broken, with its message.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub violations: Vec<Violation>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyway_codes::policy::ModelConstraint;

    #[test]
    fn bytes_round_trip_through_base64() {
        let bytes = [0u8, 1, 2, 250, 255];
        let text = encode_bytes(&bytes);
        assert_eq!(text, "AAEC+v8=");
        assert_eq!(decode_bytes(&text).unwrap(), bytes);
        assert!(decode_bytes("not base64!").is_none());
    }

    #[test]
    fn states_and_roles_use_snake_case() {
        assert_eq!(
            serde_json::to_string(&CodeState::Disabling).unwrap(),
            "\"disabling\""
        );
        assert_eq!(Role::parse("manager"), Some(Role::Manager));
        assert_eq!(Role::parse("admin"), None);
        let problem: Problem = serde_json::from_str(
            r#"{"type":"urn:keyway:problem:not_found","title":"Not found","status":404,"code":"not_found","detail":"x"}"#,
        )
        .unwrap();
        assert!(problem.violations.is_empty());
    }

    #[test]
    fn doors_from_older_servers_default_to_an_enter_key_and_no_constraints() {
        let door: DoorView = serde_json::from_str(
            r#"{"lock_id":"6b77000000000001","name":"Unit 4B","access_point":"unit_door","unit_id":"u1"}"#,
        )
        .unwrap();
        assert!(door.enter_key);
        assert!(door.constraints.is_empty());
        let door: DoorView = serde_json::from_str(
            r#"{"lock_id":"6b77000000000001","name":"Unit 4B","access_point":"unit_door","unit_id":null,"enter_key":false,"constraints":["no_zeros"]}"#,
        )
        .unwrap();
        assert!(!door.enter_key);
        assert_eq!(door.constraints, vec![ModelConstraint::NoZeros]);
    }
}
