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

/// A server (through its fixture) and a phone's data directory.
struct World {
    f: Fixture,
    dir: tempfile::TempDir,
}

impl World {
    fn start() -> Self {
        Self {
            f: Fixture::start(FixtureOptions::server_only()).unwrap(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    /// A TLS front to the server with `certificate`.
    fn front(&self, certificate: (CertificateDer<'static>, PrivateKeyDer<'static>)) -> TlsFront {
        let upstream = self.f.info.server_direct_url.trim_start_matches("http://");
        TlsFront::start(certificate, upstream.trim_end_matches('/').to_owned())
    }

    /// A file of `contents` where a device's trusted roots would be.
    fn trust(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// `keyway --json --server URL login`, Alice's token typed on standard
    /// input, on a device that trusts only the roots in `trusted`.
    fn login(&self, front: &TlsFront, trusted: &Path) -> (Output, Value) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_keyway"))
            .env("KEYWAY_DATA_DIR", self.phone())
            .env_remove("KEYWAY_SERVER")
            .env("KEYWAY_LOG", "warn")
            .env("SSL_CERT_FILE", trusted)
            .env_remove("SSL_CERT_DIR")
            .args(["--json", "--server", &front.url(), "login"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        writeln!(
            child.stdin.take().unwrap(),
            "{}",
            self.f.info.tokens["alice"]
        )
        .unwrap();
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

    /// The login fails as a network error (exit 4) with no TLS session, so
    /// no byte of the token reached the front, and nothing is remembered.
    fn refused(&self, front: &TlsFront, trusted: &Path) -> String {
        let (out, err) = self.login(front, trusted);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert_eq!(err["error"]["code"], "network", "{err}");
        assert_eq!(
            front.handshakes(),
            0,
            "no TLS session, so no byte of the token"
        );
        assert!(!self.phone().join("cli.json").exists());
        err["error"]["message"].as_str().unwrap().to_owned()
    }

    fn phone(&self) -> std::path::PathBuf {
        self.dir.path().join("phone")
    }
}

#[test]
fn the_phone_logs_in_over_tls_to_a_server_its_device_trusts() {
    let world = World::start();
    let building = Authority::new("Maple Court's CA");
    let trusted = world.trust("trusted.pem", &building.issuer.pem());
    let front = world.front(building.server_certificate());

    let (out, session) = world.login(&front, &trusted);
    assert_eq!(out.status.code(), Some(0), "{session}");
    assert_eq!(session["user"]["role"], "resident", "{session}");
    assert!(front.handshakes() >= 1);
}

#[test]
fn a_server_certificate_the_device_does_not_trust_is_refused_before_the_token_leaves() {
    let world = World::start();
    let building = Authority::new("Maple Court's CA");
    let trusted = world.trust("trusted.pem", &building.issuer.pem());
    // Someone on the building's Wi-Fi answers for the server with a
    // certificate for the same name from an authority of their own, and
    // forwards to the real server.
    let attacker = Authority::new("An attacker's CA");
    world.refused(&world.front(attacker.server_certificate()), &trusted);

    // A self-signed certificate (no authority at all) is refused the same.
    let stranger = KeyPair::generate().unwrap();
    let self_signed = CertificateParams::new(vec!["localhost".to_owned()])
        .unwrap()
        .self_signed(&stranger)
        .unwrap();
    let key = PrivatePkcs8KeyDer::from(stranger.serialize_der()).into();
    world.refused(&world.front((self_signed.der().clone(), key)), &trusted);
}

#[test]
fn a_device_with_no_root_certificates_opens_its_store_but_reaches_no_server() {
    let world = World::start();
    let building = Authority::new("Maple Court's CA");
    let nothing = world.trust("no-roots.pem", "");
    let message = world.refused(&world.front(building.server_certificate()), &nothing);
    assert!(
        message.contains("no trusted root certificates"),
        "{message}"
    );
}
