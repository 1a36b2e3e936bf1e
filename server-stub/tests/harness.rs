//! The test harness's own tests, armed only by `cargo xtask test`'s harness
//! self-test (`harness_self_test` in xtask): each passes at once unless
//! `KEYWAY_HARNESS_SELF_TEST` is set. Armed, both fail on purpose, and the
//! self-test checks how, through the same runner and configuration
//! (`.config/nextest.toml`) as every other test:
//!
//! - [`a_failing_worker_ends_its_test`]: threads write to a loopback server
//!   in a loop, as the fault suite's writers do, and one fails; the shared
//!   [`Stop`] flag must end the test in seconds, as a failure (not a time-out).
//! - [`a_hung_test_is_terminated`]: a test whose workers never stop; the
//!   runner's time limit must terminate it (a time-out, within the limit its
//!   override in `.config/nextest.toml` sets).

mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use support::Stop;

/// The variable that arms the tests in this file.
const ARM: &str = "KEYWAY_HARNESS_SELF_TEST";

fn armed() -> bool {
    std::env::var_os(ARM).is_some()
}

/// A loopback server answering each line with the same line, forever (on
/// threads nobody joins: the test process ends with the test).
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut writer = stream.try_clone().unwrap();
                for line in BufReader::new(stream).lines().map_while(Result::ok) {
                    if writeln!(writer, "{line}").is_err() {
                        return;
                    }
                }
            });
        }
    });
    address
}

/// One request and its answer.
fn request(stream: &mut BufReader<TcpStream>, n: u64) -> u64 {
    writeln!(stream.get_mut(), "{n}").unwrap();
    let mut line = String::new();
    stream.read_line(&mut line).unwrap();
    line.trim().parse().unwrap()
}

#[test]
fn a_failing_worker_ends_its_test() {
    if !armed() {
        return;
    }
    let address = echo_server();
    let stop = Stop::default();
    std::thread::scope(|scope| {
        let stop = &stop;
        let _stop_workers = stop.guard();
        let mut handles = Vec::new();
        for worker in 0..3u64 {
            let address = &address;
            handles.push(scope.spawn(move || {
                let _stop_others = stop.guard();
                let mut stream = BufReader::new(TcpStream::connect(address).unwrap());
                let started = Instant::now();
                let mut n = 0;
                while !stop.is_set() {
                    n += 1;
                    let answer = request(&mut stream, n);
                    // Worker 0 fails after a moment: a wrong answer.
                    let expected = if worker == 0 && started.elapsed() > Duration::from_millis(300)
                    {
                        n + 1
                    } else {
                        n
                    };
                    assert_eq!(answer, expected, "worker {worker}: a deliberate failure");
                }
            }));
        }
        // The controller waits much longer than the test may take, in short
        // steps, as the fault suite does before its kill.
        let deadline = Instant::now() + Duration::from_secs(600);
        while !stop.is_set() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        for handle in handles {
            handle.join().unwrap();
        }
    });
}

#[test]
fn a_hung_test_is_terminated() {
    if !armed() {
        return;
    }
    let address = echo_server();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            let address = &address;
            scope.spawn(move || {
                let mut stream = BufReader::new(TcpStream::connect(address).unwrap());
                let mut n = 0;
                loop {
                    n += 1;
                    assert_eq!(request(&mut stream, n), n);
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        }
    });
}
