//! Publishers (tenants) as admins see them: listing and reading within a key's reach,
//! creating (operators), and changing the name or settings, with the rule that origins, the
//! default links and the captcha's `siteverify_url` are the operators' to change. The catalog
//! cache, the CORS origins and the audit line follow every change here.

use serde_json::{Map, Value, json};

use super::Services;
use super::admin_keys::{AdminAuth, Scope, operator_only};
use crate::captcha::normalized_url;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::publisher::{carry_captcha_secret, merge_patch, secret_in};
use crate::domain::{OfferId, PublisherId, PublisherSettings};
use crate::error::ApiError;
use crate::store::{Publisher, StoreError};

/// Settings only an operator may change: they decide where browsers may call from and where
/// emailed links (reset and confirmation links carry tokens) may point, and where the server
/// sends customers' passwords (the migration's upstream).
pub const OPERATOR_SETTINGS: [&str; 5] = [
    "cors_origins",
    "reset_url_origins",
    "reset_url_default",
    "confirm_url_default",
    "migration",
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

/// A change of settings as a front end takes it.
#[derive(Debug, Clone, Copy)]
pub enum SettingsChange<'a> {
    /// The admin API's `settings` object: a JSON merge patch (RFC 7396), each top-level key
    /// checked alone so every bad key is named.
    Keys(&'a Value),
    /// The CLI's `--settings` file and `--set`s: JSON merge patches (RFC 7396) applied in
    /// order and checked once, as one change.
    MergePatches(&'a [Value]),
}

/// The settings `change` makes of `current`, for `auth`: 403 when a publisher key would point
/// the captcha checks elsewhere (where the server connects is the operators' choice), else
/// 400 REQ0001 with what is wrong (the admin API names each bad key). Origins are checked
/// against the key by [`update`], on what actually changes.
pub fn settings_after(
    auth: &AdminAuth,
    current: &PublisherSettings,
    change: SettingsChange<'_>,
) -> Result<PublisherSettings, ApiError> {
    match change {
        SettingsChange::Keys(patch) => {
            if !auth.is_operator() && siteverify_url_change(current, patch) {
                return Err(operator_only("settings.captcha.siteverify_url"));
            }
            merged_settings(current, patch).map_err(ApiError::invalid_body)
        }
        SettingsChange::MergePatches(patches) => current.patched_all(patches).map_err(|why| {
            ApiError::invalid_body(vec![FieldError::with_message(
                "settings",
                Reason::InvalidValue,
                why,
            )])
        }),
    }
}

fn setting_error(key: &str, why: impl std::fmt::Display) -> FieldError {
    FieldError::with_message(
        &format!("settings.{key}"),
        Reason::InvalidValue,
        format!("Invalid param settings.{key}: {why}"),
    )
}

/// `current` with `patch` applied as a JSON Merge Patch (RFC 7396), key by key so that every
/// bad key is named: each must be a known setting and valid on its own; the result must pass
/// [`PublisherSettings::check`].
fn merged_settings(
    current: &PublisherSettings,
    patch: &Value,
) -> Result<PublisherSettings, Vec<FieldError>> {
    let Value::Object(patch) = patch else {
        return Err(vec![FieldError::invalid("settings", Reason::InvalidValue)]);
    };
    let mut merged = match serde_json::to_value(current) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    let mut errors = Vec::new();
    for (key, patch_value) in patch {
        if !merged.contains_key(key) {
            errors.push(setting_error(key, "unknown setting"));
            continue;
        }
        // Postgres cannot store NUL in text or JSON (API.md: refused with 400).
        if patch_value.to_string().contains("\\u0000") {
            errors.push(setting_error(key, "must not contain NUL"));
            continue;
        }
        // RFC 7396: an object merges into the stored one, null drops the key (its default).
        let mut value = merged.get(key).cloned().unwrap_or(Value::Null);
        merge_patch(&mut value, patch_value);
        if value.is_null() {
            merged.remove(key);
            continue;
        }
        if key == "captcha"
            && let Value::Object(captcha) = &mut value
        {
            // Only a secret the patch itself gives counts as given.
            let given = patch_value.as_object().is_some_and(secret_in);
            if let Err(e) = carry_captcha_secret(current.captcha.as_ref(), captcha, given) {
                let why = e.strip_prefix("captcha: ").unwrap_or(&e).to_owned();
                errors.push(setting_error(key, why));
                continue;
            }
        }
        let alone = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
        if let Err(e) = serde_json::from_value::<PublisherSettings>(alone) {
            errors.push(setting_error(key, e));
            continue;
        }
        merged.insert(key.clone(), value);
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    let settings: PublisherSettings = serde_json::from_value(Value::Object(merged))
        .map_err(|e| vec![setting_error("settings", e)])?;
    settings.check().map_err(|e| {
        let key = e
            .split(|c: char| !(c.is_ascii_lowercase() || c == '_'))
            .next()
            .unwrap_or("");
        let (key, why) = match e
            .strip_prefix(key)
            .map(|r| r.trim_start_matches([':', ' ']))
        {
            Some(rest) if !key.is_empty() && patch.contains_key(key) => (key, rest.to_owned()),
            _ => ("settings", e.clone()),
        };
        vec![setting_error(key, why)]
    })?;
    Ok(settings)
}

/// The `siteverify_url` a change asks for differs from the stored one: where the server
/// connects is the operator's choice, so a publisher key may not set, change or drop it
/// (removing the whole captcha block, which connects nowhere, is allowed). `patch` is the
/// admin API's settings object (a merge patch).
fn siteverify_url_change(current: &PublisherSettings, patch: &Value) -> bool {
    let stored = current
        .captcha
        .as_ref()
        .and_then(|c| c.siteverify_url.as_deref())
        .map(normalized_url);
    match patch.get("captcha") {
        None | Some(Value::Null) => false,
        Some(Value::Object(block)) => match block.get("siteverify_url") {
            // A merge patch keeps what it does not name.
            None => false,
            Some(Value::Null) => stored.is_some(),
            Some(Value::String(url)) => stored.as_deref() != Some(normalized_url(url).as_str()),
            Some(_) => true,
        },
        Some(_) => false,
    }
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
            StoreError::AlreadyExists(crate::store::Taken::Publisher) => {
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn captcha(secret: &str) -> Value {
        json!({"provider": "turnstile", "secret": secret})
    }

    #[test]
    fn settings_change_as_a_merge_patch() {
        let current = merged_settings(
            &PublisherSettings::default(),
            &json!({"captcha": {"provider": "turnstile", "secret": "k", "min_score": 0.3, "routes": ["login"]}}),
        )
        .unwrap();
        // A nested object merges: what it does not name stays.
        let next = merged_settings(&current, &json!({"captcha": {"min_score": 0.5}})).unwrap();
        let c = next.captcha.as_ref().unwrap();
        assert_eq!((c.min_score, c.secret.as_str()), (Some(0.5), "k"));
        assert_eq!(
            serde_json::to_value(&c.routes).unwrap(),
            json!(["login"]),
            "routes kept"
        );
        // null drops a key back to its default.
        let next = merged_settings(&next, &json!({"captcha": null})).unwrap();
        assert!(next.captcha.is_none());
        // A nested null drops only that member.
        let next = merged_settings(&current, &json!({"captcha": {"min_score": null}})).unwrap();
        assert_eq!(next.captcha.as_ref().unwrap().min_score, None);
    }

    #[test]
    fn merge_replaces_given_keys_and_keeps_the_secret() {
        let current = merged_settings(
            &PublisherSettings::default(),
            &json!({"captcha": captcha("s3cret"), "cors_origins": ["https://a.example"]}),
        )
        .unwrap();
        let shown = redacted(&current);
        assert!(shown["captcha"].get("secret").is_none());
        assert!(!shown.to_string().contains("s3cret"));

        let next = merged_settings(
            &current,
            &json!({"captcha": {"provider": "turnstile", "min_score": 0.2}, "require_consents_at_registration": true}),
        )
        .unwrap();
        let c = next.captcha.as_ref().unwrap();
        assert_eq!(
            c.secret, "s3cret",
            "a captcha block without a secret keeps it while its destination stays"
        );
        assert_eq!(c.min_score, Some(0.2));
        let errors =
            merged_settings(&current, &json!({"captcha": {"provider": "hcaptcha"}})).unwrap_err();
        assert_eq!(errors[0].field, "settings.captcha");
        assert!(
            errors[0].message.contains("secret is required"),
            "{errors:?}"
        );
        assert_eq!(next.cors_origins, vec!["https://a.example".to_owned()]);
        assert!(next.require_consents_at_registration);
        let changed = changes(&current, &next);
        assert!(changed.contains_key("captcha") && !changed.contains_key("cors_origins"));
    }

    #[test]
    fn merge_names_each_bad_key() {
        let errors = merged_settings(
            &PublisherSettings::default(),
            &json!({"nope": 1, "cors_origins": ["not an origin"], "default_locale": 5}),
        )
        .unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert!(fields.contains(&"settings.nope"), "{fields:?}");
        assert!(fields.contains(&"settings.default_locale"), "{fields:?}");
        let errors = merged_settings(
            &PublisherSettings::default(),
            &json!({"captcha": {"provider": "turnstile", "secret": "a\u{0}b"}}),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "settings.captcha");
        let errors = merged_settings(
            &PublisherSettings::default(),
            &json!({"cors_origins": ["https://a.example/path"]}),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "settings.cors_origins");
        assert!(
            errors[0]
                .message
                .starts_with("Invalid param settings.cors_origins")
        );
        let errors = merged_settings(
            &PublisherSettings::default(),
            &json!({"captcha": {"provider": "turnstile"}}),
        )
        .unwrap_err();
        assert_eq!(errors[0].field, "settings.captcha");
    }
}
