//! Email addresses and the key that makes them unique per publisher.

use unicode_normalization::UnicodeNormalization;
use validator::ValidateEmail;

/// An email address as the customer typed it (trimmed), with its uniqueness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: String,
}

/// The uniqueness key of an address: `lowercase(NFKC(trim(email)))`. One function, used by
/// register, login, reset and PATCH, so look-alike spellings (`Alice@Example.com`,
/// full-width letters, ligatures such as `ﬁ`) map to one account.
pub fn email_key(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

impl Email {
    /// Parses an RFC 5322 addr-spec of at most 254 characters. The check runs on the NFKC form,
    /// so a full-width spelling is the same (valid) address as its ASCII one.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let address = raw.trim();
        let normalized: String = address.nfkc().collect();
        if address.is_empty()
            || normalized.chars().count() > 254
            || normalized.contains(char::is_control)
            || !normalized.validate_email()
        {
            return Err("not a valid e-mail address".into());
        }
        Ok(Email {
            address: address.to_owned(),
            key: email_key(address),
        })
    }

    /// The address as typed (trimmed): where emails go, what the customer sees.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The uniqueness key.
    pub fn key(&self) -> &str {
        &self.key
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn look_alikes_share_a_key() {
        let plain = Email::parse("alice.fine@example.com").unwrap();
        for look_alike in [
            "Alice.Fine@Example.com",
            " alice.fine@example.com ",
            "ａｌｉｃｅ.fine@example.com",
            "alice.ﬁne@example.com",
            "ALICE.FINE@EXAMPLE.COM",
        ] {
            assert_eq!(
                Email::parse(look_alike).unwrap().key(),
                plain.key(),
                "{look_alike}"
            );
        }
    }

    #[test]
    fn invalid_addresses() {
        let long = format!("{}@example.com", "a".repeat(250));
        for bad in [
            "",
            "plain",
            "a@",
            "@b.com",
            "a b@c.com",
            "a@b@c.com",
            "a\0@b.com",
            long.as_str(),
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            Email::parse(" Bob@Example.com").unwrap().as_str(),
            "Bob@Example.com"
        );
    }
}
