//! The connection pool as the store uses it: every connection taken from it is counted while
//! it is awaited (`database_pool_waiting`) and timed (`database_pool_acquire_duration_seconds`),
//! the two figures that say whether requests queue for the database. sqlx's pool exposes
//! neither, so the shared SQL runs on this executor instead of on the pool itself.

use std::time::Instant;

use futures_util::TryStreamExt;
use futures_util::future::BoxFuture;
use futures_util::stream::BoxStream;
use sqlx::pool::{MaybePoolConnection, PoolConnection};
use sqlx::{Database, Describe, Either, Execute, Executor, Pool, Transaction};

/// A pool whose acquisitions are measured. Cloning shares the pool.
#[derive(Debug)]
pub struct Metered<DB: Database>(Pool<DB>);

impl<DB: Database> Clone for Metered<DB> {
    fn clone(&self) -> Self {
        Metered(self.0.clone())
    }
}

impl<DB: Database> Metered<DB> {
    /// Measures the acquisitions from `pool`.
    pub fn new(pool: Pool<DB>) -> Self {
        Metered(pool)
    }

    /// The pool itself: its counts, migrations, and raw SQL in tests (not measured).
    pub fn raw(&self) -> &Pool<DB> {
        &self.0
    }

    /// Takes a connection, counting the wait and timing it.
    pub async fn acquire(&self) -> Result<PoolConnection<DB>, sqlx::Error> {
        let waiting = metrics::gauge!("database_pool_waiting");
        waiting.increment(1.0);
        let start = Instant::now();
        let conn = self.0.acquire().await;
        waiting.decrement(1.0);
        metrics::histogram!("database_pool_acquire_duration_seconds")
            .record(start.elapsed().as_secs_f64());
        conn
    }

    /// Begins a transaction on a measured connection.
    pub async fn begin(&self) -> Result<Transaction<'static, DB>, sqlx::Error> {
        self.begin_with(None).await
    }

    /// Begins a transaction on a measured connection, with `statement` instead of the
    /// backend's `BEGIN` when given (SQLite's `BEGIN IMMEDIATE`).
    pub async fn begin_with(
        &self,
        statement: Option<&'static str>,
    ) -> Result<Transaction<'static, DB>, sqlx::Error> {
        let conn = self.acquire().await?;
        // What `Pool::begin_with` does after its own acquire (sqlx keeps this constructor
        // public for exactly such pools; Cargo.lock pins the version it was written against).
        Transaction::begin(
            MaybePoolConnection::PoolConnection(conn),
            statement.map(Into::into),
        )
        .await
    }
}

impl<'p, DB: Database> Executor<'p> for &'_ Metered<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    type Database = DB;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<DB::QueryResult, DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let pool = self.clone();
        Box::pin(async_stream::try_stream! {
            let mut conn = pool.acquire().await?;
            let mut rows = conn.fetch_many(query);
            while let Some(row) = rows.try_next().await? {
                yield row;
            }
        })
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<DB::Row>, sqlx::Error>>
    where
        E: 'q + Execute<'q, DB>,
    {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.fetch_optional(query).await })
    }

    fn prepare_with<'e, 'q: 'e>(
        self,
        sql: &'q str,
        parameters: &'e [DB::TypeInfo],
    ) -> BoxFuture<'e, Result<DB::Statement<'q>, sqlx::Error>> {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.prepare_with(sql, parameters).await })
    }

    fn describe<'e, 'q: 'e>(
        self,
        sql: &'q str,
    ) -> BoxFuture<'e, Result<Describe<DB>, sqlx::Error>> {
        let pool = self.clone();
        Box::pin(async move { pool.acquire().await?.describe(sql).await })
    }
}
