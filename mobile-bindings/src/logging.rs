//! Forwards the core's `log` records to the app's logger (logcat, os_log,
//! Python logging), so library logs appear where the app's do.

use std::sync::{Arc, RwLock};

/// Severity of a log record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, uniffi::Enum)]
pub enum LogLevel {
    /// Failures.
    Error,
    /// Something unexpected but handled.
    Warn,
    /// Milestones: synced, delivered.
    Info,
    /// Detail for developers.
    Debug,
    /// Very detailed tracing.
    Trace,
}

/// Implemented by the app to receive the library's log records.
#[uniffi::export(foreign)]
pub trait Logger: Send + Sync {
    /// Called for every record at or above the level given to [`set_logger`].
    fn log(&self, level: LogLevel, target: String, message: String);
}

static TARGET: RwLock<Option<Arc<dyn Logger>>> = RwLock::new(None);

struct Forwarder;

impl log::Log for Forwarder {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        let logger = TARGET.read().ok().and_then(|guard| guard.clone());
        if let Some(logger) = logger {
            let level = match record.level() {
                log::Level::Error => LogLevel::Error,
                log::Level::Warn => LogLevel::Warn,
                log::Level::Info => LogLevel::Info,
                log::Level::Debug => LogLevel::Debug,
                log::Level::Trace => LogLevel::Trace,
            };
            logger.log(level, record.target().to_owned(), record.args().to_string());
        }
    }

    fn flush(&self) {}
}

static FORWARDER: Forwarder = Forwarder;

/// Sends the library's log records at `level` and above to `logger`,
/// replacing any logger set before (a bug in the core is logged there too,
/// as an error naming its place).
#[uniffi::export]
pub fn set_logger(logger: Arc<dyn Logger>, level: LogLevel) {
    crate::panics::install();
    if let Ok(mut target) = TARGET.write() {
        *target = Some(logger);
    }
    // Fails only if another logger was installed first (an app embedding two
    // Rust libraries); the records then go there instead.
    let _ = log::set_logger(&FORWARDER);
    log::set_max_level(match level {
        LogLevel::Error => log::LevelFilter::Error,
        LogLevel::Warn => log::LevelFilter::Warn,
        LogLevel::Info => log::LevelFilter::Info,
        LogLevel::Debug => log::LevelFilter::Debug,
        LogLevel::Trace => log::LevelFilter::Trace,
    });
    log::info!(target: "keyway", "logging to the app at level {level:?}");
}
