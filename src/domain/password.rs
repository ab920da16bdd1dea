//! Passwords: the rule of API.md, kept secret in memory.

use secrecy::{ExposeSecret, SecretString};

/// The rule, as clients show it after `Invalid param password. `.
pub const PASSWORD_RULE: &str = "Password must be 8-80 characters long and contain at least one letter and at least one digit or one of !@#$%^&";

/// A password that meets the rule. Never logged: `Debug` prints `[REDACTED]`.
#[derive(Debug, Clone)]
pub struct Password(SecretString);

impl Password {
    /// 8–80 characters, at least one letter and at least one digit or one of `!@#$%^&`.
    pub fn parse(raw: &str) -> Result<Password, String> {
        let count = raw.chars().count();
        let letter = raw.chars().any(char::is_alphabetic);
        let digit_or_mark = raw
            .chars()
            .any(|c| c.is_ascii_digit() || "!@#$%^&".contains(c));
        if (8..=80).contains(&count) && letter && digit_or_mark && !raw.contains('\0') {
            Ok(Password(SecretString::from(raw.to_owned())))
        } else {
            Err(PASSWORD_RULE.into())
        }
    }

    /// The secret itself, for hashing only.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        for good in [
            "abcdefg1",
            "abcdefg!",
            "pässwört&",
            &format!("a1{}", "x".repeat(78)),
        ] {
            assert!(Password::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "abc1",
            "abcdefgh",
            "12345678",
            "!!!!!!!!",
            &format!("a1{}", "x".repeat(79)),
        ] {
            assert!(Password::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn debug_hides_it() {
        let p = Password::parse("secret123").unwrap();
        assert!(!format!("{p:?}").contains("secret123"));
    }
}
