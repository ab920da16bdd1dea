//! What the config file declares (publishers, offers, consents) and the fingerprints that
//! tell which parts of that declaration changed since it was last applied.

use std::collections::HashSet;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::{ConsentDraft, ConsentName, ConsentOwner, OfferId, PublisherId, PublisherSettings};

/// One publisher as the config file declares it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublisherDeclaration {
    /// Its id.
    pub id: PublisherId,
    /// Its display name.
    pub name: String,
    /// Its settings.
    pub settings: PublisherSettings,
    /// Offers that resolve to it.
    pub offers: Vec<OfferId>,
    /// Its own consents (the platform's are declared apart).
    #[serde(skip)]
    pub consents: Vec<ConsentDraft>,
}

/// Everything the config file declares.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Declaration {
    /// The platform's consents (broadcasterId 0), asked of every publisher's customers.
    pub platform_consents: Vec<ConsentDraft>,
    /// The publishers.
    pub publishers: Vec<PublisherDeclaration>,
}

/// One part of a declaration, applied as a unit when its fingerprint changes.
#[derive(Debug, Clone, Copy)]
pub enum DeclaredPart<'a> {
    /// A publisher's name, settings and offers.
    Publisher(&'a PublisherDeclaration),
    /// One consent of the platform or a publisher.
    Consent(ConsentOwner, &'a ConsentDraft),
}

/// A part with the key it is remembered under and the fingerprint of what it says.
#[derive(Debug, Clone)]
pub struct DeclaredItem<'a> {
    /// `publisher:<id>` or `consent:<owner>:<name>`.
    pub key: String,
    /// SHA-256 of the part's canonical JSON.
    pub fingerprint: String,
    /// The part itself.
    pub part: DeclaredPart<'a>,
}

impl Declaration {
    /// Checks what the database cannot: ids unique, offers naming their own publisher,
    /// consent names unique across the platform and each publisher, texts well formed.
    pub fn check(&self) -> Result<(), String> {
        let platform = unique_names(&self.platform_consents, "platform.consents")?;
        let mut ids = HashSet::new();
        for p in &self.publishers {
            if !ids.insert(p.id) {
                return Err(format!("publishers: id {} is declared twice", p.id));
            }
            if p.name.trim().is_empty() {
                return Err(format!("publishers[{}].name must not be empty", p.id));
            }
            p.settings
                .check()
                .map_err(|e| format!("publishers[{}].settings.{e}", p.id))?;
            for offer in &p.offers {
                if offer.publisher() != p.id {
                    return Err(format!(
                        "publishers[{}].offers: {offer} names publisher {}",
                        p.id,
                        offer.publisher()
                    ));
                }
            }
            let own = unique_names(&p.consents, &format!("publishers[{}].consents", p.id))?;
            if let Some(name) = own.intersection(&platform).next() {
                return Err(format!(
                    "publishers[{}].consents: {name} is already a platform consent (names are unique across both)",
                    p.id
                ));
            }
        }
        Ok(())
    }

    /// Every part with its key and fingerprint: publishers first, so their consents have an
    /// owner when applied.
    pub fn items(&self) -> Vec<DeclaredItem<'_>> {
        let mut items = Vec::new();
        for p in &self.publishers {
            items.push(DeclaredItem {
                key: format!("publisher:{}", p.id),
                fingerprint: fingerprint(p),
                part: DeclaredPart::Publisher(p),
            });
        }
        let platform = self
            .platform_consents
            .iter()
            .map(|c| (ConsentOwner::Platform, c));
        let own = self.publishers.iter().flat_map(|p| {
            p.consents
                .iter()
                .map(|c| (ConsentOwner::Publisher(p.id), c))
        });
        for (owner, draft) in platform.chain(own) {
            items.push(DeclaredItem {
                key: consent_key(owner, &draft.name),
                fingerprint: fingerprint(draft),
                part: DeclaredPart::Consent(owner, draft),
            });
        }
        items
    }
}

/// The key a declared consent is remembered under.
pub fn consent_key(owner: ConsentOwner, name: &ConsentName) -> String {
    format!("consent:{}:{}", owner.get(), name)
}

/// The owner and name of a consent key, if it is one.
pub fn parse_consent_key(key: &str) -> Option<(ConsentOwner, ConsentName)> {
    let rest = key.strip_prefix("consent:")?;
    let (owner, name) = rest.split_once(':')?;
    let owner = ConsentOwner::from_i64(owner.parse().ok()?).ok()?;
    Some((owner, ConsentName::parse(name).ok()?))
}

fn unique_names<'a>(
    drafts: &'a [ConsentDraft],
    at: &str,
) -> Result<HashSet<&'a ConsentName>, String> {
    let mut names = HashSet::new();
    for d in drafts {
        d.check().map_err(|e| format!("{at}: {e}"))?;
        if !names.insert(&d.name) {
            return Err(format!("{at}: {} is declared twice", d.name));
        }
    }
    Ok(names)
}

fn fingerprint<T: Serialize>(part: &T) -> String {
    // Struct fields serialize in declaration order, so the JSON is canonical.
    let json = serde_json::to_vec(part).unwrap_or_default();
    hex::encode(Sha256::digest(json))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(name: &str, label: &str) -> ConsentDraft {
        ConsentDraft {
            name: ConsentName::parse(name).unwrap(),
            label: label.into(),
            value: String::new(),
            required: false,
            enabled_by_default: false,
            placeholder: String::new(),
            document_sha256: None,
        }
    }

    fn publisher(consents: Vec<ConsentDraft>) -> PublisherDeclaration {
        PublisherDeclaration {
            id: PublisherId::parse("100000001").unwrap(),
            name: "Demo".into(),
            settings: PublisherSettings::default(),
            offers: vec![OfferId::parse("S100000001_US").unwrap()],
            consents,
        }
    }

    #[test]
    fn fingerprints_follow_content() {
        let a = Declaration {
            platform_consents: vec![draft("terms", "A")],
            publishers: vec![],
        };
        let b = Declaration {
            platform_consents: vec![draft("terms", "B")],
            publishers: vec![],
        };
        assert_eq!(a.items()[0].fingerprint, a.clone().items()[0].fingerprint);
        assert_ne!(a.items()[0].fingerprint, b.items()[0].fingerprint);
        assert_eq!(a.items()[0].key, "consent:0:terms");
    }

    #[test]
    fn names_are_unique_across_platform_and_publisher() {
        let d = Declaration {
            platform_consents: vec![draft("terms", "A")],
            publishers: vec![publisher(vec![draft("terms", "B")])],
        };
        assert!(
            d.check()
                .unwrap_err()
                .contains("already a platform consent")
        );
    }

    #[test]
    fn offers_name_their_publisher() {
        let mut p = publisher(vec![]);
        p.offers.push(OfferId::parse("S100000002_US").unwrap());
        let d = Declaration {
            platform_consents: vec![],
            publishers: vec![p],
        };
        assert!(d.check().unwrap_err().contains("names publisher 100000002"));
    }

    #[test]
    fn consent_keys_round_trip() {
        let (owner, name) = parse_consent_key("consent:100000001:broadcaster_terms").unwrap();
        assert_eq!(
            consent_key(owner, &name),
            "consent:100000001:broadcaster_terms"
        );
        assert!(parse_consent_key("publisher:100000001").is_none());
    }
}
