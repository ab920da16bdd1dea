//! `GET` and `PATCH /customers/{customerId}`.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use crate::domain::CustomerPatch;
use crate::http::Data;
use crate::http::api::auth::CustomerAuth;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::profile;
use crate::state::AppState;
use crate::store::Customer;

/// A customer as Cleeng clients read it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerView {
    /// The id, as a string.
    pub id: String,
    /// As registered.
    pub email: String,
    /// `""` when not given.
    pub first_name: String,
    /// `""` when not given.
    pub last_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// `ll_CC`.
    pub locale: String,
    /// ISO 4217.
    pub currency: String,
    /// UTC `YYYY-MM-DD HH:MM:SS`.
    pub reg_date: String,
    /// UTC `YYYY-MM-DD HH:MM:SS`, null until the first login.
    pub last_login_date: Option<String>,
    /// Address of the last registration or login.
    pub last_user_ip: String,
    /// `""` when not given.
    pub external_id: String,
    /// A JSON object (`{}` when not given).
    #[schema(value_type = Object)]
    pub external_data: Value,
    /// The address was proven (a verification code, or a confirmation link).
    pub email_verified: bool,
}

const DATE: &str = "%Y-%m-%d %H:%M:%S";

impl From<Customer> for CustomerView {
    fn from(c: Customer) -> Self {
        CustomerView {
            id: c.id.to_string(),
            email: c.email,
            first_name: c.first_name.unwrap_or_default(),
            last_name: c.last_name.unwrap_or_default(),
            country: c.country.to_string(),
            locale: c.locale.to_string(),
            currency: c.currency.to_string(),
            reg_date: c.created_at.format(DATE).to_string(),
            last_login_date: c.last_login_at.map(|d| d.format(DATE).to_string()),
            last_user_ip: c.last_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            external_id: c.external_id.unwrap_or_default(),
            external_data: c
                .external_data
                .unwrap_or_else(|| Value::Object(Default::default())),
            email_verified: c.email_verified,
        }
    }
}

/// The customer's profile.
#[utoipa::path(get, path = "/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = crate::http::error::ErrorBody), (status = 403, body = crate::http::error::ErrorBody)))]
pub async fn get_customer(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<CustomerView>, ApiError> {
    Ok(Data(auth.load(&state, &path).await?.into()))
}

/// Changes names, country, locale, external data, and the email (with `confirmationPassword`).
#[utoipa::path(patch, path = "/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerView), (status = 400, body = crate::http::error::ErrorBody), (status = 422, body = crate::http::error::ErrorBody)))]
pub async fn patch_customer(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CustomerView>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let patch = CustomerPatch::parse(&body).map_err(ApiError::invalid_body)?;
    Ok(Data(profile::patch(&state, &customer, patch).await?.into()))
}
