//! The shared page frame of the dashboard: the HTML document and header every page has, the
//! response headers of every page, the message pages (not found, unavailable), and which
//! publisher a page shows.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};
use serde::Deserialize;

use super::session::Session;
use crate::domain::PublisherId;
use crate::error::ApiError;
use crate::service::admin_keys::Scope;
use crate::state::AppState;
use crate::store::Publisher;

const STYLE: &str = r#"
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;background:#f5f7fa}
header{display:flex;gap:1.5em;align-items:center;padding:.6em 1.5em;background:#1f2933;color:#fff}
header a{color:#cbd2d9;text-decoration:none}header a.on,header a:hover{color:#fff}
header .brand{font-weight:600;color:#fff;margin-right:1em}header form{margin:0}
header .who{margin-left:auto;color:#9aa5b1}header select,header button{font:inherit}
main{padding:1.2em 1.5em;max-width:1200px}h1{font-size:1.4em;margin:.2em 0 .8em}h2{font-size:1.1em;margin:1.4em 0 .5em}
table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #e4e7eb}
th,td{text-align:left;padding:.45em .6em;border-bottom:1px solid #e4e7eb;vertical-align:top}
th{background:#f0f4f8;font-weight:600}tr:hover td{background:#fafbfc}
.filters{display:flex;flex-wrap:wrap;gap:.5em;align-items:end;margin-bottom:1em;background:#fff;padding:.8em;border:1px solid #e4e7eb}
.filters label{display:flex;flex-direction:column;font-size:.85em;color:#52606d}
input,select,textarea{font:inherit;padding:.3em .4em;border:1px solid #cbd2d9;border-radius:3px;background:#fff}
button,.button{font:inherit;padding:.35em .9em;border:1px solid #1a56db;background:#1a56db;color:#fff;border-radius:3px;cursor:pointer;text-decoration:none;display:inline-block}
button.secondary,.button.secondary{background:#fff;color:#1a56db}button.danger{background:#c81e1e;border-color:#c81e1e}
.pager{display:flex;gap:.6em;margin:.8em 0}.muted{color:#7b8794}.tag{display:inline-block;padding:0 .4em;border-radius:3px;font-size:.85em}
.ok{background:#def7ec;color:#03543f}.warn{background:#fdf6b2;color:#723b13}.no{background:#fde8e8;color:#9b1c1c}
.card{background:#fff;border:1px solid #e4e7eb;padding:1em;margin-bottom:1em}dl{display:grid;grid-template-columns:12em 1fr;gap:.3em 1em;margin:0}dt{color:#52606d}
.chart{background:#fff;border:1px solid #e4e7eb;padding:.6em;margin-bottom:1em}.chart svg{display:block;width:100%;height:auto}
.flash{padding:.6em .9em;background:#def7ec;border:1px solid #84e1bc;margin-bottom:1em}.error{background:#fde8e8;border-color:#f8b4b4}
form.inline{display:inline}
"#;

/// What every signed-in page shows in its header.
pub struct Frame<'a> {
    /// Who is signed in (the key's label).
    pub actor: &'a str,
    /// An operator key (sees the publisher picker).
    pub operator: bool,
    /// Publishers the picker offers (operators only): id and name.
    pub publishers: &'a [(String, String)],
    /// The publisher shown.
    pub publisher: Option<(&'a str, &'a str)>,
    /// The session's CSRF token, for every form.
    pub csrf: &'a str,
    /// Which tab is current.
    pub tab: Tab,
}

/// The header tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// Customer Accounts.
    Customers,
    /// Consents.
    Consents,
    /// Audit trail.
    Audit,
    /// Webhook endpoints and deliveries.
    Webhooks,
}

pub fn document(title: &str, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="same-origin";
                title { (title) " · Enroll" }
                style { (PreEscaped(STYLE)) }
            }
            body { (body) }
        }
    }
}

/// A page of the signed-in dashboard.
pub fn page(frame: &Frame<'_>, title: &str, content: Markup) -> Markup {
    let query = frame
        .publisher
        .map(|(id, _)| format!("?publisher={id}"))
        .unwrap_or_default();
    let tab = |t: Tab| if frame.tab == t { "on" } else { "" };
    document(
        title,
        html! {
            header {
                span.brand { "Enroll" }
                a class=(tab(Tab::Customers)) href={ "/admin/customers" (query) } { "Customer Accounts" }
                a class=(tab(Tab::Consents)) href={ "/admin/consents" (query) } { "Consents" }
                a class=(tab(Tab::Webhooks)) href={ "/admin/webhooks" (query) } { "Webhooks" }
                a class=(tab(Tab::Audit)) href={ "/admin/audit" (query) } { "Audit trail" }
                @if frame.operator {
                    form method="get" action="/admin/customers" {
                        label { span.muted { "Publisher " }
                            select name="publisher" id="publisher-picker" {
                                @for (id, name) in frame.publishers {
                                    option value=(id) selected[frame.publisher.is_some_and(|(p, _)| p == id)] { (name) " (" (id) ")" }
                                }
                            }
                        }
                        " " button.secondary type="submit" { "Show" }
                    }
                } @else if let Some((_, name)) = frame.publisher {
                    span { (name) }
                }
                span.who { (frame.actor) }
                form method="post" action="/admin/logout" {
                    input type="hidden" name="csrf" value=(frame.csrf);
                    button.secondary type="submit" { "Sign out" }
                }
            }
            main { (content) }
        },
    )
}

/// A message page (not found, forbidden, bad request).
pub fn message(title: &str, text: &str) -> Markup {
    document(
        title,
        html! { main { h1 { (title) } p { (text) } p { a href="/admin" { "Back to the dashboard" } } } },
    )
}

/// A time as the pages show it.
pub fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// A finished page with the dashboard's headers (no caching, no framing, no scripts).
pub fn html(status: StatusCode, markup: Markup) -> Response {
    (
        status,
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
            (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
            (
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
                ),
            ),
        ],
        // A finished page: the envelope safety net leaves it alone.
        axum::Extension(crate::http::error::Enveloped),
        Html(markup.into_string()),
    )
        .into_response()
}

/// A message page.
pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, message(title, text))
}

/// There is no such page, or it is not the signed-in key's to see (the same answer).
pub fn not_found() -> Response {
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it is not yours to see.",
    )
}

/// The database could not answer.
pub fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard request failed");
    message_page(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The dashboard could not reach its database. Try again in a moment.",
    )
}

/// An operation's error as a page: what it does not find is "not found", the rest unavailable.
pub fn error_page(e: ApiError) -> Response {
    if e.status() == StatusCode::NOT_FOUND {
        not_found()
    } else {
        failure(e)
    }
}

/// A form that could not be read.
pub fn bad_form() -> Response {
    message_page(
        StatusCode::BAD_REQUEST,
        "Bad form",
        "The form could not be read.",
    )
}

/// `?publisher=` of every page.
#[derive(Debug, Default, Deserialize)]
pub struct Which {
    /// The publisher id an operator picked.
    pub publisher: Option<String>,
}

/// The publisher a page shows, and the publishers an operator may pick instead (id, name).
pub struct Shown {
    /// The publisher shown.
    pub publisher: Publisher,
    /// The picker's choices (none for a publisher key).
    pub picker: Vec<(String, String)>,
}

impl Shown {
    /// A signed-in page of the publisher shown, on `tab`.
    pub fn page(
        &self,
        session: &Session,
        status: StatusCode,
        tab: Tab,
        title: &str,
        content: Markup,
    ) -> Response {
        let id = self.publisher.id.to_string();
        let frame = Frame {
            actor: &session.auth.actor,
            operator: session.auth.is_operator(),
            publishers: &self.picker,
            publisher: Some((&id, &self.publisher.name)),
            csrf: &session.csrf,
            tab,
        };
        html(status, page(&frame, title, content))
    }
}

/// The publisher a page shows: a publisher key's own (another id is "not found"), or the one
/// an operator picked (the first one when none is picked).
pub async fn publisher_of(
    state: &AppState,
    session: &Session,
    which: Option<&str>,
) -> Result<Shown, Response> {
    let which = which.map(str::trim).filter(|s| !s.is_empty());
    let wanted = match which {
        Some(text) => Some(PublisherId::parse(text).map_err(|_| not_found())?),
        None => None,
    };
    let all = crate::service::publishers::list(state, &session.auth)
        .await
        .map_err(failure)?;
    if let Scope::Publisher(own) = session.auth.scope {
        if wanted.is_some_and(|w| w != own) {
            return Err(not_found());
        }
        let publisher = all.into_iter().next().ok_or_else(not_found)?;
        return Ok(Shown {
            publisher,
            picker: Vec::new(),
        });
    }
    let picker = all
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    let publisher = match wanted {
        Some(id) => all.into_iter().find(|p| p.id == id).ok_or_else(not_found)?,
        None => all.into_iter().next().ok_or_else(|| {
            message_page(
                StatusCode::OK,
                "No publishers yet",
                "Create one with `enroll publisher create` or the admin API.",
            )
        })?,
    };
    Ok(Shown { publisher, picker })
}
