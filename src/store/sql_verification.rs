//! Email verification SQL both backends share: codes sent before registration, confirmation
//! links after it.

use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::Actor;
use super::backend::shared_sql;
use super::sql_accounts::{Outbox, later};
use super::sql_events::{Events, NewEvent, written};
use super::sql_sessions::Sessions;
use super::{CodeCheck, NewMail, StoreError, VerificationStore};
use crate::domain::{CustomerId, EmailKey, PublisherId};

shared_sql! {
    impl VerificationStore for B {
        async fn store_email_code(
            &self,
            publisher: PublisherId,
            email_key: &EmailKey,
            code_hash: &str,
            ttl: std::time::Duration,
            per_hour: u32,
            mail: &NewMail,
        ) -> Result<bool, StoreError> {
            let now = Utc::now();
            let hour_ago = now - chrono::Duration::hours(1);
            let expires = later(ttl);
            let mut tx = self.begin_write().await?;
            let sql = format!(
                "SELECT window_start, sends FROM email_codes WHERE publisher_id = $1 AND email_key = $2{}",
                B::FOR_UPDATE
            );
            let existing: Option<(DateTime<Utc>, i32)> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .bind(email_key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let stored = match existing {
                Some((window_start, sends)) => {
                    let in_window = window_start > hour_ago;
                    if in_window && i64::from(sends) >= i64::from(per_hour) {
                        return Ok(false);
                    }
                    let (window_start, sends) = if in_window { (window_start, sends + 1) } else { (now, 1) };
                    sqlx::query(
                        "UPDATE email_codes SET code_hash = $3, attempts = 0, created_at = $4, expires_at = $5, \
                         used_at = NULL, window_start = $6, sends = $7 WHERE publisher_id = $1 AND email_key = $2",
                    )
                    .bind(publisher.get())
                    .bind(email_key.as_str())
                    .bind(code_hash)
                    .bind(now)
                    .bind(expires)
                    .bind(window_start)
                    .bind(sends)
                    .execute(&mut *tx)
                    .await?
                }
                None => sqlx::query(
                    "INSERT INTO email_codes (publisher_id, email_key, code_hash, attempts, created_at, expires_at, \
                     window_start, sends) VALUES ($1, $2, $3, 0, $4, $5, $4, 1) \
                     ON CONFLICT (publisher_id, email_key) DO NOTHING",
                )
                .bind(publisher.get())
                .bind(email_key.as_str())
                .bind(code_hash)
                .bind(now)
                .bind(expires)
                .execute(&mut *tx)
                .await?,
            };
            if B::rows_affected(&stored) == 0 {
                // A concurrent request stored a code for this address first.
                return Ok(false);
            }
            Self::enqueue(&mut *tx, mail, now).await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn check_email_code(
            &self,
            publisher: PublisherId,
            email_key: &EmailKey,
            code_hash: &str,
            max_tries: u32,
        ) -> Result<CodeCheck, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let sql = format!(
                "SELECT code_hash, attempts, expires_at, used_at FROM email_codes \
                 WHERE publisher_id = $1 AND email_key = $2{}",
                B::FOR_UPDATE
            );
            type Row = (String, i32, DateTime<Utc>, Option<DateTime<Utc>>);
            let row: Option<Row> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .bind(email_key.as_str())
                .fetch_optional(&mut *tx)
                .await?;
            let Some((stored, attempts, expires_at, used_at)) = row else {
                return Ok(CodeCheck::Missing);
            };
            if used_at.is_some() {
                return Ok(CodeCheck::Missing);
            }
            if i64::from(attempts) >= i64::from(max_tries) {
                return Ok(CodeCheck::TooManyTries);
            }
            if expires_at <= now {
                return Ok(CodeCheck::Expired);
            }
            if bool::from(stored.as_bytes().ct_eq(code_hash.as_bytes())) {
                return Ok(CodeCheck::Valid);
            }
            sqlx::query("UPDATE email_codes SET attempts = attempts + 1 WHERE publisher_id = $1 AND email_key = $2")
                .bind(publisher.get())
                .bind(email_key.as_str())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(CodeCheck::Wrong)
        }

        async fn request_email_confirmation(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            token_hash: &str,
            ttl: std::time::Duration,
            per_hour: u32,
            mail: &NewMail,
        ) -> Result<bool, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            // The customer row is the lock that makes "at most per_hour" exact.
            let Some(Some(email_key)) = Self::lock_customer(&mut *tx, publisher, customer).await?
            else {
                return Ok(false);
            };
            if Self::sent_last_hour(&mut *tx, "email_confirmations", customer, now).await?
                >= i64::from(per_hour)
            {
                return Ok(false);
            }
            sqlx::query(
                "INSERT INTO email_confirmations (hash, customer_id, email_key, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(customer.get())
            .bind(&email_key)
            .bind(now)
            .bind(later(ttl))
            .execute(&mut *tx)
            .await?;
            Self::enqueue(&mut *tx, mail, now).await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn confirm_email(
            &self,
            token_hash: &str,
        ) -> Result<Option<(PublisherId, CustomerId)>, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let used: Option<(i64, String)> = sqlx::query_as(
                "UPDATE email_confirmations SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND expires_at > $2 \
                 RETURNING customer_id, email_key",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((customer, email_key)) = used else {
                return Ok(None);
            };
            let confirmed: Option<(i64, Option<String>)> = sqlx::query_as(
                "UPDATE customers SET email_verified = TRUE WHERE id = $1 AND email_key = $2 AND erased_at IS NULL \
                 RETURNING publisher_id, email",
            )
            .bind(customer)
            .bind(&email_key)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((publisher, email)) = &confirmed {
                let event = NewEvent {
                    kind: "customer.email_verified",
                    publisher: Some(PublisherId::from_i64(*publisher).map_err(StoreError::Corrupt)?),
                    customer: Some(CustomerId::from_i64(customer).map_err(StoreError::Corrupt)?),
                    actor: Actor::Customer,
                    data: serde_json::json!({ "email": email }),
                };
                Self::emit(&mut *tx, event, now).await?;
            }
            tx.commit().await?;
            let Some((publisher, _)) = confirmed else {
                return Ok(None);
            };
            written(self.new_events(), "customer.email_verified");
            Ok(Some((
                PublisherId::from_i64(publisher).map_err(StoreError::Corrupt)?,
                CustomerId::from_i64(customer).map_err(StoreError::Corrupt)?,
            )))
        }
    }
}
