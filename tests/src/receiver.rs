//! A webhook receiver for tests: a real HTTP server on a free local port
//! that answers each request with the next status of a script (then 200)
//! and keeps what it received — headers, body, when — for the test to check
//! signatures, retries and their pacing.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{KitError, KitResult};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// `Keyway-Signature`.
    pub signature: String,
    /// `Keyway-Event`.
    pub event: String,
    /// `Keyway-Delivery`.
    pub delivery: String,
    /// The body.
    pub body: String,
    /// The status it was answered with.
    pub status: u16,
    /// When it arrived.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    script: VecDeque<u16>,
    received: Vec<Received>,
}

/// The running receiver; it stops when dropped.
pub struct WebhookReceiver {
    /// `http://127.0.0.1:<port>/hook`.
    pub url: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl std::fmt::Debug for WebhookReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookReceiver")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(|p| p.into_inner())
}

impl WebhookReceiver {
    /// Starts a receiver that answers its first requests with `script`'s
    /// statuses, in order, and 200 after that.
    pub fn start(script: &[u16]) -> KitResult<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").map_err(KitError::Listen)?;
        let port = listener.local_addr().map_err(KitError::Listen)?.port();
        listener.set_nonblocking(true).map_err(KitError::Listen)?;
        let state = Arc::new(Mutex::new(State {
            script: script.iter().copied().collect(),
            received: Vec::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (serving, stopping) = (state.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let _ = answer(stream, &serving);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Ok(Self {
            url: format!("http://127.0.0.1:{port}/hook"),
            state,
            stop,
        })
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    /// Waits (up to 30 s) until `count` requests arrived; what arrived.
    pub fn wait_for(&self, count: usize) -> Vec<Received> {
        let started = Instant::now();
        loop {
            let received = self.received();
            if received.len() >= count || started.elapsed() > Duration::from_secs(30) {
                return received;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for WebhookReceiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Reads one request and answers it with the script's next status.
fn answer(stream: TcpStream, state: &Mutex<State>) -> std::io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 || line == "\r\n" {
            break;
        }
        headers.push(line.trim_end().to_owned());
    }
    let header = |name: &str| {
        headers
            .iter()
            .filter_map(|h| h.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let length: usize = header("content-length").parse().unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    let status = {
        let mut state = lock(state);
        let status = state.script.pop_front().unwrap_or(200);
        state.received.push(Received {
            signature: header("keyway-signature"),
            event: header("keyway-event"),
            delivery: header("keyway-delivery"),
            body: String::from_utf8_lossy(&body).into_owned(),
            status,
            at: Instant::now(),
        });
        status
    };
    let mut stream = stream;
    write!(
        stream,
        "HTTP/1.1 {status} Scripted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )?;
    stream.flush()
}
