//! Portal passwords: the rules a new password meets, and argon2id hashing
//! with the parameters `docs/security.md` records (19 MiB of memory, two
//! passes, one lane: OWASP's first recommendation). Salts are 16 bytes from
//! the operating system's generator; the stored form is the PHC string, so
//! a later change of parameters still verifies old hashes.

use std::sync::OnceLock;

use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

use crate::crypto::random_bytes;
use crate::error::{Error, ErrorKind, Result};

/// Memory per hash, in KiB (19 MiB).
pub const MEMORY_KIB: u32 = 19 * 1024;
/// Passes over the memory.
pub const PASSES: u32 = 2;
/// Lanes.
pub const LANES: u32 = 1;
/// The shortest password accepted.
pub const MIN_CHARS: usize = 12;
/// The longest password accepted (the hash's work does not depend on it,
/// but a body of megabytes should not reach it).
pub const MAX_CHARS: usize = 128;

fn hasher() -> Result<Argon2<'static>> {
    let params = Params::new(MEMORY_KIB, PASSES, LANES, None)
        .map_err(|e| Error::internal("argon2 parameters", e))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a new password: 12 to 128 characters, not all one character.
pub fn check_new(password: &str) -> Result<()> {
    let chars = password.chars().count();
    if !(MIN_CHARS..=MAX_CHARS).contains(&chars) {
        return Err(Error::new(
            ErrorKind::Unprocessable,
            "weak_password",
            format!("a password is {MIN_CHARS} to {MAX_CHARS} characters long"),
        ));
    }
    let mut distinct: Vec<char> = password.chars().collect();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() < 4 {
        return Err(Error::new(
            ErrorKind::Unprocessable,
            "weak_password",
            "a password needs more than a few different characters",
        ));
    }
    Ok(())
}

/// The argon2id PHC string of `password` with a fresh salt. Slow on
/// purpose: run it off the async threads (`spawn_blocking`).
pub fn hash(password: &str) -> Result<String> {
    let salt = random_bytes::<16>()?;
    hasher()?
        .hash_password_with_salt(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::internal("argon2", e))
}

/// Whether `password` matches the PHC string `stored`. With no stored hash
/// (an unknown address, an account without a password) it verifies against
/// a fixed hash of a random password, so the answer takes the same work.
pub fn verify(password: &str, stored: Option<&str>) -> bool {
    let stored = match stored {
        Some(stored) => stored,
        None => match decoy() {
            Some(decoy) => decoy,
            None => return false,
        },
    };
    let Ok(argon) = hasher() else {
        return false;
    };
    let matches = argon.verify_password(password.as_bytes(), stored).is_ok();
    matches && stored.starts_with("$argon2id$")
}

/// A hash of a random password nobody knows, made once, with the current
/// parameters.
fn decoy() -> Option<&'static str> {
    static DECOY: OnceLock<Option<String>> = OnceLock::new();
    DECOY
        .get_or_init(|| {
            let secret = random_bytes::<32>().ok()?;
            hash(&crate::crypto::hex(&secret)).ok()
        })
        .as_deref()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let stored = hash("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify("correct horse battery", Some(&stored)));
        assert!(!verify("correct horse battery!", Some(&stored)));
        assert!(!verify("correct horse battery", None));
        assert!(!verify("anything", Some("not a hash")));
        assert_ne!(stored, hash("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn new_passwords_follow_the_rules() {
        assert!(check_new("short").is_err());
        assert!(check_new("aaaaaaaaaaaaaaaa").is_err());
        assert!(check_new(&"ab".repeat(100)).is_err());
        assert!(check_new("maple court 1440").is_ok());
    }
}
