//! Sign-in, refresh-token, password-reset and outbox SQL both backends share: `AccountStore`
//! and the outbox helper the verification SQL uses too.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::Actor;
use super::backend::{Backend, Conn, shared_sql};
use super::sql_customers::{CUSTOMER_COLUMNS, CustomerRow, before_now};
use super::sql_events::{Events, NewEvent, written};
use super::sql_sessions::Sessions;
use super::{
    AccountStore, Customer, MailMessage, NewMail, NewRefreshToken, OutboxBacklog, OutboxMail,
    Rotation, StoreError,
};
use crate::domain::{CustomerId, EmailKey, PublisherId, SessionEpoch};

#[derive(sqlx::FromRow)]
pub(super) struct RefreshRow {
    pub(super) family: String,
    pub(super) customer_id: i64,
    pub(super) publisher_id: i64,
    pub(super) expires_at: DateTime<Utc>,
    pub(super) family_expires_at: DateTime<Utc>,
    pub(super) used_at: Option<DateTime<Utc>>,
    pub(super) revoked_at: Option<DateTime<Utc>>,
}

#[derive(sqlx::FromRow)]
pub(super) struct OutboxRow {
    id: i64,
    kind: String,
    customer_id: Option<i64>,
    attempts: i32,
    payload: Option<Json<MailMessage>>,
}

impl TryFrom<OutboxRow> for OutboxMail {
    type Error = super::StoreError;
    fn try_from(r: OutboxRow) -> Result<Self, Self::Error> {
        let message = r
            .payload
            .ok_or_else(|| super::StoreError::Corrupt(format!("outbox {} has no payload", r.id)))?;
        Ok(OutboxMail {
            id: r.id,
            kind: r.kind,
            customer: r.customer_id,
            attempts: r.attempts,
            message: message.0,
        })
    }
}

pub(super) fn later(d: std::time::Duration) -> DateTime<Utc> {
    Utc::now() + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(3650))
}

