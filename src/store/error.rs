//! Store errors: what callers must tell apart (exists, missing, unavailable) and the rest.

use super::backend::classify;
use super::{PgStore, SqliteStore};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique rule refused the row: which one.
    #[error("{0} already exists")]
    AlreadyExists(Taken),
    /// The row to change does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The request breaks a rule the store enforces.
    #[error("{0}")]
    Invalid(String),
    /// The database cannot be reached now (pool timeout, connection lost, busy); retry later.
    #[error("database unavailable: {0}")]
    Unavailable(#[source] sqlx::Error),
    /// A stored value does not parse as its domain type.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// Any other database error.
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    /// An email verification code was spent, expired or replaced meanwhile.
    #[error("email verification code no longer valid")]
    VerificationFailed,
    /// Migrations failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The unique rule a write broke, told apart where the database's error is read (the one
/// place that knows constraint names), so callers match on it rather than on text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Taken {
    /// A customer of the publisher has this email key.
    Email,
    /// A customer of the publisher has this external id.
    ExternalId,
    /// A customer has this id.
    CustomerId,
    /// A publisher has this id.
    Publisher,
    /// A publisher has this offer id.
    Offer,
    /// Another unique rule, as the database names it.
    Other(String),
}

impl Taken {
    /// Reads what a unique violation names: the constraint (Postgres, e.g. `customers_email_key`)
    /// or the columns (SQLite, `UNIQUE constraint failed: customers.email_key`).
    pub(super) fn of(named: &str) -> Taken {
        if named.contains("customers_email_key") || named.contains("customers.email_key") {
            Taken::Email
        } else if named.contains("customers_external_id") || named.contains("customers.external_id")
        {
            Taken::ExternalId
        } else if named.contains("customers_pkey") || named.contains("customers.id") {
            Taken::CustomerId
        } else {
            Taken::Other(named.to_owned())
        }
    }
}

impl std::fmt::Display for Taken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Taken::Email => f.write_str("a customer with this email"),
            Taken::ExternalId => f.write_str("a customer with this externalId"),
            Taken::CustomerId => f.write_str("a customer with this id"),
            Taken::Publisher => f.write_str("the publisher"),
            Taken::Offer => f.write_str("the offer"),
            Taken::Other(named) => f.write_str(named),
        }
    }
}

impl StoreError {
    /// The database ended the transaction to resolve a conflict with another one (Postgres
    /// deadlock `40P01` or serialization failure `40001`): nothing was written, and the same
    /// transaction may simply run again.
    pub fn is_retryable_conflict(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(db)) => {
                matches!(db.code().as_deref(), Some("40P01" | "40001"))
            }
            _ => false,
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            // Each backend reads its own errors (see `Backend::unique_conflict`).
            sqlx::Error::Database(db)
                if db
                    .try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
                    .is_some() =>
            {
                classify::<PgStore>(e)
            }
            sqlx::Error::Database(_) => classify::<SqliteStore>(e),
            _ => StoreError::Database(e),
        }
    }
}
