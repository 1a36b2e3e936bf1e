//! Sealing: jobs the server writes for one lock and receipts the lock writes
//! back, each an AEAD envelope (ChaCha20-Poly1305 from `ring`) under a key
//! derived with HKDF-SHA256 from the lock's root key. The phone carries the
//! envelopes and can neither read nor forge them.

use std::fmt;

use ring::aead::{self, Aad, CHACHA20_POLY1305, LessSafeKey, Nonce, UnboundKey};
use ring::hkdf;
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::advert::AdvertKey;
use super::job::{Job, LockId};
use super::receipt::Receipt;
use super::wire::{DecodeError, Reader};

/// The HKDF salt of the lock protocol (unchanged since version 1, so a lock's
/// keys survive the move to version 2).
pub const HKDF_SALT: &[u8] = b"keyway lock protocol v1";
/// Envelope type byte of a sealed job.
pub const ENVELOPE_JOB: u8 = b'J';
/// Envelope type byte of a sealed receipt.
pub const ENVELOPE_RECEIPT: u8 = b'R';
/// Bytes before the ciphertext: type, lock id, nonce.
pub const ENVELOPE_HEADER_LEN: usize = 1 + 8 + 12;
/// The AEAD tag length.
pub const TAG_LEN: usize = 16;

/// A lock's 32-byte root key, shared by the server and the lock only.
#[derive(Clone, PartialEq, Eq)]
pub struct RootKey([u8; 32]);

impl RootKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, SealError> {
        let mut bytes = [0u8; 32];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| SealError::Entropy)?;
        Ok(Self(bytes))
    }

    /// A key from its bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key's bytes, for storage encrypted at rest or a provisioning file.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key as 64 hex digits (provisioning files).
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, SealError> {
        if text.len() != 64 {
            return Err(SealError::BadKey);
        }
        let mut out = [0u8; 32];
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = text
                .get(2 * i..2 * i + 2)
                .and_then(|pair| u8::from_str_radix(pair, 16).ok())
                .ok_or(SealError::BadKey)?;
        }
        Ok(Self(out))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

impl Serialize for RootKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_hex())
    }
}

impl<'de> Deserialize<'de> for RootKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::from_hex(&text).map_err(serde::de::Error::custom)
    }
}

/// Why sealing or opening failed. Each variant has a stable machine code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The envelope is malformed.
    #[error("malformed envelope: {0}")]
    Malformed(#[from] DecodeError),
    /// The envelope is for another lock.
    #[error("the envelope is for lock {found}, not {expected}")]
    WrongLock {
        /// The lock that opened it.
        expected: LockId,
        /// The lock named in the envelope.
        found: LockId,
    },
    /// The envelope is not of the expected type (a receipt offered as a job).
    #[error("expected a sealed {expected}")]
    WrongType {
        /// "job" or "receipt".
        expected: &'static str,
    },
    /// Authentication failed: the bytes were altered or sealed with another key.
    #[error("the envelope failed authentication")]
    BadSeal,
    /// A key is not 64 hex digits.
    #[error("a lock key is 64 hex digits")]
    BadKey,
    /// The operating system's random source failed.
    #[error("the system's random number source is unavailable")]
    Entropy,
    /// A genuine receipt that answers something else (a stale status, or
    /// another job's receipt).
    #[error("the receipt does not answer this request")]
    WrongReply,
}

impl SealError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Malformed(e) => e.code(),
            Self::WrongLock { .. } => "wrong_lock",
            Self::WrongType { .. } => "wrong_envelope_type",
            Self::BadSeal => "bad_seal",
            Self::BadKey => "bad_key",
            Self::Entropy => "entropy_unavailable",
            Self::WrongReply => "wrong_reply",
        }
    }
}

/// The keys of one lock, derived from its root key: one per direction.
pub struct LockKeys {
    lock_id: LockId,
    job: LessSafeKey,
    receipt: LessSafeKey,
    advert: AdvertKey,
}

impl fmt::Debug for LockKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LockKeys({}, <redacted>)", self.lock_id)
    }
}

struct KeyLen;

impl hkdf::KeyType for KeyLen {
    fn len(&self) -> usize {
        32
    }
}

/// The raw bytes of one derived key: `HKDF-SHA256(salt = HKDF_SALT, ikm = root,
/// info = label || lock_id)`, 32 bytes. Published for other implementations
/// and the test vectors; [`LockKeys::derive`] is the way to use them.
pub fn derive_key_bytes(root: &RootKey, lock_id: LockId, label: &[u8]) -> [u8; 32] {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, HKDF_SALT).extract(&root.0);
    let info = [label, &lock_id.0];
    let mut bytes = [0u8; 32];
    // 32 bytes is far below HKDF-SHA256's 8160-byte limit, so expand cannot fail.
    prk.expand(&info, KeyLen)
        .and_then(|okm| okm.fill(&mut bytes))
        .expect("HKDF-SHA256 can expand 32 bytes");
    bytes
}

