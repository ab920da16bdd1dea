//! Proof of consent: the canonical forms hashed to bind a consent version to its text and to
//! chain a customer's consent history, and where an answer was collected.
//!
//! Both canonical forms are a JSON array (no whitespace, strings escaped as serde_json does,
//! integers as integers) whose first element names the form and its version; the hash is the
//! lowercase hex SHA-256 of its UTF-8 bytes. An array has one serialization, so anyone can
//! recompute a hash from the stored fields.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ConsentOwner, ConsentVersionNumber, CustomerId};

/// Where a consent answer was given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CollectionPoint {
    /// `POST /customers` with consents.
    Registration,
    /// `PUT /customers/{id}/consents`.
    ConsentsUpdate,
    /// The admin dashboard.
    Dashboard,
    /// A bulk import.
    Import,
    /// The admin API.
    AdminApi,
    /// Written before history entries recorded where they came from.
    Legacy,
}

impl CollectionPoint {
    /// The stored form (`registration`, `consents_update`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            CollectionPoint::Registration => "registration",
            CollectionPoint::ConsentsUpdate => "consents_update",
            CollectionPoint::Dashboard => "dashboard",
            CollectionPoint::Import => "import",
            CollectionPoint::AdminApi => "admin_api",
            CollectionPoint::Legacy => "legacy",
        }
    }

    /// The Kantara receipt's `collectionMethod`.
    pub fn method(self) -> &'static str {
        match self {
            CollectionPoint::Registration => "registration form",
            CollectionPoint::ConsentsUpdate => "consent settings (customer API)",
            CollectionPoint::Dashboard => "publisher dashboard",
            CollectionPoint::Import => "bulk import",
            CollectionPoint::AdminApi => "publisher admin API",
            CollectionPoint::Legacy => "unrecorded",
        }
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The SHA-256 (lowercase hex) of a document's bytes.
pub fn document_sha256(bytes: &[u8]) -> String {
    sha256_hex(bytes)
}

/// Whether `s` is a SHA-256 as this module writes it: 64 lowercase hex digits.
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a consent version says, as hashed.
#[derive(Debug, Clone, Copy)]
pub struct ConsentText<'a> {
    /// Whose consent.
    pub owner: ConsentOwner,
    /// Its name.
    pub name: &'a str,
    /// Its version.
    pub version: ConsentVersionNumber,
    /// The text shown.
    pub label: &'a str,
    /// The document's URL.
    pub value: &'a str,
    /// Must be accepted.
    pub required: bool,
    /// The SHA-256 of the document's bytes, when known.
    pub document_sha256: Option<&'a str>,
}

impl ConsentText<'_> {
    /// `["enroll.consent-text.v1", owner, name, version, label, value, required,
    /// document_sha256 | null]`.
    pub fn canonical(&self) -> String {
        json!([
            "enroll.consent-text.v1",
            self.owner.get(),
            self.name,
            self.version,
            self.label,
            self.value,
            self.required,
            self.document_sha256
        ])
        .to_string()
    }

    /// The version's text hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

/// A history time as chained: microseconds (what both databases keep), so a time read back
/// hashes as written.
pub fn chain_time(at: DateTime<Utc>) -> DateTime<Utc> {
    use chrono::SubsecRound;
    at.trunc_subsecs(6)
}

/// The fields of a history entry that are chained: those an erasure keeps. The IP address and
/// user agent are left out (an erasure nulls them); the route and request id are kept beside
/// the entry but not chained (they describe the transport, not the consent).
#[derive(Debug, Clone, Copy)]
pub struct ChainedEntry<'a> {
    /// The customer.
    pub customer: CustomerId,
    /// Whose consent.
    pub owner: i64,
    /// Which consent.
    pub name: &'a str,
    /// Which version was answered.
    pub version: i32,
    /// The answer (`accepted` / `declined`).
    pub state: &'a str,
    /// When (see [`chain_time`]).
    pub at: DateTime<Utc>,
    /// The text hash of the version answered.
    pub text_hash: &'a str,
    /// Where it was given (see [`CollectionPoint::as_str`]).
    pub collection_point: &'a str,
    /// The entry hash of the customer's previous entry; `None` for the first.
    pub prev_hash: Option<&'a str>,
}

impl ChainedEntry<'_> {
    /// `["enroll.consent-entry.v1", customerId, owner, name, version, state,
    /// at (RFC 3339, microseconds, Z), textHash, collectionPoint, prevHash | null]`.
    pub fn canonical(&self) -> String {
        json!([
            "enroll.consent-entry.v1",
            self.customer.get(),
            self.owner,
            self.name,
            self.version,
            self.state,
            chain_time(self.at).to_rfc3339_opts(SecondsFormat::Micros, true),
            self.text_hash,
            self.collection_point,
            self.prev_hash
        ])
        .to_string()
    }

    /// The entry's hash.
    pub fn hash(&self) -> String {
        sha256_hex(self.canonical().as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(label: &str) -> ConsentText<'_> {
        ConsentText {
            owner: ConsentOwner::Platform,
            name: "terms",
            version: ConsentVersionNumber::FIRST,
            label,
            value: "https://example.com/terms",
            required: true,
            document_sha256: None,
        }
    }

    #[test]
    fn text_hash_follows_every_field() {
        let a = text("I accept");
        assert_eq!(
            a.canonical(),
            r#"["enroll.consent-text.v1",0,"terms",1,"I accept","https://example.com/terms",true,null]"#
        );
        assert_ne!(a.hash(), text("I accept!").hash());
        let doc = document_sha256(b"doc");
        let with_doc = ConsentText {
            document_sha256: Some(&doc),
            ..a
        };
        assert_ne!(a.hash(), with_doc.hash());
        assert!(is_sha256_hex(&a.hash()));
    }

    #[test]
    fn entry_hash_is_stable_and_chained() {
        let at = DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
            .unwrap()
            .with_timezone(&Utc);
        let customer = CustomerId::parse("123456789").unwrap();
        let e = ChainedEntry {
            customer,
            owner: 0,
            name: "terms",
            version: 1,
            state: "accepted",
            at,
            text_hash: "ab",
            collection_point: "registration",
            prev_hash: None,
        };
        assert!(e.canonical().contains("\"2026-01-02T03:04:05.123456Z\""));
        assert_eq!(
            e.hash(),
            ChainedEntry {
                at: chain_time(at),
                ..e
            }
            .hash()
        );
        assert_ne!(
            e.hash(),
            ChainedEntry {
                prev_hash: Some("x"),
                ..e
            }
            .hash()
        );
    }
}
