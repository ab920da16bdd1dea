//! `POST /customers`: registration, with consents stored atomically and `Idempotency-Key`.

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::captcha::CaptchaRoute;
use crate::domain::Registration;
use crate::domain::problem::{FieldError, Reason};
use crate::http::api::auth::Session;
use crate::http::edge::client_ip::ClientIp;
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::http::{Data, UserAgent};
use crate::service::registration::{self as service, Registered, SignUp};
use crate::state::AppState;

/// Register a customer.
#[utoipa::path(post, path = "/customers", tag = "customers",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 255 characters")),
    responses(
        (status = 200, body = Session),
        (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, description = "Unknown publisherId or offerId", body = crate::http::error::ErrorBody),
        (status = 409, description = "IDEM0001", body = crate::http::error::ErrorBody),
        (status = 422, description = "USER0002, USER0004, IDEM0002", body = crate::http::error::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    UserAgent(user_agent): UserAgent,
    found: RequestTenant,
    headers: HeaderMap,
    AppJson(body): AppJson<Value>,
) -> Result<Response, ApiError> {
    let reg = Registration::parse(&body).map_err(ApiError::invalid_body)?;
    let view = found.resolve(&state, &reg.tenant).await?;
    let ip = reg.customer_ip.unwrap_or(client);
    crate::http::api::guard::captcha(
        &state,
        &view,
        CaptchaRoute::Registration,
        &body,
        &headers,
        ip,
    )
    .await?;
    service::check_password_policy(&view, &reg)?;
    let capture = service::capture_answers(&view, &reg, &body)?;
    let idempotency =
        idempotency_key(&headers)?.map(|key| (key, service::fingerprint(&state, &body)));
    let sign_up = SignUp {
        registration: reg,
        capture,
        client,
        user_agent,
        idempotency,
    };
    Ok(match service::register(&state, &view, sign_up).await? {
        Registered::Session(tokens) => Data(Session::from(tokens)).into_response(),
        Registered::Replay { status, body } => ApiError::replay(status, body),
    })
}

/// The `Idempotency-Key` header: ≤ 255 characters, trimmed; blank is none.
fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= 255 => Ok(Some(k.trim().to_owned())),
        Ok(k) if k.trim().is_empty() => Ok(None),
        _ => Err(ApiError::invalid_body(vec![FieldError::invalid(
            "Idempotency-Key",
            Reason::InvalidValue,
        )])),
    }
}
