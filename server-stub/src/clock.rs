//! The server's clock: now in Unix seconds, and Unix seconds as a timestamp.

/// Now, in Unix seconds.
pub fn now_secs() -> i64 {
    jiff::Timestamp::now().as_second()
}

/// Unix seconds as a timestamp (clamped into range).
pub fn ts(seconds: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_second(seconds).unwrap_or(jiff::Timestamp::UNIX_EPOCH)
}
