//! Password hashes brought in by an import: which formats are accepted (checked once, at
//! import, without the hash's work) and how each verifies (on a hashing thread, like argon2id).
//! The algorithms are the RustCrypto crates'; a customer who logs in with one of these hashes
//! gets an argon2id hash of the current parameters in the same transaction.

use argon2::password_hash::{PasswordHash, PasswordVerifier};

/// The most work an imported hash may ask of a login, so a planted hash cannot stall or
/// exhaust a hashing thread: memory in KiB (argon2, scrypt) and iterations.
pub const MAX_MEMORY_KIB: u64 = 256 * 1024;
const MAX_ARGON2_PASSES: u32 = 64;
const MAX_BCRYPT_COST: u32 = 16;
const MAX_PBKDF2_ROUNDS: u32 = 10_000_000;
const MAX_SHA_CRYPT_ROUNDS: u32 = 2_000_000;

/// The families of accepted hashes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    /// `$argon2id$`, `$argon2i$`, `$argon2d$` PHC strings.
    Argon2,
    /// `$2a$`, `$2b$`, `$2y$`.
    Bcrypt,
    /// `$scrypt$` PHC strings.
    Scrypt,
    /// `$pbkdf2$` (SHA-1), `$pbkdf2-sha256$`, `$pbkdf2-sha512$` PHC strings.
    Pbkdf2,
    /// `$6$` (SHA-512) and `$5$` (SHA-256) crypt.
    ShaCrypt,
    /// Firebase's scrypt variant, with the project's parameters ([`super::firebase`]).
    FirebaseScrypt,
}

/// The scheme of a hash whose format is valid and whose cost is within bounds; otherwise
/// what is wrong with it, in words for a row error (never the hash itself).
pub fn check_format(hash: &str) -> Result<Scheme, String> {
    if hash.starts_with("$2a$") || hash.starts_with("$2b$") || hash.starts_with("$2y$") {
        let parts: bcrypt::HashParts = hash
            .parse()
            .map_err(|_| "not a valid bcrypt hash".to_owned())?;
        if hash.len() != 60 {
            return Err("not a valid bcrypt hash (60 characters)".into());
        }
        if !(4..=MAX_BCRYPT_COST).contains(&parts.get_cost()) {
            return Err(format!("bcrypt cost must be 4 to {MAX_BCRYPT_COST}"));
        }
        return Ok(Scheme::Bcrypt);
    }
    if hash.starts_with(super::firebase::PREFIX) {
        return super::firebase::check_format(hash, MAX_MEMORY_KIB)
            .map(|()| Scheme::FirebaseScrypt);
    }
    if let Some(rest) = hash.strip_prefix("$6$") {
        return sha_crypt_format(rest, 86).map(|()| Scheme::ShaCrypt);
    }
    if let Some(rest) = hash.strip_prefix("$5$") {
        return sha_crypt_format(rest, 43).map(|()| Scheme::ShaCrypt);
    }
    let parsed = PasswordHash::new(hash).map_err(|_| unknown())?;
    if parsed.salt.is_none() || parsed.hash.is_none() {
        return Err("the hash has no salt or no output".into());
    }
    match parsed.algorithm.as_str() {
        "argon2id" | "argon2i" | "argon2d" => {
            let p =
                argon2::Params::try_from(&parsed).map_err(|e| format!("argon2 parameters: {e}"))?;
            if u64::from(p.m_cost()) > MAX_MEMORY_KIB || p.t_cost() > MAX_ARGON2_PASSES {
                return Err("argon2 parameters above the accepted maximum (m=262144, t=64)".into());
            }
            if let Some(v) = parsed.version {
                argon2::Version::try_from(v).map_err(|_| "unknown argon2 version".to_owned())?;
            }
            Ok(Scheme::Argon2)
        }
        "scrypt" => {
            let p =
                scrypt::Params::try_from(&parsed).map_err(|e| format!("scrypt parameters: {e}"))?;
            // scrypt's memory is 128 · r · N bytes.
            let kib = 128u64 * u64::from(p.r()) * (1u64 << p.log_n()) / 1024;
            if kib > MAX_MEMORY_KIB || p.p() > 16 {
                return Err("scrypt parameters above the accepted maximum (256 MiB, p=16)".into());
            }
            Ok(Scheme::Scrypt)
        }
        "pbkdf2" | "pbkdf2-sha256" | "pbkdf2-sha512" => {
            let p =
                pbkdf2::Params::try_from(&parsed).map_err(|e| format!("pbkdf2 parameters: {e}"))?;
            if p.rounds > MAX_PBKDF2_ROUNDS || p.rounds == 0 {
                return Err(format!("pbkdf2 rounds must be 1 to {MAX_PBKDF2_ROUNDS}"));
            }
            Ok(Scheme::Pbkdf2)
        }
        _ => Err(unknown()),
    }
}

fn unknown() -> String {
    "unknown password hash format (accepted: argon2, bcrypt $2a$/$2b$/$2y$, scrypt, pbkdf2, \
     sha512-crypt $6$, sha256-crypt $5$, and Firebase scrypt with the project's parameters \
     given for the import)"
        .into()
}

