//! What a bug in the core (a Rust panic) does to the app. The app's logger
//! is told where it happened — the file and line, never the panic's message,
//! which may carry a code or a token — and then, in the library apps ship
//! (`release-mobile`, `panic = "abort"`), the process ends as for any native
//! crash, with the stack in the platform's crash report: a core that broke
//! half-way through a sync or a delivery never goes on serving the app. In
//! builds that unwind (the tests' debug library) uniffi turns the panic into
//! `KeywayError::Internal` instead. Installed once, by [`crate::set_logger`]
//! and the client's constructor; it replaces the default hook, which would
//! print the message to standard error.

use std::panic::PanicHookInfo;
use std::sync::Once;

static INSTALL: Once = Once::new();

/// Installs the core's panic hook (once per process).
pub(crate) fn install() {
    INSTALL.call_once(|| std::panic::set_hook(Box::new(report)));
}

fn report(info: &PanicHookInfo<'_>) {
    log::error!(target: "keyway", "{}", sentence(info.location()));
}

/// "the core hit a bug at core/client/src/sync.rs:120" (and what follows).
fn sentence(location: Option<&std::panic::Location<'_>>) -> String {
    let at = location.map_or_else(
        || "an unknown place".to_owned(),
        |l| format!("{}:{}", l.file(), l.line()),
    );
    let then = if cfg!(panic = "abort") {
        "the app ends"
    } else {
        "the call fails with Internal"
    };
    format!("the core hit a bug at {at}; {then}")
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use crate::{LogLevel, Logger, set_logger};

    #[derive(Default)]
    struct Records(Mutex<Vec<(LogLevel, String)>>);

    impl Logger for Records {
        fn log(&self, level: LogLevel, _target: String, message: String) {
            self.0.lock().unwrap().push((level, message));
        }
    }

    #[test]
    fn a_panic_is_logged_with_its_place_and_never_its_message() {
        let records = Arc::new(Records::default());
        set_logger(records.clone(), LogLevel::Warn);
        let line = line!() + 1;
        let caught = std::panic::catch_unwind(|| panic!("the code 482913 leaked"));
        assert!(caught.is_err());
        let records = records.0.lock().unwrap();
        let (level, message) = records.last().expect("the panic was logged");
        assert_eq!(*level, LogLevel::Error);
        assert_eq!(
            message,
            &format!(
                "the core hit a bug at mobile-bindings/src/panics.rs:{line}; the call fails with Internal"
            )
        );
        assert!(records.iter().all(|(_, m)| !m.contains("482913")));
    }
}
