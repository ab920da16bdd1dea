//! The session and consent-history steps the customer, account and admin SQL share inside
//! their transactions: the customer-row lock, ending sessions, storing refresh tokens (consent
//! answers are appended by `sql_chain.rs`).

use chrono::{DateTime, Utc};

use super::backend::{Backend, Conn, shared_sql};
use super::{NewRefreshToken, StoreError};
use crate::domain::{CustomerId, PublisherId, SessionEpoch};

/// What the customer, account and admin SQL share inside their transactions.
#[async_trait::async_trait]
pub(super) trait Sessions: Backend {
    /// Locks the customer row (sessions start and end under it, so none starts from an
    /// epoch that a concurrent transaction is ending) and returns its session epoch.
    /// `NotFound` unless the publisher has this (not erased) customer, at `epoch` if given.
    async fn lock_session(
        conn: &mut Conn<Self>,
        publisher: PublisherId,
        customer: CustomerId,
        epoch: Option<SessionEpoch>,
    ) -> Result<SessionEpoch, StoreError>;

    /// Ends every session of a customer whose row this transaction already locked or
    /// updated: bumps the epoch, revokes the refresh tokens, forgets registration
    /// replays and outstanding reset links. Returns the new epoch.
    async fn end_sessions_in(
        conn: &mut Conn<Self>,
        customer: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Locks the row of the publisher's (not erased) customer until the transaction ends and
    /// returns its email key; `None` when there is no such customer.
    async fn lock_customer(
        conn: &mut Conn<Self>,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Option<Option<String>>, StoreError>;

    /// Stores a refresh token.
    async fn insert_refresh(
        conn: &mut Conn<Self>,
        customer: CustomerId,
        t: &NewRefreshToken,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

shared_sql! {
    impl Sessions for B {
        async fn lock_session(
            conn: &mut Conn<Self>,
            publisher: PublisherId,
            customer: CustomerId,
            epoch: Option<SessionEpoch>,
        ) -> Result<SessionEpoch, StoreError> {
            let sql = format!(
                "SELECT session_epoch FROM customers WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL{}",
                B::FOR_UPDATE
            );
            let found: Option<i64> = sqlx::query_scalar(&sql)
                .bind(customer.get())
                .bind(publisher.get())
                .fetch_optional(&mut *conn)
                .await?;
            match found {
                Some(current) if epoch.is_none_or(|e| e.get() == current) => {
                    SessionEpoch::from_i64(current).map_err(StoreError::Corrupt)
                }
                _ => Err(StoreError::NotFound(format!(
                    "session of customer {customer}"
                ))),
            }
        }

        async fn end_sessions_in(
            conn: &mut Conn<Self>,
            customer: CustomerId,
            now: DateTime<Utc>,
        ) -> Result<i64, StoreError> {
            let epoch: i64 = sqlx::query_scalar(
                "UPDATE customers SET session_epoch = session_epoch + 1 WHERE id = $1 RETURNING session_epoch",
            )
            .bind(customer.get())
            .fetch_one(&mut *conn)
            .await?;
            sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE customer_id = $1 AND revoked_at IS NULL")
                .bind(customer.get())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM idempotency_keys WHERE customer_id = $1")
                .bind(customer.get())
                .execute(&mut *conn)
                .await?;
            sqlx::query("UPDATE password_resets SET used_at = $2 WHERE customer_id = $1 AND used_at IS NULL")
                .bind(customer.get())
                .bind(now)
                .execute(&mut *conn)
                .await?;
            Ok(epoch)
        }

        async fn lock_customer(
            conn: &mut Conn<Self>,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Option<Option<String>>, StoreError> {
            let sql = format!(
                "SELECT email_key FROM customers WHERE id = $1 AND publisher_id = $2 \
                 AND erased_at IS NULL{}",
                B::FOR_UPDATE
            );
            Ok(sqlx::query_scalar(&sql)
                .bind(customer.get())
                .bind(publisher.get())
                .fetch_optional(&mut *conn)
                .await?)
        }

        async fn insert_refresh(
            conn: &mut Conn<Self>,
            customer: CustomerId,
            t: &NewRefreshToken,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO refresh_tokens (hash, family, customer_id, issued_at, expires_at, family_expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&t.hash)
            .bind(&t.family)
            .bind(customer.get())
            .bind(at)
            .bind(t.expires_at)
            .bind(t.family_expires_at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
    }
}
