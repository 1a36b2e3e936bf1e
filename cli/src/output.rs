//! How commands report: human text by default, JSON with `--json`, the exit
//! codes every command shares, and the failure every command prints.

use std::process::ExitCode;

use keyway_client::ClientError;
use keyway_codes::policy::Violation;
use serde::Serialize;

/// The request succeeded.
pub(crate) const SUCCESS: u8 = 0;
/// The request was refused or could not be done.
pub(crate) const REFUSED: u8 = 1;
/// Usage error: an unknown option, a malformed value, a missing argument.
pub(crate) const USAGE: u8 = 2;
/// Not logged in on this data directory, or the server refused the
/// device's credentials: log in again.
pub(crate) const NOT_LOGGED_IN: u8 = 3;
/// The server could not be reached (or failed on every attempt); queued
/// requests stay queued.
pub(crate) const NETWORK: u8 = 4;
/// Bluetooth is unavailable (no adapter, no D-Bus system bus, powered off).
pub(crate) const BLUETOOTH: u8 = 5;

/// One broken rule, as printed.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ReportedViolation {
    /// The rule's stable id.
    pub(crate) rule: &'static str,
    /// What to do about it.
    pub(crate) message: String,
}

impl From<&Violation> for ReportedViolation {
    fn from(v: &Violation) -> Self {
        Self {
            rule: v.rule.id(),
            message: v.message.clone(),
        }
    }
}

/// A failure with a stable machine code, as printed by every command.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    /// The stable machine code.
    pub(crate) code: String,
    /// What went wrong, for a person.
    pub(crate) message: String,
    /// Every broken rule, for `policy_violation`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub(crate) violations: Vec<ReportedViolation>,
    /// The process exit code.
    #[serde(skip)]
    pub(crate) exit: u8,
}

impl Failure {
    /// A failure with exit code 1.
    pub(crate) fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            violations: Vec::new(),
            exit: REFUSED,
        }
    }

    /// A usage error (exit code 2).
    pub(crate) fn usage(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            exit: USAGE,
            ..Self::new(code, message)
        }
    }

    /// Prints the failure (JSON on stdout, or text on stderr) and returns its
    /// exit code.
    pub(crate) fn report(self, json: bool) -> ExitCode {
        if json {
            print_json(&serde_json::json!({ "error": self }));
        } else {
            eprintln!("error[{}]: {}", self.code, self.message);
            let width = self.violations.iter().map(|v| v.rule.len()).max();
            for v in &self.violations {
                eprintln!(
                    "  {:width$}  {}",
                    v.rule,
                    v.message,
                    width = width.unwrap_or(0)
                );
            }
        }
        ExitCode::from(self.exit)
    }
}

impl From<ClientError> for Failure {
    fn from(error: ClientError) -> Self {
        let exit = match &error {
            ClientError::NotLoggedIn | ClientError::Unauthorized { .. } => NOT_LOGGED_IN,
            ClientError::Network { .. } | ClientError::Server { .. } => NETWORK,
            ClientError::Bluetooth { .. } => BLUETOOTH,
            ClientError::InvalidArgument { .. } => USAGE,
            _ => REFUSED,
        };
        let message = match &error {
            ClientError::NotLoggedIn => {
                "not logged in: run `keyway login` with the API token from your building".to_owned()
            }
            ClientError::PolicyViolation { rejection: r } => {
                format!("refused: {} rule(s) broken", r.violations.len())
            }
            other => other.to_string(),
        };
        Self {
            code: error.code().to_owned(),
            message,
            violations: error.violations().iter().map(Into::into).collect(),
            exit,
        }
    }
}

/// Prints `value` as one line of JSON.
pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error[internal]: cannot encode output: {e}"),
    }
}
