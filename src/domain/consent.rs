//! Consent definitions: who owns one, its name, and what a new version declares.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::PublisherId;

/// Who a consent belongs to: the platform (broadcasterId 0) or a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConsentOwner {
    /// The platform's own consents, shown to every publisher's customers.
    Platform,
    /// One publisher's consents.
    Publisher(PublisherId),
}

impl ConsentOwner {
    /// The stored form and the API's `broadcasterId`: 0 for the platform.
    pub fn get(self) -> i64 {
        match self {
            ConsentOwner::Platform => 0,
            ConsentOwner::Publisher(p) => p.get(),
        }
    }

    /// Reads the stored form.
    pub fn from_i64(v: i64) -> Result<Self, String> {
        if v == 0 {
            Ok(ConsentOwner::Platform)
        } else {
            PublisherId::from_i64(v).map(ConsentOwner::Publisher)
        }
    }
}

impl fmt::Display for ConsentOwner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConsentOwner::Platform => f.write_str("platform"),
            ConsentOwner::Publisher(p) => write!(f, "publisher {p}"),
        }
    }
}

/// A consent name: 1–64 of `A-Z a-z 0-9 _ . -` (`broadcaster_terms`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConsentName(String);

impl ConsentName {
    /// Parses a name.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if ok {
            Ok(ConsentName(s.to_owned()))
        } else {
            Err(format!(
                "consent name {s:?} must be 1-64 letters, digits, '_', '.' or '-'"
            ))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ConsentName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ConsentName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ConsentName::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A consent's version number: 1, 2, … per (owner, name); the highest is the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct ConsentVersionNumber(i32);

impl ConsentVersionNumber {
    /// The first version of every consent.
    pub const FIRST: ConsentVersionNumber = ConsentVersionNumber(1);

    /// Accepts a version number (1 or more), as stored or as checked input gives it.
    pub fn new(v: i32) -> Result<Self, String> {
        if v >= 1 {
            Ok(ConsentVersionNumber(v))
        } else {
            Err(format!("consent version {v} is not 1 or more"))
        }
    }

    /// The version published after this one.
    pub fn next(self) -> ConsentVersionNumber {
        ConsentVersionNumber(self.0.saturating_add(1))
    }

    /// The number, as stored.
    pub fn get(self) -> i32 {
        self.0
    }
}

impl fmt::Display for ConsentVersionNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for ConsentVersionNumber {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        ConsentVersionNumber::new(i32::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// What a version of a consent says. Publishing a draft that differs from the current version
/// in any of these fields makes a new version; an identical one changes nothing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentDraft {
    /// The consent's name, unique across the platform's and the publisher's consents.
    pub name: ConsentName,
    /// The text shown beside the checkbox (may hold a link).
    pub label: String,
    /// The URL of the document consented to: empty or an absolute http(s) URL.
    #[serde(default)]
    pub value: String,
    /// Must be accepted to register.
    #[serde(default)]
    pub required: bool,
    /// The checkbox starts ticked.
    #[serde(default)]
    pub enabled_by_default: bool,
    /// Placeholder text for the frontend.
    #[serde(default)]
    pub placeholder: String,
    /// The SHA-256 (64 lowercase hex digits) of the document's bytes, when the operator gives
    /// the document (or lets Enroll fetch it): it is part of the version's text hash.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document_sha256: Option<String>,
}

impl ConsentDraft {
    /// Checks the texts: a label is required, no NUL characters anywhere, the value empty or
    /// an http(s) URL.
    pub fn check(&self) -> Result<(), String> {
        if self.label.trim().is_empty() {
            return Err(format!("consent {}: label must not be empty", self.name));
        }
        let texts = [&self.label, &self.value, &self.placeholder];
        if texts.iter().any(|t| t.contains('\0')) {
            return Err(format!("consent {}: texts must not contain NUL", self.name));
        }
        if texts.iter().any(|t| t.len() > 4000) {
            return Err(format!(
                "consent {}: texts are limited to 4000 bytes",
                self.name
            ));
        }
        if let Some(d) = &self.document_sha256
            && !super::proof::is_sha256_hex(d)
        {
            return Err(format!(
                "consent {}: document_sha256 must be 64 lowercase hex digits",
                self.name
            ));
        }
        if !self.value.is_empty() {
            super::link::http_url(&self.value)
                .map_err(|e| format!("consent {}: value: {e}", self.name))?;
        }
        Ok(())
    }
}

/// Whether a customer must be asked again: they never answered the consent, or answered a
/// version older than the newest (`answered` is the version of their current answer).
pub fn needs_update(answered: Option<ConsentVersionNumber>, newest: ConsentVersionNumber) -> bool {
    answered.is_none_or(|version| version < newest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(ConsentName::parse("broadcaster_terms").is_ok());
        assert!(ConsentName::parse("").is_err());
        assert!(ConsentName::parse("has space").is_err());
        assert!(ConsentName::parse(&"a".repeat(65)).is_err());
    }

    #[test]
    fn owner_round_trips() {
        assert_eq!(ConsentOwner::from_i64(0), Ok(ConsentOwner::Platform));
        let p = ConsentOwner::from_i64(100000001).unwrap();
        assert_eq!(p.get(), 100000001);
    }

    #[test]
    fn an_older_or_missing_answer_needs_an_update() {
        let v = |n| ConsentVersionNumber::new(n).unwrap();
        assert!(needs_update(None, v(1)));
        assert!(needs_update(Some(v(1)), v(2)));
        assert!(!needs_update(Some(v(2)), v(2)));
        assert!(!needs_update(Some(v(3)), v(2)));
    }

    #[test]
    fn a_version_number_is_one_or_more() {
        assert_eq!(ConsentVersionNumber::FIRST.next().get(), 2);
        assert!(ConsentVersionNumber::new(0).is_err());
        let v: ConsentVersionNumber = serde_json::from_str("3").unwrap();
        assert_eq!(
            (v.to_string(), serde_json::to_string(&v).unwrap()),
            ("3".into(), "3".into())
        );
        assert!(serde_json::from_str::<ConsentVersionNumber>("0").is_err());
    }
}
