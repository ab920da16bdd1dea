//! Lazy migration from a Cleeng-compatible service (MediaStore API v3): per publisher, the
//! upstream's base URL and how long a call to it may take. Where the server connects is the
//! operator's choice, so only an operator sets these (service::publishers).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How long the upstream may take to answer a login (both of its calls) by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3);

fn default_timeout() -> Duration {
    DEFAULT_TIMEOUT
}

/// `{"upstream_url": "https://mediastore.example.com", "timeout": "3s"}`: a login or a
/// password reset for an email Enroll does not know is sent there once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MigrationSettings {
    /// The MediaStore-compatible base URL (`POST {upstream_url}/auths` …).
    pub upstream_url: String,
    /// How long one login's upstream calls may take together, in humantime form.
    #[serde(default = "default_timeout", with = "humantime_serde")]
    pub timeout: Duration,
}

impl MigrationSettings {
    /// Checks what serde cannot: an absolute http(s) URL with a host and nothing after the
    /// path, and a positive timeout of at most a minute.
    pub fn validate(&self) -> Result<(), String> {
        let raw = &self.upstream_url;
        let url =
            url::Url::parse(raw).map_err(|e| format!("upstream_url {raw:?} is not a URL: {e}"))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!("upstream_url {raw:?} must be http or https"));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!("upstream_url {raw:?} has no host"));
        }
        if url.query().is_some() || url.fragment().is_some() || !url.username().is_empty() {
            return Err(format!(
                "upstream_url {raw:?}: a base URL without query, fragment or credentials is expected"
            ));
        }
        if self.timeout.is_zero() || self.timeout > Duration::from_secs(60) {
            return Err("timeout must be more than 0 and at most 60s".into());
        }
        Ok(())
    }

    /// `{upstream_url}/{path}` (one slash between them).
    pub fn endpoint(&self, path: &str) -> String {
        format!(
            "{}/{}",
            self.upstream_url.trim_end_matches('/'),
            path.trim_start_matches('/')
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(url: &str) -> MigrationSettings {
        serde_json::from_value(serde_json::json!({"upstream_url": url})).unwrap()
    }

    #[test]
    fn urls_are_checked_and_joined() {
        let s = settings("https://ms.example.com/api/");
        assert_eq!(s.timeout, DEFAULT_TIMEOUT);
        assert!(s.validate().is_ok());
        assert_eq!(s.endpoint("/auths"), "https://ms.example.com/api/auths");
        for bad in [
            "ftp://x.example",
            "https://",
            "https://x.example/?a=1",
            "not a url",
        ] {
            assert!(settings(bad).validate().is_err(), "{bad}");
        }
    }
}
