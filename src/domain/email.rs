//! Email addresses and the key that makes them unique per publisher.

use unicode_normalization::UnicodeNormalization;
use validator::ValidateEmail;

/// An email address as the customer typed it (trimmed), with its uniqueness key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    address: String,
    key: EmailKey,
}

/// The key that makes an address unique per publisher (see [`email_key`]): what the store
/// looks customers, codes and budgets up by. Made from any text (a login's email need not be
/// a valid address to be looked up), or read back from the database.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EmailKey(String);

impl EmailKey {
    /// The key of `raw` (typed by someone: trimmed, folded, its domain through IDNA).
    pub fn of(raw: &str) -> EmailKey {
        EmailKey(email_key(raw))
    }

    /// A key as the database stores it (made by [`EmailKey::of`] when it was written).
    pub fn stored(key: String) -> EmailKey {
        EmailKey(key)
    }

    /// The key's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for EmailKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The uniqueness key of an address: `lowercase(NFKC(trim(email)))`, its domain then put
/// through UTS #46 (IDNA) processing to its Unicode form. One function, used by register,
/// login, reset and PATCH, so look-alike spellings (`Alice@Example.com`, full-width letters,
/// ligatures such as `ﬁ`, an ideographic full stop, a punycode spelling of the same domain)
/// map to one account: the same domain after UTS #46 is the same domain, as address
/// validation (which accepts what IDNA maps) already treats it.
pub fn email_key(raw: &str) -> String {
    let folded = raw.trim().nfkc().collect::<String>().to_lowercase();
    match folded.rsplit_once('@') {
        Some((local, domain)) if !domain.is_empty() => {
            let (unicode, result) = idna::domain_to_unicode(domain);
            match result {
                Ok(()) => format!("{local}@{unicode}"),
                Err(_) => folded,
            }
        }
        _ => folded,
    }
}

/// Whether `c` is a Default_Ignorable_Code_Point (Unicode DerivedCoreProperties): invisible
/// characters such as the soft hyphen, zero-width space and joiners, bidi controls and
/// variation selectors, which IDNA drops and no reader can see.
fn is_invisible(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x034F | 0x061C | 0x115F..=0x1160 | 0x17B4..=0x17B5 | 0x180B..=0x180F
        | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x206F | 0x3164 | 0xFE00..=0xFE0F
        | 0xFEFF | 0xFFA0 | 0xFFF0..=0xFFF8 | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A
        | 0xE0000..=0xE0FFF)
}

impl Email {
    /// Parses an RFC 5322 addr-spec of at most 254 characters. The check runs on the NFKC form,
    /// so a full-width spelling is the same (valid) address as its ASCII one. Invisible
    /// characters are refused: an address that shows as another one must not be stored.
    pub fn parse(raw: &str) -> Result<Email, String> {
        let address = raw.trim();
        let normalized: String = address.nfkc().collect();
        if address.is_empty()
            || normalized.chars().count() > 254
            || normalized.contains(char::is_control)
            || normalized.contains(is_invisible)
            || !normalized.validate_email()
        {
            return Err("not a valid e-mail address".into());
        }
        Ok(Email {
            address: address.to_owned(),
            key: EmailKey::of(address),
        })
    }

    /// The address as typed (trimmed): where emails go, what the customer sees.
    pub fn as_str(&self) -> &str {
        &self.address
    }

    /// The uniqueness key.
    pub fn key(&self) -> &EmailKey {
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
    fn domains_the_same_after_idna_share_a_key() {
        let plain = Email::parse("alice@example.com").unwrap();
        for look_alike in [
            "alice@example\u{3002}com",
            "alice@example\u{FF0E}com",
            "alice@EXAMPLE.com",
        ] {
            assert_eq!(
                Email::parse(look_alike).unwrap().key(),
                plain.key(),
                "{look_alike:?}"
            );
        }
        let idn = Email::parse("bob@b\u{fc}cher.de").unwrap();
        assert_eq!(
            Email::parse("bob@xn--bcher-kva.de").unwrap().key(),
            idn.key()
        );
        assert_eq!(idn.key().as_str(), "bob@b\u{fc}cher.de");
    }

    #[test]
    fn invisible_characters_are_refused() {
        for bad in [
            "alice@exam\u{AD}ple.com",
            "alice@example\u{200B}.com",
            "alice@example.com\u{200D}",
            "alice@exa\u{FE0F}mple.com",
            "ali\u{200C}ce@example.com",
            "alice@\u{2060}example.com",
            "alice@exam\u{180B}ple.com",
            "alice@example.c\u{E0061}om",
            "\u{FEFF}alice@example.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?}");
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
