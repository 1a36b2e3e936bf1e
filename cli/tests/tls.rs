//! The phone's trust in its server over `https://`, attacked as someone on
//! the building's Wi-Fi would: the real `keyway` binary (the phone's core)
//! logs in through a TLS front to a real server, and refuses a server whose
//! certificate the device does not trust before the API token leaves it.
//!
//! The core trusts what the operating system trusts; on Linux that is the
//! system's CA store, which `SSL_CERT_FILE` replaces (as for OpenSSL), so
//! each case names the one CA its device trusts.

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use keyway_testkit::fixture::{Fixture, FixtureOptions};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// A certificate authority, as PEM for a device's trust store.
struct Authority {
    issuer: CertifiedIssuer<'static, KeyPair>,
}

impl Authority {
    fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let issuer = CertifiedIssuer::self_signed(params, KeyPair::generate().unwrap()).unwrap();
        Self { issuer }
    }

    /// Writes the authority's certificate where a device would trust it.
    fn trust_file(&self, dir: &Path, name: &str) -> std::path::PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, self.issuer.pem()).unwrap();
        path
    }

    /// A server certificate for `localhost` and its key.
    fn server_certificate(&self) -> (CertificateDer<'static>, PrivateKeyDer<'static>) {
        let key = KeyPair::generate().unwrap();
        let params = CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        let cert = params.signed_by(&key, &self.issuer).unwrap();
        (
            cert.der().clone(),
            PrivatePkcs8KeyDer::from(key.serialize_der()).into(),
        )
    }
}

/// Terminates TLS with a certificate and forwards the plaintext to the
/// server; counts the handshakes that completed (only after one does any
/// byte of a request reach the server).
struct TlsFront {
    address: SocketAddr,
    handshakes: Arc<AtomicU64>,
    _runtime: tokio::runtime::Runtime,
}

impl TlsFront {
    fn start(
        certificate: (CertificateDer<'static>, PrivateKeyDer<'static>),
        upstream: String,
    ) -> Self {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![certificate.0], certificate.1)
            .unwrap();
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_io()
            .build()
            .unwrap();
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let handshakes = Arc::new(AtomicU64::new(0));
        let counted = handshakes.clone();
        runtime.spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (acceptor, upstream, counted) =
                    (acceptor.clone(), upstream.clone(), counted.clone());
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(socket).await else {
                        return;
                    };
                    counted.fetch_add(1, Ordering::SeqCst);
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut tls, &mut server).await;
                    }
                });
            }
        });
        Self {
            address,
            handshakes,
            _runtime: runtime,
        }
    }

    fn url(&self) -> String {
        format!("https://localhost:{}", self.address.port())
    }

    fn handshakes(&self) -> u64 {
        self.handshakes.load(Ordering::SeqCst)
    }
}

/// `keyway --json --server URL login`, the token typed on standard input, on
/// a device that trusts only `trusted` (a PEM file).
fn login(data: &Path, server: &str, trusted: &Path, token: &str) -> (Output, Value) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_keyway"))
        .env("KEYWAY_DATA_DIR", data)
        .env_remove("KEYWAY_SERVER")
        .env("KEYWAY_LOG", "warn")
        .env("SSL_CERT_FILE", trusted)
        .env_remove("SSL_CERT_DIR")
        .args(["--json", "--server", server, "login"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{token}").unwrap();
    let out = child.wait_with_output().unwrap();
    let value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, value)
}

fn upstream(f: &Fixture) -> String {
    f.info
        .server_direct_url
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned()
}

#[test]
fn the_phone_logs_in_over_tls_to_a_server_its_device_trusts() {
    let f = Fixture::start(FixtureOptions::server_only()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let building = Authority::new("Maple Court's CA");
    let trusted = building.trust_file(dir.path(), "trusted.pem");
    let front = TlsFront::start(building.server_certificate(), upstream(&f));

    let (out, session) = login(
        &dir.path().join("phone"),
        &front.url(),
        &trusted,
        &f.info.tokens["alice"],
    );
    assert_eq!(out.status.code(), Some(0), "{session}");
    assert_eq!(session["user"]["role"], "resident", "{session}");
    assert!(front.handshakes() >= 1);
}

#[test]
fn a_server_certificate_the_device_does_not_trust_is_refused_before_the_token_leaves() {
    let f = Fixture::start(FixtureOptions::server_only()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let building = Authority::new("Maple Court's CA");
    let trusted = building.trust_file(dir.path(), "trusted.pem");
    // Someone on the building's Wi-Fi answers for the server with a
    // certificate for the same name from an authority of their own, and
    // forwards to the real server.
    let attacker = Authority::new("An attacker's CA");
    let front = TlsFront::start(attacker.server_certificate(), upstream(&f));
    let phone = dir.path().join("phone");

    let (out, err) = login(&phone, &front.url(), &trusted, &f.info.tokens["alice"]);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert_eq!(err["error"]["code"], "network", "{err}");
    assert_eq!(
        front.handshakes(),
        0,
        "no TLS session, so no byte of the token"
    );
    // Nothing is remembered: no session, no server.
    assert!(!phone.join("cli.json").exists());

    // A self-signed certificate (no authority at all) is refused the same.
    let stranger = KeyPair::generate().unwrap();
    let self_signed = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&stranger)
        .unwrap();
    let front = TlsFront::start(
        (
            self_signed.der().clone(),
            PrivatePkcs8KeyDer::from(stranger.serialize_der()).into(),
        ),
        upstream(&f),
    );
    let (out, err) = login(&phone, &front.url(), &trusted, &f.info.tokens["alice"]);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert_eq!(err["error"]["code"], "network", "{err}");
    assert_eq!(front.handshakes(), 0);
}

#[test]
fn a_device_with_no_root_certificates_opens_its_store_but_reaches_no_server() {
    let f = Fixture::start(FixtureOptions::server_only()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let building = Authority::new("Maple Court's CA");
    let front = TlsFront::start(building.server_certificate(), upstream(&f));
    let nothing = dir.path().join("no-roots.pem");
    std::fs::write(&nothing, "").unwrap();

    let (out, err) = login(
        &dir.path().join("phone"),
        &front.url(),
        &nothing,
        &f.info.tokens["alice"],
    );
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert_eq!(err["error"]["code"], "network", "{err}");
    let message = err["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("no trusted root certificates"),
        "{message}"
    );
    assert_eq!(front.handshakes(), 0);
}
