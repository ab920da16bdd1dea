//! The webhook SQL both backends share: a publisher's endpoints, and the claims of the delivery
//! workers (`Backend::SKIP_LOCKED` lets replicas share them).

use std::time::Duration;

use chrono::{DateTime, Utc};

use super::StoreError;
use super::backend::shared_sql;
use super::events::{
    ClaimedDelivery, DeliveryResult, EventStore, NewWebhook, WebhookChanges, WebhookEndpoint,
};
use super::placeholders::{list, one};
use super::sql::rows_into;
use crate::domain::PublisherId;

const ENDPOINT_COLUMNS: &str = "w.id, w.publisher_id, w.url, w.event_types, w.description, w.format, w.enabled, \
     w.disabled_reason, w.created_at, w.updated_at, \
     (SELECT COUNT(*) FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.state = 'pending') AS pending";

#[derive(sqlx::FromRow)]
struct EndpointRow {
    id: i64,
    publisher_id: i64,
    url: String,
    event_types: String,
    description: Option<String>,
    format: String,
    enabled: bool,
    disabled_reason: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    pending: i64,
}

impl TryFrom<EndpointRow> for WebhookEndpoint {
    type Error = StoreError;
    fn try_from(r: EndpointRow) -> Result<Self, StoreError> {
        Ok(WebhookEndpoint {
            id: r.id,
            publisher: PublisherId::from_i64(r.publisher_id).map_err(StoreError::Corrupt)?,
            url: r.url,
            event_types: r
                .event_types
                .split(',')
                .filter(|t| !t.is_empty())
                .map(str::to_owned)
                .collect(),
            description: r.description,
            format: r.format,
            enabled: r.enabled,
            disabled_reason: r.disabled_reason,
            pending: r.pending,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    id: i64,
    endpoint_id: i64,
    attempts: i32,
    url: String,
    secret: String,
    previous_secret: Option<String>,
    previous_until: Option<DateTime<Utc>>,
    event_id: String,
    event_type: String,
    body: String,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    format: String,
    publisher_id: i64,
    email: Option<String>,
}

/// `,a,b,`: a type matches with `LIKE '%,type,%'` on both backends.
fn types_column(types: &[String]) -> String {
    format!(",{},", types.join(","))
}

fn after(now: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX / 2)
}

shared_sql! {
    impl EventStore for B {
        async fn create_webhook(
            &self,
            publisher: PublisherId,
            new: &NewWebhook,
        ) -> Result<WebhookEndpoint, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO webhook_endpoints (publisher_id, url, event_types, description, format, secret, \
                 enabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, TRUE, $7, $7) RETURNING id",
            )
            .bind(publisher.get())
            .bind(&new.url)
            .bind(types_column(&new.event_types))
            .bind(&new.description)
            .bind(&new.format)
            .bind(&new.secret)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
            tx.commit().await?;
            self.webhook(publisher, id)
                .await?
                .ok_or_else(|| StoreError::NotFound(format!("webhook {id}")))
        }

        async fn webhooks(
            &self,
            publisher: PublisherId,
        ) -> Result<Vec<WebhookEndpoint>, StoreError> {
            let sql = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints w WHERE w.publisher_id = $1 ORDER BY w.id"
            );
            let rows: Vec<EndpointRow> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .fetch_all(self.pool())
                .await?;
            rows_into(rows)
        }

