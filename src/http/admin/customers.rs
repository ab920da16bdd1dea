//! `/admin/api/publishers/{publisherId}/customers`: the keyset-paged list with search and
//! filters, one customer with the full consent history, their own-data export, and erasure.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::views::{AdminCustomer, HistoryView};
use super::{AdminAuth, page_limit, publisher_in_scope, query_rejected, time};
use crate::domain::{ConsentName, ConsentState, Country, CustomerId};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::service::customers as service;
use crate::state::AppState;
use crate::store::{CustomerCursor, CustomerFilter, CustomerSearch, Publisher};

/// The list's page size when `limit` is not given, and its largest.
pub const DEFAULT_LIMIT: u32 = 50;
/// See [`DEFAULT_LIMIT`].
pub const MAX_LIMIT: u32 = 500;

/// Which customers (the export takes the same, without `limit` and `cursor`).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct CustomerQuery {
    /// Page size, 1–500 (default 50).
    pub limit: Option<String>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
    /// Email prefix, first- or last-name prefix (case-insensitive), or the exact external id.
    pub q: Option<String>,
    /// ISO 3166-1 alpha-2 country.
    pub country: Option<String>,
    /// Registered at or after: RFC 3339, or a date (its start, UTC).
    pub registered_from: Option<String>,
    /// Registered before: RFC 3339, or a date (then the whole day is included).
    pub registered_to: Option<String>,
    /// A consent name; needs `consentState`.
    pub consent: Option<String>,
    /// `accepted` or `declined` (never answered counts as declined).
    pub consent_state: Option<String>,
    /// `true`: some current consent's newest version is unanswered; `false`: none is.
    pub needs_update: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// A time bound: RFC 3339, or a date meaning its start (or, for an end, the next day's start).
fn time_bound(name: &str, text: &str, end: bool) -> Result<DateTime<Utc>, ApiError> {
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    let date =
        NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| ApiError::invalid_query(name))?;
    let date = if end { date.succ_opt() } else { Some(date) };
    date.and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or_else(|| ApiError::invalid_query(name))
}

impl CustomerQuery {
    /// The filter the parameters describe; 400 REQ0002 names the first bad parameter.
    pub fn filter(&self) -> Result<CustomerFilter, ApiError> {
        let mut filter = CustomerFilter::default();
        if let Some(q) = given(&self.q) {
            if q.contains('\0') || q.chars().count() > 254 {
                return Err(ApiError::invalid_query("q"));
            }
            filter.search = CustomerSearch::new(q);
        }
        if let Some(c) = given(&self.country) {
            filter.country =
                Some(Country::parse(c).map_err(|_| ApiError::invalid_query("country"))?);
        }
        if let Some(t) = given(&self.registered_from) {
            filter.registered_from = Some(time_bound("registeredFrom", t, false)?);
        }
        if let Some(t) = given(&self.registered_to) {
            filter.registered_before = Some(time_bound("registeredTo", t, true)?);
        }
        match (given(&self.consent), given(&self.consent_state)) {
            (None, None) => {}
            (Some(name), Some(state)) => {
                let name =
                    ConsentName::parse(name).map_err(|_| ApiError::invalid_query("consent"))?;
                let state = ConsentState::parse(state)
                    .map_err(|_| ApiError::invalid_query("consentState"))?;
                filter.consent = Some((name, state));
            }
            (Some(_), None) => return Err(ApiError::invalid_query("consentState")),
            (None, Some(_)) => return Err(ApiError::invalid_query("consent")),
        }
        filter.needs_update = match given(&self.needs_update) {
            None => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => return Err(ApiError::invalid_query("needsUpdate")),
        };
        Ok(filter)
    }

    /// The cursor to continue after, if given.
    pub fn after(&self) -> Result<Option<CustomerCursor>, ApiError> {
        given(&self.cursor)
            .map(|c| CustomerCursor::decode(c).ok_or_else(|| ApiError::invalid_query("cursor")))
            .transpose()
    }

    /// The filter parameters given (not blank) by their query names, as typed.
    pub fn given_filters(&self) -> impl Iterator<Item = (&'static str, &str)> {
        [
            ("q", &self.q),
            ("country", &self.country),
            ("registeredFrom", &self.registered_from),
            ("registeredTo", &self.registered_to),
            ("consent", &self.consent),
            ("consentState", &self.consent_state),
            ("needsUpdate", &self.needs_update),
        ]
        .into_iter()
        .filter_map(|(name, value)| given(value).map(|_| (name, value.as_deref().unwrap_or(""))))
    }

    /// The filter as the audit trail records it (an export's scope). The search text is left
    /// out (it is often an email address, which must not outlive an erasure there).
    pub fn describe(&self) -> Value {
        let mut out = serde_json::Map::new();
        for (name, value) in self.given_filters() {
            if name == "q" {
                out.insert("search".into(), true.into());
            } else {
                out.insert(name.into(), value.trim().into());
            }
        }
        Value::Object(out)
    }
}

/// One page of customers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerPage {
    /// Newest first.
    pub customers: Vec<AdminCustomer>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The publisher's customers, newest first, a page at a time (keyset: every page is as fast
