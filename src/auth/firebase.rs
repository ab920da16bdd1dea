//! Firebase's scrypt variant (github.com/firebase/scrypt): the key scrypt derives from the
//! password and `salt ‖ salt separator` (N = 2^mem_cost, r = rounds, p = 1, 32 bytes) encrypts
//! the project's signer key with AES-256-CTR (zero IV); that ciphertext is the stored hash.
//! The project's parameters come once per import; each imported hash carries them in
//! `$firebase-scrypt$m=<mem_cost>,r=<rounds>$<salt>$<salt separator>$<signer key>$<hash>`
//! (standard base64), so it verifies on its own until the next login rehashes it.

use aes::cipher::{KeyIvInit, StreamCipher};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use subtle::ConstantTimeEq;

type Aes256Ctr = ctr::Ctr128BE<aes::Aes256>;

/// The prefix of a stored Firebase scrypt hash.
pub const PREFIX: &str = "$firebase-scrypt$";

/// A project's password-hash parameters, as the Firebase console shows them.
#[derive(Clone, PartialEq, Eq)]
pub struct FirebaseParams {
    /// base64 signer key.
    pub signer_key: String,
    /// base64 salt separator.
    pub salt_separator: String,
    /// scrypt r.
    pub rounds: u32,
    /// log2 of scrypt N.
    pub mem_cost: u32,
}

impl std::fmt::Debug for FirebaseParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FirebaseParams")
            .field("signer_key", &"[redacted]")
            .field("rounds", &self.rounds)
            .field("mem_cost", &self.mem_cost)
            .finish()
    }
}

impl FirebaseParams {
    /// Checks the parameters: base64 key and separator, rounds 1–16, mem_cost 1–20, and
    /// scrypt's memory (128 · r · 2^mem_cost bytes) at most `max_kib`.
    pub fn check(&self, max_kib: u64) -> Result<(), String> {
        let key = STANDARD
            .decode(&self.signer_key)
            .map_err(|_| "the signer key is not base64".to_owned())?;
        if key.is_empty() {
            return Err("the signer key is empty".into());
        }
        STANDARD
            .decode(&self.salt_separator)
            .map_err(|_| "the salt separator is not base64".to_owned())?;
        if !(1..=16).contains(&self.rounds) {
            return Err("rounds must be 1 to 16".into());
        }
        if !(1..=20).contains(&self.mem_cost) {
            return Err("mem_cost must be 1 to 20".into());
        }
        let kib = 128u64 * u64::from(self.rounds) * (1u64 << self.mem_cost) / 1024;
        if kib > max_kib {
            return Err(format!(
                "rounds and mem_cost ask for {kib} KiB, above the accepted {max_kib}"
            ));
        }
        Ok(())
    }

    /// The stored form of a user's base64 `hash` and `salt` under these parameters.
    pub fn stored(&self, hash: &str, salt: &str) -> String {
        format!(
            "{PREFIX}m={},r={}${salt}${}${}${hash}",
            self.mem_cost, self.rounds, self.salt_separator, self.signer_key
        )
    }
}

/// A stored hash taken apart and decoded.
struct Parsed {
    params: FirebaseParams,
    salt: Vec<u8>,
    separator: Vec<u8>,
    key: Vec<u8>,
    hash: Vec<u8>,
}

