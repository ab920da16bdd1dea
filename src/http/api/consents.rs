//! `GET /publishers/{publisherId}/consents`: what a publisher's customers are asked to accept.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use serde::Serialize;

use crate::catalog::PublisherView;
use crate::domain::{PublisherId, TenantRef};
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::{Data, json_response};
use crate::state::AppState;
use crate::store::ConsentVersion;

/// One consent at its newest version.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Consent {
    /// 0 for the platform's consents, else the publisher id.
    #[schema(example = 123456789)]
    pub broadcaster_id: i64,
    /// Unique across the platform's and the publisher's consents.
    #[schema(example = "broadcaster_terms")]
    pub name: String,
    /// The newest version, an integer as a string.
    #[schema(example = "2")]
    pub version: String,
    /// Usually the document's URL.
    pub value: String,
    /// The text shown.
    pub label: String,
    /// Must be accepted to register.
    pub required: bool,
    /// The checkbox starts ticked.
    pub enabled_by_default: bool,
    /// Placeholder text.
    pub placeholder: String,
    /// Enroll's extension: the SHA-256 (hex) of this version's canonical text (owner, name,
    /// version, label, value, required, the document's SHA-256 when known); each answer in a
    /// customer's consent history and receipts carries it.
    pub text_hash: String,
}

impl From<&ConsentVersion> for Consent {
    fn from(c: &ConsentVersion) -> Self {
        Consent {
            broadcaster_id: c.owner.get(),
            name: c.name.to_string(),
            version: c.version.to_string(),
            value: c.value.clone(),
            label: c.label.clone(),
            required: c.required,
            enabled_by_default: c.enabled_by_default,
            placeholder: c.placeholder.clone(),
            text_hash: c.text_hash.clone(),
        }
    }
}

/// The consents list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Consents {
    /// Platform first, then the publisher's.
    pub consents: Vec<Consent>,
}

/// Parses the `{publisherId}` path segment: 400 when malformed.
pub fn publisher_path(path: Result<Path<String>, PathRejection>) -> Result<PublisherId, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    PublisherId::parse(&text).map_err(|_| ApiError::invalid_path("publisherId"))
}

fn render(view: &PublisherView) -> Bytes {
    let consents = Consents {
        consents: view.consents.iter().map(Consent::from).collect(),
    };
    Data(consents).to_bytes().unwrap_or_default()
}

/// The platform's and the publisher's consents, each at its newest version.
#[utoipa::path(
    get,
    path = "/publishers/{publisherId}/consents",
    tag = "publishers",
    params(("publisherId" = String, Path, description = "Nine digits")),
    responses(
        (status = 200, description = "The consents", body = Consents),
        (status = 400, description = "REQ0003 malformed publisherId", body = crate::http::error::ErrorBody),
        (status = 404, description = "REQ0003 unknown publisher", body = crate::http::error::ErrorBody),
    )
)]
pub async fn publisher_consents(
    State(state): State<AppState>,
    found: RequestTenant,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = publisher_path(path)?;
    let view = found.resolve(&state, &TenantRef::Publisher(id)).await?;
    let body = view.rendered.get_or_init(|| render(&view)).clone();
    Ok(json_response(body))
}
