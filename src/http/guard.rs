//! Per-publisher guards of the sign-up and sign-in routes: captcha and password strength.

use std::net::IpAddr;

use axum::http::HeaderMap;
use serde_json::Value;

use super::error::ApiError;
use crate::captcha::CaptchaRoute;
use crate::catalog::PublisherView;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::strength::user_inputs;
use crate::state::AppState;

/// When the publisher wants a captcha on this route: the token from `captchaValue` (or the
/// `X-Captcha-Token` header) must pass its provider. Missing: 429 CPT0001; refused (or the
/// provider unavailable and the publisher fails closed): 429 CPT0002.
pub async fn captcha(
    state: &AppState,
    view: &PublisherView,
    route: CaptchaRoute,
    body: &Value,
    headers: &HeaderMap,
    ip: IpAddr,
) -> Result<(), ApiError> {
    let Some(settings) = view
        .publisher
        .settings
        .captcha
        .as_ref()
        .filter(|c| c.applies_to(route))
    else {
        return Ok(());
    };
    let token = body
        .get("captchaValue")
        .and_then(Value::as_str)
        .filter(|t| !t.trim().is_empty())
        .or_else(|| {
            headers
                .get("x-captcha-token")
                .and_then(|v| v.to_str().ok())
                .filter(|t| !t.trim().is_empty())
        });
    let Some(token) = token else {
        return Err(ApiError::captcha_required());
    };
    let outcome = state.captcha.verify(settings, token.trim(), Some(ip)).await;
    if settings.admits(outcome) {
        Ok(())
    } else {
        Err(ApiError::captcha_failed())
    }
}

/// The publisher's password policy (zxcvbn score with the customer's email and names as
/// inputs, the common-passwords list): 400 `Invalid param <field>` with reason Weak and a hint.
pub fn strong_password(
    view: &PublisherView,
    field: &str,
    password: &str,
    email: &str,
    names: &[Option<&str>],
) -> Result<(), ApiError> {
    policy_hint(view, password, email, names).map_err(|hint| {
        ApiError::invalid_body(vec![FieldError::with_message(
            field,
            Reason::Weak,
            format!("Invalid param password. {hint}"),
        )])
    })
}

/// The publisher's password policy alone: the hint (zxcvbn's feedback) when it refuses.
pub fn policy_hint(
    view: &PublisherView,
    password: &str,
    email: &str,
    names: &[Option<&str>],
) -> Result<(), String> {
    let policy = &view.publisher.settings.password_policy;
    if !policy.is_active() {
        return Ok(());
    }
    let names: Vec<&str> = names.iter().flatten().copied().collect();
    let inputs = user_inputs(email, &names);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    policy.check(password, &inputs)
}