fn parse(stored: &str, max_kib: u64) -> Result<Parsed, String> {
    let bad = || "not a valid Firebase scrypt hash".to_owned();
    let rest = stored.strip_prefix(PREFIX).ok_or_else(bad)?;
    let parts: Vec<&str> = rest.split('$').collect();
    let [costs, salt, separator, key, hash] = parts.as_slice() else {
        return Err(bad());
    };
    let (mut m, mut r) = (None, None);
    for pair in costs.split(',') {
        match pair.split_once('=') {
            Some(("m", v)) => m = v.parse::<u32>().ok(),
            Some(("r", v)) => r = v.parse::<u32>().ok(),
            _ => return Err(bad()),
        }
    }
    let (Some(mem_cost), Some(rounds)) = (m, r) else {
        return Err(bad());
    };
    let params = FirebaseParams {
        signer_key: (*key).to_owned(),
        salt_separator: (*separator).to_owned(),
        rounds,
        mem_cost,
    };
    params.check(max_kib)?;
    let decode = |s: &str, what: &str| {
        STANDARD
            .decode(s)
            .map_err(|_| format!("the {what} is not base64"))
    };
    let salt = decode(salt, "salt")?;
    let hash = decode(hash, "hash")?;
    if salt.is_empty() || hash.is_empty() {
        return Err("the salt or the hash is empty".into());
    }
    Ok(Parsed {
        separator: decode(separator, "salt separator")?,
        key: decode(key, "signer key")?,
        params,
        salt,
        hash,
    })
}

/// Checks a stored hash's form and cost without its work.
pub fn check_format(stored: &str, max_kib: u64) -> Result<(), String> {
    parse(stored, max_kib).map(|_| ())
}

/// Whether `password` matches (constant-time comparison). Slow: call it on a hashing thread.
pub fn verify(password: &str, stored: &str, max_kib: u64) -> Result<bool, String> {
    let p = parse(stored, max_kib)?;
    let mut salt = p.salt;
    salt.extend_from_slice(&p.separator);
    let params = scrypt::Params::new(
        u8::try_from(p.params.mem_cost).map_err(|e| e.to_string())?,
        p.params.rounds,
        1,
        32,
    )
    .map_err(|e| format!("scrypt parameters: {e}"))?;
    let mut derived = [0u8; 32];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived)
        .map_err(|e| format!("scrypt: {e}"))?;
    let mut cipher = Aes256Ctr::new(&derived.into(), &[0u8; 16].into());
    let mut out = p.key;
    cipher.apply_keystream(&mut out);
    Ok(out.len() == p.hash.len() && bool::from(out.ct_eq(&p.hash)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of github.com/firebase/scrypt's README.
    fn readme() -> (FirebaseParams, &'static str, &'static str) {
        (
            FirebaseParams {
                signer_key: "jxspr8Ki0RYycVU8zykbdLGjFQ3McFUH0uiiTvC8pVMXAn210wjLNmdZJzxUECKbm0QsEmYUSDzZvpjeJ9WmXA==".into(),
                salt_separator: "Bw==".into(),
                rounds: 8,
                mem_cost: 14,
            },
            "42xEC+ixf3L2lw==",
            "lSrfV15cpx95/sZS2W9c9Kp6i/LVgQNDNC/qzrCnh1SAyZvqmZqAjTdn3aoItz+VHjoZilo78198JAdRuid5lQ==",
        )
    }

    #[test]
    fn the_reference_example_verifies() {
        let (params, salt, hash) = readme();
        let stored = params.stored(hash, salt);
        assert!(check_format(&stored, 256 * 1024).is_ok());
        assert_eq!(verify("user1password", &stored, 256 * 1024), Ok(true));
        assert_eq!(verify("user2password", &stored, 256 * 1024), Ok(false));
        assert!(!format!("{params:?}").contains("jxspr8"), "redacted");
    }

    #[test]
    fn malformed_and_costly_hashes_are_refused() {
        let (params, salt, hash) = readme();
        let costly = FirebaseParams {
            mem_cost: 20,
            ..params.clone()
        };
        assert!(check_format(&costly.stored(hash, salt), 256 * 1024).is_err());
        for bad in [
            format!("{PREFIX}m=14,r=8${salt}$Bw=="),
            format!(
                "{PREFIX}m=14,r=8$not base64$Bw==${}${hash}",
                params.signer_key
            ),
            format!("{PREFIX}m=14${salt}$Bw==${}${hash}", params.signer_key),
            format!("{PREFIX}m=14,r=0${salt}$Bw==${}${hash}", params.signer_key),
        ] {
            assert!(check_format(&bad, 256 * 1024).is_err(), "{bad}");
        }
    }
}
