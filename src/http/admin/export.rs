//! `GET /admin/api/publishers/{publisherId}/customers.csv`: the whole filtered list as CSV
//! (RFC 4180), streamed in keyset batches so a million rows take no more memory than one
//! batch. Cells that a spreadsheet would run as a formula are neutralized.

use std::borrow::Cow;

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;

use futures_util::{Stream, StreamExt, TryStreamExt};

use super::customers::CustomerQuery;
use super::views::AdminCustomer;
use super::{AdminAuth, publisher_in_scope, query_rejected};
use crate::domain::PublisherId;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::{Customer, StoreError};

/// The header row.
pub const COLUMNS: [&str; 23] = [
    "id",
    "email",
    "firstName",
    "lastName",
    "country",
    "locale",
    "currency",
    "externalId",
    "registeredAt",
    "lastLoginAt",
    "registrationIp",
    "lastIp",
    "emailVerified",
    "birthDate",
    "companyName",
    "phoneNumber",
    "address",
    "address2",
    "city",
    "state",
    "postCode",
    "addressCountry",
    "customAnswers",
];

/// A cell a spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, carriage return
/// first) gets a leading `'`, so opening the export runs nothing (CSV injection).
pub fn neutralize(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

fn record(c: &Customer) -> [String; 23] {
    let v = AdminCustomer::from(c);
    let a = c.capture.clone().unwrap_or_default();
    let addr = a.address.clone().unwrap_or_default();
    let custom = if a.custom.is_empty() {
        String::new()
    } else {
        serde_json::to_string(&a.custom).unwrap_or_default()
    };
    [
        v.id,
        v.email,
        v.first_name,
        v.last_name,
        v.country,
        v.locale,
        v.currency,
        v.external_id,
        v.registered_at,
        v.last_login_at.unwrap_or_default(),
        v.registration_ip,
        v.last_ip,
        v.email_verified.to_string(),
        a.birth_date.unwrap_or_default(),
        a.company_name.unwrap_or_default(),
        a.phone_number.unwrap_or_default(),
        addr.address,
        addr.address2,
        addr.city,
        addr.state,
        addr.post_code,
        addr.country,
        custom,
    ]
}

/// Writes rows (and the header first, when asked) as CSV with CRLF line ends.
pub fn csv_chunk(header: bool, rows: &[Customer]) -> Result<Vec<u8>, std::io::Error> {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::with_capacity(rows.len() * 160 + 160));
    if header {
        w.write_record(COLUMNS)?;
    }
    for c in rows {
        w.write_record(record(c).iter().map(|cell| neutralize(cell).into_owned()))?;
    }
    w.into_inner()
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// The filtered list as a CSV download, streamed; recorded in the audit trail.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/customers.csv", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), CustomerQuery),
    responses((status = 200, description = "text/csv, RFC 4180, a header row first", content_type = "text/csv"),
        (status = 400, body = crate::http::error::ErrorBody), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn export(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<CustomerQuery>, QueryRejection>,
) -> Result<Response, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let Query(query) = query.map_err(query_rejected)?;
    let filter = query.filter()?;
    let batches =
        crate::service::customers::export(&state, &auth, publisher.id, filter, query.describe())
            .await?;
    Ok(csv_download(publisher.id, batches))
}

/// Batches of customers as a streamed CSV download, a header row first (the admin API and the
/// dashboard serve the same file).
pub fn csv_download(
    publisher: PublisherId,
    batches: impl Stream<Item = Result<Vec<Customer>, StoreError>> + Send + 'static,
) -> Response {
    let mut first = true;
    let stream = batches
        .map(move |batch| {
            let rows = batch.map_err(|e| {
                tracing::error!(error = %e, publisher_id = %publisher, "customer export failed mid-stream");
                std::io::Error::other(e)
            })?;
            let chunk = csv_chunk(std::mem::take(&mut first), &rows)?;
            Ok::<_, std::io::Error>(Bytes::from(chunk))
        })
        .try_filter(|chunk| std::future::ready(!chunk.is_empty()));
    let disposition = format!("attachment; filename=\"customers-{publisher}.csv\"");
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/csv; charset=utf-8"),
            ),
            (
                header::CONTENT_DISPOSITION,
                HeaderValue::from_str(&disposition)
                    .unwrap_or(HeaderValue::from_static("attachment")),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}
