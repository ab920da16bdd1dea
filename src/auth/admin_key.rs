//! Admin keys: a prefix and 256 random bits, shown once, stored only as a SHA-256 hash; the
//! config's operator key is compared in constant time.

use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tokens::{new_token, token_hash};

/// Marks a string as an Enroll admin key (secret scanners and people recognize it).
pub const PREFIX: &str = "enroll_admin_";

/// A new admin key and the hash to store.
pub fn new_admin_key() -> (String, String) {
    let (random, _) = new_token();
    let key = format!("{PREFIX}{random}");
    let hash = admin_key_hash(&key);
    (key, hash)
}

/// The stored form of a key: lookups go by this hash.
pub fn admin_key_hash(key: &str) -> String {
    token_hash(key)
}

/// Whether `given` is the configured operator key (never, when none is configured). Both
/// sides are hashed first, so the comparison takes the same time whatever their lengths.
pub fn is_operator_key(given: &str, configured: &SecretString) -> bool {
    let configured = configured.expose_secret().trim();
    if configured.is_empty() || given.is_empty() {
        return false;
    }
    let a = Sha256::digest(given.as_bytes());
    let b = Sha256::digest(configured.as_bytes());
    bool::from(a.as_slice().ct_eq(b.as_slice()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_prefixed_and_hashed() {
        let (a, ha) = new_admin_key();
        let (b, _) = new_admin_key();
        assert_ne!(a, b);
        assert!(a.starts_with(PREFIX) && a.len() == PREFIX.len() + 43);
        assert_eq!(admin_key_hash(&a), ha);
    }

    #[test]
    fn operator_key() {
        let configured = SecretString::from("0123456789abcdef0123456789".to_owned());
        assert!(is_operator_key("0123456789abcdef0123456789", &configured));
        assert!(!is_operator_key("0123456789abcdef012345678", &configured));
        assert!(!is_operator_key("", &configured));
        assert!(!is_operator_key("", &SecretString::from(String::new())));
        assert!(!is_operator_key("x", &SecretString::from(String::new())));
    }
}
