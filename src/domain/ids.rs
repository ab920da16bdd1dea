//! Identifiers of the Cleeng id space: publishers and offers.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A publisher (tenant) id: nine digits, the first not zero, e.g. `123456789`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublisherId(u32);

impl PublisherId {
    /// Parses the nine-digit text form.
    pub fn parse(s: &str) -> Result<Self, String> {
        if s.len() == 9 && s.bytes().all(|b| b.is_ascii_digit()) && !s.starts_with('0') {
            s.parse::<u32>()
                .map(PublisherId)
                .map_err(|e| format!("publisherId {s:?}: {e}"))
        } else {
            Err(format!("publisherId {s:?} is not nine digits"))
        }
    }

    /// Accepts the id from a database column.
    pub fn from_i64(v: i64) -> Result<Self, String> {
        Self::parse(&v.to_string())
    }

    /// The numeric form, as stored.
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl fmt::Display for PublisherId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl Serialize for PublisherId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

impl<'de> Deserialize<'de> for PublisherId {
    /// Ids on input may be a JSON number or a string (API.md).
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Num(u64),
            Text(String),
        }
        let text = match Raw::deserialize(d)? {
            Raw::Num(n) => n.to_string(),
            Raw::Text(t) => t,
        };
        PublisherId::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// An offer id: a letter, the publisher's nine digits, `_`, a country code (`S123456789_US`).
/// It names its publisher.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OfferId(String);

impl OfferId {
    /// Parses `S123456789_US`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let b = s.as_bytes();
        let ok = b.len() == 13
            && b[0].is_ascii_uppercase()
            && b[1..10].iter().all(u8::is_ascii_digit)
            && b[1] != b'0'
            && b[10] == b'_'
            && b[11..].iter().all(u8::is_ascii_uppercase);
        if ok {
            Ok(OfferId(s.to_owned()))
        } else {
            Err(format!(
                "offerId {s:?} is not a letter, nine digits, '_' and a country code (e.g. S123456789_US)"
            ))
        }
    }

    /// The publisher the offer id names.
    pub fn publisher(&self) -> PublisherId {
        // The digits were checked by `parse`.
        PublisherId(self.0[1..10].parse().unwrap_or_default())
    }

    /// The text form.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OfferId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for OfferId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OfferId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        OfferId::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publisher_id_is_nine_digits() {
        assert_eq!(
            PublisherId::parse("123456789").map(PublisherId::get),
            Ok(123456789)
        );
        for bad in [
            "",
            "12345678",
            "1234567890",
            "012345678",
            "12345678a",
            "-12345678",
        ] {
            assert!(PublisherId::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn publisher_id_from_number_or_string() {
        let a: PublisherId = serde_json::from_str("100000001").unwrap();
        let b: PublisherId = serde_json::from_str("\"100000001\"").unwrap();
        assert_eq!(a, b);
        assert!(serde_json::from_str::<PublisherId>("1.5").is_err());
    }

    #[test]
    fn offer_names_its_publisher() {
        let offer = OfferId::parse("S123456789_US").unwrap();
        assert_eq!(offer.publisher().get(), 123456789);
        for bad in [
            "S12345678_US",
            "s123456789_US",
            "S123456789US",
            "S123456789_usa",
            "S023456789_US",
        ] {
            assert!(OfferId::parse(bad).is_err(), "{bad}");
        }
    }
}

/// An admin key's id: shown in key lists and the audit trail, named to revoke the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AdminKeyId(i64);

impl AdminKeyId {
    /// Parses the text form (a positive whole number), as a CLI argument or a path gives it.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim().parse::<i64>() {
            Ok(n) if n > 0 => Ok(AdminKeyId(n)),
            _ => Err(format!("admin key id {s:?} is not a positive whole number")),
        }
    }

    /// The id as the database stores it.
    pub fn stored(v: i64) -> Self {
        AdminKeyId(v)
    }

    /// The numeric form, as stored.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for AdminKeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
