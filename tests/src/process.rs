//! The child processes of a world: their output read line by line on a
//! thread, and a clean stop (SIGTERM through rustix, no `kill` program,
//! then SIGKILL after five seconds).

use std::io::{BufRead, BufReader, Read};
use std::process::Child;
use std::sync::mpsc;
use std::time::Duration;

/// Every line of `stream`, read on a thread (echoed to stderr when
/// `KEYWAY_FIXTURE_VERBOSE` is set).
pub(crate) fn lines(stream: impl Read + Send + 'static) -> mpsc::Receiver<String> {
    let verbose = std::env::var_os("KEYWAY_FIXTURE_VERBOSE").is_some();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if verbose {
                eprintln!("{line}");
            }
            // The receiver may be gone; the stream is still drained.
            let _ = tx.send(line);
        }
    });
    rx
}

/// The first line of `stream` that contains `marker`, within a minute; the
/// rest of the stream is drained on the thread.
pub(crate) fn first_line(stream: impl Read + Send + 'static, marker: &str) -> Option<String> {
    let rx = lines(stream);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        let line = rx.recv_timeout(left).ok()?;
        if line.contains(marker) {
            return Some(line);
        }
    }
}

/// Stops a child: SIGTERM for a clean stop (the simulator removes its
/// bus), then SIGKILL if it is still running after five seconds.
pub(crate) fn stop_child(child: &mut Child) {
    // It fails only for a child already reaped; the loop then ends at once.
    let _ = rustix::process::kill_process(
        rustix::process::Pid::from_child(child),
        rustix::process::Signal::TERM,
    );
    for _ in 0..50 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = child.kill();
    let _ = child.wait();
}
