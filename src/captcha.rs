//! Captcha verification per publisher: Google reCAPTCHA (v2, and v3 with a minimum score),
//! hCaptcha and Cloudflare Turnstile, each through its standard server-side siteverify
//! protocol (a form-encoded POST of `secret`, `response` and `remoteip`, answered with JSON).
//!
//! [`Verifier::verify`] never fails: it answers an [`Outcome`]. A provider that cannot be
//! reached, is too slow or answers something that is not a siteverify answer gives
//! [`Outcome::Unavailable`], and the caller decides with [`CaptchaSettings::admits`]
//! (fail-closed unless the publisher chose `fail_open`).

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

pub use crate::domain::captcha::{
    CaptchaRoute, CaptchaSettings, DEFAULT_MIN_SCORE, DEFAULT_TIMEOUT, Outcome, Provider,
    destination, normalized_url,
};
use crate::outbound::{Outbound, OutboundClient, Redirects, Refused};

/// The largest siteverify answer read; a real one is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The form posted to siteverify.
#[derive(Serialize)]
struct SiteverifyForm<'a> {
    secret: &'a str,
    response: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    remoteip: Option<String>,
}

/// The parts of a siteverify answer that matter here; other fields are ignored.
#[derive(Debug, Deserialize)]
struct SiteverifyAnswer {
    success: bool,
    #[serde(default)]
    score: Option<f64>,
    #[serde(default)]
    action: Option<String>,
    #[serde(default, rename = "error-codes")]
    error_codes: Option<Vec<String>>,
}

/// Error codes that mean our side is misconfigured rather than the token being bad.
const SECRET_ERRORS: &[&str] = &[
    "missing-input-secret",
    "invalid-input-secret",
    "invalid-parsed-secret",
    "sitekey-secret-mismatch",
];

/// Verifies tokens; holds one HTTP client (connection reuse) under the operator's outbound
/// policy ([`crate::outbound`]): a siteverify URL on a refused address is never contacted.
///
/// Cheap to clone (the client is shared). Redirects are not followed: a 3xx counts as
/// unavailable, like any non-2xx answer.
#[derive(Debug, Clone)]
pub struct Verifier {
    client: OutboundClient,
}

impl Verifier {
    /// A verifier whose HTTP client (rustls with the webpki roots, no redirects) obeys `outbound`.
    pub fn new(outbound: &Outbound) -> Result<Verifier, String> {
        Ok(Verifier {
            client: outbound.client(Redirects::None)?,
        })
    }

    /// Posts the siteverify form and reads the answer, within settings.timeout.
    ///
    /// An empty token is rejected without calling the provider. The outcome is counted in
    /// `captcha_verifications_total{provider, outcome}`; unavailable outcomes are logged at
    /// warn (never with the secret or the token).
    pub async fn verify(
        &self,
        settings: &CaptchaSettings,
        token: &str,
        remote_ip: Option<IpAddr>,
    ) -> Outcome {
        let outcome = if token.trim().is_empty() {
            Outcome::Rejected
        } else {
            match tokio::time::timeout(settings.timeout, self.call(settings, token, remote_ip))
                .await
            {
                Ok(Ok(answer)) => judge(settings, &answer),
                Ok(Err(Failure::Refused(reason))) => {
                    tracing::warn!(
                        provider = settings.provider.as_str(),
                        %reason,
                        "captcha siteverify_url not contacted: the outbound policy refuses it (server.outbound_allow)"
                    );
                    Outcome::Unavailable
                }
                Ok(Err(Failure::Other(reason))) => {
                    tracing::warn!(
                        provider = settings.provider.as_str(),
                        %reason,
                        "captcha provider unavailable"
                    );
                    Outcome::Unavailable
                }
                Err(_) => {
                    tracing::warn!(
                        provider = settings.provider.as_str(),
                        timeout_ms =
                            u64::try_from(settings.timeout.as_millis()).unwrap_or(u64::MAX),
                        "captcha provider unavailable: timed out"
                    );
                    Outcome::Unavailable
                }
            }
        };
        metrics::counter!(
            "captcha_verifications_total",
            "provider" => settings.provider.as_str(),
            "outcome" => outcome.as_str()
        )
        .increment(1);
        outcome
    }

    /// One siteverify round trip; `Err` explains why there is no usable answer.
    async fn call(
        &self,
        settings: &CaptchaSettings,
        token: &str,
        remote_ip: Option<IpAddr>,
    ) -> Result<SiteverifyAnswer, Failure> {
        let form = SiteverifyForm {
            secret: &settings.secret,
            response: token,
            // `::ffff:a.b.c.d` (a dual-stack listener's view of an IPv4 client) as `a.b.c.d`.
            remoteip: remote_ip.map(|ip| ip.to_canonical().to_string()),
        };
        let mut response = self
            .client
            .post(settings.siteverify_url())
            .map_err(|refused| Failure::Refused(refused.to_string()))?
            .timeout(settings.timeout)
            .form(&form)
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        if !status.is_success() {
            return Err(Failure::Other(format!("answered HTTP {status}")));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::Other(format!(
                    "answer larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body)
            .map_err(|e| Failure::Other(format!("answer is not siteverify JSON: {e}")))
    }
}

/// The outcome a well-formed answer means for these settings.
fn judge(settings: &CaptchaSettings, answer: &SiteverifyAnswer) -> Outcome {
    let codes = answer.error_codes.as_deref().unwrap_or_default();
    if !answer.success {
        // Turnstile's documented "retry later" code: the provider, not the token, failed.
        if codes.iter().any(|c| c == "internal-error") {
            tracing::warn!(
                provider = settings.provider.as_str(),
                ?codes,
                "captcha provider unavailable: internal error"
            );
            return Outcome::Unavailable;
        }
        if codes.iter().any(|c| SECRET_ERRORS.contains(&c.as_str())) {
            tracing::warn!(
                provider = settings.provider.as_str(),
                ?codes,
                "captcha provider refused the publisher's secret; check the captcha settings"
            );
        } else {
            tracing::debug!(
                provider = settings.provider.as_str(),
                ?codes,
                "captcha rejected"
            );
        }
        return Outcome::Rejected;
    }
    let Some(min_score) = settings.effective_min_score() else {
        return Outcome::Passed;
    };
    match answer.score {
        Some(score) if score >= min_score => Outcome::Passed,
        Some(score) => {
            tracing::debug!(
                provider = settings.provider.as_str(),
                score,
                min_score,
                action = answer.action.as_deref().unwrap_or(""),
                "captcha score too low"
            );
            Outcome::Rejected
        }
        None => {
            // A v3 answer always has a score; none means the secret is a v2 key.
            tracing::warn!(
                provider = settings.provider.as_str(),
                "captcha answer has no score; is the secret a reCAPTCHA v3 key?"
            );
            Outcome::Rejected
        }
    }
}

/// Why a siteverify call gave no answer.
enum Failure {
    /// The outbound policy refused the address: nothing was sent.
    Refused(String),
    /// Unreachable, an HTTP error, or not a siteverify answer.
    Other(String),
}

/// An HTTP error's message and causes, without the URL; a refusal by the outbound policy
/// (found among the causes: the resolver's) is told apart.
fn describe(error: reqwest::Error) -> Failure {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut text = error.to_string();
    let mut refused = None;
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        if let Some(r) = cause.downcast_ref::<Refused>() {
            refused = Some(r.to_string());
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if let Some(refused) = refused {
        return Failure::Refused(refused);
    }
    if timed_out && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    Failure::Other(text)
}
