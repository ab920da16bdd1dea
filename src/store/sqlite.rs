//! The SQLite store: the embedded default, nothing to install.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::error::DatabaseError;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::{Sqlite, Transaction};
use tokio::sync::Notify;

use super::StoreError;
use super::backend::Backend;
use super::bulk::{Column, Rows, returns_ids};
use super::metered::Metered;
use super::placeholders::values;
use crate::config::DatabaseSettings;

/// Enroll's data in one SQLite file (WAL mode, writes queue behind a busy timeout).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: Metered<Sqlite>,
    /// The database file (None in memory), for the migration lock beside it.
    file: Option<std::path::PathBuf>,
    /// Rung when a transaction that wrote events commits.
    new_events: Arc<Notify>,
}

impl SqliteStore {
    /// Opens (creating if missing, with its directory) the database file of `settings.url`.
    pub async fn connect(settings: &DatabaseSettings) -> Result<Self, StoreError> {
        let options = SqliteConnectOptions::from_str(&settings.url)
            .map_err(|e| StoreError::Invalid(format!("database.url {:?}: {e}", settings.url)))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        let in_memory = options.get_filename().as_os_str() == ":memory:";
        if !in_memory
            && let Some(dir) = options
                .get_filename()
                .parent()
                .filter(|d| !d.as_os_str().is_empty())
        {
            std::fs::create_dir_all(dir).map_err(|e| {
                StoreError::Invalid(format!(
                    "database.url: cannot create directory {}: {e}",
                    dir.display()
                ))
            })?;
        }
        let file = (!in_memory).then(|| options.get_filename().to_path_buf());
        // Each in-memory connection is a database of its own: keep exactly one.
        let max = if in_memory {
            1
        } else {
            settings.max_connections
        };
        let pool = SqlitePoolOptions::new()
            .max_connections(max)
            .acquire_timeout(settings.acquire_timeout)
            .idle_timeout(if in_memory {
                None
            } else {
                Some(Duration::from_secs(600))
            })
            // A connection left inside a transaction (a cancelled request can leave one) would
            // refuse `BEGIN IMMEDIATE`: close it instead of handing it out.
            .before_acquire(|conn, _| {
                Box::pin(async move { Ok(!sqlx::Connection::is_in_transaction(conn)) })
            })
            .max_lifetime(if in_memory {
                None
            } else {
                Some(Duration::from_secs(1800))
            })
            .connect_with(options)
            .await?;
        Ok(SqliteStore {
            pool: Metered::new(pool),
            file,
            new_events: Arc::default(),
        })
    }

    /// The pool, for tests and tools that need raw SQL.
    pub fn pool(&self) -> &SqlitePool {
        self.pool.raw()
    }
}

impl Backend for SqliteStore {
    type Db = Sqlite;

    // The write transaction (BEGIN IMMEDIATE) already holds the only write lock.
    const FOR_UPDATE: &'static str = "";
    const SKIP_LOCKED: &'static str = "";

    // SQLite compares text byte-wise already.
    const BYTE_ORDER: &'static str = "";

    // Times are stored as RFC 3339 text in UTC: the day is its first ten characters.
    const UTC_DAY: &'static str = "substr(created_at, 1, 10)";

    const ANALYZE_CUSTOMERS: Option<&'static str> = None;

    const POSITIONAL_PARAMS: bool = true;
    const PARALLEL_WRITES: bool = false;

    fn pool(&self) -> &Metered<Sqlite> {
        &self.pool
    }

    async fn begin_write(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        // IMMEDIATE takes the write lock now, so concurrent writers queue instead of failing.
        match self.pool.begin_with(Some("BEGIN IMMEDIATE")).await {
            // The connection's pending rollback had not run yet: another one will do.
            Err(sqlx::Error::InvalidSavePointStatement) => {
                self.pool.begin_with(Some("BEGIN IMMEDIATE")).await
            }
            other => other,
        }
    }

    fn new_events(&self) -> &Arc<Notify> {
        &self.new_events
    }

    async fn begin_locked(&self) -> Result<Transaction<'static, Sqlite>, sqlx::Error> {
        // SQLite has one writer at a time: the write lock is the provisioning lock.
        self.begin_write().await
    }

    async fn run_migrations(&self) -> Result<(), StoreError> {
        // sqlx takes no lock on SQLite: a file lock keeps two processes (a server and the CLI,
        // or two servers) from applying the same migration at once.
        let _lock = match &self.file {
            Some(db) => Some(lock_file(db.with_extension("migrate-lock")).await?),
            None => None,
        };
        sqlx::migrate!("migrations/sqlite")
            .run(self.pool.raw())
            .await?;
        Ok(())
    }

    fn unique_conflict(error: &dyn DatabaseError) -> String {
        // SQLite names no constraint; its message lists the columns.
        error.message().to_owned()
    }

    fn is_transient(code: &str) -> bool {
        // SQLITE_BUSY and SQLITE_LOCKED.
        matches!(code, "5" | "6")
    }

    fn rows_affected(done: &sqlx::sqlite::SqliteQueryResult) -> u64 {
        done.rows_affected()
    }

    async fn insert_rows(
        conn: &mut SqliteConnection,
        rows: &Rows<'_>,
        tail: &'static str,
    ) -> Result<Vec<i64>, StoreError> {
        rows.check()?;
        let cols = rows.columns.len();
        // Multi-row VALUES lists, under SQLite's 32,766 parameters a statement.
        let per = (32_000 / cols.max(1)).clamp(1, 400);
        let names = rows.names();
        let mut ids = Vec::new();
        let mut start = 0;
        while start < rows.len() {
            let end = (start + per).min(rows.len());
            let sql = format!(
                "INSERT INTO {} ({names}) VALUES {} {tail}",
                rows.table,
                values::<SqliteStore>(end - start, cols)
            );
            // A statement of a few rows (a registration's answers) is kept prepared; one of
            // hundreds is written once and would only crowd the connection's statement cache.
            let mut query = sqlx::query_scalar::<_, i64>(&sql).persistent(end - start <= 8);
            for r in start..end {
                for (_, c) in &rows.columns {
                    query = match c {
                        Column::Int(v) => query.bind(v[r]),
                        Column::Text(v) => query.bind(v[r].as_deref()),
                        Column::Bool(v) => query.bind(v[r]),
                        Column::Time(v) => query.bind(v[r]),
                        Column::Json(v) => query.bind(v[r].map(sqlx::types::Json)),
                    };
                }
            }
            if returns_ids(tail) {
                ids.extend(query.fetch_all(&mut *conn).await?);
            } else {
                query.fetch_optional(&mut *conn).await?;
            }
            start = end;
        }
        Ok(ids)
    }
}

/// An exclusive lock on `path`, held until the file is dropped.
async fn lock_file(path: std::path::PathBuf) -> Result<std::fs::File, StoreError> {
    let shown = path.display().to_string();
    tokio::task::spawn_blocking(move || {
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)?;
        file.lock()?;
        Ok::<_, std::io::Error>(file)
    })
    .await
    .map_err(|e| StoreError::Invalid(format!("locking {shown}: {e}")))?
    .map_err(|e| StoreError::Invalid(format!("database.url: cannot lock {shown}: {e}")))
}