shared_sql! {
    impl AccountStore for B {
        async fn customer_by_email(
            &self,
            publisher: PublisherId,
            email_key: &EmailKey,
        ) -> Result<Option<Customer>, StoreError> {
            let sql = format!(
                "SELECT {} FROM customers WHERE publisher_id = $1 AND email_key = $2 AND erased_at IS NULL",
                CUSTOMER_COLUMNS
            );
            let row: Option<CustomerRow> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .bind(email_key.as_str())
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn record_login(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            ip: std::net::IpAddr,
            token: &NewRefreshToken,
            epoch: SessionEpoch,
        ) -> Result<(), StoreError> {
            // No hash is ever empty: the CASE leaves the stored one as it is.
            self.record_login_rehashed(publisher, customer, ip, token, epoch, ("", "")).await
        }

        async fn record_login_rehashed(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            ip: std::net::IpAddr,
            token: &NewRefreshToken,
            epoch: SessionEpoch,
            rehash: (&str, &str),
        ) -> Result<(), StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            // The update locks the row: a reset that committed meanwhile bumped the epoch.
            let done = sqlx::query("UPDATE customers SET last_login_at = $3, last_ip = $4, \
                 password_hash = CASE WHEN password_hash = $6 THEN $7 ELSE password_hash END \
                 WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL AND session_epoch = $5")
                .bind(customer.get())
                .bind(publisher.get())
                .bind(now)
                .bind(ip.to_string())
                .bind(epoch.get())
                .bind(rehash.0)
                .bind(rehash.1)
                .execute(&mut *tx)
                .await?;
            if B::rows_affected(&done) == 0 {
                return Err(StoreError::NotFound(format!("customer {customer}")));
            }
            Self::insert_refresh(&mut *tx, customer, token, now).await?;
            let event = NewEvent {
                kind: "customer.logged_in",
                publisher: Some(publisher),
                customer: Some(customer),
                actor: Actor::Customer,
                data: serde_json::json!({}),
            };
            Self::emit(&mut *tx, event, now).await?;
            tx.commit().await?;
            written(self.new_events(), "customer.logged_in");
            Ok(())
        }

        async fn reserve_password_check(
            &self,
            publisher: PublisherId,
            key_hash: &str,
            hour: i64,
            limit: i64,
        ) -> Result<Option<i64>, StoreError> {
            if limit <= 0 {
                return Ok(None);
            }
            // One statement: the row lock of the upsert orders concurrent callers, and a
            // row already at the limit is left as it is and returns nothing.
            let n: Option<i32> = sqlx::query_scalar(
                "INSERT INTO login_failures (publisher_id, key_hash, hour, failures) VALUES ($1, $2, $3, 1) \
                 ON CONFLICT (publisher_id, key_hash, hour) DO UPDATE SET failures = login_failures.failures + 1 \
                 WHERE login_failures.failures < $4 \
                 RETURNING failures",
            )
            .bind(publisher.get())
            .bind(key_hash)
            .bind(hour)
            .bind(i32::try_from(limit).unwrap_or(i32::MAX))
            .fetch_optional(self.pool())
            .await?;
            Ok(n.map(i64::from))
        }

        async fn release_password_check(
            &self,
            publisher: PublisherId,
            key_hash: &str,
            hour: i64,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE login_failures SET failures = failures - 1 WHERE publisher_id = $1 AND key_hash = $2 AND hour = $3 AND failures > 0")
                .bind(publisher.get())
                .bind(key_hash)
                .bind(hour)
                .execute(self.pool())
                .await?;
            Ok(())
        }

        async fn end_sessions(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<bool, StoreError> {
            let mut tx = self.begin_write().await?;
            match Self::lock_session(&mut *tx, publisher, customer, None).await {
                Ok(_) => {}
                Err(StoreError::NotFound(_)) => return Ok(false),
                Err(e) => return Err(e),
            }
            Self::end_sessions_in(&mut *tx, customer, Utc::now()).await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn rotate_refresh_token(
            &self,
            hash: &str,
            next_hash: &str,
            ttl: std::time::Duration,
            grace: std::time::Duration,
        ) -> Result<Rotation, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let row: Option<RefreshRow> = sqlx::query_as(
                "SELECT r.family, r.customer_id, c.publisher_id, r.expires_at, r.family_expires_at, r.used_at, r.revoked_at \
                 FROM refresh_tokens r JOIN customers c ON c.id = r.customer_id AND c.erased_at IS NULL WHERE r.hash = $1",
            )
            .bind(hash)
            .fetch_optional(&mut *tx)
            .await?;
            let Some(row) = row else {
                return Ok(Rotation::Refused);
            };
            if row.revoked_at.is_some() {
                return Ok(Rotation::Refused);
            }
            if let Some(used) = row.used_at {
                if now - used > chrono::Duration::from_std(grace).unwrap_or(chrono::Duration::MAX) {
                    sqlx::query("UPDATE refresh_tokens SET revoked_at = $2 WHERE family = $1 AND revoked_at IS NULL")
                        .bind(&row.family)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    return Ok(Rotation::FamilyRevoked);
                }
                return Ok(Rotation::Refused);
            }
            if row.expires_at <= now || row.family_expires_at <= now {
                return Ok(Rotation::Refused);
            }
            // Under the session lock, so ending the customer's sessions concurrently either
            // revokes this token first (then the update below finds it revoked) or waits
            // for this rotation and revokes its successor too.
            let customer = CustomerId::from_i64(row.customer_id).map_err(StoreError::Corrupt)?;
            let publisher = PublisherId::from_i64(row.publisher_id).map_err(StoreError::Corrupt)?;
            let epoch = match Self::lock_session(&mut *tx, publisher, customer, None).await {
                Ok(epoch) => epoch,
                Err(StoreError::NotFound(_)) => return Ok(Rotation::Refused),
                Err(e) => return Err(e),
            };
            let used = sqlx::query("UPDATE refresh_tokens SET used_at = $2 WHERE hash = $1 AND used_at IS NULL AND revoked_at IS NULL")
                .bind(hash)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            if B::rows_affected(&used) != 1 {
                return Ok(Rotation::Refused);
            }
            let next = NewRefreshToken {
                hash: next_hash.to_owned(),
                family: row.family.clone(),
                expires_at: later(ttl).min(row.family_expires_at),
                family_expires_at: row.family_expires_at,
            };
            Self::insert_refresh(&mut *tx, customer, &next, now).await?;
            tx.commit().await?;
            Ok(Rotation::Rotated {
                customer,
                publisher,
                epoch,
            })
        }

        async fn request_password_reset(
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
            if Self::lock_customer(&mut *tx, publisher, customer)
                .await?
                .is_none()
            {
                return Ok(false);
            }
            if Self::sent_last_hour(&mut *tx, "password_resets", customer, now).await?
                >= i64::from(per_hour)
            {
                return Ok(false);
            }
            sqlx::query("INSERT INTO password_resets (hash, customer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)")
                .bind(token_hash)
                .bind(customer.get())
                .bind(now)
                .bind(later(ttl))
                .execute(&mut *tx)
                .await?;
            Self::enqueue(&mut *tx, mail, now).await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn reset_token_customer(
            &self,
            publisher: PublisherId,
            email_key: &EmailKey,
            token_hash: &str,
        ) -> Result<Option<Customer>, StoreError> {
            let sql = format!(
                "SELECT {} FROM customers WHERE id = (SELECT customer_id FROM password_resets \
                 WHERE hash = $1 AND used_at IS NULL AND expires_at > $4) \
                 AND publisher_id = $2 AND email_key = $3 AND erased_at IS NULL",
                CUSTOMER_COLUMNS
            );
            let row: Option<CustomerRow> = sqlx::query_as(&sql)
                .bind(token_hash)
                .bind(publisher.get())
                .bind(email_key.as_str())
                .bind(Utc::now())
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn reset_password(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            token_hash: &str,
            password_hash: &str,
            mail: &NewMail,
        ) -> Result<bool, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let used = sqlx::query(
                "UPDATE password_resets SET used_at = $3 WHERE hash = $1 AND customer_id = $2 AND used_at IS NULL AND expires_at > $3",
            )
            .bind(token_hash)
            .bind(customer.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if B::rows_affected(&used) != 1 {
                return Ok(false);
            }
            // Other outstanding links die with this one.
            sqlx::query("UPDATE password_resets SET used_at = $2 WHERE customer_id = $1 AND used_at IS NULL")
                .bind(customer.get())
                .bind(now)
                .execute(&mut *tx)
                .await?;
            let changed = sqlx::query("UPDATE customers SET password_hash = $3 WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL")
                .bind(customer.get())
                .bind(publisher.get())
                .bind(password_hash)
                .execute(&mut *tx)
                .await?;
            if B::rows_affected(&changed) != 1 {
                return Ok(false);
            }
            // Every session started with the old password ends: JWTs, refresh tokens,
            // registration replays (which hold the old password).
            Self::end_sessions_in(&mut *tx, customer, now).await?;
            Self::enqueue(&mut *tx, mail, now).await?;
            let event = NewEvent {
                kind: "customer.password_changed",
                publisher: Some(publisher),
                customer: Some(customer),
                actor: Actor::Customer,
                data: serde_json::json!({"via": "reset"}),
            };
            Self::emit(&mut *tx, event, now).await?;
            tx.commit().await?;
            written(self.new_events(), "customer.password_changed");
            Ok(true)
        }

        async fn claim_mail(
            &self,
            lease: std::time::Duration,
            max_attempts: i32,
        ) -> Result<Option<OutboxMail>, StoreError> {
            let now = Utc::now();
            // The outer conditions are checked again on the row itself, so two replicas
            // racing for one row cannot both claim it.
            let row: Option<OutboxRow> = sqlx::query_as(
                "UPDATE outbox SET next_attempt_at = $1, attempts = attempts + 1 \
                 WHERE id = (SELECT id FROM outbox WHERE sent_at IS NULL AND next_attempt_at <= $2 AND attempts < $3 \
                             ORDER BY next_attempt_at, id LIMIT 1) \
                 AND sent_at IS NULL AND next_attempt_at <= $2 AND attempts < $3 \
                 RETURNING id, kind, customer_id, attempts, payload",
            )
            .bind(later(lease))
            .bind(now)
            .bind(max_attempts)
            .fetch_optional(self.pool())
            .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn outbox_backlog(&self, max_attempts: i32) -> Result<OutboxBacklog, StoreError> {
            let (pending, oldest): (i64, Option<DateTime<Utc>>) = sqlx::query_as(
                "SELECT COUNT(*), MIN(created_at) FROM outbox WHERE sent_at IS NULL AND attempts < $1",
            )
            .bind(max_attempts)
            .fetch_one(self.pool())
            .await?;
            let given_up: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts >= $1",
            )
            .bind(max_attempts)
            .fetch_one(self.pool())
            .await?;
            Ok(OutboxBacklog {
                pending,
                given_up,
                oldest,
            })
        }

        async fn mail_sent(&self, id: i64) -> Result<(), StoreError> {
            sqlx::query(
                "UPDATE outbox SET sent_at = $2, payload = NULL, last_error = NULL WHERE id = $1",
            )
            .bind(id)
            .bind(Utc::now())
            .execute(self.pool())
            .await?;
            Ok(())
        }

        async fn mail_failed(
            &self,
            id: i64,
            error: &str,
            retry_in: std::time::Duration,
        ) -> Result<(), StoreError> {
            sqlx::query("UPDATE outbox SET last_error = $2, next_attempt_at = $3 WHERE id = $1 AND sent_at IS NULL")
                .bind(id)
                .bind(error.chars().take(500).collect::<String>())
                .bind(later(retry_in))
                .execute(self.pool())
                .await?;
            Ok(())
        }

        async fn customer_publisher(
            &self,
            customer: CustomerId,
        ) -> Result<Option<PublisherId>, StoreError> {
            let id: Option<i64> = sqlx::query_scalar(
                "SELECT publisher_id FROM customers WHERE id = $1 AND erased_at IS NULL",
            )
            .bind(customer.get())
            .fetch_optional(self.pool())
            .await?;
            id.map(|id| PublisherId::from_i64(id).map_err(StoreError::Corrupt))
                .transpose()
        }

        async fn purge(
            &self,
            hour: i64,
            idempotency_ttl: std::time::Duration,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM login_failures WHERE hour < $1")
                .bind(hour)
                .execute(self.pool())
                .await?;
            sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                .bind(before_now(idempotency_ttl))
                .execute(self.pool())
                .await?;
            Ok(())
        }
    }
}

/// The email outbox, written in the transaction of the email's cause.
#[async_trait::async_trait]
pub(super) trait Outbox: Backend {
    /// How many rows of `table` (reset links, confirmation links) the customer got in the hour
    /// before `now`.
    async fn sent_last_hour(
        conn: &mut Conn<Self>,
        table: &'static str,
        customer: CustomerId,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError>;

    /// Queues an email, due now.
    async fn enqueue(
        conn: &mut Conn<Self>,
        mail: &NewMail,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
}

shared_sql! {
    impl Outbox for B {
        async fn sent_last_hour(
            conn: &mut Conn<Self>,
            table: &'static str,
            customer: CustomerId,
            now: DateTime<Utc>,
        ) -> Result<i64, StoreError> {
            let sql =
                format!("SELECT COUNT(*) FROM {table} WHERE customer_id = $1 AND created_at > $2");
            Ok(sqlx::query_scalar(&sql)
                .bind(customer.get())
                .bind(now - chrono::Duration::hours(1))
                .fetch_one(&mut *conn)
                .await?)
        }

        async fn enqueue(
            conn: &mut Conn<Self>,
            mail: &NewMail,
            now: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO outbox (kind, customer_id, payload, attempts, next_attempt_at, created_at) \
                 VALUES ($1, $2, $3, 0, $4, $4)",
            )
            .bind(mail.kind)
            .bind(mail.customer.map(|c| c.get()))
            .bind(sqlx::types::Json(&mail.message))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }
    }
}
