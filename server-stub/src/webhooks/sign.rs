//! The `Keyway-Signature` header: `t=<unix seconds>,v1=<hex HMAC-SHA256>`
//! of `"<t>.<body>"` under the webhook's secret (ring's HMAC), made anew for
//! every attempt, so receivers can refuse old timestamps (a replay window)
//! and any change to the body.

use ring::hmac;

/// The header's name.
pub const HEADER: &str = "Keyway-Signature";

/// The header's value for `body` signed at `t` with `secret`.
pub fn signature(secret: &[u8], t: i64, body: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(t.to_string().as_bytes());
    context.update(b".");
    context.update(body.as_bytes());
    format!("t={t},v1={}", crate::crypto::hex(context.sign().as_ref()))
}

/// What a receiver does: the header names a time within `window_secs` of
/// `now` and its `v1` is the HMAC of `"<t>.<body>"` (compared in constant
/// time). Tests and receivers written in Rust use it; `docs/server.md` shows
/// the same in other languages.
pub fn verify(secret: &[u8], header: &str, body: &str, now: i64, window_secs: i64) -> bool {
    let mut t = None;
    let mut macs = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => t = value.parse::<i64>().ok(),
            Some(("v1", value)) => macs.extend(crate::crypto::unhex(value)),
            _ => {}
        }
    }
    let Some(t) = t else {
        return false;
    };
    if (now - t).abs() > window_secs {
        return false;
    }
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let message = format!("{t}.{body}");
    macs.iter()
        .any(|mac| hmac::verify(&key, message.as_bytes(), mac).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_verifies_its_body_and_time_only() {
        let secret = b"whsec_test";
        let body = r#"{"id":"evt_1","type":"code.used"}"#;
        let header = signature(secret, 1_767_000_000, body);
        assert!(header.starts_with("t=1767000000,v1="));
        assert_eq!(header.len(), "t=1767000000,v1=".len() + 64);
        assert!(verify(secret, &header, body, 1_767_000_100, 300));
        // Another body, another secret, or outside the window: refused.
        assert!(!verify(
            secret,
            &header,
            &body.replace("used", "made"),
            1_767_000_100,
            300
        ));
        assert!(!verify(b"whsec_other", &header, body, 1_767_000_100, 300));
        assert!(!verify(secret, &header, body, 1_767_000_301, 300));
        // The time is signed: moving it breaks the signature.
        let moved = header.replace("t=1767000000", "t=1767000200");
        assert!(!verify(secret, &moved, body, 1_767_000_200, 300));
        assert!(!verify(secret, "v1=00", body, 1_767_000_000, 300));
    }

    #[test]
    fn the_documented_vector() {
        // docs/server.md, "Verifying a delivery" (and Python's hmac agrees).
        assert_eq!(
            signature(b"whsec_example", 1_767_225_600, "{\"id\":\"evt_1\"}"),
            "t=1767225600,v1=66767d6306a1173a1e9c6a7f1a0ffa2b9f613e44c1a02c71704222e753465204"
        );
    }
}
