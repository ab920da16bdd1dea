//! A publisher's settings: what its customers may choose and where its frontends live.

use serde::{Deserialize, Serialize};

use super::{Currency, Locale};

/// Settings of one publisher, stored as one JSON document so that later features add keys,
/// not columns. Every key has a default, so older rows read unchanged.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct PublisherSettings {
    /// Locale offered when none is known (`en_US`).
    pub default_locale: Option<Locale>,
    /// Currency offered when none is known (`USD`).
    pub default_currency: Option<Currency>,
    /// Locales the publisher's frontends offer; empty means any known locale.
    pub supported_locales: Vec<Locale>,
    /// Currencies the publisher sells in; empty means any active currency.
    pub supported_currencies: Vec<Currency>,
    /// Browser origins allowed by CORS (`https://app.example.com`).
    pub cors_origins: Vec<String>,
    /// Origins a password-reset link may point to.
    pub reset_url_origins: Vec<String>,
    /// The reset link used when a request gives none.
    pub reset_url_default: Option<String>,
    /// The email-confirmation link used when a request gives no `confirmUrl` (a frontend page
    /// that posts the token, or Enroll's own `GET /customers/email/confirmation`).
    pub confirm_url_default: Option<String>,
    /// Registration must carry the consents array (else clients may send consents after).
    /// `true` breaks the Cleeng MediaStore SDK and JW Player's OTT web app, which answer
    /// consents only after sign-up.
    pub require_consents_at_registration: bool,
    /// Password rules beyond the base rule: a minimum zxcvbn score, the common-passwords list.
    pub password_policy: super::strength::PasswordPolicy,
    /// Captcha on registration, login or password reset (off when absent).
    pub captcha: Option<super::captcha::CaptchaSettings>,
    /// Registration needs a code sent to the address first (`required`), or not (`off`).
    pub email_verification: EmailVerification,
    /// Extra profile fields asked for (Capture).
    pub capture: super::capture::CaptureSettings,
    /// Customers may erase their own account (`DELETE /customers/{id}` with their password).
    /// On by default: GDPR Art. 17 gives the right and Art. 12(2) asks the controller to make
    /// it easy; a publisher that must vet each request first (a legal hold, Art. 17(3)) turns
    /// it off and erases through the admin API.
    pub self_erasure: SelfErasure,
    /// Lazy migration from a Cleeng-compatible service (off when absent; operators only).
    pub migration: Option<super::migration::MigrationSettings>,
}

/// Whether customers may erase their own account: `true` (the default) or `false`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SelfErasure(pub bool);

impl Default for SelfErasure {
    fn default() -> Self {
        SelfErasure(true)
    }
}

/// Whether registration needs a code sent to the address first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EmailVerification {
    /// Anyone may register; the address is confirmed later through a link, on request.
    #[default]
    Off,
    /// `POST /customers` must carry the `verificationCode` sent to the address.
    Required,
}

impl PublisherSettings {
    /// Checks the origins and the default reset link; the error names the setting.
    pub fn check(&self) -> Result<(), String> {
        for origin in &self.cors_origins {
            parse_origin(origin).map_err(|e| format!("cors_origins: {e}"))?;
        }
        for origin in &self.reset_url_origins {
            parse_origin(origin).map_err(|e| format!("reset_url_origins: {e}"))?;
        }
        self.password_policy.validate()?;
        if let Some(captcha) = &self.captcha {
            captcha.validate().map_err(|e| format!("captcha: {e}"))?;
        }
        self.capture
            .validate()
            .map_err(|e| format!("capture: {e}"))?;
        if let Some(migration) = &self.migration {
            migration
                .validate()
                .map_err(|e| format!("migration: {e}"))?;
        }
        if let Some(default) = &self.reset_url_default {
            super::link::http_url(default).map_err(|e| format!("reset_url_default: {e}"))?;
        }
        if let Some(default) = &self.confirm_url_default {
            super::link::http_url(default).map_err(|e| format!("confirm_url_default: {e}"))?;
        }
        Ok(())
    }
}

impl PublisherSettings {
    /// These settings with a JSON merge patch (RFC 7386) applied, then checked: objects merge
    /// key by key, `null` resets a key to its default. Unknown keys are errors (a typo must not
    /// pass silently). The stored captcha secret is kept only under [`carry_captcha_secret`].
    pub fn patched(&self, patch: &serde_json::Value) -> Result<PublisherSettings, String> {
        self.patched_all(std::slice::from_ref(patch))
    }

