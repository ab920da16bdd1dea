//! `PUT /customers/passwords` (ask for a reset email) and `PATCH /customers/passwords`
//! (set a new password with the emailed token).

use axum::extract::State;
use serde_json::{Map, Value};

use crate::captcha::CaptchaRoute;
use crate::domain::customer::tenant;
use crate::domain::fields::{Fields, Given};
use crate::domain::password::{PASSWORD_RULE, Password};
use crate::http::Data;
use crate::http::edge::client_ip::ClientIp;
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::passwords;
use crate::state::AppState;

/// Ask for a password-reset email: always `200 {}` at once, whether or not the customer exists.
#[utoipa::path(put, path = "/customers/passwords", tag = "customers",
    responses((status = 200, description = "`{}`, whatever the email"), (status = 400, description = "Invalid param resetUrl", body = crate::http::error::ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    axum::Extension(ClientIp(client)): axum::Extension<ClientIp>,
    found: RequestTenant,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("customerEmail");
    let tenant = tenant(&mut f);
    let reset_url = f.text("resetUrl");
    let (Some(email), Some(tenant)) = (email, tenant) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let view = found.resolve(&state, &tenant).await?;
    crate::http::api::guard::captcha(
        &state,
        &view,
        CaptchaRoute::PasswordReset,
        &body,
        &headers,
        client,
    )
    .await?;
    let base = passwords::reset_link_base(
        &view,
        match &reset_url {
            Given::Value(v) => Some(v.as_str()),
            _ => None,
        },
    )?;
    crate::http::after_answer("password reset", async move {
        passwords::send_reset(&state, &view, &email, base).await
    });
    Ok(Data(Map::new()))
}

/// Set a new password with the token from the reset email; every session is signed out.
#[utoipa::path(patch, path = "/customers/passwords", tag = "customers",
    responses((status = 200, description = "`{}`"), (status = 400, description = "resetPasswordToken is not valid, or the password rule", body = crate::http::error::ErrorBody)))]
pub async fn reset(
    State(state): State<AppState>,
    found: RequestTenant,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("customerEmail");
    let tenant = tenant(&mut f);
    let token = f.required(
        "resetPasswordToken",
        Some("resetPasswordToken is not valid"),
        |s| Ok::<_, String>(s.to_owned()),
    );
    // The OTT web app's edit-password page matches these case-sensitively (API.md).
    let rule = format!("invalid param password. {PASSWORD_RULE}");
    let password = f.required("newPassword", Some(&rule), Password::parse);
    let (Some(email), Some(tenant), Some(token), Some(password)) = (email, tenant, token, password)
    else {
        return Err(ApiError::invalid_body(f.errors));
    };
    let view = found.resolve(&state, &tenant).await?;
    passwords::reset(&state, &view, &email, &token, &password).await?;
    Ok(Data(Map::new()))
}
