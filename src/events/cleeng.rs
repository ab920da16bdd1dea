//! The Cleeng-compatible delivery shape (`format = cleeng`), for publishers whose receivers were
//! written for Cleeng's webhooks: `{"broadcasterId", "topic", "data"}`, signed with an
//! HMAC-SHA256 of the body under the endpoint's shared secret. Only the event types Cleeng has
//! a topic for are delivered; docs/api.md says which, and where Cleeng documents them.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// The header carrying the signature.
pub const SIGNATURE_HEADER: &str = "X-Cleeng-Signature";

/// Enroll's event type → Cleeng's topic.
pub const TOPICS: [(&str, &str); 2] = [
    ("customer.registered", "customerRegistered"),
    ("customer.consents_changed", "customerConsentUpdated"),
];

/// Cleeng's topic for an event type, if it has one.
pub fn topic(event_type: &str) -> Option<&'static str> {
    TOPICS
        .iter()
        .find(|(t, _)| *t == event_type)
        .map(|(_, topic)| *topic)
}

/// A new shared secret: 32 random bytes as unpadded base64url (43 characters, within Cleeng's
/// 16–64), used as the HMAC key as it is written.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Lowercase hex of HMAC-SHA256(secret, body).
pub fn signature(secret: &str, body: &str) -> String {
    // HMAC takes keys of any length; this never fails.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return String::new();
    };
    mac.update(body.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The Cleeng bodies of one event, in the order they are sent: one for a registration, one per
/// changed consent; none for a type without a Cleeng topic. `broadcaster` is the endpoint's
/// publisher; `email` the customer's current address (the consent event does not carry one).
pub fn bodies(broadcaster: i64, event: &Value, email: Option<&str>) -> Vec<String> {
    let kind = event["type"].as_str().unwrap_or_default();
    let Some(topic) = topic(kind) else {
        return Vec::new();
    };
    let customer = event["customerId"].clone();
    let data = &event["data"];
    let wrap = |data: Value| {
        json!({"broadcasterId": broadcaster, "topic": topic, "data": data}).to_string()
    };
    match kind {
        "customer.registered" => vec![wrap(json!({
            "customerId": customer,
            "customerEmail": data.get("email").cloned().unwrap_or(Value::Null),
            "customerExternalId": data.get("externalId").cloned().unwrap_or(Value::Null),
        }))],
        _ => data["consents"]
            .as_array()
            .map(Vec::as_slice)
            .unwrap_or_default()
            .iter()
            .map(|c| {
                wrap(json!({
                    "customerId": customer,
                    "customerEmail": email,
                    "consentName": c["name"],
                    "consentVersion": c["version"].to_string().trim_matches('"'),
                    "consentState": c["state"],
                }))
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registration_is_one_customer_registered() {
        let event = json!({"type": "customer.registered", "customerId": 123456789,
            "data": {"email": "a@example.com", "externalId": "x-1", "firstName": "Ada"}});
        let got = bodies(100000001, &event, None);
        let body: Value = serde_json::from_str(&got[0]).unwrap();
        assert_eq!(
            body,
            json!({"broadcasterId": 100000001, "topic": "customerRegistered",
                   "data": {"customerId": 123456789, "customerEmail": "a@example.com", "customerExternalId": "x-1"}})
        );
    }

    #[test]
    fn each_changed_consent_is_one_webhook_and_logins_none() {
        let event = json!({"type": "customer.consents_changed", "customerId": 1,
            "data": {"consents": [{"name": "a", "version": 2, "state": "accepted"},
                                  {"name": "b", "version": 1, "state": "declined"}]}});
        let got = bodies(100000001, &event, Some("c@example.com"));
        assert_eq!(got.len(), 2);
        assert!(
            got[1].contains(r#""consentName":"b""#) && got[1].contains(r#""consentVersion":"1""#)
        );
        assert!(bodies(1, &json!({"type": "customer.logged_in"}), None).is_empty());
    }

    #[test]
    fn the_signature_is_hex_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature("Jefe", "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
