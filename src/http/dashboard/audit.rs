//! The audit trail page: who changed what, when, for the publisher shown.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};
use serde::Deserialize;

use super::frame::{Tab, error_page, publisher_of, when};
use super::session::Session;
use crate::state::AppState;
use crate::store::{AuditCursor, AuditEntry};

/// Lines per page.
const PAGE: u32 = 50;

/// `?publisher=&before=` of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    publisher: Option<String>,
    before: Option<String>,
}

/// `GET /admin/audit`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let Query(q) = query.unwrap_or_default();
    let shown = publisher_of(&state, &session, q.publisher.as_deref()).await?;
    let id = shown.publisher.id;
    let before = q.before.as_deref().and_then(AuditCursor::decode);
    let page = crate::service::audit::page(&state, &session.auth, Some(id), before, PAGE)
        .await
        .map_err(error_page)?;
    let next = page
        .next
        .map(|c| format!("/admin/audit?publisher={id}&before={}", c.encode()));
    let content = audit(&page.entries, next);
    Ok(shown.page(&session, StatusCode::OK, Tab::Audit, "Audit trail", content))
}

/// The audit trail: who changed what, when.
pub fn audit(entries: &[AuditEntry], next: Option<String>) -> Markup {
    html! {
        h1 { "Audit trail" }
        table id="audit" {
            thead { tr { th { "When" } th { "Who" } th { "Publisher" } th { "What" } th { "Details" } } }
            tbody {
                @for e in entries {
                    tr {
                        td { (when(&e.at)) }
                        td { (e.actor) }
                        td { (e.publisher.map(|p| p.to_string()).unwrap_or_default()) }
                        td { (e.action) }
                        td { code { (e.detail.to_string()) } }
                    }
                }
                @if entries.is_empty() { tr { td colspan="5" .muted { "Nothing recorded yet." } } }
            }
        }
        div.pager { @if let Some(n) = next { a.button.secondary href=(n) id="next" { "Older →" } } }
    }
}
