//! The backend contract: everything in which Postgres and SQLite differ, as one trait. The SQL
//! both share (`sql*.rs`) is written once against it; [`PgStore`](super::PgStore) and
//! [`SqliteStore`](super::SqliteStore) implement it, and nothing else about them differs.
//!
//! Where the dialects agree nothing is said here: both take `$1` placeholders, `RETURNING`,
//! `ON CONFLICT … DO UPDATE SET x = excluded.x` and `IS DISTINCT FROM`.

use std::future::Future;

use sqlx::error::DatabaseError;
use sqlx::{Database, Decode, Encode, Pool, Transaction, Type};

use super::bulk::Rows;
use super::metered::Metered;
use super::{PoolStats, StoreError};

/// One database engine as the shared SQL needs it.
pub trait Backend: Send + Sync + 'static {
    /// The sqlx driver (one that caches prepared statements, which a query may opt out of).
    type Db: Database + sqlx::database::HasStatementCache;

    /// Appended to a `SELECT` that decides a write, to lock its rows until the transaction
    /// ends (Postgres `FOR UPDATE`; nothing on SQLite, whose write transaction locks already).
    const FOR_UPDATE: &'static str;

    /// Appended to a `SELECT` that claims work shared by replicas, so each takes rows the
    /// others have not locked (Postgres `FOR UPDATE SKIP LOCKED`; nothing on SQLite, whose
    /// one writer at a time claims alone).
    const SKIP_LOCKED: &'static str;

    /// Appended to a text column so comparisons go byte by byte (Postgres `COLLATE "C"`,
    /// whatever the database's collation; SQLite compares bytes already), which makes a
    /// prefix search an index range.
    const BYTE_ORDER: &'static str;

    /// The UTC day (`YYYY-MM-DD` text) of the `created_at` column.
    const UTC_DAY: &'static str;

    /// Refreshes the planner's statistics of `customers` while a bulk import grows it
    /// (Postgres: a table never analyzed is planned as empty, and a lookup by email key then
    /// scans it all); `None` where the planner needs none (SQLite picks the unique index).
    const ANALYZE_CUSTOMERS: Option<&'static str>;

    /// Whether several transactions write at once (Postgres), so a bulk import may write
    /// its batches on several connections; SQLite has one writer at a time.
    const PARALLEL_WRITES: bool;

    /// Whether the multi-row statements' lists bind positional `?`s (see
    /// `placeholders.rs`): SQLite looks each `$N` up by name, at a cost that grows with the
    /// statement's parameters.
    const POSITIONAL_PARAMS: bool;

    /// The connection pool, measured (what the shared SQL runs on).
    fn pool(&self) -> &Metered<Self::Db>;

    /// Begins a transaction that writes. SQLite takes the write lock at once (`BEGIN
    /// IMMEDIATE`), so concurrent writers queue behind the busy timeout instead of failing
    /// with SQLITE_BUSY when they upgrade; Postgres begins as usual.
    fn begin_write(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;

    /// Begins a write transaction holding the provisioning lock, which serializes consent
    /// publication and provisioning across every replica (Postgres: a transaction advisory
    /// lock; SQLite: the write lock, there is one writer at a time).
    fn begin_locked(
        &self,
    ) -> impl Future<Output = Result<Transaction<'static, Self::Db>, sqlx::Error>> + Send;

    /// Rung after a transaction that wrote events commits (see
    /// [`EventStore::event_signal`](super::EventStore::event_signal)).
    fn new_events(&self) -> &std::sync::Arc<tokio::sync::Notify>;

    /// Applies this backend's own `migrations/<backend>/`, one process at a time.
    fn run_migrations(&self) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// What a unique violation names, for [`StoreError::AlreadyExists`] and
    /// [`conflict_field`](super::conflict_field): Postgres names the constraint, SQLite only
    /// says it in the message (`UNIQUE constraint failed: customers.email_key`).
    fn unique_conflict(error: &dyn DatabaseError) -> String;

    /// Whether an error code means "cannot reach or use the database now; retry later".
    fn is_transient(code: &str) -> bool;

    /// How many rows a statement changed (or, for an `UPDATE`, matched).
    fn rows_affected(done: &<Self::Db as Database>::QueryResult) -> u64;

    /// Inserts `rows` into their table, in as few statements as the backend allows (see
    /// `bulk.rs`), each followed by `tail` (say `ON CONFLICT DO NOTHING RETURNING id`). When
    /// the tail returns ids, the ids of the rows inserted; otherwise nothing.
    fn insert_rows(
        conn: &mut Conn<Self>,
        rows: &Rows<'_>,
        tail: &'static str,
    ) -> impl Future<Output = Result<Vec<i64>, StoreError>> + Send;
}

/// The pool's counts, at once (no query).
pub(super) fn pool_stats<DB: Database>(pool: &Pool<DB>) -> PoolStats {
    PoolStats {
        open: pool.size(),
        idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
        max: pool.options().get_max_connections(),
    }
}

