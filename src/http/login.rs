//! `POST /auths` (login) and `POST /auths/refresh_token` (rotation).

use axum::Extension;
use axum::extract::State;
use serde::Serialize;
use serde_json::Value;

use super::Data;
use super::client_ip::ClientIp;
use super::error::ApiError;
use super::json::AppJson;
use super::registration::{Session, refresh_token, resolve_publisher, session};
use crate::auth::tokens::{new_token, token_hash};
use crate::captcha::CaptchaRoute;
use crate::domain::customer::{customer_ip, tenant};
use crate::domain::email::email_key;
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::state::AppState;
use crate::store::{Rotation, StoreError};

fn wrong_credentials() -> ApiError {
    ApiError::wrong_credentials()
}

/// Sign in with email and password.
#[utoipa::path(post, path = "/auths", tag = "customers",
    responses(
        (status = 200, body = Session),
        (status = 401, description = "USER0001, the same for an unknown email and a wrong password", body = super::error::ErrorBody),
        (status = 429, description = "RATE0001: too many failures for this email this hour", body = super::error::ErrorBody),
    ))]
pub async fn login(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
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
    let view = resolve_publisher(&state, &tenant).await?;
    let publisher = view.publisher.id;
    super::guard::captcha(&state, &view, CaptchaRoute::Login, &body, &headers, ip).await?;
    let key = email_key(&email);
    let customer = state.store.customer_by_email(publisher, &key).await?;
    // Counted per (publisher, email) whether or not the account exists.
    let ok = super::password_check::check(
        &state,
        publisher,
        &key,
        &password,
        customer.as_ref().map(|c| c.password_hash.as_str()),
    )
    .await?;
    let Some(customer) = customer.filter(|_| ok) else {
        return Err(wrong_credentials());
    };
    let (token, stored) = refresh_token(&state);
    match state
        .store
        .record_login(
            publisher,
            customer.id,
            &ip.to_string(),
            &stored,
            customer.session_epoch,
        )
        .await
    {
        // The password checked was reset (or the account erased) meanwhile.
        Err(StoreError::NotFound(_)) => return Err(wrong_credentials()),
        other => other?,
    }
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer logged in");
    Ok(Data(session(
        &state,
        customer.id,
        publisher,
        customer.session_epoch,
        token,
    )?))
}

/// A new token pair.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refreshed {
    /// EdDSA JWT.
    pub jwt: String,
    /// The next refresh token (the one presented is now used).
    pub refresh_token: String,
}

fn refresh_refused() -> ApiError {
    ApiError::refresh_refused()
}

/// Trade a refresh token for a new pair (single use, rotating).
#[utoipa::path(post, path = "/auths/refresh_token", tag = "customers",
    responses((status = 200, body = Refreshed), (status = 401, description = "AUTH0005", body = super::error::ErrorBody)))]
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
    let (next, next_hash) = new_token();
    let auth = &state.settings.auth;
    let rotation = state
        .store
        .rotate_refresh_token(
            &token_hash(&presented),
            &next_hash,
            auth.refresh_token_ttl,
            auth.refresh_reuse_grace,
        )
        .await?;
    match rotation {
        Rotation::Rotated {
            customer,
            publisher,
            epoch,
        } => Ok(Data(Refreshed {
            jwt: state
                .keys
                .issue(customer, publisher, epoch)
                .map_err(ApiError::internal)?,
            refresh_token: next,
        })),
        Rotation::FamilyRevoked => {
            metrics::counter!("refresh_token_reuse_total").increment(1);
            tracing::warn!("a used refresh token was presented again: its family is revoked");
            Err(refresh_refused())
        }
        Rotation::Refused => Err(refresh_refused()),
    }
}
