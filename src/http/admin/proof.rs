//! Proof of consent in the admin API: verifying the consent-history hash chains of a
//! publisher (or one customer), listing a customer's receipts and downloading one.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};

use super::{AdminAuth, publisher_in_scope, query_rejected, time};
use crate::domain::CustomerId;
use crate::http::Data;
use crate::http::error::ApiError;
use crate::service::proof as service;
use crate::state::AppState;
use crate::store::{BrokenLink, ChainReport, Receipt};

/// `?customerId=` of the verification.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct VerifyQuery {
    /// Only this customer's chain (default: every customer of the publisher).
    pub customer_id: Option<String>,
}

/// The first link that does not hold.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BrokenView {
    /// The customer whose chain breaks (null when a consent version's text was edited).
    pub customer_id: Option<String>,
    /// The history entry that breaks it.
    pub entry_id: Option<i64>,
    /// The consent version whose stored text no longer gives its hash (`owner/name/version`).
    pub consent: Option<String>,
    /// `prev_hash`, `entry_hash`, `text_hash` or `receipt` (a receipt states answers the
    /// history no longer holds).
    pub field: String,
    /// What it should be.
    pub expected: String,
    /// What is stored.
    pub found: String,
}

impl From<BrokenLink> for BrokenView {
    fn from(b: BrokenLink) -> Self {
        BrokenView {
            customer_id: b.customer.map(|c| c.to_string()),
            entry_id: b.entry,
            consent: b.consent,
            field: b.field.to_owned(),
            expected: b.expected,
            found: b.found,
        }
    }
}

/// What verification found.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifyView {
    /// Every chain read holds.
    pub ok: bool,
    /// Customers whose history was read.
    pub customers: u64,
    /// History entries checked.
    pub entries: u64,
    /// The first broken link, or null.
    pub broken: Option<BrokenView>,
}

impl From<ChainReport> for VerifyView {
    fn from(r: ChainReport) -> Self {
        VerifyView {
            ok: r.broken.is_none(),
            customers: r.customers,
            entries: r.entries,
            broken: r.broken.map(BrokenView::from),
        }
    }
}

/// Verifies the consent history hash chains of the publisher's customers (erased ones
/// included), or of one, and reports the first broken link.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/consents/verify", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), VerifyQuery),
    responses((status = 200, body = VerifyView), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn verify(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<VerifyQuery>, QueryRejection>,
) -> Result<Data<VerifyView>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let Query(query) = query.map_err(query_rejected)?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let customer = match query.customer_id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(id) => Some(CustomerId::parse(id).map_err(|_| ApiError::invalid_query("customerId"))?),
    };
    let report = service::verify(&state, publisher.id, customer).await?;
    Ok(Data(VerifyView::from(report)))
}

/// One receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminReceipt {
    /// `consentReceiptID`.
    pub receipt_id: String,
    /// The customer.
    pub customer_id: String,
    /// `registration`, `consents_update`, `import`, …
    pub collection_point: String,
    /// RFC 3339.
    pub created_at: String,
    /// The compact JWS.
    pub jws: String,
}

impl From<Receipt> for AdminReceipt {
    fn from(r: Receipt) -> Self {
        AdminReceipt {
            receipt_id: r.id,
            customer_id: r.customer.to_string(),
            collection_point: r.collection_point,
            created_at: time(r.created_at),
            jws: r.jws,
        }
    }
}

/// A customer's receipts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AdminReceipts {
    /// Newest first.
    pub receipts: Vec<AdminReceipt>,
}

/// A customer's consent receipts, newest first (erased customers' too).
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/customers/{customerId}/receipts", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("customerId" = String, Path)),
    responses((status = 200, body = AdminReceipts), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn receipts(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<AdminReceipts>, ApiError> {
    let Path((publisher, customer)) = path.map_err(|_| ApiError::invalid_path("customerId"))?;
    let publisher = publisher_in_scope(&state, &auth, &publisher).await?;
    let customer =
        CustomerId::parse(&customer).map_err(|_| ApiError::invalid_path("customerId"))?;
    let list = service::receipts(&state, publisher.id, customer).await?;
    Ok(Data(AdminReceipts {
        receipts: list.into_iter().map(AdminReceipt::from).collect(),
    }))
}

/// The receipt as a file: the compact JWS (`application/jose`).
pub fn download(receipt: &Receipt) -> Response {
    let name = format!("attachment; filename=\"receipt-{}.jws\"", receipt.id);
    let mut response = receipt.jws.clone().into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/jose"),
    );
    if let Ok(v) = HeaderValue::from_str(&name) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

/// One receipt, downloaded as its compact JWS.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/receipts/{receiptId}", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("receiptId" = String, Path)),
    responses((status = 200, content_type = "application/jose", body = String), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn receipt(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, ApiError> {
    let Path((publisher, id)) = path.map_err(|_| ApiError::invalid_path("receiptId"))?;
    let publisher = publisher_in_scope(&state, &auth, &publisher).await?;
    let receipt = service::receipt(&state, publisher.id, &id).await?;
    Ok(download(&receipt))
}