/// as the first). Erased customers never appear.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/customers", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path), CustomerQuery),
    responses((status = 200, body = CustomerPage), (status = 400, description = "REQ0002 a bad parameter", body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<CustomerQuery>, QueryRejection>,
) -> Result<Data<CustomerPage>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let Query(query) = query.map_err(query_rejected)?;
    let filter = query.filter()?;
    let limit = page_limit(query.limit.as_deref(), DEFAULT_LIMIT, MAX_LIMIT)?;
    let after = query.after()?;
    let page = service::page(&state, publisher.id, &filter, after.as_ref(), limit).await?;
    Ok(Data(CustomerPage {
        customers: page.customers.iter().map(AdminCustomer::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}

/// A customer with everything kept about them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CustomerDetail {
    /// The profile.
    pub customer: AdminCustomer,
    /// A JSON object (`{}` when not given).
    #[schema(value_type = Object)]
    pub external_data: Value,
    /// Each current consent with the customer's answer.
    pub consents: Vec<CurrentConsent>,
    /// Every answer ever given, oldest first, with address, user agent and time.
    pub history: Vec<HistoryView>,
}

/// A current consent with the customer's answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CurrentConsent {
    /// 0 for the platform's, else the publisher id.
    pub broadcaster_id: i64,
    /// The consent.
    pub name: String,
    /// Must be accepted.
    pub required: bool,
    /// `accepted` or `declined` (never answered: `declined`).
    pub state: &'static str,
    /// The version answered (`""` when never answered).
    pub version: String,
    /// The newest version.
    pub newest_version: String,
    /// The newest version is unanswered.
    pub needs_update: bool,
    /// RFC 3339, or null when never answered.
    pub answered_at: Option<String>,
}

async fn customer_in(
    state: &AppState,
    auth: &AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<(Publisher, CustomerId), ApiError> {
    let Path((publisher, customer)) = path.map_err(|_| ApiError::invalid_path("customerId"))?;
    let publisher = publisher_in_scope(state, auth, &publisher).await?;
    let customer =
        CustomerId::parse(&customer).map_err(|_| ApiError::invalid_path("customerId"))?;
    Ok((publisher, customer))
}

/// One customer: profile, current consents and the full consent history.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/customers/{customerId}", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("customerId" = String, Path)),
    responses((status = 200, body = CustomerDetail), (status = 404, description = "REQ0003 unknown (or erased) customer", body = crate::http::error::ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<CustomerDetail>, ApiError> {
    let (publisher, id) = customer_in(&state, &auth, path).await?;
    let detail = service::detail(&state, publisher.id, id).await?;
    let consents = detail
        .consents
        .iter()
        .map(|s| CurrentConsent {
            broadcaster_id: s.consent.owner.get(),
            name: s.consent.name.to_string(),
            required: s.consent.required,
            state: s.answer.as_ref().map_or("declined", |a| a.state.as_str()),
            version: s
                .answer
                .as_ref()
                .map(|a| a.version.to_string())
                .unwrap_or_default(),
            newest_version: s.consent.version.to_string(),
            needs_update: s.needs_update(),
            answered_at: s.answer.as_ref().map(|a| time(a.at)),
        })
        .collect();
    let customer = detail.customer;
    Ok(Data(CustomerDetail {
        external_data: customer.external_data.clone().unwrap_or_else(|| json!({})),
        customer: AdminCustomer::from(&customer),
        consents,
        history: detail.history.into_iter().map(HistoryView::from).collect(),
    }))
}

/// Everything Enroll keeps about one customer: the same document the customer receives from
/// `GET /customers/{customerId}/export`. Recorded in the audit trail (`customer.data_export`).
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/customers/{customerId}/export", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("customerId" = String, Path)),
    responses((status = 200, description = "The export document (see docs/api.md)"),
        (status = 404, description = "REQ0003 unknown (or erased) customer, or a publisher the key does not reach", body = crate::http::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<impl axum::response::IntoResponse, ApiError> {
    let (publisher, id) = customer_in(&state, &auth, path).await?;
    let export = crate::service::owner_data::export_for_admin(&state, &auth, &publisher, id);
    Ok((crate::http::NO_STORE, Data(export.await?)))
}

/// What erasing did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Erased {
    /// The customer id (kept by the tombstone, never reused).
    pub id: String,
    /// Always true.
    pub erased: bool,
}

/// Erases a customer: the row stays as a tombstone without personal data, the consent history
/// keeps name, version, state and time only, and their tokens, resets, emails and idempotency
/// records go. They can no longer log in; their email can register again.
#[utoipa::path(delete, path = "/admin/api/publishers/{publisherId}/customers/{customerId}", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("customerId" = String, Path)),
    responses((status = 200, body = Erased), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn erase(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<Erased>, ApiError> {
    let (publisher, id) = customer_in(&state, &auth, path).await?;
    Ok(Data(erase_customer(&state, &auth, publisher.id, id).await?))
}

/// Erases one customer of `publisher` for `auth` (the admin API and Cleeng's
/// `DELETE /3.1/customers/{customerId}` alike); 404 REQ0003 when there is no such (unerased)
/// customer.
pub async fn erase_customer(
    state: &AppState,
    auth: &AdminAuth,
    publisher: crate::domain::PublisherId,
    id: CustomerId,
) -> Result<Erased, ApiError> {
    service::erase(state, auth, publisher, id).await?;
    Ok(Erased {
        id: id.to_string(),
        erased: true,
    })
}