fn aead_key(bytes: &[u8; 32]) -> LessSafeKey {
    let key =
        UnboundKey::new(&CHACHA20_POLY1305, bytes).expect("ChaCha20-Poly1305 takes a 32-byte key");
    LessSafeKey::new(key)
}

impl LockKeys {
    /// Derives the job, receipt and advertising keys of `lock_id` from its
    /// root key: `HKDF-SHA256(salt = HKDF_SALT, ikm = root, info = label ||
    /// lock_id)` with the labels `job`, `receipt` and `advert`.
    pub fn derive(root: &RootKey, lock_id: LockId) -> Self {
        Self {
            lock_id,
            job: aead_key(&derive_key_bytes(root, lock_id, b"job")),
            receipt: aead_key(&derive_key_bytes(root, lock_id, b"receipt")),
            advert: AdvertKey::new(lock_id, derive_key_bytes(root, lock_id, b"advert")),
        }
    }

    /// The advertising key (the server hands it to the phones that may reach
    /// the lock).
    pub fn advert_key(&self) -> &AdvertKey {
        &self.advert
    }

    /// The lock these keys belong to.
    pub fn lock_id(&self) -> LockId {
        self.lock_id
    }

    /// Seals `job` for this lock with a fresh random nonce (server side).
    pub fn seal_job(&self, job: &Job) -> Result<Vec<u8>, SealError> {
        seal(
            &self.job,
            ENVELOPE_JOB,
            self.lock_id,
            random_nonce()?,
            job.encode(),
        )
    }

    /// Seals `job` with the given nonce. Only for test vectors: a nonce must never
    /// be used twice under one key.
    pub fn seal_job_with_nonce(&self, job: &Job, nonce: [u8; 12]) -> Vec<u8> {
        seal(&self.job, ENVELOPE_JOB, self.lock_id, nonce, job.encode()).unwrap_or_default()
    }

    /// Opens a sealed job addressed to this lock (lock side).
    pub fn open_job(&self, envelope: &[u8]) -> Result<Job, SealError> {
        let plain = open(&self.job, ENVELOPE_JOB, "job", self.lock_id, envelope)?;
        Ok(Job::decode(&plain)?)
    }

    /// Seals `receipt` with a fresh random nonce (lock side).
    pub fn seal_receipt(&self, receipt: &Receipt) -> Result<Vec<u8>, SealError> {
        seal(
            &self.receipt,
            ENVELOPE_RECEIPT,
            self.lock_id,
            random_nonce()?,
            receipt.encode(),
        )
    }

    /// Seals `receipt` with the given nonce. Only for test vectors.
    pub fn seal_receipt_with_nonce(&self, receipt: &Receipt, nonce: [u8; 12]) -> Vec<u8> {
        seal(
            &self.receipt,
            ENVELOPE_RECEIPT,
            self.lock_id,
            nonce,
            receipt.encode(),
        )
        .unwrap_or_default()
    }

    /// Opens a sealed receipt from this lock (server side). The receipt inside
    /// must name the same lock.
    pub fn open_receipt(&self, envelope: &[u8]) -> Result<Receipt, SealError> {
        let plain = open(
            &self.receipt,
            ENVELOPE_RECEIPT,
            "receipt",
            self.lock_id,
            envelope,
        )?;
        let receipt = Receipt::decode(&plain)?;
        if receipt.lock_id != self.lock_id {
            return Err(SealError::WrongLock {
                expected: self.lock_id,
                found: receipt.lock_id,
            });
        }
        Ok(receipt)
    }
}

impl LockKeys {
    /// Opens a sealed status (server side) and checks it echoes `challenge`,
    /// the server's single-use challenge for this visit: a replayed old status
    /// fails.
    pub fn open_status(&self, envelope: &[u8], challenge: [u8; 16]) -> Result<Receipt, SealError> {
        let receipt = self.open_receipt(envelope)?;
        if receipt.reply_to != super::receipt::ReplyTo::Status(challenge) {
            return Err(SealError::WrongReply);
        }
        Ok(receipt)
    }
}

/// The lock an envelope is addressed to, read without opening it (a phone uses
/// it to route jobs; it proves nothing).
pub fn envelope_lock_id(envelope: &[u8]) -> Result<LockId, DecodeError> {
    let mut r = Reader::new(envelope);
    r.u8("envelope_type")?;
    Ok(LockId(r.array("lock_id")?))
}

fn random_nonce() -> Result<[u8; 12], SealError> {
    let mut nonce = [0u8; 12];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| SealError::Entropy)?;
    Ok(nonce)
}

/// The associated data: the envelope type and the lock id.
fn aad(kind: u8, lock_id: LockId) -> Aad<[u8; 9]> {
    let mut bytes = [kind; 9];
    bytes[1..].copy_from_slice(&lock_id.0);
    Aad::from(bytes)
}

