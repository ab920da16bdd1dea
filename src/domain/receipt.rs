//! Consent receipts: the payload (the fields of the Kantara Initiative Consent Receipt
//! Specification 1.1 that apply to Enroll) of the compact JWS a customer gets for each consent
//! change, and the signer that turns it into one.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::proof::CollectionPoint;
use super::{CustomerId, PublisherId};

/// Signs a receipt payload as a compact JWS (the customer-token keys: EdDSA with `kid`).
pub trait ReceiptSigner: Send + Sync {
    /// The compact JWS of `payload`.
    fn sign_receipt(&self, payload: &Value) -> Result<String, String>;
}

/// One answer a receipt states.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptAnswer {
    /// 0 for the platform, else the publisher.
    pub owner: i64,
    /// The consent.
    pub name: String,
    /// The version answered.
    pub version: i32,
    /// `accepted` / `declined`.
    pub state: String,
    /// The version's text hash.
    pub text_hash: String,
    /// The document's URL (the version's `value`).
    pub document_url: String,
    /// Must be accepted to register.
    pub required: bool,
}

/// What one receipt states.
#[derive(Debug, Clone)]
pub struct ReceiptFacts<'a> {
    /// `consentReceiptID` (a UUID).
    pub id: &'a str,
    /// The controller.
    pub publisher: PublisherId,
    /// Its name.
    pub publisher_name: &'a str,
    /// `piiPrincipalId`.
    pub customer: CustomerId,
    /// The customer's country (ISO 3166-1 alpha-2), the `jurisdiction`.
    pub country: Option<&'a str>,
    /// `consentTimestamp`.
    pub at: DateTime<Utc>,
    /// `collectionMethod`.
    pub collection_point: CollectionPoint,
    /// The answers.
    pub answers: &'a [ReceiptAnswer],
}

/// The receipt's `policyUrl`: the document of the first required consent answered, else of
/// the first answered consent that has one (Enroll keeps no separate privacy-policy URL).
fn policy_url(answers: &[ReceiptAnswer]) -> &str {
    answers
        .iter()
        .filter(|a| !a.document_url.is_empty())
        .find(|a| a.required)
        .or_else(|| answers.iter().find(|a| !a.document_url.is_empty()))
        .map_or("", |a| a.document_url.as_str())
}

/// The receipt payload: Kantara CR 1.1 fields (`version`, `jurisdiction`, `consentTimestamp`,
/// `collectionMethod`, `consentReceiptID`, `language`, `piiPrincipalId`, `piiControllers`,
/// `policyUrl`, `services` with one purpose per consent, `sensitive`, `spiCat`) plus, in each
/// purpose, Enroll's `consentName`, `consentVersion`, `textHash` and `state`.
pub fn payload(f: &ReceiptFacts<'_>) -> Value {
    let purposes: Vec<Value> = f
        .answers
        .iter()
        .map(|a| {
            json!({
                "purpose": a.name,
                "purposeCategory": [if a.owner == 0 { "platform" } else { "publisher" }],
                "consentType": "EXPLICIT",
                "piiCategory": ["account"],
                "primaryPurpose": a.required,
                "termination": a.document_url,
                "thirdPartyDisclosure": false,
                "consentName": a.name,
                "consentVersion": a.version.to_string(),
                "textHash": a.text_hash,
                "state": a.state,
            })
        })
        .collect();
    json!({
        "version": "KI-CR-v1.1.0",
        "jurisdiction": f.country.unwrap_or(""),
        "consentTimestamp": f.at.timestamp(),
        "collectionMethod": f.collection_point.method(),
        "consentReceiptID": f.id,
        "language": "en",
        "piiPrincipalId": f.customer.to_string(),
        "piiControllers": [{
            "piiController": f.publisher_name,
            "piiControllerId": f.publisher.to_string(),
            "onBehalf": false,
            "contact": "",
            "address": {},
            "email": "",
            "phone": "",
        }],
        "policyUrl": policy_url(f.answers),
        "services": [{"service": "customer account", "purposes": purposes}],
        "sensitive": false,
        "spiCat": [],
        "iat": f.at.timestamp(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_holds_the_answers() {
        let answers = vec![
            ReceiptAnswer {
                owner: 0,
                name: "marketing".into(),
                version: 1,
                state: "declined".into(),
                text_hash: "aa".into(),
                document_url: "https://a.example/m".into(),
                required: false,
            },
            ReceiptAnswer {
                owner: 100000001,
                name: "terms".into(),
                version: 2,
                state: "accepted".into(),
                text_hash: "bb".into(),
                document_url: "https://a.example/t".into(),
                required: true,
            },
        ];
        let p = payload(&ReceiptFacts {
            id: "r1",
            publisher: PublisherId::parse("100000001").unwrap(),
            publisher_name: "Pub",
            customer: CustomerId::parse("123456789").unwrap(),
            country: Some("NL"),
            at: Utc::now(),
            collection_point: CollectionPoint::ConsentsUpdate,
            answers: &answers,
        });
        assert_eq!(p["jurisdiction"], "NL");
        assert_eq!(p["policyUrl"], "https://a.example/t");
        assert_eq!(p["piiPrincipalId"], "123456789");
        let purposes = p["services"][0]["purposes"].as_array().unwrap();
        assert_eq!(purposes[1]["textHash"], "bb");
        assert_eq!(purposes[1]["consentVersion"], "2");
    }
}