    /// Several merge patches applied in order and checked once, as one change (so a new
    /// siteverify URL and its secret may come in two `--set`s).
    pub fn patched_all(&self, patches: &[serde_json::Value]) -> Result<PublisherSettings, String> {
        use serde_json::Value;
        let mut doc = serde_json::to_value(self).map_err(|e| e.to_string())?;
        let known: Vec<String> = doc
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default();
        let mut secret_given = false;
        for patch in patches {
            let Value::Object(entries) = patch else {
                return Err("settings: a JSON object is expected".into());
            };
            if let Some(unknown) = entries.keys().find(|k| !known.contains(k)) {
                return Err(format!(
                    "settings: unknown key {unknown:?} (known: {})",
                    known.join(", ")
                ));
            }
            match entries.get("captcha") {
                Some(Value::Object(block)) if secret_in(block) => secret_given = true,
                Some(Value::Null) => secret_given = false,
                _ => {}
            }
            merge_patch(&mut doc, patch);
        }
        if let Some(block) = doc.get_mut("captcha").and_then(|c| c.as_object_mut()) {
            carry_captcha_secret(self.captcha.as_ref(), block, secret_given)?;
        }
        let settings: PublisherSettings =
            serde_json::from_value(doc).map_err(|e| format!("settings: {e}"))?;
        settings.check()?;
        Ok(settings)
    }
}

/// Whether a captcha block carries a secret (a non-empty string).
pub fn secret_in(block: &serde_json::Map<String, serde_json::Value>) -> bool {
    block
        .get("secret")
        .and_then(serde_json::Value::as_str)
        .is_some_and(|s| !s.is_empty())
}

/// The secret rule for a captcha block about to be stored, whatever the front end: when the
/// change gave no secret (`secret_given` false), the stored secret is kept only if it would be
/// sent where it was sent before (same provider, same siteverify URL); otherwise the change
/// is refused, so no one can point the server elsewhere and have it send the operator's secret.
pub fn carry_captcha_secret(
    stored: Option<&super::captcha::CaptchaSettings>,
    block: &mut serde_json::Map<String, serde_json::Value>,
    secret_given: bool,
) -> Result<(), String> {
    if secret_given && secret_in(block) {
        return Ok(());
    }
    block.remove("secret");
    let provider = block
        .get("provider")
        .cloned()
        .and_then(|p| serde_json::from_value::<super::captcha::Provider>(p).ok());
    let Some(provider) = provider else {
        // No or an unknown provider: the settings' own check names that.
        return Ok(());
    };
    let url = match block.get("siteverify_url") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(u)) => Some(u.as_str()),
        Some(_) => return Ok(()),
    };
    let Some(stored) = stored else {
        return Err("captcha: secret is required (the provider's server-side secret)".into());
    };
    if stored.destination() != super::captcha::destination(provider, url) {
        return Err(
            "captcha: secret is required when provider or siteverify_url changes \
                    (the stored secret is only ever sent where it was sent before)"
                .into(),
        );
    }
    block.insert("secret".into(), stored.secret.clone().into());
    Ok(())
}

/// RFC 7386: objects merge recursively, `null` removes, anything else replaces.
/// Applies a JSON Merge Patch (RFC 7396) to `target`: objects merge, null removes, anything
/// else replaces.
pub fn merge_patch(target: &mut serde_json::Value, patch: &serde_json::Value) {
    use serde_json::Value;
    let Value::Object(entries) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(serde_json::Map::new());
    }
    if let Value::Object(map) = target {
        for (key, value) in entries {
            if value.is_null() {
                map.remove(key);
            } else {
                merge_patch(map.entry(key.clone()).or_insert(Value::Null), value);
            }
        }
    }
}

