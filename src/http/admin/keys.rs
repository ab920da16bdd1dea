//! `/admin/api/me` and `/admin/api/keys`: who a key is; operators make, list and revoke keys.

use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::views::KeyView;
use super::{AdminAuth, Scope, query_rejected};
use crate::domain::PublisherId;
use crate::domain::fields::{Fields, bounded};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::admin_keys as service;
use crate::state::AppState;

/// Who the key is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Me {
    /// `operator` or `publisher`.
    pub scope: &'static str,
    /// The publisher of a publisher key, else null.
    pub publisher_id: Option<u32>,
    /// The stored key's id (null for the config's operator key).
    pub key_id: Option<i64>,
    /// Its label.
    pub label: String,
}

/// What the key in the `Authorization` header is and reaches.
#[utoipa::path(get, path = "/admin/api/me", tag = "admin", security(("adminKey" = [])),
    responses((status = 200, body = Me), (status = 401, description = "ADM0001", body = crate::http::error::ErrorBody)))]
pub async fn me(auth: AdminAuth) -> Data<Me> {
    let (scope, publisher_id) = match auth.scope {
        Scope::Operator => ("operator", None),
        Scope::Publisher(p) => ("publisher", u32::try_from(p.get()).ok()),
    };
    Data(Me {
        scope,
        publisher_id,
        key_id: auth.key_id.map(crate::domain::AdminKeyId::get),
        label: auth.actor,
    })
}

/// Query of the key list.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
pub struct KeyQuery {
    /// Only this publisher's keys.
    pub publisher_id: Option<String>,
}

/// Keys.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Keys {
    /// By id; revoked ones too.
    pub keys: Vec<KeyView>,
}

/// Every key (operators only).
#[utoipa::path(get, path = "/admin/api/keys", tag = "admin", security(("adminKey" = [])), params(KeyQuery),
    responses((status = 200, body = Keys), (status = 401, body = crate::http::error::ErrorBody),
        (status = 403, description = "AUTH0004 a publisher key", body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    query: Result<Query<KeyQuery>, QueryRejection>,
) -> Result<Data<Keys>, ApiError> {
    auth.require_operator("keys")?;
    let Query(query) = query.map_err(query_rejected)?;
    let publisher = match query.publisher_id.as_deref().filter(|s| !s.is_empty()) {
        Some(text) => {
            Some(PublisherId::parse(text).map_err(|_| ApiError::invalid_query("publisherId"))?)
        }
        None => None,
    };
    let keys = service::list(&state, &auth, publisher).await?;
    Ok(Data(Keys {
        keys: keys.into_iter().map(KeyView::from).collect(),
    }))
}

/// A new key: the only time it is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CreatedKey {
    /// The key; keep it now, it cannot be shown again.
    pub key: String,
    /// What it is.
    #[serde(flatten)]
    pub info: KeyView,
}

/// Body of a new key.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
#[schema(as = NewKey)]
pub struct NewKeyBody {
    /// A publisher id for a publisher key; absent or null for an operator key.
    publisher_id: Option<String>,
    /// A name for people (at most 100 characters).
    label: Option<String>,
}

/// Makes a key (operators only); `publisherId` limits it to one publisher.
#[utoipa::path(post, path = "/admin/api/keys", tag = "admin", security(("adminKey" = [])),
    request_body(content = NewKeyBody, description = "`{\"publisherId\": 123456789, \"label\": \"ci\"}`"),
    responses((status = 200, body = CreatedKey), (status = 400, body = crate::http::error::ErrorBody),
        (status = 403, body = crate::http::error::ErrorBody), (status = 404, description = "REQ0003 unknown publisher", body = crate::http::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AdminAuth,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CreatedKey>, ApiError> {
    auth.require_operator("keys")?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let publisher = f
        .optional("publisherId", |s| {
            PublisherId::parse(s).map_err(|_| crate::domain::problem::Reason::InvalidValue)
        })
        .value();
    let label = f
        .optional("label", bounded(1, 100))
        .value()
        .unwrap_or_default();
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let (key, stored) = service::create(&state, &auth, publisher, label).await?;
    Ok(Data(CreatedKey {
        key,
        info: stored.into(),
    }))
}

/// Revokes a key (operators only); its dashboard sessions end with it.
#[utoipa::path(post, path = "/admin/api/keys/{keyId}/revoke", tag = "admin", security(("adminKey" = [])),
    params(("keyId" = i64, Path)),
    responses((status = 200, body = KeyView), (status = 403, body = crate::http::error::ErrorBody),
        (status = 404, description = "REQ0003 unknown key", body = crate::http::error::ErrorBody)))]
pub async fn revoke(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Data<KeyView>, ApiError> {
    auth.require_operator("keys")?;
    let Path(text) = path.map_err(|_| ApiError::invalid_path("keyId"))?;
    let id =
        crate::domain::AdminKeyId::parse(&text).map_err(|_| ApiError::invalid_path("keyId"))?;
    let key = service::revoke(&state, &auth, id).await?;
    Ok(Data(key.into()))
}
