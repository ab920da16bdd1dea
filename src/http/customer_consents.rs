//! `GET` and `PUT /customers/{customerId}/consents`, and the consent checks registration shares.

use axum::Extension;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use serde::Serialize;
use serde_json::Value;

use super::Data;
use super::auth::{CustomerAuth, access_denied};
use super::client_ip::ClientIp;
use super::error::ApiError;
use super::json::AppJson;
use crate::catalog::PublisherView;
use crate::domain::customer::consent_answers;
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{ConsentAnswer, ConsentState, CustomerId, PublisherId};
use crate::state::AppState;
use crate::store::{ConsentVersion, NewConsentRecord};

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

/// An answer matched to the consent it answers, with its version checked.
#[derive(Debug, Clone)]
pub struct CheckedAnswer {
    /// The consent at its newest version.
    pub consent: ConsentVersion,
    /// The version answered (1 ..= newest).
    pub version: i32,
    /// The answer.
    pub state: ConsentState,
}

/// Checks answers against the publisher's current consents: unknown names are 404 CON0001,
/// versions that do not exist 400 CON0002. Any existing version is accepted.
pub async fn check_answers(
    state: &AppState,
    view: &PublisherView,
    answers: &[ConsentAnswer],
) -> Result<Vec<CheckedAnswer>, ApiError> {
    let mut fresh: Option<Vec<ConsentVersion>> = None;
    let mut checked = Vec::with_capacity(answers.len());
    for answer in answers {
        let version = answer
            .version
            .trim()
            .parse::<i32>()
            .ok()
            .filter(|v| *v >= 1);
        let cached = view
            .consents
            .iter()
            .find(|c| c.name.as_str() == answer.name);
        let mut current = cached.cloned();
        // A consent or version newer than this replica's cache may have been published a
        // moment ago: ask the database before refusing, and drop the stale cache entry.
        if current
            .as_ref()
            .is_none_or(|c| version.is_some_and(|v| v > c.version))
        {
            if fresh.is_none() {
                fresh = Some(state.store.current_consents(view.publisher.id).await?);
                state.catalog.invalidate(view.publisher.id);
            }
            current = fresh
                .iter()
                .flatten()
                .find(|c| c.name.as_str() == answer.name)
                .cloned();
        }
        let Some(current) = current else {
            return Err(ApiError::unknown_consent(&answer.name, "consents"));
        };
        let Some(version) = version.filter(|v| *v <= current.version) else {
            return Err(ApiError::unknown_consent_version(
                &answer.version,
                &answer.name,
            ));
        };
        checked.push(CheckedAnswer {
            consent: current,
            version,
            state: answer.state,
        });
    }
    Ok(checked)
}

/// The history records of checked answers.
pub fn records(checked: &[CheckedAnswer], ip: &str, headers: &HeaderMap) -> Vec<NewConsentRecord> {
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|s| s.chars().take(500).collect::<String>());
    checked
        .iter()
        .map(|a| NewConsentRecord {
            owner: a.consent.owner,
            name: a.consent.name.clone(),
            version: a.version,
            state: a.state,
            ip: Some(ip.to_owned()),
            user_agent: user_agent.clone(),
        })
        .collect()
}

/// The publisher's view, which must exist for a valid token.
pub async fn publisher_view(
    state: &AppState,
    publisher: PublisherId,
) -> Result<std::sync::Arc<PublisherView>, ApiError> {
    state
        .catalog
        .publisher(publisher)
        .await?
        .ok_or_else(access_denied)
}

async fn current(
    state: &AppState,
    auth: CustomerAuth,
    id: CustomerId,
) -> Result<CustomerConsents, ApiError> {
    let view = publisher_view(state, auth.publisher).await?;
    let answers = state.store.consent_answers(auth.publisher, id).await?;
    let consents = view
        .consents
        .iter()
        .map(|c| {
            let answer = answers
                .iter()
                .find(|a| a.owner == c.owner && a.name == c.name);
            CustomerConsent {
                customer_id: id.to_string(),
                name: c.name.to_string(),
                required: c.required,
                state: answer.map_or("declined", |a| a.state.as_str()).to_owned(),
                version: answer.map(|a| a.version.to_string()).unwrap_or_default(),
                newest_version: c.version.to_string(),
                needs_update: answer.is_none_or(|a| a.version < c.version),
                label: c.label.clone(),
                value: c.value.clone(),
                date: answer.map(|a| a.at.timestamp()),
            }
        })
        .collect();
    Ok(CustomerConsents { consents })
}

pub async fn existing(
    state: &AppState,
    auth: &CustomerAuth,
    path: &str,
) -> Result<CustomerId, ApiError> {
    Ok(super::customers::load(state, auth, path).await?.id)
}

/// Every current consent with the customer's answer.
#[utoipa::path(get, path = "/customers/{customerId}/consents", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerConsents), (status = 401, body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn get_consents(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<CustomerConsents>, ApiError> {
    let id = existing(&state, &auth, &path).await?;
    Ok(Data(current(&state, auth, id).await?))
}

/// Records answers (appended to the history with time, IP and user agent).
#[utoipa::path(put, path = "/customers/{customerId}/consents", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CustomerConsents), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn put_consents(
    State(state): State<AppState>,
    Extension(ClientIp(ip)): Extension<ClientIp>,
    headers: HeaderMap,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CustomerConsents>, ApiError> {
    let id = existing(&state, &auth, &path).await?;
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
    let view = publisher_view(&state, auth.publisher).await?;
    let checked = check_answers(&state, &view, &answers).await?;
    let records = records(&checked, &ip.to_string(), &headers);
    state
        .store
        .append_consents(auth.publisher, id, &records)
        .await?;
    Ok(Data(current(&state, auth, id).await?))
}
