//! What the customer's own-data export reads beyond the customer row: every stored column of
//! the consent history, read generically (a column a later migration adds appears in the
//! export without a change here), the customer's events and the live sessions.

use async_trait::async_trait;
use serde_json::{Map, Value};

use super::StoreError;
use crate::domain::{CustomerId, PublisherId};

/// One stored row as JSON: every column by its name, times as RFC 3339 in UTC.
pub type StoredRow = Map<String, Value>;

/// Reads for the customer's export (GDPR Art. 15 and 20).
#[async_trait]
pub trait OwnerDataStore: Send + Sync + 'static {
    /// Every row of the customer's consent history, oldest first, with every column but
    /// `customer_id`: integers and booleans as JSON numbers and booleans, times (`at`,
    /// `*_at`, or a timestamp type) as RFC 3339 UTC, JSON columns as JSON, text as text, NULL
    /// as null. Empty for a customer of another publisher.
    async fn consent_history_rows(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<StoredRow>, StoreError>;

    /// The customer's events (what webhooks tell the publisher's systems), in the customer's
    /// order: each stored body as JSON (an erased customer's carry no data).
    async fn customer_events(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<Value>, StoreError>;

    /// How many sessions of the customer are live: refresh tokens neither used, revoked nor
    /// expired (each signed-in device holds one).
    async fn live_sessions(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<i64, StoreError>;
}
