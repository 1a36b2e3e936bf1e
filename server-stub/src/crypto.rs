//! Secrets at rest and tokens: the data key (from configuration) encrypts codes,
//! lock root keys and contact details with ChaCha20-Poly1305, each value bound
//! to its table, column and row ([`Cell`]), and keys the HMAC
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

    /// Encrypts `plain` for `cell` with a fresh nonce: [`BOUND_PREFIX`], then
    /// base64 of nonce || ciphertext || tag. The cell (table, column, row) is
    /// the AEAD's associated data, so the value opens only where it was
    /// sealed: copied into another row or column it does not open at all.
    pub fn seal(&self, cell: Cell<'_>, plain: &[u8]) -> Result<String, CryptoError> {
        let nonce = random_bytes::<12>()?;
        let mut buf = plain.to_vec();
        self.aead
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(cell.associated_data()),
                &mut buf,
            )
            .map_err(|_| CryptoError::Undecryptable)?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&buf);
        Ok(format!("{BOUND_PREFIX}{}", STANDARD.encode(out)))
    }

    /// Encrypts text for `cell`.
    pub fn seal_str(&self, cell: Cell<'_>, plain: &str) -> Result<String, CryptoError> {
        self.seal(cell, plain.as_bytes())
    }

    /// Decrypts [`DataKey::seal`] output sealed for `cell`; anything else
    /// (another cell's value, an altered one, one sealed before values were
    /// bound) is [`CryptoError::Undecryptable`].
    pub fn open(&self, cell: Cell<'_>, sealed: &str) -> Result<Vec<u8>, CryptoError> {
        let body = sealed
            .strip_prefix(BOUND_PREFIX)
            .ok_or(CryptoError::Undecryptable)?;
        self.open_with(Aad::from(cell.associated_data()), body)
    }

    /// Decrypts text sealed for `cell`.
    pub fn open_str(&self, cell: Cell<'_>, sealed: &str) -> Result<String, CryptoError> {
        String::from_utf8(self.open(cell, sealed)?).map_err(|_| CryptoError::Undecryptable)
    }

    /// Re-seals a value written before values were bound to their cells
    /// (no associated data, no prefix) for `cell`; a value already bound is
    /// returned as it is. Only the start-up upgrade of old databases uses it.
    pub fn rebind(&self, cell: Cell<'_>, stored: &str) -> Result<String, CryptoError> {
        if stored.starts_with(BOUND_PREFIX) {
            return Ok(stored.to_owned());
        }
        let plain = self.open_with(Aad::empty(), stored)?;
        self.seal(cell, &plain)
    }

    fn open_with<A: AsRef<[u8]>>(&self, aad: Aad<A>, body: &str) -> Result<Vec<u8>, CryptoError> {
        let bytes = STANDARD
            .decode(body)
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
            .open_in_place(nonce, aad, &mut buf)
            .map_err(|_| CryptoError::Undecryptable)?;
        Ok(plain.to_vec())
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

/// What marks a value sealed for its cell (base64 never holds a `:`).
pub const BOUND_PREFIX: &str = "c1:";

/// Where a sealed value lives: its table, column and row (the row's primary
/// key). Every value sealed at rest names its cell, which becomes the AEAD's
/// associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cell<'a> {
    /// The table.
    pub table: &'static str,
    /// The column.
    pub column: &'static str,
    /// The row's primary key (for a composite key, its parts joined by
    /// [`Cell::key_of`]).
    pub row: &'a str,
}

impl<'a> Cell<'a> {
    /// The cell of `table`.`column` in the row whose key is `row`.
    pub fn new(table: &'static str, column: &'static str, row: &'a str) -> Self {
        Self { table, column, row }
    }

    /// One row key from the parts of a composite primary key.
    pub fn key_of(parts: &[&str]) -> String {
        parts
            .iter()
            .map(|part| format!("{}:{part}", part.len()))
            .collect::<Vec<_>>()
            .join("/")
    }

    /// The associated data: a label and each part length-prefixed, so no
    /// two cells share it.
    fn associated_data(&self) -> Vec<u8> {
        let mut out = b"keyway cell v1".to_vec();
        for part in [self.table, self.column, self.row] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part.as_bytes());
        }
        out
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

/// Whether two secrets (tokens, MACs) are equal, in time that depends on
/// their length only.
pub fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
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
    fn sealed_values_open_only_with_their_key_in_their_cell() {
        let key = DataKey::from_bytes(&[7; 32]);
        let cell = Cell::new("codes", "value", "code_1");
        let sealed = key.seal_str(cell, "4817").unwrap();
        assert!(!sealed.contains("4817"));
        assert_eq!(key.open_str(cell, &sealed).unwrap(), "4817");
        assert_ne!(
            sealed,
            key.seal_str(cell, "4817").unwrap(),
            "fresh nonce each time"
        );
        let other = DataKey::from_bytes(&[8; 32]);
        assert!(other.open_str(cell, &sealed).is_err());
        assert!(key.open_str(cell, "AAAA").is_err());
        for elsewhere in [
            Cell::new("codes", "value", "code_2"),
            Cell::new("placements", "value", "code_1"),
            Cell::new("codes", "name", "code_1"),
        ] {
            assert!(key.open_str(elsewhere, &sealed).is_err(), "{elsewhere:?}");
        }
    }

    #[test]
    fn old_unbound_values_are_rebound_once() {
        let key = DataKey::from_bytes(&[7; 32]);
        // What the server wrote before values were bound: no prefix, no AAD.
        let nonce = [3u8; 12];
        let mut buf = b"482913".to_vec();
        key.aead
            .seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .unwrap();
        let old = STANDARD.encode([nonce.as_slice(), &buf].concat());
        let cell = Cell::new("codes", "value", "code_1");
        assert!(
            key.open_str(cell, &old).is_err(),
            "an unbound value does not open"
        );
        let bound = key.rebind(cell, &old).unwrap();
        assert_eq!(key.open_str(cell, &bound).unwrap(), "482913");
        assert_eq!(key.rebind(cell, &bound).unwrap(), bound);
        assert_ne!(Cell::key_of(&["a/1:b", "c"]), Cell::key_of(&["a", "1:b/c"]));
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
