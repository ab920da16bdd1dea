//! `/admin/api/publishers/{publisherId}/consents`: every version of the publisher's consents,
//! publishing a new version, archiving a consent.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use super::{AdminAuth, publisher_in_scope, time};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{ConsentDraft, ConsentName, ConsentOwner};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::consents as service;
use crate::state::AppState;
use crate::store::{ConsentVersion, Published};

/// One version of a consent.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VersionView {
    /// 1, 2, … as a string.
    pub version: String,
    /// The text shown.
    pub label: String,
    /// Usually the document's URL.
    pub value: String,
    /// Must be accepted to register.
    pub required: bool,
    /// The checkbox starts ticked.
    pub enabled_by_default: bool,
    /// Placeholder text.
    pub placeholder: String,
    /// RFC 3339.
    pub created_at: String,
    /// The SHA-256 of the document's bytes, when given or fetched at publication.
    pub document_sha256: Option<String>,
    /// The SHA-256 of the version's canonical text (see `GET /publishers/{id}/consents`).
    pub text_hash: String,
}

/// A consent with all its versions.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsentView {
    /// The publisher id.
    pub broadcaster_id: i64,
    /// The consent's name.
    pub name: String,
    /// The newest version.
    pub current_version: String,
    /// No longer asked for (until a new version is published).
    pub archived: bool,
    /// Oldest first.
    pub versions: Vec<VersionView>,
}

/// The publisher's consents.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ConsentList {
    /// By name.
    pub consents: Vec<ConsentView>,
}

fn group(versions: Vec<ConsentVersion>) -> Vec<ConsentView> {
    let mut out: Vec<ConsentView> = Vec::new();
    for v in versions {
        let item = VersionView {
            version: v.version.to_string(),
            label: v.label,
            value: v.value,
            required: v.required,
            enabled_by_default: v.enabled_by_default,
            placeholder: v.placeholder,
            created_at: time(v.created_at),
            document_sha256: v.document_sha256,
            text_hash: v.text_hash,
        };
        match out.last_mut() {
            Some(last) if last.name == v.name.as_str() => {
                last.current_version = item.version.clone();
                last.archived = v.archived;
                last.versions.push(item);
            }
            _ => out.push(ConsentView {
                broadcaster_id: v.owner.get(),
                name: v.name.to_string(),
                current_version: item.version.clone(),
                archived: v.archived,
                versions: vec![item],
            }),
        }
    }
    out
}

/// Every version of every consent of the publisher.
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}/consents", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)),
    responses((status = 200, body = ConsentList), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Data<ConsentList>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let versions = service::versions(&state, publisher.id).await?;
    Ok(Data(ConsentList {
        consents: group(versions),
    }))
}

/// What publishing did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedView {
    /// The consent.
    pub name: String,
    /// The version now current.
    pub version: String,
    /// False when the current version already said this (nothing was stored).
    pub published: bool,
}

/// Body of a new version.
#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
pub struct NewVersion {
    /// The consent's name (a new name starts at version 1).
    name: String,
    /// The text shown (may hold a link).
    label: String,
    /// Usually the document's URL.
    value: Option<String>,
    /// Must be accepted to register.
    required: Option<bool>,
    /// The checkbox starts ticked.
    enabled_by_default: Option<bool>,
    /// Placeholder text.
    placeholder: Option<String>,
    /// The document's bytes, base64 (standard alphabet): only their SHA-256 is kept.
    document_base64: Option<String>,
    /// The document's SHA-256 (64 lowercase hex digits), when hashed elsewhere.
    document_sha256: Option<String>,
    /// `true`: fetch `value` now through the outbound policy and keep its SHA-256.
    fetch_document: Option<bool>,
}

fn flag(f: &mut Fields<'_>, name: &str) -> bool {
    match f.raw(name) {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => {
            f.problem(FieldError::invalid(name, Reason::InvalidValue));
            false
        }
    }
}

/// The document's SHA-256 from `documentBase64` (its bytes) or `documentSha256`.
fn document_of(f: &mut Fields<'_>) -> Option<String> {
    use base64::Engine;
    if let Some(text) = f.text("documentBase64").value() {
        match base64::engine::general_purpose::STANDARD.decode(text.trim()) {
            Ok(bytes) => return Some(crate::domain::proof::document_sha256(&bytes)),
            Err(_) => f.problem(FieldError::with_message(
                "documentBase64",
                Reason::InvalidValue,
                "Invalid param documentBase64: not base64",
            )),
        }
    }
    let given = f.text("documentSha256").value()?;
    if crate::domain::proof::is_sha256_hex(&given) {
        Some(given)
    } else {
        f.problem(FieldError::with_message(
            "documentSha256",
            Reason::InvalidValue,
            "Invalid param documentSha256: 64 lowercase hex digits",
        ));
        None
    }
}

/// Publishes a new version of a consent (a new name starts at 1); the same text as the
/// current version publishes nothing.
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/consents", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)), request_body = NewVersion,
    responses((status = 200, body = PublishedView), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn publish(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<PublishedView>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let name = f.required("name", None, ConsentName::parse);
    let label = f.required_text("label");
    let value = f.text("value").value().unwrap_or_default();
    let required = flag(&mut f, "required");
    let enabled_by_default = flag(&mut f, "enabledByDefault");
    let placeholder = f.text("placeholder").value().unwrap_or_default();
    let fetch = flag(&mut f, "fetchDocument");
    let mut document = document_of(&mut f);
    let (Some(name), Some(label)) = (name, label) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    if fetch && f.errors.is_empty() {
        if value.is_empty() {
            f.problem(FieldError::with_message(
                "value",
                Reason::Missing,
                "Invalid param value: fetchDocument needs the document's URL in value",
            ));
        } else {
            document = Some(crate::service::proof::fetch_document_sha256(&state, &value).await?);
        }
    }
    let draft = ConsentDraft {
        name,
        label,
        value,
        required,
        enabled_by_default,
        placeholder,
        document_sha256: document,
    };
    if let Err(why) = draft.check() {
        f.problem(FieldError::with_message(
            "label",
            Reason::InvalidValue,
            format!("Invalid param label: {why}"),
        ));
    }
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let published =
        service::publish(&state, &auth, ConsentOwner::Publisher(publisher.id), &draft).await?;
    Ok(Data(PublishedView {
        name: draft.name.to_string(),
        version: published.version().to_string(),
        published: matches!(published, Published::New(_)),
    }))
}

/// What archiving did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ArchivedView {
    /// The consent.
    pub name: String,
    /// Always true.
    pub archived: bool,
}

/// Archives a consent: customers are no longer asked for it (its history stays).
#[utoipa::path(post, path = "/admin/api/publishers/{publisherId}/consents/{name}/archive", tag = "admin",
    security(("adminKey" = [])), params(("publisherId" = String, Path), ("name" = String, Path)),
    responses((status = 200, body = ArchivedView), (status = 404, description = "REQ0003 publisher, CON0001 consent", body = crate::http::error::ErrorBody)))]
pub async fn archive(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Data<ArchivedView>, ApiError> {
    let Path((text, name)) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let unknown = || ApiError::unknown_consent(&name, "name");
    let consent = ConsentName::parse(&name).map_err(|_| unknown())?;
    service::archive(
        &state,
        &auth,
        ConsentOwner::Publisher(publisher.id),
        &consent,
    )
    .await?;
    Ok(Data(ArchivedView {
        name: consent.to_string(),
        archived: true,
    }))
}
