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
    /// Registration must carry the consents array (else clients may send consents after).
    pub require_consents_at_registration: bool,
    /// Password rules beyond the base rule: a minimum zxcvbn score, the common-passwords list.
    pub password_policy: super::strength::PasswordPolicy,
    /// Captcha on registration, login or password reset (off when absent).
    pub captcha: Option<crate::captcha::CaptchaSettings>,
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
        if let Some(default) = &self.reset_url_default {
            url::Url::parse(default)
                .map_err(|e| format!("reset_url_default: {default:?} is not a URL ({e})"))?;
        }
        Ok(())
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
    fn old_rows_read_with_defaults() {
        let s: PublisherSettings =
            serde_json::from_str(r#"{"cors_origins":["https://x.io"]}"#).unwrap();
        assert_eq!(s.cors_origins, vec!["https://x.io".to_owned()]);
        assert!(!s.require_consents_at_registration);
    }
}
