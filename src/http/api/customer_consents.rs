//! `GET` and `PUT /customers/{customerId}/consents`.

use axum::Extension;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use crate::domain::CustomerId;
use crate::domain::customer::consent_answers;
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::http::api::auth::CustomerAuth;
use crate::http::edge::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::http::{Data, UserAgent};
use crate::service::consent_answers::{self as service, Answered};
use crate::state::AppState;

/// A consent with the customer's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerConsent {
    /// The customer (a string).
    pub customer_id: String,
    /// The consent.
    pub name: String,
    /// Must be accepted.
    pub required: bool,
    /// `accepted` or `declined` (never answered: `declined`).
    pub state: String,
    /// The version answered (`""` when never answered).
    pub version: String,
    /// The newest version.
    pub newest_version: String,
    /// The customer has not answered the newest version.
    pub needs_update: bool,
    /// Text shown.
    pub label: String,
    /// Document URL.
    pub value: String,
    /// When answered (Unix seconds), or null.
    pub date: Option<i64>,
}

/// The consents list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CustomerConsents {
    /// One per current consent.
    pub consents: Vec<CustomerConsent>,
}

fn render(id: CustomerId, answered: Vec<Answered>) -> CustomerConsents {
    let consents = answered
        .into_iter()
        .map(
            |Answered {
                 consent: c,
                 answer,
                 needs_update,
             }| CustomerConsent {
                customer_id: id.to_string(),
                name: c.name.to_string(),
                required: c.required,
                state: answer
                    .as_ref()
                    .map_or("declined", |a| a.state.as_str())
                    .to_owned(),
                version: answer
                    .as_ref()
                    .map(|a| a.version.to_string())
                    .unwrap_or_default(),
                newest_version: c.version.to_string(),
                needs_update,
                label: c.label,
                value: c.value,
                date: answer.map(|a| a.at.timestamp()),
            },
        )
        .collect();
    CustomerConsents { consents }
}

/// Every current consent with the customer's answer.
#[utoipa::path(get, path = "/customers/{customerId}/consents", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerConsents), (status = 401, body = crate::http::error::ErrorBody), (status = 403, body = crate::http::error::ErrorBody)))]
pub async fn get_consents(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<CustomerConsents>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let answered = service::read(&state, &customer).await?;
    Ok(Data(render(customer.id, answered)))
}

/// Records answers (appended to the history with time, IP and user agent).
#[utoipa::path(put, path = "/customers/{customerId}/consents", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerConsents), (status = 400, body = crate::http::error::ErrorBody), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn put_consents(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    UserAgent(user_agent): UserAgent,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CustomerConsents>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let mut fields = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let answers = consent_answers(&mut fields, "consents");
    if !fields.errors.is_empty() {
        return Err(ApiError::invalid_body(fields.errors));
    }
    let Some(answers) = answers else {
        return Err(ApiError::invalid_body(vec![FieldError::invalid(
            "consents",
            Reason::Missing,
        )]));
    };
    let answered = service::put(&state, &customer, &answers, ip, user_agent.as_deref()).await?;
    Ok(Data(render(customer.id, answered)))
}