fn seal(
    key: &LessSafeKey,
    kind: u8,
    lock_id: LockId,
    nonce: [u8; 12],
    mut body: Vec<u8>,
) -> Result<Vec<u8>, SealError> {
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        aad(kind, lock_id),
        &mut body,
    )
    .map_err(|_| SealError::BadSeal)?;
    let mut envelope = Vec::with_capacity(ENVELOPE_HEADER_LEN + body.len());
    envelope.push(kind);
    envelope.extend_from_slice(&lock_id.0);
    envelope.extend_from_slice(&nonce);
    envelope.extend_from_slice(&body);
    Ok(envelope)
}

fn open(
    key: &LessSafeKey,
    kind: u8,
    kind_name: &'static str,
    expected: LockId,
    envelope: &[u8],
) -> Result<Vec<u8>, SealError> {
    let mut r = Reader::new(envelope);
    let found_kind = r.u8("envelope_type")?;
    let lock_id = LockId(r.array("lock_id")?);
    let nonce: [u8; 12] = r.array("nonce")?;
    if r.remaining() < TAG_LEN {
        return Err(DecodeError::Truncated {
            field: "tag",
            needed: TAG_LEN - r.remaining(),
        }
        .into());
    }
    if found_kind != kind {
        return Err(SealError::WrongType {
            expected: kind_name,
        });
    }
    if lock_id != expected {
        return Err(SealError::WrongLock {
            expected,
            found: lock_id,
        });
    }
    let mut sealed = r.rest().to_vec();
    let plain = key
        .open_in_place(
            Nonce::assume_unique_for_key(nonce),
            aad(kind, lock_id),
            &mut sealed,
        )
        .map_err(|_| SealError::BadSeal)?;
    let len = plain.len();
    sealed.truncate(len);
    Ok(sealed)
}

/// ChaCha20-Poly1305's key length, for documentation and tests.
pub const KEY_LEN: usize = 32;

const _: () = assert!(aead::NONCE_LEN == 12);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::JobId;

    fn keys() -> LockKeys {
        LockKeys::derive(
            &RootKey::from_bytes([0x42; 32]),
            LockId([1, 2, 3, 4, 5, 6, 7, 8]),
        )
    }

    fn job() -> Job {
        Job {
            job_id: JobId([7; 16]),
            session: crate::SessionId([3; 16]),
            base: crate::BaseVersion::Exact(0),
            target: 1,
            issued_at: jiff::Timestamp::UNIX_EPOCH,
            expires_at: jiff::Timestamp::from_second(100).unwrap(),
            audit_ack: 0,
            ops: vec![crate::Op::Remove { slot: 1 }],
        }
    }

    #[test]
    fn sealed_jobs_open_only_for_their_lock() {
        let sealed = keys().seal_job(&job()).unwrap();
        assert_eq!(keys().open_job(&sealed).unwrap(), job());
        assert_eq!(envelope_lock_id(&sealed).unwrap(), keys().lock_id());

        let other_lock = LockKeys::derive(&RootKey::from_bytes([0x42; 32]), LockId([9; 8]));
        assert!(matches!(
            other_lock.open_job(&sealed),
            Err(SealError::WrongLock { .. })
        ));

        // Same id, other key: the seal does not verify.
        let other_key = LockKeys::derive(&RootKey::from_bytes([0x43; 32]), keys().lock_id());
        assert_eq!(other_key.open_job(&sealed), Err(SealError::BadSeal));
    }

    #[test]
    fn a_job_is_not_a_receipt() {
        let sealed = keys().seal_job(&job()).unwrap();
        assert_eq!(
            keys().open_receipt(&sealed).unwrap_err().code(),
            "wrong_envelope_type"
        );
    }

    #[test]
    fn every_single_bit_flip_is_rejected() {
        let sealed = keys().seal_job(&job()).unwrap();
        for i in 0..sealed.len() {
            for bit in 0..8 {
                let mut bad = sealed.clone();
                bad[i] ^= 1 << bit;
                assert!(keys().open_job(&bad).is_err(), "byte {i} bit {bit}");
            }
        }
    }

    #[test]
    fn nonces_are_fresh() {
        let a = keys().seal_job(&job()).unwrap();
        let b = keys().seal_job(&job()).unwrap();
        assert_ne!(a[9..21], b[9..21]);
    }

    #[test]
    fn root_keys_round_trip_hex_and_stay_out_of_debug() {
        let key = RootKey::generate().unwrap();
        assert_eq!(RootKey::from_hex(&key.to_hex()).unwrap(), key);
        assert_eq!(format!("{key:?}"), "RootKey(<redacted>)");
        assert!(!format!("{:?}", keys()).contains("42"));
        assert_eq!(RootKey::from_hex("zz"), Err(SealError::BadKey));
    }
}
