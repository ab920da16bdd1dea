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
#[derive(Debug, Serialize)]
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
#[derive(Debug, Serialize)]
pub struct WithSecret {
    /// `whsec_…`; keep it now, it cannot be shown again.
    secret: String,
    #[serde(flatten)]
    endpoint: WebhookView,
}

/// The endpoints of a publisher.
#[derive(Debug, Serialize)]
pub struct Webhooks {
    webhooks: Vec<WebhookView>,
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
pub async fn delete(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<Value>, ApiError> {
    let (text, id) = ids(path)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    service::delete(&state, &auth, publisher.id, id).await?;
    Ok(Data(serde_json::json!({"deleted": true, "id": id})))
}

/// A new secret, answered once; the old one still signs for `events.rotation_overlap`.
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