        async fn webhook(
            &self,
            publisher: PublisherId,
            id: i64,
        ) -> Result<Option<WebhookEndpoint>, StoreError> {
            let sql = format!(
                "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints w WHERE w.publisher_id = $1 AND w.id = $2"
            );
            let row: Option<EndpointRow> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn update_webhook(
            &self,
            publisher: PublisherId,
            id: i64,
            c: &WebhookChanges,
        ) -> Result<Option<WebhookEndpoint>, StoreError> {
            let done = sqlx::query(
                "UPDATE webhook_endpoints SET \
                 url = CASE WHEN $3 THEN $4 ELSE url END, \
                 event_types = CASE WHEN $5 THEN $6 ELSE event_types END, \
                 description = CASE WHEN $7 THEN $8 ELSE description END, \
                 enabled = CASE WHEN $9 THEN $10 ELSE enabled END, \
                 disabled_reason = CASE WHEN $9 AND $10 THEN NULL WHEN $9 THEN 'admin' ELSE disabled_reason END, \
                 updated_at = $11 \
                 WHERE publisher_id = $1 AND id = $2",
            )
            .bind(publisher.get())
            .bind(id)
            .bind(c.url.is_some())
            .bind(c.url.clone().unwrap_or_default())
            .bind(c.event_types.is_some())
            .bind(c.event_types.as_deref().map(types_column).unwrap_or_default())
            .bind(c.description.is_some())
            .bind(c.description.clone().flatten())
            .bind(c.enabled.is_some())
            .bind(c.enabled.unwrap_or(false))
            .bind(Utc::now())
            .execute(self.pool())
            .await?;
            if B::rows_affected(&done) == 0 {
                return Ok(None);
            }
            self.webhook(publisher, id).await
        }

        async fn delete_webhook(&self, publisher: PublisherId, id: i64) -> Result<bool, StoreError> {
            let mut tx = self.begin_write().await?;
            let owned: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM webhook_endpoints WHERE publisher_id = $1 AND id = $2",
            )
            .bind(publisher.get())
            .bind(id)
            .fetch_optional(&mut *tx)
            .await?;
            if owned.is_none() {
                return Ok(false);
            }
            sqlx::query("DELETE FROM webhook_deliveries WHERE endpoint_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM webhook_endpoints WHERE id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(true)
        }

        async fn rotate_webhook_secret(
            &self,
            publisher: PublisherId,
            id: i64,
            secret: &str,
            overlap: Duration,
        ) -> Result<Option<WebhookEndpoint>, StoreError> {
            let now = Utc::now();
            let done = sqlx::query(
                "UPDATE webhook_endpoints SET previous_secret = secret, previous_until = $4, secret = $3, \
                 updated_at = $5 WHERE publisher_id = $1 AND id = $2",
            )
            .bind(publisher.get())
            .bind(id)
            .bind(secret)
            .bind(after(now, overlap))
            .bind(now)
            .execute(self.pool())
            .await?;
            if B::rows_affected(&done) == 0 {
                return Ok(None);
            }
            self.webhook(publisher, id).await
        }

        fn event_signal(&self) -> std::sync::Arc<tokio::sync::Notify> {
            self.new_events().clone()
        }

        async fn claim_deliveries(
            &self,
            limit: u32,
            lease: Duration,
        ) -> Result<Vec<ClaimedDelivery>, StoreError> {
            let now = Utc::now();
            // Idle polls take no write lock (SQLite has one writer; registrations wait on it).
            let due: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE state = 'pending' AND next_attempt_at <= $1 \
                 AND (claimed_until IS NULL OR claimed_until <= $1) \
                 AND endpoint_id IN (SELECT e.id FROM webhook_endpoints e WHERE e.enabled) LIMIT 1",
            )
            .bind(now)
            .fetch_optional(self.pool())
            .await?;
            if due.is_none() {
                return Ok(Vec::new());
            }
            let mut tx = self.begin_write().await?;
            // A customer's later event waits while an earlier one is pending for the endpoint.
            let sql = format!(
                "SELECT d.id FROM webhook_deliveries d \
                 WHERE d.state = 'pending' AND d.next_attempt_at <= $1 \
                 AND (d.claimed_until IS NULL OR d.claimed_until <= $1) \
                 AND d.endpoint_id IN (SELECT e.id FROM webhook_endpoints e WHERE e.enabled) \
                 AND (d.customer_id IS NULL OR NOT EXISTS (SELECT 1 FROM webhook_deliveries p \
                   WHERE p.endpoint_id = d.endpoint_id AND p.customer_id = d.customer_id \
                   AND p.state = 'pending' AND p.sequence < d.sequence)) \
                 ORDER BY d.next_attempt_at, d.id LIMIT $2{}",
                B::SKIP_LOCKED
            );
            let ids: Vec<i64> = sqlx::query_scalar(&sql)
                .bind(now)
                .bind(i64::from(limit))
                .fetch_all(&mut *tx)
                .await?;
            if ids.is_empty() {
                tx.commit().await?;
                return Ok(Vec::new());
            }
            // Two statements for the whole claim, however many it holds: SQLite's one writer
            // is held for as short a time as possible.
            let sql = format!(
                "UPDATE webhook_deliveries SET claimed_until = {}, attempts = attempts + 1 WHERE id IN ({})",
                one::<B>(1),
                list::<B>(2, ids.len())
            );
            let mut q = sqlx::query(&sql).persistent(false).bind(after(now, lease));
            for id in &ids {
                q = q.bind(*id);
            }
            q.execute(&mut *tx).await?;
            let sql = format!(
                "SELECT d.id, d.endpoint_id, d.attempts, e.url, e.secret, e.previous_secret, e.previous_until, \
                 v.id AS event_id, v.type AS event_type, v.body, v.occurred_at, d.created_at, e.format, \
                 e.publisher_id, c.email \
                 FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 JOIN events v ON v.id = d.event_id LEFT JOIN customers c ON c.id = v.customer_id \
                 WHERE d.id IN ({}) ORDER BY d.id",
                list::<B>(1, ids.len())
            );
            let mut q = sqlx::query_as::<_, ClaimRow>(&sql).persistent(false);
            for id in &ids {
                q = q.bind(*id);
            }
            let rows = q.fetch_all(&mut *tx).await?;
            let mut claimed = Vec::with_capacity(rows.len());
            for row in rows {
                let mut secrets = vec![row.secret];
                if let (Some(previous), Some(until)) = (row.previous_secret, row.previous_until)
                    && until > now
                {
                    secrets.push(previous);
                }
                claimed.push(ClaimedDelivery {
                    id: row.id,
                    endpoint: row.endpoint_id,
                    event_id: row.event_id,
                    event_type: row.event_type,
                    body: row.body,
                    url: row.url,
                    secrets,
                    attempts: row.attempts,
                    occurred_at: row.occurred_at,
                    queued_at: row.created_at,
                    format: row.format,
                    publisher: row.publisher_id,
                    email: row.email,
                });
            }
            tx.commit().await?;
            Ok(claimed)
        }

