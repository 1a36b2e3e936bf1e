//! How commands report: human text by default, JSON with `--json`, and the
//! exit codes every command shares.

use std::process::ExitCode;

use serde::Serialize;

/// The request succeeded.
pub(crate) const SUCCESS: u8 = 0;
/// The request was refused or could not be done.
pub(crate) const REFUSED: u8 = 1;

/// A failure with a stable machine code, as printed by every command.
#[derive(Debug, Serialize)]
pub(crate) struct Failure {
    /// The stable machine code.
    pub(crate) code: &'static str,
    /// What went wrong, for a person.
    pub(crate) message: String,
}

impl Failure {
    /// Prints the failure (JSON on stdout, or text on stderr) and returns exit code 1.
    pub(crate) fn report(self, json: bool) -> ExitCode {
        if json {
            print_json(&serde_json::json!({ "error": self }));
        } else {
            eprintln!("error[{}]: {}", self.code, self.message);
        }
        ExitCode::from(REFUSED)
    }
}

/// Prints `value` as one line of JSON.
pub(crate) fn print_json<T: Serialize>(value: &T) {
    match serde_json::to_string(value) {
        Ok(text) => println!("{text}"),
        Err(e) => eprintln!("error[internal]: cannot encode output: {e}"),
    }
}
