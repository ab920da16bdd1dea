//! What the store keeps as proof of consent: how an answer was collected, signed receipts,
//! and what verifying a customer's hash chain found.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::proof::CollectionPoint;
use crate::domain::receipt::ReceiptSigner;
use crate::domain::{CustomerId, PublisherId};

/// How a batch of consent answers was collected, and who signs its receipts.
#[derive(Clone, Copy)]
pub struct Collection<'a> {
    /// Where (registration, consents update, import, …).
    pub point: CollectionPoint,
    /// The route, e.g. `PUT /customers/{customerId}/consents`.
    pub route: &'a str,
    /// The client's request id (`X-Request-Id`), when there was a request.
    pub request_id: Option<&'a str>,
    /// Signs each change's receipt.
    pub signer: &'a dyn ReceiptSigner,
}

impl std::fmt::Debug for Collection<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collection")
            .field("point", &self.point)
            .field("route", &self.route)
            .field("request_id", &self.request_id)
            .finish_non_exhaustive()
    }
}

/// A stored consent receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// `consentReceiptID`.
    pub id: String,
    /// Whose.
    pub customer: CustomerId,
    /// Where the answers were collected (`registration`, …).
    pub collection_point: String,
    /// When.
    pub created_at: DateTime<Utc>,
    /// The compact JWS.
    pub jws: String,
}

/// The first link of a hash chain that does not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokenLink {
    /// The customer whose chain breaks (`None` when a consent version's own text was edited).
    pub customer: Option<CustomerId>,
    /// The history entry (`customer_consents.id`) that breaks it.
    pub entry: Option<i64>,
    /// The consent version whose stored text no longer gives its hash (`owner/name/version`).
    pub consent: Option<String>,
    /// What does not hold: `prev_hash`, `entry_hash`, `text_hash`, or `receipt` (a receipt
    /// states answers the history no longer holds).
    pub field: &'static str,
    /// What it should be.
    pub expected: String,
    /// What is stored.
    pub found: String,
}

/// What verifying found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainReport {
    /// Customers whose history was read.
    pub customers: u64,
    /// History entries checked.
    pub entries: u64,
    /// The first broken link, if any.
    pub broken: Option<BrokenLink>,
}

/// Proof of consent: verifying chains and reading receipts.
#[async_trait]
pub trait ProofStore: Send + Sync + 'static {
    /// Verifies the consent history of one customer of the publisher, or of all of them
    /// (erased ones included): every entry's `prev_hash` is the entry hash before it, its
    /// `entry_hash` is the hash of its chained fields, its text hash that of the version it
    /// answers, each version's stored text still gives its hash, and every receipt's answers
    /// are all still in the history. Stops at the first break.
    async fn verify_consents(
        &self,
        publisher: PublisherId,
        customer: Option<CustomerId>,
    ) -> Result<ChainReport, StoreError>;

    /// The customer's receipts, newest first (erased customers included).
    async fn consent_receipts(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<Receipt>, StoreError>;

    /// One receipt of one of the publisher's customers.
    async fn consent_receipt(
        &self,
        publisher: PublisherId,
        id: &str,
    ) -> Result<Option<Receipt>, StoreError>;
}
