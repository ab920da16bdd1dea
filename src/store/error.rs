//! Store errors: what callers must tell apart (exists, missing, unavailable) and the rest.

use super::backend::classify;
use super::{PgStore, SqliteStore};

/// Why a store call failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the row; names the constraint or the thing.
    #[error("{0} already exists")]
    AlreadyExists(String),
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
