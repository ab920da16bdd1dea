//! Proof of consent: how each writer of consent history says where its answers came from
//! (and signs their receipts with the customer-token keys), verifying hash chains, reading
//! receipts, and hashing a consent's document fetched through the outbound policy.

use super::Services;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::proof::{CollectionPoint, document_sha256};
use crate::domain::{CustomerId, PublisherId};
use crate::error::ApiError;
use crate::outbound::Redirects;
use crate::store::{ChainReport, Collection, Receipt};

/// The largest consent document Enroll fetches to hash (bytes).
pub const DOCUMENT_LIMIT: usize = 10 * 1024 * 1024;

/// The request id of the request being served, if there is one.
pub fn request_id() -> Option<String> {
    Some(crate::telemetry::note::request_id()).filter(|id| !id.is_empty())
}

/// How answers collected at `point` through `route` are recorded (the request id is the
/// caller's, see [`request_id`]); receipts are signed with the customer-token keys.
pub fn collection<'a>(
    sv: &'a Services,
    point: CollectionPoint,
    route: &'a str,
    request_id: Option<&'a str>,
) -> Collection<'a> {
    Collection {
        point,
        route,
        request_id,
        signer: &*sv.keys,
    }
}

/// Verifies the consent history of one customer of the publisher, or of all of them.
pub async fn verify(
    sv: &Services,
    publisher: PublisherId,
    customer: Option<CustomerId>,
) -> Result<ChainReport, ApiError> {
    Ok(sv.store.verify_consents(publisher, customer).await?)
}

/// The customer's consent receipts, newest first (also for the customer's data export).
pub async fn receipts(
    sv: &Services,
    publisher: PublisherId,
    customer: CustomerId,
) -> Result<Vec<Receipt>, ApiError> {
    Ok(sv.store.consent_receipts(publisher, customer).await?)
}

/// One receipt of one of the publisher's customers; 404 `Invalid param receiptId` otherwise.
pub async fn receipt(sv: &Services, publisher: PublisherId, id: &str) -> Result<Receipt, ApiError> {
    sv.store
        .consent_receipt(publisher, id)
        .await?
        .ok_or_else(|| ApiError::unknown("receiptId"))
}

fn document_error(message: String) -> ApiError {
    ApiError::invalid_body(vec![FieldError::with_message(
        "value",
        Reason::InvalidValue,
        format!("Invalid param value: {message}"),
    )])
}

/// The SHA-256 of the document at `url`, fetched now through the outbound policy (up to 3
/// redirects, each checked; at most [`DOCUMENT_LIMIT`] bytes; a 2xx answer). 400 on `value`
/// when it cannot be fetched.
pub async fn fetch_document_sha256(sv: &Services, url: &str) -> Result<String, ApiError> {
    let client = sv
        .outbound
        .client(Redirects::Follow(3))
        .map_err(ApiError::internal)?;
    let request = client
        .get(url)
        .map_err(|refused| document_error(format!("the document was not fetched: {refused}")))?;
    let response = request
        .timeout(std::time::Duration::from_secs(10))
        .send()
        .await
        .map_err(|e| document_error(format!("the document could not be fetched ({e})")))?;
    if !response.status().is_success() {
        return Err(document_error(format!(
            "fetching the document answered HTTP {}",
            response.status().as_u16()
        )));
    }
    let mut response = response;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| document_error(format!("reading the document failed ({e})")))?
    {
        if body.len() + chunk.len() > DOCUMENT_LIMIT {
            return Err(document_error(format!(
                "the document is larger than {DOCUMENT_LIMIT} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(document_sha256(&body))
}
