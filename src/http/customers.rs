//! `GET` and `PATCH /customers/{customerId}`.

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use super::Data;
use super::auth::{CustomerAuth, access_denied};
use super::error::ApiError;
use super::json::AppJson;
use super::registration::already_exists;
use crate::domain::CustomerPatch;
use crate::domain::fields::Given;
use crate::state::AppState;
use crate::store::{Customer, CustomerChanges, StoreError};

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
            country: c.country,
            locale: c.locale,
            currency: c.currency,
            reg_date: c.created_at.format(DATE).to_string(),
            last_login_date: c.last_login_at.map(|d| d.format(DATE).to_string()),
            last_user_ip: c.last_ip.unwrap_or_default(),
            external_id: c.external_id.unwrap_or_default(),
            external_data: c
                .external_data
                .unwrap_or_else(|| Value::Object(Default::default())),
            email_verified: c.email_verified,
        }
    }
}

/// The token's own customer named by `{customerId}` (403 AUTH0004 for another or an erased one;
/// 401 AUTH0002 for a token of an ended session: issued before a password reset, an email
/// change or "sign out everywhere").
pub async fn load(state: &AppState, auth: &CustomerAuth, path: &str) -> Result<Customer, ApiError> {
    let id = auth.check_path(path)?;
    let customer = state
        .store
        .customer(auth.publisher, id)
        .await?
        .ok_or_else(access_denied)?;
    if customer.session_epoch != auth.epoch {
        return Err(ApiError::jwt_invalid());
    }
    Ok(customer)
}

/// The customer's profile.
#[utoipa::path(get, path = "/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerView), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn get_customer(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<CustomerView>, ApiError> {
    Ok(Data(load(&state, &auth, &path).await?.into()))
}

fn given<T>(g: Given<T>) -> Option<Option<T>> {
    match g {
        Given::Absent => None,
        Given::Empty => Some(None),
        Given::Value(v) => Some(Some(v)),
    }
}

/// A taken email on this route reads `Customer email already exists` (422 USER0002): the OTT web
/// app's account page compares that text exactly (registration keeps `Customer already exists.`).
fn email_taken(e: ApiError) -> ApiError {
    if e.code() == "USER0002" {
        ApiError::customer_email_exists()
    } else {
        e
    }
}

/// Changes names, country, locale, external data, and the email (with `confirmationPassword`).
#[utoipa::path(patch, path = "/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerView), (status = 400, body = super::error::ErrorBody), (status = 422, body = super::error::ErrorBody)))]
pub async fn patch_customer(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CustomerView>, ApiError> {
    let customer = load(&state, &auth, &path).await?;
    let patch = CustomerPatch::parse(&body).map_err(ApiError::invalid_body)?;
    let mut changes = CustomerChanges {
        email: None,
        first_name: given(patch.first_name),
        last_name: given(patch.last_name),
        country: patch.country.map(|c| c.to_string()),
        locale: patch.locale.map(|l| l.to_string()),
        external_data: given(patch.external_data),
        capture: None,
    };
    if let Some(email) = patch.email {
        let password = patch.confirmation_password.unwrap_or_default();
        // The same hourly failure budget as login (a stolen JWT is no password oracle).
        let ok = super::password_check::check(
            &state,
            auth.publisher,
            &customer.email_key,
            &password,
            Some(&customer.password_hash),
        )
        .await?;
        if !ok {
            return Err(ApiError::confirmation_password_invalid());
        }
        changes.email = Some((email.as_str().to_owned(), email.key().to_owned()));
    }
    let updated = state
        .store
        .update_customer(auth.publisher, customer.id, &changes)
        .await
        .map_err(|e| match e {
            // Erased between the read and the write.
            StoreError::NotFound(_) => access_denied(),
            e => email_taken(already_exists(e)),
        })?;
    Ok(Data(updated.into()))
}
