//! Publishers (tenants) as admins see them: listing and reading within a key's reach,
//! creating (operators), and changing the name or settings, with the rule that origins, the
//! default links and the captcha's `siteverify_url` are the operators' to change. The catalog
//! cache, the CORS origins and the audit line follow every change here.

use serde_json::{Map, Value, json};

use super::Services;
use super::admin_keys::{AdminAuth, Scope, operator_only};
use crate::captcha::normalized_url;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{OfferId, PublisherId, PublisherSettings};
use crate::error::ApiError;
use crate::store::{Publisher, StoreError};

/// Settings only an operator may change: they decide where browsers may call from and where
/// emailed links (reset and confirmation links carry tokens) may point.
pub const OPERATOR_SETTINGS: [&str; 4] = [
    "cors_origins",
    "reset_url_origins",
    "reset_url_default",
    "confirm_url_default",
];

/// The settings as JSON without the captcha secret (how every front end shows them).
pub fn redacted(settings: &PublisherSettings) -> Value {
    let mut value = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let Some(Value::Object(captcha)) = value.get_mut("captcha") {
        captcha.remove("secret");
    }
    value
}

/// The keys whose (shown) value differs, with their new values; a changed captcha secret is
/// said, never shown.
pub fn changes(before: &PublisherSettings, after: &PublisherSettings) -> Map<String, Value> {
    let (Value::Object(old), Value::Object(new)) = (redacted(before), redacted(after)) else {
        return Map::new();
    };
    let mut changed: Map<String, Value> = new
        .into_iter()
        .filter(|(k, v)| old.get(k) != Some(v))
        .collect();
    let secret = |s: &PublisherSettings| s.captcha.as_ref().map(|c| c.secret.clone());
    if secret(before) != secret(after) && after.captcha.is_some() {
        changed.insert("captcha_secret_changed".into(), true.into());
    }
    changed
}

/// Does `after` send captcha checks to another configured URL than `before`? Where the server
/// connects is the operator's choice.
pub fn siteverify_url_changed(before: &PublisherSettings, after: &PublisherSettings) -> bool {
    let url = |s: &PublisherSettings| {
        s.captcha
            .as_ref()
            .and_then(|c| c.siteverify_url.as_deref())
            .map(normalized_url)
    };
    after.captcha.is_some() && url(before) != url(after)
}

/// Every publisher an operator reaches (by id); a publisher key gets its own.
pub async fn list(sv: &Services, auth: &AdminAuth) -> Result<Vec<Publisher>, ApiError> {
    Ok(match auth.scope {
        Scope::Operator => sv.store.publishers().await?,
        Scope::Publisher(own) => sv.store.publisher(own).await?.into_iter().collect(),
    })
}

/// One publisher: 404 REQ0003 when the key does not reach it or it does not exist (the same
/// answer, so a publisher key learns nothing about others).
pub async fn in_scope(
    sv: &Services,
    auth: &AdminAuth,
    id: PublisherId,
) -> Result<Publisher, ApiError> {
    auth.check_publisher(id)?;
    sv.store
        .publisher(id)
        .await?
        .ok_or_else(|| ApiError::unknown("publisherId"))
}

/// The offer ids that resolve to a publisher.
pub async fn offers(sv: &Services, id: PublisherId) -> Result<Vec<OfferId>, ApiError> {
    Ok(sv.store.offers(id).await?)
}

async fn refresh_origins(sv: &Services) {
    if let Err(e) = sv.catalog.refresh_origins().await {
        tracing::warn!(error = %e, "could not reload CORS origins after an admin change; the periodic reload will");
    }
}

/// Creates a publisher (operators only) with its offers. 400 on `id` when it exists, on
/// `offers` when one belongs to another publisher.
pub async fn create(
    sv: &Services,
    auth: &AdminAuth,
    id: PublisherId,
    name: &str,
    settings: &PublisherSettings,
    offers: &[OfferId],
) -> Result<Publisher, ApiError> {
    auth.require_operator("publishers")?;
    let line = auth.audit(
        Some(id),
        "publisher.create",
        json!({"id": id, "name": name, "offers": offers, "settings": redacted(settings)}),
    );
    let created = sv
        .store
        .admin_create_publisher(id, name, settings, offers, &line)
        .await
        .map_err(|e| match e {
            StoreError::AlreadyExists(what) if what.starts_with("publisher") => {
                ApiError::invalid_body(vec![FieldError::invalid("id", Reason::AlreadyExists)])
            }
            StoreError::AlreadyExists(_) => {
                ApiError::invalid_body(vec![FieldError::invalid("offers", Reason::AlreadyExists)])
            }
            StoreError::Invalid(_) => {
                ApiError::invalid_body(vec![FieldError::invalid("offers", Reason::InvalidValue)])
            }
            other => other.into(),
        })?;
    sv.catalog.invalidate(id);
    sv.catalog.invalidate_offers(offers);
    if !settings.cors_origins.is_empty() {
        refresh_origins(sv).await;
    }
    Ok(created)
}

/// Gives `current` a name and settings (both complete; unchanged ones as they were). A
/// publisher key may not change [`OPERATOR_SETTINGS`] or the captcha `siteverify_url` (403).
/// Nothing is written (nor audited) when nothing changes.
pub async fn update(
    sv: &Services,
    auth: &AdminAuth,
    current: Publisher,
    name: String,
    settings: PublisherSettings,
) -> Result<Publisher, ApiError> {
    auth.check_publisher(current.id)?;
    let changed = changes(&current.settings, &settings);
    if !auth.is_operator() {
        if let Some(key) = OPERATOR_SETTINGS.iter().find(|k| changed.contains_key(**k)) {
            return Err(operator_only(&format!("settings.{key}")));
        }
        if siteverify_url_changed(&current.settings, &settings) {
            return Err(operator_only("settings.captcha.siteverify_url"));
        }
    }
    if name == current.name && changed.is_empty() {
        return Ok(current);
    }
    let mut detail = json!({});
    if name != current.name {
        detail["name"] = name.clone().into();
    }
    if !changed.is_empty() {
        detail["settings"] = Value::Object(changed.clone());
    }
    let line = auth.audit(Some(current.id), "publisher.update", detail);
    let updated = sv
        .store
        .admin_update_publisher(current.id, &name, &settings, &line)
        .await?;
    sv.catalog.invalidate(current.id);
    if changed.contains_key("cors_origins") {
        refresh_origins(sv).await;
    }
    Ok(updated)
}
