//! `GET /customers/{customerId}/consents/receipts`: the customer's signed consent receipts.

use axum::extract::{Path, State};
use serde::Serialize;

use crate::http::Data;
use crate::http::api::auth::CustomerAuth;
use crate::http::error::ApiError;
use crate::service::proof as service;
use crate::state::AppState;
use crate::store::Receipt;

/// One consent receipt.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// The receipt's id (`consentReceiptID`).
    pub receipt_id: String,
    /// Where the answers were given: `registration`, `consents_update`, `import`, …
    pub collection_point: String,
    /// RFC 3339.
    pub created_at: String,
    /// The receipt: a compact JWS (EdDSA, `kid`), verifiable with `/.well-known/jwks.json`.
    pub jws: String,
}

impl From<Receipt> for ReceiptView {
    fn from(r: Receipt) -> Self {
        ReceiptView {
            receipt_id: r.id,
            collection_point: r.collection_point,
            created_at: r
                .created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            jws: r.jws,
        }
    }
}

/// The customer's receipts.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ReceiptList {
    /// Newest first.
    pub receipts: Vec<ReceiptView>,
}

/// The customer's consent receipts, newest first.
#[utoipa::path(get, path = "/customers/{customerId}/consents/receipts", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = ReceiptList), (status = 401, body = crate::http::error::ErrorBody),
        (status = 403, description = "AUTH0004 another customer's id", body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<ReceiptList>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let receipts = service::receipts(&state, customer.publisher, customer.id).await?;
    Ok(Data(ReceiptList {
        receipts: receipts.into_iter().map(ReceiptView::from).collect(),
    }))
}
