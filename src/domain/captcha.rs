//! Captcha settings of a publisher and the rules on them: which provider, where its secret
//! is sent, which routes need a captcha, and whether an outcome admits a request. The
//! siteverify client itself is `crate::captcha` (I/O stays outside `domain`).

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long a siteverify call may take when the settings do not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

/// The reCAPTCHA v3 score a token needs when the settings do not say.
pub const DEFAULT_MIN_SCORE: f64 = 0.5;

/// A captcha provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Provider {
    /// Google reCAPTCHA v2 (checkbox or invisible): `success` alone decides.
    RecaptchaV2,
    /// Google reCAPTCHA v3: `success` and a `score` of at least the minimum.
    RecaptchaV3,
    /// hCaptcha: `success` alone decides (an enterprise `score` is ignored).
    Hcaptcha,
    /// Cloudflare Turnstile: `success` alone decides.
    Turnstile,
}

impl Provider {
    /// The provider's public siteverify endpoint.
    pub fn default_siteverify_url(self) -> &'static str {
        match self {
            Provider::RecaptchaV2 | Provider::RecaptchaV3 => {
                "https://www.google.com/recaptcha/api/siteverify"
            }
            Provider::Hcaptcha => "https://api.hcaptcha.com/siteverify",
            Provider::Turnstile => "https://challenges.cloudflare.com/turnstile/v0/siteverify",
        }
    }

    /// The name used in settings, logs and metric labels (`recaptcha_v3`, `turnstile`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Provider::RecaptchaV2 => "recaptcha_v2",
            Provider::RecaptchaV3 => "recaptcha_v3",
            Provider::Hcaptcha => "hcaptcha",
            Provider::Turnstile => "turnstile",
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A route a publisher can protect with a captcha.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CaptchaRoute {
    /// Customer registration.
    Registration,
    /// Customer login.
    Login,
    /// Password-reset requests.
    PasswordReset,
}

fn default_routes() -> Vec<CaptchaRoute> {
    vec![CaptchaRoute::Registration]
}

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

/// Per-publisher captcha settings (part of the publisher's settings JSON).
///
/// ```json
/// {"provider": "recaptcha_v3", "secret": "…", "min_score": 0.7,
///  "routes": ["registration", "login"], "fail_open": false, "timeout": "2s"}
/// ```
///
/// `Debug` redacts the secret. `Serialize` does not (the settings must round-trip through
/// storage): never send serialized settings to a client or a log as they are.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CaptchaSettings {
    /// Which provider issued the tokens.
    pub provider: Provider,
    /// The publisher's server-side secret for that provider. Never logged.
    pub secret: String,
    /// reCAPTCHA v3 only: the lowest score that passes, in `0..=1`
    /// ([`DEFAULT_MIN_SCORE`] when absent). Ignored by the other providers.
    #[serde(default)]
    pub min_score: Option<f64>,
    /// The routes that require a captcha (default: registration only).
    #[serde(default = "default_routes")]
    pub routes: Vec<CaptchaRoute>,
    /// Let requests through when the provider is unavailable (default: refuse them).
    #[serde(default)]
    pub fail_open: bool,
    /// The siteverify endpoint; `None` means the provider's public one.
    #[serde(default)]
    pub siteverify_url: Option<String>,
    /// How long one verification may take, in humantime form (`"3s"`, `"1500ms"`).
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl fmt::Debug for CaptchaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CaptchaSettings")
            .field("provider", &self.provider)
            .field("secret", &"[redacted]")
            .field("min_score", &self.min_score)
            .field("routes", &self.routes)
            .field("fail_open", &self.fail_open)
            .field("siteverify_url", &self.siteverify_url)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl CaptchaSettings {
    /// Checks what serde cannot: a non-empty secret, a `min_score` in `0..=1`, a positive
    /// timeout, and a `siteverify_url` that is an absolute http(s) URL with a host.
    pub fn validate(&self) -> Result<(), String> {
        if self.secret.trim().is_empty() {
            return Err("captcha secret must not be empty".into());
        }
        if let Some(score) = self.min_score
            && !(0.0..=1.0).contains(&score)
        {
            return Err(format!(
                "captcha min_score must be between 0 and 1, not {score}"
            ));
        }
        if self.timeout.is_zero() {
            return Err("captcha timeout must be greater than zero".into());
        }
        if let Some(raw) = &self.siteverify_url {
            let url = url::Url::parse(raw)
                .map_err(|e| format!("captcha siteverify_url {raw:?} is not a URL: {e}"))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(format!(
                    "captcha siteverify_url {raw:?} must be http or https"
                ));
            }
            if url.host_str().is_none_or(str::is_empty) {
                return Err(format!("captcha siteverify_url {raw:?} has no host"));
            }
        }
        Ok(())
    }

    /// Whether `route` requires a captcha for this publisher.
    pub fn applies_to(&self, route: CaptchaRoute) -> bool {
        self.routes.contains(&route)
    }

    /// The endpoint verification posts to: the configured one, else the provider's default.
    pub fn siteverify_url(&self) -> &str {
        self.siteverify_url
            .as_deref()
            .unwrap_or_else(|| self.provider.default_siteverify_url())
    }

    /// Where the secret is sent: the provider and its siteverify URL (normalized, so
    /// `HTTPS://Example.com` and `https://example.com/` are one destination).
    pub fn destination(&self) -> (Provider, String) {
        destination(self.provider, self.siteverify_url.as_deref())
    }

    /// The score a reCAPTCHA v3 token needs; `None` for providers without a score.
    pub fn effective_min_score(&self) -> Option<f64> {
        match self.provider {
            Provider::RecaptchaV3 => Some(self.min_score.unwrap_or(DEFAULT_MIN_SCORE)),
            Provider::RecaptchaV2 | Provider::Hcaptcha | Provider::Turnstile => None,
        }
    }

    /// Whether a request with this outcome may go on: passed yes, rejected no, unavailable
    /// only when the publisher chose `fail_open`.
    pub fn admits(&self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Passed => true,
            Outcome::Rejected => false,
            Outcome::Unavailable => self.fail_open,
        }
    }
}

