//! The Postgres store: the production and scale-out backend.

use std::str::FromStr;
use std::sync::Arc;

use serde_json::Value;
use sqlx::error::DatabaseError;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{Postgres, Transaction};
use tokio::sync::Notify;

use super::StoreError;
use super::backend::Backend;
use super::bulk::{Column, Rows, returns_ids};
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

    async fn insert_rows(
        conn: &mut PgConnection,
        rows: &Rows<'_>,
        tail: &'static str,
    ) -> Result<Vec<i64>, StoreError> {
        rows.check()?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // One array per column; text and JSON go as text[] (JSON cast to jsonb by Postgres).
        let arrays: Vec<String> = rows
            .columns
            .iter()
            .enumerate()
            .map(|(i, (_, c))| {
                let cast = match c {
                    Column::Int(_) => "bigint[]",
                    Column::Text(_) => "text[]",
                    Column::Bool(_) => "boolean[]",
                    Column::Time(_) => "timestamptz[]",
                    Column::Json(_) => "text[]::jsonb[]",
                };
                format!("${}::{cast}", i + 1)
            })
            .collect();
        // Rows go in the arrays' order, said rather than assumed (WITH ORDINALITY … ORDER BY):
        // serial ids follow it, and consent history's hash chain reads them in id order.
        let aliases: Vec<String> = (0..rows.columns.len()).map(|i| format!("c{i}")).collect();
        let sql = format!(
            "INSERT INTO {} ({}) SELECT {} FROM UNNEST({}) WITH ORDINALITY AS u({}, ord) ORDER BY ord {tail}",
            rows.table,
            rows.names(),
            aliases.join(", "),
            arrays.join(", "),
            aliases.join(", ")
        );
        // The borrowed text of each text column, and each JSON column serialized.
        let texts: Vec<Vec<Option<&str>>> = rows
            .columns
            .iter()
            .filter_map(|(_, c)| match c {
                Column::Text(v) => Some(v.iter().map(|s| s.as_deref()).collect()),
                _ => None,
            })
            .collect();
        let jsons: Vec<Vec<Option<String>>> = rows
            .columns
            .iter()
            .filter_map(|(_, c)| match c {
                Column::Json(v) => Some(v.iter().map(|j| j.map(Value::to_string)).collect()),
                _ => None,
            })
            .collect();
        let mut query = sqlx::query_scalar::<_, i64>(&sql);
        let (mut t, mut j) = (texts.iter(), jsons.iter());
        for (_, c) in &rows.columns {
            query = match c {
                Column::Int(v) => query.bind(v),
                Column::Text(_) => query.bind(t.next()),
                Column::Bool(v) => query.bind(v),
                Column::Time(v) => query.bind(v),
                Column::Json(_) => query.bind(j.next()),
            };
        }
        if returns_ids(tail) {
            Ok(query.fetch_all(&mut *conn).await?)
        } else {
            // No row comes back; the statement runs to its end.
            query.fetch_optional(&mut *conn).await?;
            Ok(Vec::new())
        }
    }
}
