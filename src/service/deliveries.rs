//! A webhook endpoint's deliveries (admin API, dashboard, CLI): the recent ones, and replays of
//! one delivery or of every event since a time. A replay is audited; what it sends goes out
//! through the delivery worker like any other delivery, in each customer's order.

use chrono::{DateTime, Utc};
use serde_json::json;

use super::Services;
use super::admin_keys::AdminAuth;
use crate::domain::PublisherId;
use crate::error::ApiError;
use crate::store::Delivery;

/// At most this many deliveries in one page.
pub const MAX_PAGE: u32 = 200;

/// The endpoint's deliveries, newest first, below the id `before`; 404 REQ0003 for another
/// publisher's or an unknown endpoint.
pub async fn list(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    endpoint: i64,
    before: Option<i64>,
    limit: u32,
) -> Result<Vec<Delivery>, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    sv.store
        .deliveries(publisher, endpoint, before, limit.clamp(1, MAX_PAGE))
        .await?
        .ok_or_else(|| ApiError::unknown("webhookId"))
}

/// Sends one delivery again, due now: 1, or 0 when a worker is sending it at this moment;
/// 404 REQ0003 for an unknown endpoint or delivery.
pub async fn replay_one(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    endpoint: i64,
    delivery: i64,
) -> Result<u64, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    if sv.store.webhook(publisher, endpoint).await?.is_none() {
        return Err(ApiError::unknown("webhookId"));
    }
    let replayed = sv
        .store
        .replay_delivery(publisher, endpoint, delivery)
        .await?
        .ok_or_else(|| ApiError::unknown("deliveryId"))?;
    let line = auth.audit(
        Some(publisher),
        "webhook.replay",
        json!({"webhookId": endpoint, "deliveryId": delivery, "deliveries": replayed}),
    );
    sv.store.record_audit(&line).await?;
    Ok(replayed)
}

/// Sends again every stored event since `since` of the endpoint's types (those it got and
/// those it never got); returns how many deliveries were queued.
pub async fn replay_since(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    endpoint: i64,
    since: DateTime<Utc>,
) -> Result<u64, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    let queued = sv
        .store
        .replay_since(publisher, endpoint, since)
        .await?
        .ok_or_else(|| ApiError::unknown("webhookId"))?;
    let line = auth.audit(
        Some(publisher),
        "webhook.replay",
        json!({"webhookId": endpoint, "since": since.to_rfc3339(), "deliveries": queued}),
    );
    sv.store.record_audit(&line).await?;
    Ok(queued)
}

/// An RFC 3339 time (`since` of a replay).
pub fn parse_since(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| "an RFC 3339 time, e.g. 2026-11-30T12:00:00Z".to_owned())
}