/// Where a secret for `provider` with this `siteverify_url` setting is sent (the provider's
/// public endpoint when `None`), normalized as a URL.
pub fn destination(provider: Provider, siteverify_url: Option<&str>) -> (Provider, String) {
    (
        provider,
        normalized_url(siteverify_url.unwrap_or_else(|| provider.default_siteverify_url())),
    )
}

/// A URL in its normalized form (lower-case scheme and host, default port dropped, `/` path);
/// text that is not a URL stays as it is.
pub fn normalized_url(raw: &str) -> String {
    url::Url::parse(raw.trim()).map_or_else(|_| raw.to_owned(), String::from)
}

/// The result of one verification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The provider vouched for the token (and, for reCAPTCHA v3, its score was high enough).
    Passed,
    /// The token is missing, invalid, expired, reused, or scored too low.
    Rejected,
    /// The provider could not give an answer: unreachable, too slow, non-2xx or non-JSON.
    Unavailable,
}

impl Outcome {
    /// The metric label: `passed`, `rejected` or `unavailable`.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Rejected => "rejected",
            Outcome::Unavailable => "unavailable",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(provider: Provider) -> CaptchaSettings {
        serde_json::from_value(serde_json::json!({"provider": provider, "secret": "s3cret"}))
            .unwrap()
    }

    #[test]
    fn defaults_from_minimal_json() {
        let s = settings(Provider::Turnstile);
        assert_eq!(s.routes, vec![CaptchaRoute::Registration]);
        assert_eq!(s.timeout, Duration::from_secs(3));
        assert!(!s.fail_open);
        assert_eq!(s.min_score, None);
        assert_eq!(
            s.siteverify_url(),
            "https://challenges.cloudflare.com/turnstile/v0/siteverify"
        );
        assert!(s.validate().is_ok());
        assert!(s.applies_to(CaptchaRoute::Registration));
        assert!(!s.applies_to(CaptchaRoute::Login));
    }

    #[test]
    fn full_json_round_trips() {
        let s: CaptchaSettings = serde_json::from_value(serde_json::json!({
            "provider": "recaptcha_v3", "secret": "k", "min_score": 0.7,
            "routes": ["login", "password_reset"], "fail_open": true,
            "siteverify_url": "http://127.0.0.1:9/siteverify", "timeout": "1500ms"
        }))
        .unwrap();
        assert_eq!(s.timeout, Duration::from_millis(1500));
        assert_eq!(s.effective_min_score(), Some(0.7));
        assert!(s.applies_to(CaptchaRoute::PasswordReset));
        assert!(s.validate().is_ok());
        let back: CaptchaSettings =
            serde_json::from_value(serde_json::to_value(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }

    #[test]
    fn unknown_fields_and_providers_are_refused() {
        let extra = serde_json::json!({"provider": "hcaptcha", "secret": "k", "sitekey": "x"});
        assert!(serde_json::from_value::<CaptchaSettings>(extra).is_err());
        let unknown = serde_json::json!({"provider": "friendly_captcha", "secret": "k"});
        assert!(serde_json::from_value::<CaptchaSettings>(unknown).is_err());
    }

    #[test]
    fn v3_min_score_defaults_to_half_and_others_have_none() {
        assert_eq!(
            settings(Provider::RecaptchaV3).effective_min_score(),
            Some(0.5)
        );
        for p in [
            Provider::RecaptchaV2,
            Provider::Hcaptcha,
            Provider::Turnstile,
        ] {
            assert_eq!(settings(p).effective_min_score(), None);
        }
    }

    #[test]
    fn validate_refuses_bad_values() {
        let base = settings(Provider::RecaptchaV3);
        let bad = [
            CaptchaSettings {
                secret: " ".into(),
                ..base.clone()
            },
            CaptchaSettings {
                min_score: Some(1.5),
                ..base.clone()
            },
            CaptchaSettings {
                min_score: Some(-0.1),
                ..base.clone()
            },
            CaptchaSettings {
                min_score: Some(f64::NAN),
                ..base.clone()
            },
            CaptchaSettings {
                timeout: Duration::ZERO,
                ..base.clone()
            },
            CaptchaSettings {
                siteverify_url: Some("not a url".into()),
                ..base.clone()
            },
            CaptchaSettings {
                siteverify_url: Some("ftp://example.com/x".into()),
                ..base.clone()
            },
            CaptchaSettings {
                siteverify_url: Some("file:///etc/passwd".into()),
                ..base.clone()
            },
        ];
        for s in bad {
            assert!(s.validate().is_err(), "{s:?} should be invalid");
        }
        let edge = CaptchaSettings {
            min_score: Some(0.0),
            ..base.clone()
        };
        assert!(edge.validate().is_ok());
        let edge = CaptchaSettings {
            min_score: Some(1.0),
            ..base
        };
        assert!(edge.validate().is_ok());
    }

    #[test]
    fn debug_redacts_the_secret() {
        let text = format!("{:?}", settings(Provider::Hcaptcha));
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("[redacted]"));
    }

    #[test]
    fn admits_applies_fail_open() {
        let mut s = settings(Provider::Turnstile);
        assert!(s.admits(Outcome::Passed));
        assert!(!s.admits(Outcome::Rejected));
        assert!(!s.admits(Outcome::Unavailable));
        s.fail_open = true;
        assert!(s.admits(Outcome::Unavailable));
        assert!(!s.admits(Outcome::Rejected));
    }
}
