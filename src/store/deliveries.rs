//! A webhook endpoint's deliveries as people see them (admin API, dashboard, CLI), and
//! replaying them: one delivery, or everything since a time.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::StoreError;
use crate::domain::PublisherId;

/// A delivery as the admin API and the dashboard show it.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The event (`webhook-id`).
    pub event_id: String,
    /// The event type.
    pub event_type: String,
    /// The customer, if any.
    pub customer: Option<i64>,
    /// `pending`, `delivered` or `skipped` (no Cleeng topic for its type).
    pub state: String,
    /// Tries since it was queued or replayed.
    pub attempts: i32,
    /// The last answer's status, if any.
    pub last_status: Option<i32>,
    /// Why the last try failed (never a secret).
    pub last_error: Option<String>,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// When it was queued or last replayed.
    pub queued_at: DateTime<Utc>,
    /// The next try (pending only).
    pub next_attempt_at: DateTime<Utc>,
    /// When it was delivered.
    pub finished_at: Option<DateTime<Utc>>,
}

/// The deliveries of a publisher's endpoints.
#[async_trait]
pub trait DeliveryStore: Send + Sync + 'static {
    /// The endpoint's deliveries, newest first, below the id `before` if given; `None` when
    /// the publisher has no such endpoint.
    async fn deliveries(
        &self,
        publisher: PublisherId,
        endpoint: i64,
        before: Option<i64>,
        limit: u32,
    ) -> Result<Option<Vec<Delivery>>, StoreError>;

    /// Sends one delivery again (pending, due now, its tries and retry window starting
    /// over): `Some(1)`, or `Some(0)` while a worker is sending it at this moment; `None` when
    /// the publisher's endpoint has no such delivery.
    async fn replay_delivery(
        &self,
        publisher: PublisherId,
        endpoint: i64,
        delivery: i64,
    ) -> Result<Option<u64>, StoreError>;

    /// Sends again every event since `since` that the endpoint subscribes to: its deliveries
    /// start over, and stored events it never got (it was disabled, or created later) are
    /// queued for it (those a worker is sending at this moment are left to it). `None` when
    /// the publisher has no such endpoint, else how many.
    async fn replay_since(
        &self,
        publisher: PublisherId,
        endpoint: i64,
        since: DateTime<Utc>,
    ) -> Result<Option<u64>, StoreError>;
}
