//! Publisher settings through the admin API: the shown form (no captcha secret), a change
//! merged key by key into the stored settings, and what a change changed.

use serde_json::{Map, Value, json};

use crate::domain::PublisherSettings;
use crate::domain::problem::{FieldError, Reason};

/// The settings as JSON without the captcha secret.
pub fn redacted(settings: &PublisherSettings) -> Value {
    let mut value = serde_json::to_value(settings).unwrap_or_else(|_| json!({}));
    if let Some(Value::Object(captcha)) = value.get_mut("captcha") {
        captcha.remove("secret");
    }
    value
}

fn setting_error(key: &str, why: impl std::fmt::Display) -> FieldError {
    FieldError::with_message(
        &format!("settings.{key}"),
        Reason::InvalidValue,
        format!("Invalid param settings.{key}: {why}"),
    )
}

/// `current` with `patch`'s keys replacing its own. Every key must be a known setting and
/// valid on its own; the result must pass [`PublisherSettings::check`].
pub fn merged_settings(
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
    for (key, value) in patch {
        if !merged.contains_key(key) {
            errors.push(setting_error(key, "unknown setting"));
            continue;
        }
        // Postgres cannot store NUL in text or JSON (API.md: refused with 400).
        if value.to_string().contains("\\u0000") {
            errors.push(setting_error(key, "must not contain NUL"));
            continue;
        }
        let mut value = value.clone();
        if key == "captcha"
            && let Value::Object(captcha) = &mut value
            && captcha
                .get("secret")
                .is_none_or(|s| s.is_null() || s.as_str() == Some(""))
        {
            match &current.captcha {
                Some(stored) => {
                    captcha.insert("secret".into(), stored.secret.clone().into());
                }
                None => {
                    captcha.remove("secret");
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn captcha(secret: &str) -> Value {
        json!({"provider": "turnstile", "secret": secret})
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
            &json!({"captcha": {"provider": "hcaptcha"}, "require_consents_at_registration": true}),
        )
        .unwrap();
        let c = next.captcha.as_ref().unwrap();
        assert_eq!(
            c.secret, "s3cret",
            "a captcha block without a secret keeps it"
        );
        assert_eq!(c.provider.as_str(), "hcaptcha");
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
