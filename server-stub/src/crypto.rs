//! Secrets at rest and tokens: the data key (from configuration) encrypts codes,
//! lock root keys and contact details with ChaCha20-Poly1305, and keys the HMAC
//! used for equality lookups (a deleted PIN, a recipient's address) without
//! storing the plain value. Bearer tokens are random and stored as SHA-256.
//! Everything is `ring`.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::{digest, hkdf, hmac};

/// The 32-byte data key and the two keys derived from it.
pub struct DataKey {
    aead: LessSafeKey,
    mac: hmac::Key,
    check: String,
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// Why a secret could not be read or a key used.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    /// The configured key is not 64 hex digits.
    #[error("the data key must be 64 hex digits (32 bytes)")]
    BadKey,
    /// A stored value did not decrypt: another key, or altered data.
    #[error("a stored secret did not decrypt (wrong data key or altered data)")]
    Undecryptable,
    /// The operating system's random source failed.
    #[error("the system's random number source is unavailable")]
    Entropy,
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

fn derive(prk: &hkdf::Prk, label: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let info = [label];
    // 32 bytes is far below HKDF-SHA256's output limit.
    prk.expand(&info, Len32)
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-SHA256 expands 32 bytes");
    out
}

impl DataKey {
    /// The key from 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if text.len() != 64 {
            return Err(CryptoError::BadKey);
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = text
                .get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(CryptoError::BadKey)?;
        }
        Ok(Self::from_bytes(&bytes))
    }

    /// The key from its bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"keyway server data key v1").extract(bytes);
        let aead_bytes = derive(&prk, b"aead");
        let aead = LessSafeKey::new(
            UnboundKey::new(&CHACHA20_POLY1305, &aead_bytes).expect("32-byte ChaCha20 key"),
        );
        let mac = hmac::Key::new(hmac::HMAC_SHA256, &derive(&prk, b"lookup"));
        let check = hex(&derive(&prk, b"check")[..8]);
        Self { aead, mac, check }
    }

    /// A fresh random key as 64 hex digits.
    pub fn generate_hex() -> Result<String, CryptoError> {
        Ok(hex(&random_bytes::<32>()?))
    }

    /// A short fingerprint stored in the database, so a server started with
    /// another key refuses to run instead of failing on every read.
    pub fn check_value(&self) -> &str {
        &self.check
    }

    /// Encrypts `plain` with a fresh nonce; base64 of nonce || ciphertext || tag.
    pub fn seal(&self, plain: &[u8]) -> Result<String, CryptoError> {
        let nonce = random_bytes::<12>()?;
        let mut buf = plain.to_vec();
        self.aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .map_err(|_| CryptoError::Undecryptable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(STANDARD.encode(out))
    }

    /// Encrypts text.
    pub fn seal_str(&self, plain: &str) -> Result<String, CryptoError> {
        self.seal(plain.as_bytes())
    }

    /// Decrypts [`DataKey::seal`] output.
    pub fn open(&self, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| CryptoError::Undecryptable)?;
        if bytes.len() < aead::NONCE_LEN + aead::CHACHA20_POLY1305.tag_len() {
            return Err(CryptoError::Undecryptable);
        }
        let (nonce, rest) = bytes.split_at(aead::NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Undecryptable)?;
        let mut buf = rest.to_vec();
        let plain = self
            .aead
            .open_in_place(nonce, Aad::empty(), &mut buf)
            .map_err(|_| CryptoError::Undecryptable)?;
        Ok(plain.to_vec())
    }

    /// Decrypts text.
    pub fn open_str(&self, sealed: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(sealed)?).map_err(|_| CryptoError::Undecryptable)
    }

    /// The keyed lookup MAC of `value` in `domain` (hex): equal inputs give
    /// equal MACs, and without the key the MAC reveals nothing.
    pub fn lookup_mac(&self, domain: &str, value: &str) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(domain.as_bytes());
        ctx.update(&[0]);
        ctx.update(value.as_bytes());
        hex(ctx.sign().as_ref())
    }
}

