//! The store contract: every store trait, the same expectations on both backends, through the
//! public traits only (a fresh SQLite file and a fresh Postgres database per test).

mod accounts;
mod admin;
mod customer_list;
mod customers;
mod erasure;
mod idempotency;
mod outbox;
mod owner_data;
mod publishers;
mod verification;

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use enroll::domain::EmailKey;

/// The key of an address, as the services make it.
pub fn email_key(raw: &str) -> EmailKey {
    EmailKey::of(raw)
}
use enroll::domain::proof::CollectionPoint;
use enroll::domain::receipt::ReceiptSigner;
use enroll::domain::{
    ConsentName, ConsentOwner, ConsentState, CustomerId, OfferId, PublisherId, PublisherSettings,
};
use enroll::store::{
    Collection, Customer, MailMessage, NewAudit, NewConsentRecord, NewCustomer, NewMail,
    NewRefreshToken, Rotation, Store,
};

use crate::support::{Backend, TestDb};

/// Publisher 1 and publisher 2 of every test that needs tenants.
pub const P1: &str = "123456789";
pub const P2: &str = "223456789";

pub fn pid(s: &str) -> PublisherId {
    PublisherId::parse(s).unwrap()
}

pub fn offer(s: &str) -> OfferId {
    OfferId::parse(s).unwrap()
}

/// A fresh database with publishers [`P1`] and [`P2`]; keep the `TestDb` alive.
pub async fn two_publishers(backend: Backend) -> (TestDb, Arc<dyn Store>) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    for (id, name) in [(P1, "One"), (P2, "Two")] {
        store
            .create_publisher(pid(id), name, &PublisherSettings::default(), &[])
            .await
            .unwrap();
    }
    (db, store)
}

/// Signs receipts with a fixed text (the store keeps whatever the signer returns).
struct TestSigner;

impl ReceiptSigner for TestSigner {
    fn sign_receipt(&self, payload: &serde_json::Value) -> Result<String, String> {
        Ok(format!(
            "test.{}.sig",
            payload["consentReceiptID"].as_str().unwrap_or("")
        ))
    }
}

/// How the contract tests' answers are collected.
pub fn how() -> Collection<'static> {
    Collection {
        point: CollectionPoint::ConsentsUpdate,
        route: "test",
        request_id: None,
        signer: &TestSigner,
    }
}

/// Publishes the platform's `terms` version 1 (answers are bound to the version they answer,
/// so it must exist before customers answer it).
pub async fn platform_terms(store: &Arc<dyn Store>) {
    store
        .publish_consent(
            ConsentOwner::Platform,
            &crate::consents::draft("terms", "Terms", true),
        )
        .await
        .unwrap();
}

/// A refresh token living an hour, in a family living a day.
pub fn refresh(hash: &str) -> NewRefreshToken {
    NewRefreshToken {
        hash: hash.into(),
        family: format!("family-{hash}"),
        expires_at: Utc::now() + chrono::Duration::hours(1),
        family_expires_at: Utc::now() + chrono::Duration::days(1),
    }
}

/// A registration of `email` with no consents, no idempotency key and no verification code.
pub fn new_customer(email: &str) -> NewCustomer {
    NewCustomer {
        email: email.into(),
        email_key: email_key(email),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        first_name: Some("Ada".into()),
        last_name: None,
        locale: enroll::domain::Locale::parse("en_GB").unwrap(),
        country: enroll::domain::Country::parse("GB").unwrap(),
        currency: enroll::domain::Currency::parse("GBP").unwrap(),
        external_id: None,
        external_data: None,
        ip: Some("192.0.2.1".parse().unwrap()),
        registered_at: None,
        consents: Vec::new(),
        refresh: refresh(&format!("rt-{email}")),
        idempotency: None,
        verification: None,
        capture: None,
    }
}

/// Registers `email` with publisher `p`.
pub async fn register(store: &Arc<dyn Store>, p: &str, email: &str) -> Customer {
    store
        .create_customer(pid(p), &new_customer(email), &crate::store_contract::how())
        .await
        .unwrap()
}

/// A consent version number.
pub fn v(n: i32) -> enroll::domain::ConsentVersionNumber {
    enroll::domain::ConsentVersionNumber::new(n).unwrap()
}

/// One consent answer.
pub fn answer(
    owner: ConsentOwner,
    name: &str,
    version: i32,
    state: ConsentState,
) -> NewConsentRecord {
    NewConsentRecord {
        owner,
        name: ConsentName::parse(name).unwrap(),
        version: v(version),
        state,
        ip: Some("192.0.2.7".parse().unwrap()),
        user_agent: Some("agent/1".into()),
        at: None,
    }
}

/// An email for the outbox.
pub fn mail(kind: &'static str, customer: Option<CustomerId>, to: &str) -> NewMail {
    NewMail {
        kind,
        customer,
        message: MailMessage {
            to: to.into(),
            subject: format!("{kind} subject"),
            text: "text".into(),
            html: "<p>html</p>".into(),
        },
    }
}

/// An audit line by the CLI.
pub fn audit(action: &str, publisher: Option<PublisherId>) -> NewAudit {
    NewAudit {
        key_id: None,
        actor: "cli".into(),
        publisher,
        action: action.into(),
        detail: serde_json::json!({"by": "test"}),
    }
}

pub const HOUR: Duration = Duration::from_secs(3600);

/// Presents a refresh token for rotation (successors live an hour; an hour's grace).
pub async fn rotate(store: &Arc<dyn Store>, hash: &str, next: &str) -> Rotation {
    store
        .rotate_refresh_token(hash, next, HOUR, HOUR)
        .await
        .unwrap()
}

/// Lets the clock move past stored times (both backends keep at least microseconds).
pub async fn tick() {
    tokio::time::sleep(Duration::from_millis(20)).await;
}
