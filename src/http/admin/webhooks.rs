//! `/admin/api/publishers/{publisherId}/webhooks`: a publisher's webhook endpoints. The secret
//! is in the answer of a create and of a rotation, and nowhere else.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use super::{AdminAuth, publisher_in_scope, time};
use crate::domain::fields::{Fields, Given};
use crate::domain::problem::{FieldError, Reason};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::webhooks::{self as service, WebhookInput};
use crate::state::AppState;
use crate::store::WebhookEndpoint;

/// An endpoint as the admin API shows it (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookView {
    id: i64,
    publisher_id: i64,
    url: String,
    event_types: Vec<String>,
    description: Option<String>,
    format: String,
    enabled: bool,
    disabled_reason: Option<String>,
    pending_deliveries: i64,
    created_at: String,
    updated_at: String,
}

impl From<WebhookEndpoint> for WebhookView {
    fn from(w: WebhookEndpoint) -> Self {
        WebhookView {
            id: w.id,
            publisher_id: w.publisher.get(),
            url: w.url,
            event_types: w.event_types,
            description: w.description,
            format: w.format,
            enabled: w.enabled,
            disabled_reason: w.disabled_reason,
            pending_deliveries: w.pending,
            created_at: time(w.created_at),
            updated_at: time(w.updated_at),
        }
    }
}

/// An endpoint with its secret: answered once, at creation or rotation.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WithSecret {
    /// `whsec_…`; keep it now, it cannot be shown again.
    secret: String,
    #[serde(flatten)]
    endpoint: WebhookView,
}

/// The endpoints of a publisher.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Webhooks {
    webhooks: Vec<WebhookView>,
}

/// A deleted endpoint.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: bool,
    id: i64,
}

/// What a create or a change takes (a change: any of them; `format` only at creation).
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WebhookBody {
    /// http(s), allowed by the outbound policy.
    pub url: Option<String>,
    /// The event types wanted (a `cleeng` endpoint: `customer.registered`, `customer.consents_changed`).
    pub event_types: Option<Vec<String>>,
    /// Up to 500 characters; `null` or `""` clears it.
    pub description: Option<String>,
    /// `standard` (default) or `cleeng`.
    pub format: Option<String>,
    /// `true` enables (and clears `disabledReason`), `false` disables.
    pub enabled: Option<bool>,
}

fn read_body(body: &Value) -> Result<WebhookInput, ApiError> {
    let mut f = Fields::new(body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let mut input = WebhookInput {
        url: f.text("url").value(),
        ..WebhookInput::default()
    };
    input.description = match f.text("description") {
        Given::Absent => None,
        Given::Empty => Some(None),
        Given::Value(v) => Some(Some(v)),
    };
    input.format = f.text("format").value();
    match f.raw("eventTypes") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            let types: Option<Vec<String>> = items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect();
            match types {
                Some(t) => input.event_types = Some(t),
                None => f.problem(FieldError::invalid("eventTypes", Reason::InvalidValue)),
            }
        }
        Some(_) => f.problem(FieldError::invalid("eventTypes", Reason::InvalidValue)),
    }
    match f.raw("enabled") {
        None | Some(Value::Null) => {}
        Some(Value::Bool(b)) => input.enabled = Some(*b),
        Some(_) => f.problem(FieldError::invalid("enabled", Reason::InvalidValue)),
    }
    if f.errors.is_empty() {
        Ok(input)
    } else {
        Err(ApiError::invalid_body(f.errors))
    }
}

fn ids(path: Result<Path<(String, String)>, PathRejection>) -> Result<(String, i64), ApiError> {
    let Path((publisher, webhook)) = path.map_err(|_| ApiError::invalid_path("webhookId"))?;
    let id = webhook
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or_else(|| ApiError::invalid_path("webhookId"))?;
    Ok((publisher, id))
}

/// Creates an endpoint: `{"url", "eventTypes": [...], "description"?, "format"?: "standard"}`.
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/webhooks", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)), request_body = WebhookBody,
    responses((status = 200, body = WithSecret), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<WithSecret>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let input = read_body(&body)?;
    let (endpoint, secret) = service::create(&state, &auth, publisher.id, input).await?;
    Ok(Data(WithSecret {
        secret,
        endpoint: endpoint.into(),
    }))
}

/// The publisher's endpoints.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/webhooks", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)),
    responses((status = 200, body = Webhooks), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Data<Webhooks>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let all = service::list(&state, &auth, publisher.id).await?;
    Ok(Data(Webhooks {
        webhooks: all.into_iter().map(WebhookView::from).collect(),
    }))
}

/// One endpoint.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<WebhookView>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    Ok(Data(
        service::get(&state, &auth, publisher.id, id).await?.into(),
    ))
}

/// Changes `url`, `eventTypes`, `description` or `enabled`.
#[utoipa::path(patch, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path)), request_body = WebhookBody,
    responses((status = 200, body = WebhookView), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<WebhookView>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let input = read_body(&body)?;
    let updated = service::update(&state, &auth, publisher.id, id, input).await?;
    Ok(Data(updated.into()))
}

/// Disables an endpoint (its deliveries wait until it is enabled again).
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/disable", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path)),
    responses((status = 200, body = WebhookView), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn disable(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<WebhookView>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let input = WebhookInput {
        enabled: Some(false),
        ..WebhookInput::default()
    };
    Ok(Data(
        service::update(&state, &auth, publisher.id, id, input)
            .await?
            .into(),
    ))
}

/// Deletes an endpoint and its pending deliveries.
#[utoipa::path(delete, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path)),
    responses((status = 200, body = Deleted), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<Deleted>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    service::delete(&state, &auth, publisher.id, id).await?;
    Ok(Data(Deleted { deleted: true, id }))
}

/// A new secret, answered once; the old one still signs for `events.rotation_overlap`.
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/rotate-secret", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), ("webhookId" = String, Path)),
    responses((status = 200, body = WithSecret), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn rotate_secret(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<WithSecret>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let (endpoint, secret) = service::rotate_secret(&state, &auth, publisher.id, id).await?;
    Ok(Data(WithSecret {
        secret,
        endpoint: endpoint.into(),
    }))
}
