//! What the store keeps about customers: the row, new-customer input, consent history
//! records, refresh tokens and idempotency records.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;
use crate::domain::{
    ConsentName, ConsentOwner, ConsentState, ConsentVersionNumber, Country, Currency, CustomerId,
    EmailKey, Locale, PublisherId, SessionEpoch, capture::CaptureAnswers,
};

/// A customer as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// Random nine-digit id.
    pub id: CustomerId,
    /// The tenant.
    pub publisher: PublisherId,
    /// As typed.
    pub email: String,
    /// `lowercase(NFKC(trim(email)))`, its domain through IDNA.
    pub email_key: EmailKey,
    /// PHC string of argon2id.
    pub password_hash: String,
    /// Optional names.
    pub first_name: Option<String>,
    /// Optional names.
    pub last_name: Option<String>,
    /// Locale.
    pub locale: Locale,
    /// Country.
    pub country: Country,
    /// Currency.
    pub currency: Currency,
    /// The publisher's own id for the customer.
    pub external_id: Option<String>,
    /// A JSON object.
    pub external_data: Option<Value>,
    /// Address at registration (none for an imported customer).
    pub registration_ip: Option<std::net::IpAddr>,
    /// Address of the last registration or login.
    pub last_ip: Option<std::net::IpAddr>,
    /// Registered at.
    pub created_at: DateTime<Utc>,
    /// Last login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// The address was proven: a code at registration, or a confirmation link.
    pub email_verified: bool,
    /// Capture answers (`None`: never given; `Some` of no answers once a form was sent empty).
    pub capture: Option<CaptureAnswers>,
    /// The session epoch: JWTs and refresh tokens of an older one no longer work.
    pub session_epoch: SessionEpoch,
}

/// One consent answer to append to a customer's history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewConsentRecord {
    /// Whose consent.
    pub owner: ConsentOwner,
    /// Which consent.
    pub name: ConsentName,
    /// Which version was answered.
    pub version: ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
    /// Where from.
    pub ip: Option<std::net::IpAddr>,
    /// Which client.
    pub user_agent: Option<String>,
    /// When it was given, if not now (an answer an upstream collected).
    pub at: Option<DateTime<Utc>>,
}

/// A customer's current answer to one consent (the newest history row).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentRecord {
    /// Whose consent.
    pub owner: ConsentOwner,
    /// Which consent.
    pub name: ConsentName,
    /// The version answered.
    pub version: ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
    /// When.
    pub at: DateTime<Utc>,
}

/// A refresh token to store (only its hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRefreshToken {
    /// SHA-256 of the token.
    pub hash: String,
    /// The rotation family.
    pub family: String,
    /// End of this token's life.
    pub expires_at: DateTime<Utc>,
    /// End of the family's life.
    pub family_expires_at: DateTime<Utc>,
}

/// Names an idempotency record: (publisher, route, key).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRef {
    /// The route, e.g. `POST /customers`.
    pub route: String,
    /// The client's `Idempotency-Key`.
    pub key: String,
}

/// Everything a registration stores, in one transaction.
#[derive(Debug, Clone)]
pub struct NewCustomer {
    /// As typed.
    pub email: String,
    /// The uniqueness key.
    pub email_key: EmailKey,
    /// PHC string.
    pub password_hash: String,
    /// Optional.
    pub first_name: Option<String>,
    /// Optional.
    pub last_name: Option<String>,
    /// Locale.
    pub locale: Locale,
    /// Country.
    pub country: Country,
    /// Currency.
    pub currency: Currency,
    /// Optional, unique per publisher.
    pub external_id: Option<String>,
    /// Optional JSON object.
    pub external_data: Option<Value>,
    /// Registration address.
    pub ip: Option<std::net::IpAddr>,
    /// When it registered, if not now (a customer migrating from an upstream keeps its date).
    pub registered_at: Option<DateTime<Utc>>,
    /// Consents answered at sign-up.
    pub consents: Vec<NewConsentRecord>,
    /// The first refresh token.
    pub refresh: NewRefreshToken,
    /// Marked done with the new customer in the same transaction.
    pub idempotency: Option<IdempotencyRef>,
    /// The HMAC of the email verification code, spent in the same transaction (the
    /// customer is then `email_verified`); the registration fails if it is no longer valid.
    pub verification: Option<String>,
    /// Capture answers.
    pub capture: Option<CaptureAnswers>,
}

