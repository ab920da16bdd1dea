//! `GET /admin/api/audit`: every change admins made, newest first, a page at a time. An
//! operator sees all (or one publisher's with `publisherId`); a publisher key its own only.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};

use super::views::AuditView;
use super::{AdminAuth, page_limit, query_rejected};
use crate::domain::PublisherId;
use crate::http::Data;
use crate::http::error::ApiError;
use crate::state::AppState;
use crate::store::AuditCursor;

/// Which lines.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// One publisher's lines (a publisher key: only its own id; another answers 404).
    pub publisher_id: Option<String>,
    /// Page size, 1–500 (default 50).
    pub limit: Option<String>,
    /// The `nextCursor` of the previous page.
    pub cursor: Option<String>,
}

/// One page of the audit trail.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditView>,
    /// Pass as `cursor` for the next page; null on the last one.
    pub next_cursor: Option<String>,
}

/// The audit trail.
#[utoipa::path(get, path = "/admin/api/audit", tag = "admin", security(("adminKey" = [])), params(AuditQuery),
    responses((status = 200, body = AuditPage), (status = 400, body = crate::http::error::ErrorBody),
        (status = 404, description = "a publisher key asking for another publisher", body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Data<AuditPage>, ApiError> {
    let Query(query) = query.map_err(query_rejected)?;
    let asked = match query
        .publisher_id
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        Some(text) => {
            Some(PublisherId::parse(text).map_err(|_| ApiError::invalid_query("publisherId"))?)
        }
        None => None,
    };
    let limit = page_limit(query.limit.as_deref(), 50, 500)?;
    let before = match query.cursor.as_deref().filter(|s| !s.is_empty()) {
        Some(c) => Some(AuditCursor::decode(c).ok_or_else(|| ApiError::invalid_query("cursor"))?),
        None => None,
    };
    let page = crate::service::audit::page(&state, &auth, asked, before, limit).await?;
    Ok(Data(AuditPage {
        entries: page.entries.into_iter().map(AuditView::from).collect(),
        next_cursor: page.next.map(|c| c.encode()),
    }))
}
