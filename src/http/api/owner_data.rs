//! The customer's own data: `GET /customers/{customerId}/export` (everything Enroll keeps
//! about them, GDPR Art. 15 and 20) and `DELETE /customers/{customerId}` (self-service
//! erasure with `confirmationPassword`, Art. 17).

use axum::extract::{Path, State};
use axum::http::{HeaderName, HeaderValue};
use serde_json::Value;

use crate::http::admin::customers::Erased;
use crate::http::api::auth::CustomerAuth;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::http::{Data, NO_STORE};
use crate::service::owner_data::{self, Export};
use crate::state::AppState;

/// Everything Enroll keeps about the customer, in one JSON document (the envelope's
/// `responseData`): publisher, profile, capture answers, current consents, the whole consent
/// history with every stored column, live sessions.
#[utoipa::path(get, path = "/customers/{customerId}/export", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, description = "The export document (see docs/api.md)"),
        (status = 403, description = "AUTH0004: another customer's id, or an erased customer", body = crate::http::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<([(HeaderName, HeaderValue); 1], Data<Export>), ApiError> {
    auth.check_path(&path)?;
    let export = owner_data::export_own(&state, &auth).await?;
    Ok((NO_STORE, Data(export)))
}

/// Self-service erasure: body `{"confirmationPassword": "..."}`; the same effect as the admin
/// erasure. The password check counts toward the login's failure budget.
#[utoipa::path(delete, path = "/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = Erased),
        (status = 400, description = "REQ0001 `Invalid confirmationPassword`", body = crate::http::error::ErrorBody),
        (status = 403, description = "AUTH0004: another customer's id; USER0005: the publisher turned self-service erasure off", body = crate::http::error::ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Erased>, ApiError> {
    let id = auth.check_path(&path)?;
    let password = body
        .get("confirmationPassword")
        .and_then(Value::as_str)
        .filter(|p| !p.is_empty())
        .ok_or_else(ApiError::confirmation_password_invalid)?;
    owner_data::erase_own(&state, &auth, password).await?;
    Ok(Data(Erased {
        id: id.to_string(),
        erased: true,
    }))
}
