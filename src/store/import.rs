//! What the store keeps about bulk imports: the import (its counts as it goes), the rows it
//! writes in batches, its row errors and the ids it gave to rows that carried one.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::StoreError;
use crate::domain::import::ImportMode;
use crate::domain::{
    ConsentName, ConsentOwner, ConsentState, Country, Currency, CustomerId, EmailKey, Locale,
    PublisherId,
};

/// One valid row to write: the customer in stored form and its dated consent answers.
#[derive(Debug, Clone)]
pub struct ImportedCustomer {
    /// The row's line in the file (1 is the first row after a CSV header).
    pub line: i64,
    /// The row's own id, kept when no customer has it.
    pub id: Option<CustomerId>,
    /// As given.
    pub email: String,
    /// The uniqueness key.
    pub email_key: EmailKey,
    /// A checked hash (or `None`: the customer sets one through a reset).
    pub password_hash: Option<String>,
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
    /// Registered at (else the import's time).
    pub registration_date: Option<DateTime<Utc>>,
    /// Last login.
    pub last_login: Option<DateTime<Utc>>,
    /// Whether the address was proven.
    pub email_verified: Option<bool>,
    /// Consent answers, kept as history marked imported.
    pub consents: Vec<ImportedConsentRecord>,
    /// Capture answers, stored as registration stores them (`None`: none given).
    pub capture: Option<crate::domain::capture::CaptureAnswers>,
}

/// One imported consent answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedConsentRecord {
    /// Whose consent.
    pub owner: ConsentOwner,
    /// Which.
    pub name: ConsentName,
    /// Which version was answered.
    pub version: crate::domain::ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
    /// When (else the import's time).
    pub at: Option<DateTime<Utc>>,
}

/// A row that was not imported: where, which field, why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// The row's line.
    pub line: i64,
    /// The field (`row` for the whole row).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A row that carried an id of its own, and the id its customer has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdMapping {
    /// The row's line.
    pub line: i64,
    /// The id the row carried.
    pub old_id: i64,
    /// The customer's id (the same when it was free).
    pub customer_id: i64,
}

/// An import and its counts so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportInfo {
    /// Its id.
    pub id: String,
    /// Into which publisher.
    pub publisher: PublisherId,
    /// `insert`, `upsert` or `skip`.
    pub mode: String,
    /// `running`, `done`, `failed` or `interrupted` (its server stopped midway).
    pub state: String,
    /// Rows read so far.
    pub rows_read: i64,
    /// New customers.
    pub inserted: i64,
    /// Customers updated (`upsert`).
    pub updated: i64,
    /// Rows left out (`skip`).
    pub skipped: i64,
    /// Rows with an error.
    pub failed: i64,
    /// Why a failed import stopped.
    pub message: Option<String>,
    /// Started.
    pub created_at: DateTime<Utc>,
    /// Ended.
    pub finished_at: Option<DateTime<Utc>>,
    /// Last sign of life of the process running it.
    pub heartbeat_at: Option<DateTime<Utc>>,
}

/// Bulk imports.
#[async_trait]
pub trait ImportStore: Send + Sync + 'static {
    /// Whether batches may be written on several connections at once (see
    /// `admin.import_writers`): rows with one email key must stay on one of them.
    fn parallel_import(&self) -> bool;

    /// Records a new running import.
    async fn create_import(
        &self,
        publisher: PublisherId,
        id: &str,
        mode: ImportMode,
    ) -> Result<(), StoreError>;

    /// Writes one batch in one transaction: the valid rows by `mode` (new customers in
    /// multi-row inserts, with fresh ids unless a row's own id is free; existing ones —
    /// same email key — updated, left or refused), the row errors found before (`errors`)
    /// and while writing, the id mappings, the import's counts, and a `customer.registered`
    /// event (marked `imported`, caused by `actor`) for each new customer; the rows' consent
    /// answers go through the one history writer (chained, one receipt per row, as `how` says).
    #[allow(clippy::too_many_arguments)] // the batch, its context, and who writes and signs it
    async fn import_batch(
        &self,
        publisher: PublisherId,
        import: &str,
        mode: ImportMode,
        rows: &[ImportedCustomer],
        errors: &[RowError],
        actor: &super::Actor,
        how: &super::Collection<'_>,
    ) -> Result<(), StoreError>;

    /// Refreshes the database's statistics of the customers table where its planner needs
    /// them (an import calls it now and then as the table grows).
    async fn import_analyze(&self) -> Result<(), StoreError>;

    /// Records that the import's process is alive (its heartbeat).
    async fn touch_import(&self, publisher: PublisherId, import: &str) -> Result<(), StoreError>;

    /// Marks every `running` import whose heartbeat is older than `before` as `interrupted`
    /// (its server stopped midway); how many.
    async fn interrupt_stale_imports(&self, before: DateTime<Utc>) -> Result<u64, StoreError>;

    /// Marks the import `done` or `failed` (with why).
    async fn finish_import(
        &self,
        publisher: PublisherId,
        import: &str,
        failed: Option<&str>,
    ) -> Result<(), StoreError>;

    /// The import, if the publisher has it.
    async fn import_info(
        &self,
        publisher: PublisherId,
        import: &str,
    ) -> Result<Option<ImportInfo>, StoreError>;

    /// Its row errors after line `after`, in line order, at most `limit`.
    async fn import_errors(
        &self,
        import: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RowError>, StoreError>;

    /// Its id mappings after line `after`, in line order, at most `limit`.
    async fn import_ids(
        &self,
        import: &str,
        after: i64,
        limit: i64,
    ) -> Result<Vec<IdMapping>, StoreError>;
}
