//! Persistence: one `Store` trait, two implementations (`postgres`, `sqlite`), each with its own
//! `migrations/<backend>/`. They differ only in what the `backend::Backend` trait asks of them;
//! the SQL is written once (`sql*.rs`) against it.
//! Every function takes the tenant first.

mod account;
mod admin;
mod backend;
mod bulk;
mod customer;
mod deliveries;
mod error;
mod events;
mod health;
mod import;
mod metered;
mod owner_data;
mod placeholders;
mod postgres;
mod proof;
mod publisher;
mod sql;
mod sql_accounts;
mod sql_admin;
mod sql_admin_parts;
mod sql_chain;
mod sql_customers;
mod sql_deliveries;
mod sql_events;
mod sql_import;
mod sql_owner_data;
mod sql_proof;
mod sql_publishing;
mod sql_sessions;
mod sql_verification;
mod sql_webhooks;
mod sqlite;
mod verification;

use std::sync::Arc;

use crate::config::DatabaseSettings;

pub use account::{
    AccountStore, MailMessage, NewMail, OutboxBacklog, OutboxMail, PoolStats, Rotation,
};
pub use admin::{
    AdminKey, AdminSession, AdminStore, AuditCursor, AuditEntry, ConsentHistoryRecord,
    CustomerCursor, CustomerFilter, CustomerSearch, NewAdminKey, NewAdminSession, NewAudit,
};
pub use customer::{
    ConsentRecord, Customer, CustomerChanges, CustomerStore, Idempotency, IdempotencyRef,
    NewConsentRecord, NewCustomer, NewRefreshToken,
};
pub use deliveries::{Delivery, DeliveryStore};
pub use error::{StoreError, Taken};
pub use events::{
    Actor, CUSTOMER_ACTOR, ClaimedDelivery, DeliveryResult, EVENT_TYPES, EventStore, NewWebhook,
    WebhookChanges, WebhookEndpoint,
};
pub use health::DbHealth;
pub use import::{
    IdMapping, ImportInfo, ImportStore, ImportedConsentRecord, ImportedCustomer, RowError,
};
pub use owner_data::{OwnerDataStore, StoredRow};
pub use postgres::PgStore;
pub use proof::{BrokenLink, ChainReport, Collection, ProofStore, Receipt};
pub use publisher::{ApplyReport, ConsentVersion, Published, Publisher, PublisherStore};
pub use sql_import::NO_PASSWORD_HASH;
pub use sqlite::SqliteStore;
pub use verification::{CodeCheck, VerificationStore};

/// Everything Enroll keeps. Implementations: [`PgStore`], [`SqliteStore`]. Bring the parts
/// into scope with `use enroll::store::{PublisherStore, CustomerStore}`.
pub trait Store:
    PublisherStore
    + CustomerStore
    + AccountStore
    + VerificationStore
    + AdminStore
    + EventStore
    + DeliveryStore
    + ImportStore
    + OwnerDataStore
    + ProofStore
{
}

impl<
    T: PublisherStore
        + CustomerStore
        + AccountStore
        + VerificationStore
        + AdminStore
        + EventStore
        + DeliveryStore
        + ImportStore
        + OwnerDataStore
        + ProofStore,
> Store for T
{
}

/// Opens the database `settings.url` names: `sqlite://…` or `postgres://…`.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.as_str();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(settings).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(settings).await?))
    } else {
        Err(StoreError::Invalid(format!(
            "database.url: unsupported scheme in {:?} (use sqlite:// or postgres://)",
            crate::config::redact_url(url)
        )))
    }
}
