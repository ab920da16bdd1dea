//! `/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries` and the replays: an
//! endpoint's recent deliveries, sending one again, or every event since a time.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{AdminAuth, page_limit, publisher_in_scope, query_rejected, time};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::deliveries as service;
use crate::state::AppState;
use crate::store::Delivery;

/// A delivery as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryView {
    id: i64,
    /// The event's id (`webhook-id`).
    event_id: String,
    event_type: String,
    customer_id: Option<i64>,
    /// `pending`, `delivered`, or `skipped` (a type with no Cleeng topic).
    state: String,
    /// Tries since it was queued or last replayed.
    attempts: i32,
    /// The status of the last answer, if one came.
    response_status: Option<i32>,
    /// Why the last try failed.
    last_error: Option<String>,
    occurred_at: String,
    /// When it was queued, or last replayed.
    queued_at: String,
    /// The next try, while pending.
    next_attempt_at: Option<String>,
    delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> Self {
        let pending = d.state == "pending";
        DeliveryView {
            id: d.id,
            event_id: d.event_id,
            event_type: d.event_type,
            customer_id: d.customer,
            state: d.state,
            attempts: d.attempts,
            response_status: d.last_status,
            last_error: d.last_error,
            occurred_at: time(d.occurred_at),
            queued_at: time(d.queued_at),
            next_attempt_at: pending.then(|| time(d.next_attempt_at)),
            delivered_at: d.finished_at.map(time),
        }
    }
}

/// An endpoint's deliveries, newest first.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryPage {
    deliveries: Vec<DeliveryView>,
    /// Pass as `before` for the next (older) page; null on the last one.
    next_before: Option<i64>,
}

/// Which deliveries.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeliveriesQuery {
    /// Page size, 1–200 (default 50).
    pub limit: Option<String>,
    /// Only deliveries with a smaller id (the `nextBefore` of the previous page).
    pub before: Option<String>,
}

/// How many deliveries a replay queued.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Replayed {
    replayed: u64,
}

fn positive(text: &str, name: &str) -> Result<i64, ApiError> {
    text.parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid_path(name))
}

/// The deliveries of an endpoint, newest first.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("webhookId" = String, Path), DeliveriesQuery),
    responses((status = 200, body = DeliveryPage), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<DeliveriesQuery>, QueryRejection>,
) -> Result<Data<DeliveryPage>, ApiError> {
    let Path((text, webhook)) = path.map_err(|_| ApiError::invalid_path("webhookId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let endpoint = positive(&webhook, "webhookId")?;
    let Query(query) = query.map_err(query_rejected)?;
    let limit = page_limit(query.limit.as_deref(), 50, service::MAX_PAGE)?;
    let before = match query
        .before
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(t) => Some(
            t.parse::<i64>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| ApiError::invalid_query("before"))?,
        ),
    };
    let page = service::list(&state, &auth, publisher.id, endpoint, before, limit).await?;
    let next_before = (page.len() == limit as usize)
        .then(|| page.last().map(|d| d.id))
        .flatten();
    Ok(Data(DeliveryPage {
        deliveries: page.into_iter().map(DeliveryView::from).collect(),
        next_before,
    }))
}

/// Sends one delivery again, now (on a disabled endpoint it waits until the endpoint is
/// enabled); `replayed` is 0 when a worker is sending it at this very moment.
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries/{deliveryId}/replay",
    tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path), ("deliveryId" = String, Path)),
    responses((status = 200, body = Replayed), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn replay_one(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String, String)>, PathRejection>,
) -> Result<Data<Replayed>, ApiError> {
    let Path((text, webhook, delivery)) = path.map_err(|_| ApiError::invalid_path("deliveryId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let endpoint = positive(&webhook, "webhookId")?;
    let delivery = positive(&delivery, "deliveryId")?;
    let replayed = service::replay_one(&state, &auth, publisher.id, endpoint, delivery).await?;
    Ok(Data(Replayed { replayed }))
}

/// Sends again every event since `since` (RFC 3339) of the endpoint's types: those delivered,
/// those pending, and those it never got while it was disabled or before it existed.
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/replay", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("webhookId" = String, Path)),
    request_body = ReplayBody,
    responses((status = 200, body = Replayed), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn replay_since(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Replayed>, ApiError> {
    let Path((text, webhook)) = path.map_err(|_| ApiError::invalid_path("webhookId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let endpoint = positive(&webhook, "webhookId")?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let since = f.required(
        "since",
        Some("Invalid param since: an RFC 3339 time, e.g. 2026-11-30T12:00:00Z"),
        service::parse_since,
    );
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let since = since.ok_or_else(|| {
        ApiError::invalid_body(vec![FieldError::invalid("since", Reason::Missing)])
    })?;
    let replayed = service::replay_since(&state, &auth, publisher.id, endpoint, since).await?;
    Ok(Data(Replayed { replayed }))
}

/// The body of a replay since a time.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct ReplayBody {
    /// RFC 3339, e.g. `2026-11-30T12:00:00Z`: events at or after it are sent again.
    pub since: String,
}
