//! The delivery SQL both backends share: an endpoint's deliveries, and replays. A replay puts
//! a delivery back to pending, due now, with its tries and retry window starting over; the
//! workers' claim keeps each customer's order (`sql_webhooks.rs`).

use chrono::{DateTime, Utc};

use super::StoreError;
use super::backend::shared_sql;
use super::deliveries::{Delivery, DeliveryStore};
use super::events::EventStore;
use crate::domain::PublisherId;

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    event_id: String,
    event_type: String,
    customer_id: Option<i64>,
    state: String,
    attempts: i32,
    last_status: Option<i32>,
    last_error: Option<String>,
    occurred_at: DateTime<Utc>,
    created_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for Delivery {
    fn from(r: DeliveryRow) -> Self {
        Delivery {
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            customer: r.customer_id,
            state: r.state,
            attempts: r.attempts,
            last_status: r.last_status,
            last_error: r.last_error,
            occurred_at: r.occurred_at,
            queued_at: r.created_at,
            next_attempt_at: r.next_attempt_at,
            finished_at: r.finished_at,
        }
    }
}

/// Back to pending and due now, unless a worker holds it at this moment (its try settles it).
const REPLAY: &str = "UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = $1, \
     created_at = $1, claimed_until = NULL, finished_at = NULL \
     WHERE (claimed_until IS NULL OR claimed_until <= $1) AND endpoint_id = $2";

shared_sql! {
    impl DeliveryStore for B {
        async fn deliveries(
            &self,
            publisher: PublisherId,
            endpoint: i64,
            before: Option<i64>,
            limit: u32,
        ) -> Result<Option<Vec<Delivery>>, StoreError> {
            if self.webhook(publisher, endpoint).await?.is_none() {
                return Ok(None);
            }
            let rows: Vec<DeliveryRow> = sqlx::query_as(
                "SELECT d.id, d.event_id, v.type AS event_type, d.customer_id, d.state, d.attempts, \
                 d.last_status, d.last_error, v.occurred_at, d.created_at, d.next_attempt_at, d.finished_at \
                 FROM webhook_deliveries d JOIN events v ON v.id = d.event_id \
                 WHERE d.endpoint_id = $1 AND d.id < $2 ORDER BY d.id DESC LIMIT $3",
            )
            .bind(endpoint)
            .bind(before.unwrap_or(i64::MAX))
            .bind(i64::from(limit))
            .fetch_all(self.pool())
            .await?;
            Ok(Some(rows.into_iter().map(Delivery::from).collect()))
        }

        async fn replay_delivery(
            &self,
            publisher: PublisherId,
            endpoint: i64,
            delivery: i64,
        ) -> Result<Option<u64>, StoreError> {
            if self.webhook(publisher, endpoint).await?.is_none() {
                return Ok(None);
            }
            let mut tx = self.begin_write().await?;
            let exists: Option<i64> = sqlx::query_scalar(
                "SELECT id FROM webhook_deliveries WHERE endpoint_id = $1 AND id = $2",
            )
            .bind(endpoint)
            .bind(delivery)
            .fetch_optional(&mut *tx)
            .await?;
            if exists.is_none() {
                return Ok(None);
            }
            let done = sqlx::query(&format!("{REPLAY} AND id = $3"))
                .bind(Utc::now())
                .bind(endpoint)
                .bind(delivery)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(Some(B::rows_affected(&done)))
        }

        async fn replay_since(
            &self,
            publisher: PublisherId,
            endpoint: i64,
            since: DateTime<Utc>,
        ) -> Result<Option<u64>, StoreError> {
            if self.webhook(publisher, endpoint).await?.is_none() {
                return Ok(None);
            }
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let again = sqlx::query(&format!(
                "{REPLAY} AND event_id IN (SELECT id FROM events WHERE occurred_at >= $3)"
            ))
            .bind(now)
            .bind(endpoint)
            .bind(since)
            .execute(&mut *tx)
            .await?;
            // Events of its types it never got: it was disabled, or created after them.
            let missed = sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, customer_id, sequence, next_attempt_at, created_at) \
                 SELECT w.id, v.id, v.customer_id, v.sequence, $1, $1 FROM events v \
                 JOIN webhook_endpoints w ON w.id = $2 \
                 WHERE v.occurred_at >= $3 AND (v.publisher_id = w.publisher_id OR v.publisher_id IS NULL) \
                 AND w.event_types LIKE '%,' || v.type || ',%' \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.event_id = v.id)",
            )
            .bind(now)
            .bind(endpoint)
            .bind(since)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Some(B::rows_affected(&again) + B::rows_affected(&missed)))
        }
    }
}
