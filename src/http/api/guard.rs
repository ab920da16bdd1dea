//! The per-publisher captcha of the sign-up, sign-in and reset routes (the token comes in the
//! body or a header; the password policy is the operations', in `service::passwords`).

use std::net::IpAddr;

use axum::http::HeaderMap;
use serde_json::Value;

use crate::captcha::CaptchaRoute;
use crate::catalog::PublisherView;
use crate::http::error::ApiError;
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