        async fn settle_deliveries(
            &self,
            settled: &[(&ClaimedDelivery, DeliveryResult)],
        ) -> Result<(), StoreError> {
            if settled.is_empty() {
                return Ok(());
            }
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            for (delivery, result) in settled {
                let delivery = *delivery;
                match result {
                    DeliveryResult::Delivered(status) => {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET state = 'delivered', last_status = $2, last_error = NULL, \
                             claimed_until = NULL, finished_at = $3 WHERE id = $1",
                        )
                        .bind(delivery.id)
                        .bind(*status)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    DeliveryResult::Skipped => {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET state = 'skipped', last_status = NULL, last_error = NULL, \
                             claimed_until = NULL, finished_at = $2 WHERE id = $1",
                        )
                        .bind(delivery.id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                    DeliveryResult::Retry { status, error, at } => {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET next_attempt_at = $2, claimed_until = NULL, \
                             last_status = $3, last_error = $4 WHERE id = $1",
                        )
                        .bind(delivery.id)
                        .bind(*at)
                        .bind(status.map(i64::from))
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                    }
                    DeliveryResult::Disable { status, error, reason } => {
                        sqlx::query(
                            "UPDATE webhook_deliveries SET next_attempt_at = $2, claimed_until = NULL, \
                             last_status = $3, last_error = $4 WHERE id = $1",
                        )
                        .bind(delivery.id)
                        .bind(now)
                        .bind(status.map(i64::from))
                        .bind(error)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query(
                            "UPDATE webhook_endpoints SET enabled = FALSE, disabled_reason = $2, updated_at = $3 WHERE id = $1",
                        )
                        .bind(delivery.endpoint)
                        .bind(*reason)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        }

        async fn purge_events(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
            let mut tx = self.begin_write().await?;
            sqlx::query("DELETE FROM webhook_deliveries WHERE state <> 'pending' AND finished_at < $1")
                .bind(cutoff)
                .execute(&mut *tx)
                .await?;
            let done = sqlx::query(
                "DELETE FROM events WHERE occurred_at < $1 AND NOT EXISTS \
                 (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = events.id)",
            )
            .bind(cutoff)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(B::rows_affected(&done))
        }

        async fn oldest_undelivered(&self) -> Result<Vec<(i64, DateTime<Utc>)>, StoreError> {
            let rows: Vec<(i64, DateTime<Utc>)> = sqlx::query_as(
                "SELECT d.endpoint_id, MIN(d.created_at) FROM webhook_deliveries d \
                 JOIN webhook_endpoints e ON e.id = d.endpoint_id \
                 WHERE d.state = 'pending' AND e.enabled GROUP BY d.endpoint_id",
            )
            .fetch_all(self.pool())
            .await?;
            Ok(rows)
        }
    }
}
