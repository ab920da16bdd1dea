//! The Postgres store: the production and scale-out backend.

use std::str::FromStr;
use std::sync::Arc;

use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use super::StoreError;
use super::backend::Backend;
use super::metered::Metered;
use crate::config::{DatabaseSettings, redact_url};

/// Serializes provisioning and consent publication across every replica.
const PROVISIONING_LOCK: i64 = 0x656e_726f_6c6c; // "enroll"

/// Enroll's data in Postgres.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: Metered<Postgres>,
    /// Rung when a transaction that wrote events commits.
    new_events: Arc<Notify>,
}

impl PgStore {
    /// Opens a pool on `settings.url`; connections are made when first needed.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = PgConnectOptions::from_str(&settings.url).map_err(|e| {
            StoreError::Invalid(format!("database.url {:?}: {e}", redact_url(&settings.url)))
        })?;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            // A connection a cancelled request left inside a transaction is closed, not reused.
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .connect_lazy_with(options);
        Ok(PgStore {
            pool: Metered::new(pool),
            new_events: Arc::default(),
        })
    }

    /// The pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        self.pool.raw()
    }
}

impl Backend for PgStore {
    type Db = Postgres;

    const FOR_UPDATE: &'static str = " FOR UPDATE";
    const SKIP_LOCKED: &'static str = " FOR UPDATE SKIP LOCKED";

    // Prefix searches compare bytes (an index range), whatever the database's collation.
    const BYTE_ORDER: &'static str = " COLLATE \"C\"";

    const UTC_DAY: &'static str = "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')";

    const ANALYZE_CUSTOMERS: Option<&'static str> = Some("ANALYZE customers");

    const POSITIONAL_PARAMS: bool = false;
    const PARALLEL_WRITES: bool = true;

    fn pool(&self) -> &Metered<Postgres> {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    fn new_events(&self) -> &Arc<Notify> {
        &self.new_events
    }

    async fn begin_locked(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PROVISIONING_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        // sqlx holds Postgres's advisory migration lock while it runs.
        sqlx::migrate!("migrations/postgres")
            .run(self.pool.raw())
            .await?;
        Ok(())
    }

    fn unique_conflict(error: &dyn DatabaseError) -> String {
        error
            .constraint()
            .map_or_else(|| error.message().to_owned(), str::to_owned)
    }

    fn is_transient(code: &str) -> bool {
        // Connection, shutdown, resources, refused logins; not ready; no such database.
        ["08", "57P", "53", "28"]
            .iter()
            .any(|class| code.starts_with(class))
            || matches!(code, "55000" | "3D000")
    }

    fn rows_affected(done: &sqlx::postgres::PgQueryResult) -> u64 {
        done.rows_affected()
    }
}
