//! The Postgres store: the production and scale-out backend.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};

use super::StoreError;
use super::sql::impl_store;
use super::sql_accounts::impl_account_store;
use super::sql_admin::impl_admin_store;
use super::sql_customers::impl_customer_store;
use super::sql_verification::impl_verification_store;
use crate::config::{DatabaseSettings, redact_url};

/// Serializes provisioning and consent publication across every replica.
const PROVISIONING_LOCK: i64 = 0x656e_726f_6c6c; // "enroll"

/// Enroll's data in Postgres.
#[derive(Debug, Clone)]
pub struct PgStore {
    pool: PgPool,
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
        Ok(PgStore { pool })
    }

    /// The pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        sqlx::migrate!("migrations/postgres")
            .run(&self.pool)
            .await?;
        Ok(())
    }

    /// Row lock for reads that decide a write (SQLite's write transaction already locks).
    const FOR_UPDATE: &'static str = " FOR UPDATE";

    async fn begin_write(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    async fn begin_locked(&self) -> Result<Transaction<'static, Postgres>, sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)")
            .bind(PROVISIONING_LOCK)
            .execute(&mut *tx)
            .await?;
        Ok(tx)
    }
}

impl_store!(PgStore, Postgres);
impl_customer_store!(PgStore, Postgres);
impl_account_store!(PgStore, Postgres);
impl_verification_store!(PgStore, Postgres);
// Prefix searches compare bytes (an index range), whatever the database's collation.
impl_admin_store!(
    PgStore,
    Postgres,
    " COLLATE \"C\"",
    "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
);
