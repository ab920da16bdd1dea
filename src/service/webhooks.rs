//! A publisher's webhook endpoints (admin API and CLI): create (the secret is answered once),
//! list, read, change, disable, delete, rotate the secret. Every change writes an audit line
//! (never the secret). Deliveries are `crate::events`'s.

use serde_json::json;

use super::Services;
use super::admin_keys::AdminAuth;
use crate::domain::PublisherId;
use crate::domain::problem::{FieldError, Reason};
use crate::error::ApiError;
use crate::store::{EVENT_TYPES, NewWebhook, WebhookChanges, WebhookEndpoint};

/// What a create or update asks, parsed by the front end (fields not given are `None`).
#[derive(Debug, Clone, Default)]
pub struct WebhookInput {
    /// Where deliveries go.
    pub url: Option<String>,
    /// The event types wanted.
    pub event_types: Option<Vec<String>>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// `standard` (the default) or `cleeng`.
    pub format: Option<String>,
    /// Enable or disable.
    pub enabled: Option<bool>,
}

/// Checks the URL (http(s), not refused by the outbound policy when it is an address), the
/// format, and the event types (a Cleeng-format endpoint takes only those Cleeng has a topic
/// for); every problem at once. `format` is the endpoint's (for an update) or the one asked.
fn check(sv: &Services, input: &WebhookInput, format: &str) -> Result<(), ApiError> {
    let mut errors = Vec::new();
    if let Some(url) = &input.url {
        let ok = url::Url::parse(url)
            .ok()
            .filter(|u| url.len() <= 2000 && sv.outbound.check_url(u).is_ok());
        if ok.is_none() {
            errors.push(FieldError::invalid("url", Reason::InvalidValue));
        }
    }
    let known = |t: &String| match format {
        "cleeng" => crate::events::cleeng::topic(t).is_some(),
        _ => EVENT_TYPES.contains(&t.as_str()),
    };
    if let Some(types) = &input.event_types
        && (types.is_empty() || !types.iter().all(known))
    {
        errors.push(if format == "cleeng" && types.iter().all(|t| EVENT_TYPES.contains(&t.as_str())) {
            FieldError::with_message(
                "eventTypes",
                Reason::InvalidValue,
                "Invalid param eventTypes: a cleeng endpoint takes only customer.registered and customer.consents_changed (the types Cleeng has a topic for)",
            )
        } else {
            FieldError::invalid("eventTypes", Reason::InvalidValue)
        });
    }
    if let Some(Some(d)) = &input.description
        && d.chars().count() > 500
    {
        errors.push(FieldError::invalid("description", Reason::TooLong));
    }
    if !matches!(format, "standard" | "cleeng") {
        errors.push(FieldError::invalid("format", Reason::InvalidValue));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid_body(errors))
    }
}

/// A secret of the format: Standard Webhooks' `whsec_…`, or Cleeng's shared secret.
fn new_secret(format: &str) -> String {
    match format {
        "cleeng" => crate::events::cleeng::new_secret(),
        _ => crate::events::new_secret(),
    }
}

fn unique(types: &[String]) -> Vec<String> {
    EVENT_TYPES
        .iter()
        .filter(|t| types.iter().any(|x| x == *t))
        .map(|t| (*t).to_owned())
        .collect()
}

/// Creates an endpoint; returns it with its secret (the only time the secret is shown).
pub async fn create(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    input: WebhookInput,
) -> Result<(WebhookEndpoint, String), ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    let mut missing = Vec::new();
    if input.url.is_none() {
        missing.push(FieldError::invalid("url", Reason::Missing));
    }
    if input.event_types.is_none() {
        missing.push(FieldError::invalid("eventTypes", Reason::Missing));
    }
    if !missing.is_empty() {
        return Err(ApiError::invalid_body(missing));
    }
    let format = input.format.clone().unwrap_or_else(|| "standard".into());
    check(sv, &input, &format)?;
    let secret = new_secret(&format);
    let new = NewWebhook {
        url: input.url.unwrap_or_default(),
        event_types: unique(&input.event_types.unwrap_or_default()),
        description: input.description.flatten(),
        format,
        secret: secret.clone(),
    };
    let created = sv.store.create_webhook(publisher, &new).await?;
    let line = auth.audit(
        Some(publisher),
        "webhook.create",
        json!({"webhookId": created.id, "eventTypes": created.event_types}),
    );
    sv.store.record_audit(&line).await?;
    Ok((created, secret))
}

/// The publisher's endpoints.
pub async fn list(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
) -> Result<Vec<WebhookEndpoint>, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    Ok(sv.store.webhooks(publisher).await?)
}

/// One endpoint; 404 REQ0003 for another publisher's or an unknown one.
pub async fn get(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    id: i64,
) -> Result<WebhookEndpoint, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    sv.store
        .webhook(publisher, id)
        .await?
        .ok_or_else(|| ApiError::unknown("webhookId"))
}

/// Changes an endpoint (`enabled: true` also clears why it was disabled).
pub async fn update(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    id: i64,
    input: WebhookInput,
) -> Result<WebhookEndpoint, ApiError> {
    let endpoint = get(sv, auth, publisher, id).await?;
    if input.format.as_ref().is_some_and(|f| *f != endpoint.format) {
        return Err(ApiError::invalid_body(vec![FieldError::with_message(
            "format",
            Reason::InvalidValue,
            "Invalid param format: an endpoint's format is chosen when it is created",
        )]));
    }
    check(sv, &input, &endpoint.format)?;
    let changes = WebhookChanges {
        url: input.url,
        event_types: input.event_types.as_deref().map(unique),
        description: input.description,
        enabled: input.enabled,
    };
    let updated = sv
        .store
        .update_webhook(publisher, id, &changes)
        .await?
        .ok_or_else(|| ApiError::unknown("webhookId"))?;
    let line = auth.audit(
        Some(publisher),
        "webhook.update",
        json!({"webhookId": id, "enabled": updated.enabled, "eventTypes": updated.event_types}),
    );
    sv.store.record_audit(&line).await?;
    Ok(updated)
}

/// Deletes an endpoint and its pending deliveries.
pub async fn delete(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    id: i64,
) -> Result<(), ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    if !sv.store.delete_webhook(publisher, id).await? {
        return Err(ApiError::unknown("webhookId"));
    }
    let line = auth.audit(Some(publisher), "webhook.delete", json!({"webhookId": id}));
    sv.store.record_audit(&line).await?;
    Ok(())
}

/// A new secret, answered once; the previous one keeps signing (a second signature) for
/// `events.rotation_overlap`.
pub async fn rotate_secret(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    id: i64,
) -> Result<(WebhookEndpoint, String), ApiError> {
    let endpoint = get(sv, auth, publisher, id).await?;
    let secret = new_secret(&endpoint.format);
    let overlap = sv.settings.events.rotation_overlap;
    let rotated = sv
        .store
        .rotate_webhook_secret(publisher, id, &secret, overlap)
        .await?
        .ok_or_else(|| ApiError::unknown("webhookId"))?;
    let line = auth.audit(
        Some(publisher),
        "webhook.rotate_secret",
        json!({"webhookId": id}),
    );
    sv.store.record_audit(&line).await?;
    Ok((rotated, secret))
}
