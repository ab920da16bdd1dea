//! Publisher settings as the admin API takes them: a change merged key by key into the stored
//! settings, each bad key named (the shown form and what a change changed are the service's).

use serde_json::{Map, Value};

use crate::captcha::normalized_url;
use crate::domain::PublisherSettings;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::publisher::{carry_captcha_secret, secret_in};

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
        {
            let given = secret_in(captcha);
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
/// admin API's settings object (top-level keys replace the stored ones).
pub fn siteverify_url_change(current: &PublisherSettings, patch: &Value) -> bool {
    let stored = current
        .captcha
        .as_ref()
        .and_then(|c| c.siteverify_url.as_deref())
        .map(normalized_url);
    match patch.get("captcha") {
        None | Some(Value::Null) => false,
        Some(Value::Object(block)) => match block.get("siteverify_url") {
            None | Some(Value::Null) => stored.is_some(),
            Some(Value::String(url)) => stored.as_deref() != Some(normalized_url(url).as_str()),
            Some(_) => true,
        },
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::publishers::{changes, redacted};
    use serde_json::json;

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
