//! A TCP forwarder between phones and the server that a test can cut: while
//! down, its port is closed (connections are refused, as for a phone with no
//! network) and every open connection is dropped; back up, it listens on the
//! same port again. The phone's network-cut suites use it.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

#[derive(Debug)]
struct Shared {
    up: AtomicBool,
    stop: AtomicBool,
    connections: Mutex<Vec<TcpStream>>,
    accepted: AtomicU64,
}

/// A cuttable TCP forwarder on 127.0.0.1.
#[derive(Debug)]
pub struct NetSwitch {
    address: SocketAddr,
    shared: Arc<Shared>,
    acceptor: Option<JoinHandle<()>>,
}

impl NetSwitch {
    /// Forwards a free local port to `upstream` (`host:port`); starts up.
    pub fn start(upstream: &str) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let address = listener.local_addr()?;
        let shared = Arc::new(Shared {
            up: AtomicBool::new(true),
            stop: AtomicBool::new(false),
            connections: Mutex::new(Vec::new()),
            accepted: AtomicU64::new(0),
        });
        let upstream = upstream.to_owned();
        let state = shared.clone();
        let acceptor = std::thread::spawn(move || accept_loop(listener, address, upstream, state));
        Ok(Self {
            address,
            shared,
            acceptor: Some(acceptor),
        })
    }

    /// Where phones connect.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// Whether connections go through.
    pub fn is_up(&self) -> bool {
        self.shared.up.load(Ordering::SeqCst)
    }

    /// Connections accepted so far.
    pub fn accepted(&self) -> u64 {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Cuts (`false`) or restores (`true`) the network. Cutting drops every
    /// open connection at once.
    pub fn set_up(&self, up: bool) {
        self.shared.up.store(up, Ordering::SeqCst);
        if !up {
            let mut connections = self
                .shared
                .connections
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            for stream in connections.drain(..) {
                let _ = stream.shutdown(Shutdown::Both);
            }
        }
        // Wait until the acceptor has closed or reopened the port.
        for _ in 0..100 {
            std::thread::sleep(Duration::from_millis(10));
            let probe = TcpStream::connect_timeout(&self.address, Duration::from_millis(200));
            if probe.is_ok() == up {
                // A probe that got through is dropped at once; harmless.
                return;
            }
        }
    }
}

impl Drop for NetSwitch {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.set_up(false);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

fn accept_loop(listener: TcpListener, address: SocketAddr, upstream: String, shared: Arc<Shared>) {
    let mut listener = Some(listener);
    while !shared.stop.load(Ordering::SeqCst) {
        let up = shared.up.load(Ordering::SeqCst);
        match (&listener, up) {
            (Some(_), false) => {
                listener = None;
                continue;
            }
            (None, true) => {
                // The port was ours a moment ago; std sets SO_REUSEADDR.
                match TcpListener::bind(address) {
                    Ok(l) => listener = Some(l),
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
                continue;
            }
            (None, false) => {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            }
            (Some(l), true) => {
                let _ = l.set_nonblocking(true);
                match l.accept() {
                    Ok((client, _)) => {
                        shared.accepted.fetch_add(1, Ordering::SeqCst);
                        let _ = client.set_nonblocking(false);
                        forward(client, &upstream, &shared);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        }
    }
}

fn forward(client: TcpStream, upstream: &str, shared: &Arc<Shared>) {
    let Ok(server) = TcpStream::connect(upstream) else {
        let _ = client.shutdown(Shutdown::Both);
        return;
    };
    let (Ok(client2), Ok(server2)) = (client.try_clone(), server.try_clone()) else {
        return;
    };
    if let Ok(mut connections) = shared.connections.lock()
        && let (Ok(a), Ok(b)) = (client.try_clone(), server.try_clone())
    {
        connections.push(a);
        connections.push(b);
    }
    std::thread::spawn(move || pump(client, server));
    std::thread::spawn(move || pump(server2, client2));
}

fn pump(mut from: TcpStream, mut to: TcpStream) {
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = to.shutdown(Shutdown::Write);
}
