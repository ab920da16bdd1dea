//! `POST /auths` (login) and `POST /auths/refresh_token` (rotation).

use axum::Extension;
use axum::extract::State;
use serde_json::Value;

use crate::captcha::CaptchaRoute;
use crate::domain::customer::{customer_ip, tenant};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::http::Data;
use crate::http::api::auth::{Refreshed, Session};
use crate::http::edge::client_ip::ClientIp;
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::sessions;
use crate::state::AppState;

/// Sign in with email and password.
#[utoipa::path(post, path = "/auths", tag = "customers",
    responses(
        (status = 200, body = Session),
        (status = 401, description = "USER0001, the same for an unknown email and a wrong password", body = crate::http::error::ErrorBody),
        (status = 429, description = "RATE0001: too many failures for this email this hour", body = crate::http::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    found: RequestTenant,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Session>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("email");
    let password = f.required_text("password");
    let tenant = tenant(&mut f);
    let ip = customer_ip(&mut f).unwrap_or(client);
    let (Some(email), Some(password), Some(tenant)) = (email, password, tenant) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let view = found.resolve(&state, &tenant).await?;
    crate::http::api::guard::captcha(&state, &view, CaptchaRoute::Login, &body, &headers, ip)
        .await?;
    let tokens = sessions::login(&state, &view, &email, &password, ip).await?;
    Ok(Data(tokens.into()))
}

/// Trade a refresh token for a new pair (single use, rotating).
#[utoipa::path(post, path = "/auths/refresh_token", tag = "customers",
    responses((status = 200, body = Refreshed), (status = 401, description = "AUTH0005", body = crate::http::error::ErrorBody)))]
pub async fn refresh(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Refreshed>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let presented = f.text("refreshToken").value();
    let Some(presented) = presented.filter(|t| t.len() <= 200) else {
        if !f.errors.is_empty() {
            return Err(ApiError::invalid_body(f.errors));
        }
        return Err(ApiError::invalid_body(vec![FieldError::invalid(
            "refreshToken",
            Reason::Missing,
        )]));
    };
    Ok(Data(sessions::refresh(&state, &presented).await?.into()))
}
