//! The trust the phone puts in its server's certificate: TLS 1.3 and 1.2 on
//! rustls with ring (one crypto stack with the rest of the core), the server
//! verified as the operating system verifies any site. On iOS and macOS that
//! is Security.framework; on Linux the system's CA store (`SSL_CERT_FILE` and
//! `SSL_CERT_DIR` replace it, as for OpenSSL); so a device's own trust
//! (an MDM-installed CA, a distrusted root removed by an OS update) holds for
//! Keyway too, and the library bundles no root certificates. Android builds
//! bundle the Mozilla roots (`webpki-roots`): the platform verifier there
//! needs a JNI context the app would have to hand over first.

use std::sync::Arc;

use rustls::ClientConfig;

/// The TLS configuration of every `https://` connection to the server.
///
/// Fails, saying why in words, when the device has no root certificate at
/// all (a Linux machine without a CA store): no server could be trusted.
pub(crate) fn client_config() -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?;
    #[cfg(not(target_os = "android"))]
    let builder = {
        use rustls_platform_verifier::BuilderVerifierExt as _;
        builder
            .with_platform_verifier()
            .map_err(|e| format!("no trusted root certificates on this device: {e}"))?
    };
    #[cfg(target_os = "android")]
    let builder = builder.with_root_certificates(rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    });
    Ok(builder.with_no_client_auth())
}