impl DataKey {
    /// The keyed MAC of a request (method and path, body), stored with its
    /// idempotency key to recognise a retry. Keyed, because a body may hold
    /// a picked code, and a plain hash of a 4-digit code in a known JSON
    /// shape is undone by trying all 10,000.
    pub fn request_mac(&self, parts: &[&[u8]]) -> String {
        let mut ctx = hmac::Context::with_key(&self.mac);
        ctx.update(b"request\0");
        for part in parts {
            ctx.update(&(part.len() as u64).to_le_bytes());
            ctx.update(part);
        }
        hex(ctx.sign().as_ref())
    }
}

/// `N` bytes from the operating system's CSPRNG.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CryptoError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| CryptoError::Entropy)?;
    Ok(out)
}

/// A new random id with a readable prefix (`code_…`, `lock_…`).
pub fn new_id(prefix: &str) -> String {
    let bytes = random_bytes::<12>().unwrap_or_else(|_| rand::random());
    format!("{prefix}_{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A new bearer token with a prefix saying what it is (`kwa` API token, `kwd`
/// device token): 256 random bits.
pub fn new_token(prefix: &str) -> Result<String, CryptoError> {
    Ok(format!(
        "{prefix}_{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// How a token is stored: SHA-256, hex. Tokens carry 256 random bits, so a
/// fast hash is enough and lookups stay one index probe.
pub fn token_hash(token: &str) -> String {
    hex(digest::digest(&digest::SHA256, token.as_bytes()).as_ref())
}

/// Lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Parses lowercase or uppercase hex.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len() / 2)
        .map(|i| {
            text.get(2 * i..2 * i + 2)
                .and_then(|p| u8::from_str_radix(p, 16).ok())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key() {
        let key = DataKey::from_bytes(&[7; 32]);
        let sealed = key.seal_str("4817").unwrap();
        assert!(!sealed.contains("4817"));
        assert_eq!(key.open_str(&sealed).unwrap(), "4817");
        assert_ne!(
            sealed,
            key.seal_str("4817").unwrap(),
            "fresh nonce each time"
        );
        let other = DataKey::from_bytes(&[8; 32]);
        assert!(other.open_str(&sealed).is_err());
        assert!(key.open_str("AAAA").is_err());
    }

    #[test]
    fn lookup_macs_are_keyed_and_domain_separated() {
        let key = DataKey::from_bytes(&[7; 32]);
        let a = key.lookup_mac("pin", "482913");
        assert_eq!(a, key.lookup_mac("pin", "482913"));
        assert_ne!(a, key.lookup_mac("email", "482913"));
        assert_ne!(a, DataKey::from_bytes(&[8; 32]).lookup_mac("pin", "482913"));
    }

    #[test]
    fn request_macs_are_keyed_and_framed() {
        let key = DataKey::from_bytes(&[7; 32]);
        let a = key.request_mac(&[b"POST /v1/codes", b"{\"code\":\"4817\"}"]);
        assert_eq!(
            a,
            key.request_mac(&[b"POST /v1/codes", b"{\"code\":\"4817\"}"])
        );
        assert_ne!(
            a,
            key.request_mac(&[b"POST /v1/codes", b"{\"code\":\"4818\"}"])
        );
        assert_ne!(
            a,
            key.request_mac(&[b"POST /v1/code", b"s{\"code\":\"4817\"}"])
        );
        let other = DataKey::from_bytes(&[8; 32]);
        assert_ne!(
            a,
            other.request_mac(&[b"POST /v1/codes", b"{\"code\":\"4817\"}"])
        );
    }

    #[test]
    fn keys_parse_from_hex() {
        let text = DataKey::generate_hex().unwrap();
        let a = DataKey::from_hex(&text).unwrap();
        let b = DataKey::from_hex(&text).unwrap();
        assert_eq!(a.check_value(), b.check_value());
        assert!(DataKey::from_hex("abc").is_err());
        assert_eq!(unhex("0aFF"), Some(vec![10, 255]));
        assert_eq!(unhex("0"), None);
    }
}