/// Changes to a customer's profile: `None` leaves a field, `Some(None)` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerChanges {
    /// New email and its key.
    pub email: Option<(String, EmailKey)>,
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Country.
    pub country: Option<Country>,
    /// Locale.
    pub locale: Option<Locale>,
    /// External data.
    pub external_data: Option<Option<Value>>,
    /// Capture answers.
    pub capture: Option<Option<CaptureAnswers>>,
}

/// What an idempotency key says about a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Idempotency {
    /// First time: go ahead (the record now says "running").
    Started,
    /// The first request with this key is still running.
    InProgress,
    /// The key was used with another body.
    Mismatch,
    /// Already answered: replay this outcome.
    Done {
        /// HTTP status of the first answer.
        status: u16,
        /// The customer it created, for a success.
        customer: Option<CustomerId>,
        /// The error body, for a failure.
        response: Option<Value>,
    },
}

/// Customers, their consent history, tokens, idempotency records and shared secrets.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// Stores a new customer with a fresh random id (retrying on the rare collision), its
    /// consent answers, its first refresh token and its idempotency outcome, in one
    /// transaction (the answers hash-chained with their receipt, collected as `how` says).
    /// `AlreadyExists` names the rule broken ([`Taken`](super::Taken)).
    async fn create_customer(
        &self,
        publisher: PublisherId,
        new: &NewCustomer,
        how: &super::Collection<'_>,
    ) -> Result<Customer, StoreError>;

    /// One customer of one publisher (erased customers are not found).
    async fn customer(
        &self,
        publisher: PublisherId,
        id: CustomerId,
    ) -> Result<Option<Customer>, StoreError>;

    /// Applies profile changes; `NotFound` for no such customer, `AlreadyExists` for a taken email.
    /// A new email key ends every session of the customer in the same transaction (as
    /// [`AccountStore::end_sessions`](super::AccountStore::end_sessions)).
    async fn update_customer(
        &self,
        publisher: PublisherId,
        id: CustomerId,
        changes: &CustomerChanges,
    ) -> Result<Customer, StoreError>;

    /// The customer's current answer per consent: the newest history row of each.
    async fn consent_answers(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<ConsentRecord>, StoreError>;

    /// Appends answers to the customer's history (never rewritten, hash-chained, collected as
    /// `how` says) with their signed receipt, in one transaction; returns the receipt's id
    /// (`None` for no answers).
    async fn append_consents(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        records: &[NewConsentRecord],
        how: &super::Collection<'_>,
    ) -> Result<Option<String>, StoreError>;

    /// Stores a refresh token (a new family) for the customer, only while the customer's
    /// session epoch is still `epoch` (`NotFound` otherwise: the sessions of that epoch were
    /// ended, e.g. by a password reset, and none may be started from it any more).
    async fn add_refresh_token(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token: &NewRefreshToken,
        epoch: SessionEpoch,
    ) -> Result<(), StoreError>;

    /// Claims an idempotency key for a request body (by its HMAC). A record older than
    /// `ttl` is forgotten; a running one older than `stale` (its process died) is taken over.
    async fn idempotency_begin(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
        body_hmac: &str,
        stale: std::time::Duration,
        ttl: std::time::Duration,
    ) -> Result<Idempotency, StoreError>;

    /// Records the outcome of a request that did not create a customer.
    async fn idempotency_finish(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Forgets a key whose request failed with a server error (so a retry runs again).
    async fn idempotency_abandon(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
    ) -> Result<(), StoreError>;

    /// The JWT signing keys generated by replicas (oldest first); when there is none yet,
    /// stores `candidate` first (the first replica wins).
    async fn ensure_signing_key(
        &self,
        kid: &str,
        candidate_pem: &str,
    ) -> Result<Vec<String>, StoreError>;

    /// A shared secret by name; when there is none yet, stores `candidate`.
    async fn ensure_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError>;
}