/// `[rounds=N$]salt$hash` of sha-crypt, the hash `len` characters of the crypt alphabet.
fn sha_crypt_format(rest: &str, len: usize) -> Result<(), String> {
    let bad = || "not a valid sha-crypt hash".to_owned();
    let mut parts: Vec<&str> = rest.split('$').collect();
    if let Some(rounds) = parts.first().and_then(|p| p.strip_prefix("rounds=")) {
        let n: u32 = rounds.parse().map_err(|_| bad())?;
        // Outside this range glibc clamps the count, and the crate does not: refuse them.
        if !(1000..=MAX_SHA_CRYPT_ROUNDS).contains(&n) {
            return Err(format!(
                "sha-crypt rounds must be 1000 to {MAX_SHA_CRYPT_ROUNDS}"
            ));
        }
        parts.remove(0);
    }
    let crypt64 = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/')
    };
    match parts.as_slice() {
        [salt, hash] if salt.len() <= 16 && crypt64(salt) && hash.len() == len && crypt64(hash) => {
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// Whether `password` matches a hash that [`check_format`] accepted as bcrypt, scrypt, PBKDF2
/// or sha-crypt (argon2 verifies on the hashing thread's own memory). Slow: call it on a
/// hashing thread.
pub fn verify(password: &str, hash: &str) -> Result<bool, String> {
    match check_format(hash)? {
        Scheme::Argon2 => Err("argon2 hashes verify with the hasher".into()),
        Scheme::Bcrypt => bcrypt::verify(password, hash).map_err(|e| format!("bcrypt: {e}")),
        Scheme::ShaCrypt => {
            let checked = if hash.starts_with("$6$") {
                sha_crypt::sha512_check(password, hash)
            } else {
                sha_crypt::sha256_check(password, hash)
            };
            match checked {
                Ok(()) => Ok(true),
                // The crate does not export its error type; the format was checked above.
                Err(e) => match format!("{e:?}").as_str() {
                    "HashMismatch" => Ok(false),
                    other => Err(format!("sha-crypt: {other}")),
                },
            }
        }
        Scheme::Scrypt => phc_verify(&scrypt::Scrypt, password, hash),
        Scheme::FirebaseScrypt => super::firebase::verify(password, hash, MAX_MEMORY_KIB),
        Scheme::Pbkdf2 => phc_verify(&pbkdf2::Pbkdf2, password, hash),
    }
}

fn phc_verify(v: &dyn PasswordVerifier, password: &str, hash: &str) -> Result<bool, String> {
    let parsed = PasswordHash::new(hash).map_err(|e| e.to_string())?;
    match v.verify_password(password.as_bytes(), &parsed) {
        Ok(()) => Ok(true),
        Err(argon2::password_hash::Error::Password) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// (format, hash) made by reference implementations (tools/legacy-hashes/make.py).
    pub(crate) fn fixtures() -> Vec<(String, String)> {
        include_str!("../../tests/fixtures/legacy_hashes.tsv")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .filter_map(|l| l.split_once('\t'))
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
            .collect()
    }

    pub(crate) const PASSWORD: &str = "Legacy-pass 42!";

    #[test]
    fn every_fixture_verifies_and_refuses_a_wrong_password() {
        for (name, hash) in fixtures() {
            let scheme = check_format(&hash).unwrap_or_else(|e| panic!("{name}: {e}"));
            if scheme == Scheme::Argon2 {
                continue; // on the hasher (password.rs tests)
            }
            assert_eq!(verify(PASSWORD, &hash), Ok(true), "{name}");
            assert_eq!(verify("Legacy-pass 43!", &hash), Ok(false), "{name}");
        }
    }

    #[test]
    fn unknown_and_malformed_formats_are_refused() {
        for bad in [
            "",
            "plaintext",
            "5f4dcc3b5aa765d61d8327deb882cf99",
            "$1$abc$def",
            "$2b$05$short",
            "$2b$99$PoTR9BCxZBD80NA/7csnkuF.FA2MabG0Uh.m.fFIqxHdbEH4BWjXC",
            "$6$salt$tooshort",
            "$6$rounds=10$9lZtCLth.yAyYzIi$V6Fm5duFT8ay.kC1pP6Mi084.7bazY/3HshrMZZvqnTYjOxTStEE648wNfzpXSnKSMEVAx59u0MQBfSNPwyRB0",
            "$scrypt$ln=30,r=8,p=1$8tWtZj//uIWpLOt3BNrtUg$od96YjWwNxruXwmTkr6xpE3jDQlh3FqWlfUCDCsAMtw",
            "$argon2id$v=19$m=4194304,t=2,p=1$POrhUIU/a4kMci0R3IzqMQ$oWkeGLsNUynj2bG7TrJaMsYysCJc6yt7RH/QY3HkTuE",
            "$argon2id$v=19$m=256,t=2,p=1$POrhUIU/a4kMci0R3IzqMQ",
            "$md5$i=1$c2FsdA$aGFzaA",
            "$pbkdf2-sha384$i=1000,l=32$Oh9v5T8J+wVZBPPVqQsn2w$kXi3MfOr50NEpWVdjc5biwGXzuAXgamlNsdfpC3HJ2Q",
        ] {
            assert!(check_format(bad).is_err(), "{bad:?} accepted");
        }
    }
}