/// A database error classified by its backend's rules: a unique violation, a transient
/// failure, or anything else.
pub(super) fn classify<B: Backend>(error: sqlx::Error) -> StoreError {
    let sqlx::Error::Database(db) = &error else {
        return StoreError::Database(error);
    };
    if db.is_unique_violation() {
        return StoreError::AlreadyExists(super::Taken::of(&B::unique_conflict(db.as_ref())));
    }
    if db.code().is_some_and(|c| B::is_transient(&c)) {
        return StoreError::Unavailable(error);
    }
    StoreError::Database(error)
}

/// A connection of backend `B` (what the shared helpers run their statements on).
pub(super) type Conn<B> = <<B as Backend>::Db as Database>::Connection;

/// A value that goes into and comes out of `DB` as it is.
pub(super) trait Codec<DB: Database>:
    for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

impl<DB: Database, T> Codec<DB> for T where
    T: for<'q> Encode<'q, DB> + for<'r> Decode<'r, DB> + Type<DB>
{
}

/// A value that goes into `DB` as it is.
pub(super) trait Bind<DB: Database>: for<'q> Encode<'q, DB> + Type<DB> {}

impl<DB: Database, T> Bind<DB> for T where T: for<'q> Encode<'q, DB> + Type<DB> {}

/// A borrowing value that goes into `DB` for a query living `'q`.
pub(super) trait BindRef<'q, DB: Database>: Encode<'q, DB> + Type<DB> {}

impl<'q, DB: Database, T> BindRef<'q, DB> for T where T: Encode<'q, DB> + Type<DB> {}

/// Writes `impl<B> $trait for B` (with `#[async_trait]`) for every [`Backend`] whose driver
/// runs the shared SQL: its executors, arguments, row indexes and the codecs of the values the
/// SQL binds and reads. Rust cannot name those sqlx bounds once for a generic database (only
/// supertraits are implied), so this macro writes them on each shared impl; the code inside
/// is ordinary generic code, checked once against the trait, not once per backend.
macro_rules! shared_sql {
    (impl $trait_:ident for B { $($body:tt)* }) => {
        #[async_trait::async_trait]
        impl<B> $trait_ for B
        where
            B: $crate::store::backend::Backend,
            for<'c> &'c mut $crate::store::backend::Conn<B>:
                sqlx::Executor<'c, Database = $crate::store::backend::Db<B>>,
            for<'q> $crate::store::backend::Args<'q, B>:
                sqlx::IntoArguments<'q, $crate::store::backend::Db<B>>,
            for<'r> &'r str: sqlx::ColumnIndex<$crate::store::backend::Row<B>>,
            usize: sqlx::ColumnIndex<$crate::store::backend::Row<B>>,
            for<'q> &'q str: sqlx::Encode<'q, $crate::store::backend::Db<B>>
                + sqlx::Type<$crate::store::backend::Db<B>>,
            bool: $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            i32: $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            i64: $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            String: $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            chrono::DateTime<chrono::Utc>: $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            sqlx::types::Json<serde_json::Value>:
                $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            sqlx::types::Json<$crate::domain::PublisherSettings>:
                $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            sqlx::types::Json<$crate::store::MailMessage>:
                $crate::store::backend::Codec<$crate::store::backend::Db<B>>,
            Option<String>: $crate::store::backend::Bind<$crate::store::backend::Db<B>>,
            Option<i64>: $crate::store::backend::Bind<$crate::store::backend::Db<B>>,
            Option<chrono::DateTime<chrono::Utc>>:
                $crate::store::backend::Bind<$crate::store::backend::Db<B>>,
            Option<sqlx::types::Json<serde_json::Value>>:
                $crate::store::backend::Bind<$crate::store::backend::Db<B>>,
            for<'q> sqlx::types::Json<&'q serde_json::Value>:
                $crate::store::backend::BindRef<'q, $crate::store::backend::Db<B>>,
            for<'q> Option<sqlx::types::Json<&'q serde_json::Value>>:
                $crate::store::backend::BindRef<'q, $crate::store::backend::Db<B>>,
            for<'q> sqlx::types::Json<&'q $crate::domain::PublisherSettings>:
                $crate::store::backend::BindRef<'q, $crate::store::backend::Db<B>>,
            for<'q> sqlx::types::Json<&'q $crate::store::MailMessage>:
                $crate::store::backend::BindRef<'q, $crate::store::backend::Db<B>>,
        {
            $($body)*
        }
    };
}

pub(super) use shared_sql;

/// The sqlx driver of backend `B`.
pub(super) type Db<B> = <B as Backend>::Db;

/// A row of backend `B`.
pub(super) type Row<B> = <<B as Backend>::Db as Database>::Row;

/// The query arguments of backend `B`.
pub(super) type Args<'q, B> = <<B as Backend>::Db as Database>::Arguments<'q>;
