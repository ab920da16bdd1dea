//! Store errors: what callers must tell apart (exists, missing, unavailable) and the rest.

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

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut
            | sqlx::Error::PoolClosed
            | sqlx::Error::Io(_)
            | sqlx::Error::Tls(_)
            | sqlx::Error::WorkerCrashed => StoreError::Unavailable(e),
            // Postgres names the constraint; SQLite only says it in the message.
            sqlx::Error::Database(db) if db.is_unique_violation() => StoreError::AlreadyExists(
                db.constraint()
                    .map_or_else(|| db.message().to_owned(), str::to_owned),
            ),
            sqlx::Error::Database(db) if is_transient(db.code().as_deref()) => {
                StoreError::Unavailable(e)
            }
            _ => StoreError::Database(e),
        }
    }
}

/// Postgres errors that mean "cannot reach or use the database now" (connection, shutdown,
/// resources, refused logins or connections), and SQLite BUSY and LOCKED.
fn is_transient(code: Option<&str>) -> bool {
    let Some(c) = code else { return false };
    ["08", "57P", "53", "28"]
        .iter()
        .any(|class| c.starts_with(class))
        || matches!(c, "55000" | "3D000" | "5" | "6")
}