/// Parses a web origin, `scheme://host[:port]` with nothing after it, into its ASCII form.
pub fn parse_origin(text: &str) -> Result<String, String> {
    let url = url::Url::parse(text)
        .map_err(|e| format!("{text:?} is not an origin like https://app.example.com ({e})"))?;
    let origin = url.origin().ascii_serialization();
    if !matches!(url.scheme(), "http" | "https") || origin != text.trim_end_matches('/') {
        return Err(format!(
            "{text:?} is not an origin like https://app.example.com (scheme, host and port only)"
        ));
    }
    Ok(origin)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            parse_origin("https://a.example.com").unwrap(),
            "https://a.example.com"
        );
        assert_eq!(
            parse_origin("http://localhost:3000/").unwrap(),
            "http://localhost:3000"
        );
        assert!(parse_origin("https://a.example.com/path").is_err());
        assert!(parse_origin("ftp://a.example.com").is_err());
        assert!(parse_origin("a.example.com").is_err());
    }

    #[test]
    fn patches_merge_check_and_keep_secrets() {
        let base: PublisherSettings = serde_json::from_value(serde_json::json!({
            "captcha": {"provider": "turnstile", "secret": "s3cret"}
        }))
        .unwrap();
        let p = base
            .patched(&serde_json::json!({
                "email_verification": "required",
                "capture": {"birth_date": "required", "min_age": 16},
                "captcha": {"routes": ["login"]}
            }))
            .unwrap();
        assert_eq!(p.email_verification, EmailVerification::Required);
        assert_eq!(p.capture.min_age, 16);
        assert_eq!(p.captcha.as_ref().unwrap().secret, "s3cret");
        assert!(
            base.patched(&serde_json::json!({"cors_origin": []}))
                .is_err()
        );
        assert!(
            base.patched(&serde_json::json!({"capture": {"bogus": 1}}))
                .is_err()
        );
        assert!(
            base.patched(&serde_json::json!({"capture": {"min_age": 16}}))
                .is_err()
        );
        let cleared = p.patched(&serde_json::json!({"captcha": null})).unwrap();
        assert!(cleared.captcha.is_none());
    }

    fn with_captcha(extra: serde_json::Value) -> PublisherSettings {
        let mut block = serde_json::json!({"provider": "turnstile", "secret": "s3cret",
            "siteverify_url": "https://verify.example/siteverify"});
        for (k, v) in extra.as_object().unwrap() {
            block[k] = v.clone();
        }
        serde_json::from_value(serde_json::json!({ "captcha": block })).unwrap()
    }

    #[test]
    fn the_secret_stays_only_where_it_was_sent() {
        let base = with_captcha(serde_json::json!({}));
        let patch = |p: serde_json::Value| base.patched(&p);
        // Same destination: kept (also when the URL is only spelt differently).
        for same in [
            serde_json::json!({"captcha": {"min_score": 0.7}}),
            serde_json::json!({"captcha": {"secret": "", "fail_open": true}}),
            serde_json::json!({"captcha": {"siteverify_url": "HTTPS://Verify.Example:443/siteverify"}}),
        ] {
            assert_eq!(
                patch(same.clone()).unwrap().captcha.unwrap().secret,
                "s3cret",
                "{same}"
            );
        }
        // Elsewhere without a new secret: refused.
        for elsewhere in [
            serde_json::json!({"captcha": {"siteverify_url": "https://evil.example/x"}}),
            serde_json::json!({"captcha": {"siteverify_url": null}}),
            serde_json::json!({"captcha": {"provider": "hcaptcha"}}),
            serde_json::json!({"captcha": {"provider": "hcaptcha", "secret": ""}}),
        ] {
            let e = patch(elsewhere.clone()).unwrap_err();
            assert!(e.contains("secret is required"), "{elsewhere}: {e}");
        }
        // With a new secret: fine, in one patch or in two applied together.
        let moved =
            patch(serde_json::json!({"captcha": {"provider": "hcaptcha", "secret": "new"}}))
                .unwrap();
        assert_eq!(moved.captcha.unwrap().secret, "new");
        let moved = base
            .patched_all(&[
                serde_json::json!({"captcha": {"siteverify_url": "https://other.example/v"}}),
                serde_json::json!({"captcha": {"secret": "other"}}),
            ])
            .unwrap();
        assert_eq!(moved.captcha.unwrap().secret, "other");
        // Removed, then declared again elsewhere without one: refused.
        assert!(
            base.patched_all(&[
                serde_json::json!({"captcha": null}),
                serde_json::json!({"captcha": {"provider": "turnstile", "secret": "s3cret"}}),
                serde_json::json!({"captcha": null}),
                serde_json::json!({"captcha": {"provider": "hcaptcha"}}),
            ])
            .is_err()
        );
    }

    #[test]
    fn old_rows_read_with_defaults() {
        let s: PublisherSettings =
            serde_json::from_str(r#"{"cors_origins":["https://x.io"]}"#).unwrap();
        assert_eq!(s.cors_origins, vec!["https://x.io".to_owned()]);
        assert!(!s.require_consents_at_registration);
        assert_eq!(s.self_erasure, SelfErasure(true), "on unless turned off");
        let off = s
            .patched(&serde_json::json!({"self_erasure": false}))
            .unwrap();
        assert_eq!(off.self_erasure, SelfErasure(false));
        assert!(
            s.patched(&serde_json::json!({"self_erasure": "no"}))
                .is_err()
        );
        let back = off
            .patched(&serde_json::json!({"self_erasure": null}))
            .unwrap();
        assert_eq!(
            back.self_erasure,
            SelfErasure(true),
            "null resets to the default"
        );
    }
}
