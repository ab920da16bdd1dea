//! One customer's page (profile, capture answers, where they stand on each consent, the
//! whole consent history), the download of their own-data export, and erasing them.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, Utc};
use maud::{Markup, html};

use super::frame::{
    Shown, Tab, Which, bad_form, error_page, message_page, not_found, publisher_of, when,
};
use super::session::{CsrfForm, Session};
use crate::domain::{ConsentVersionNumber, CustomerId};
use crate::error::ApiError;
use crate::service::customers as service;
use crate::service::owner_data;
use crate::state::AppState;
use crate::store::{ConsentHistoryRecord, Customer, Receipt};

async fn customer_in_scope(
    state: &AppState,
    session: &Session,
    which: Option<&str>,
    path: &str,
) -> Result<(Shown, Customer), Response> {
    let shown = publisher_of(state, session, which).await?;
    let id = CustomerId::parse(path).map_err(|_| not_found())?;
    let customer = service::get(state, shown.publisher.id, id)
        .await
        .map_err(error_page)?;
    Ok((shown, customer))
}

fn capture_lines(c: &Customer) -> Vec<(String, String)> {
    let a = c.capture.clone().unwrap_or_default();
    let mut out = Vec::new();
    for (label, value) in [
        ("Birth date", &a.birth_date),
        ("Company", &a.company_name),
        ("Phone number", &a.phone_number),
    ] {
        if let Some(v) = value {
            out.push((label.to_owned(), v.clone()));
        }
    }
    if let Some(addr) = &a.address {
        let parts: Vec<&str> = [
            &addr.address,
            &addr.address2,
            &addr.post_code,
            &addr.city,
            &addr.state,
            &addr.country,
        ]
        .into_iter()
        .map(String::as_str)
        .filter(|s| !s.is_empty())
        .collect();
        out.push(("Address".into(), parts.join(", ")));
    }
    for (id, answer) in &a.custom {
        out.push((id.clone(), answer.clone()));
    }
    out
}

/// `GET /admin/customers/{customer_id}`.
pub async fn show(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<String>,
    Query(which): Query<Which>,
) -> Result<Response, Response> {
    let (shown, c) = customer_in_scope(&state, &session, which.publisher.as_deref(), &path).await?;
    let detail = service::detail_of(&state, shown.publisher.id, c)
        .await
        .map_err(error_page)?;
    let lines: Vec<ConsentLine> = detail
        .consents
        .iter()
        .map(|s| ConsentLine {
            name: s.consent.name.to_string(),
            newest: s.consent.version,
            required: s.consent.required,
            answer: s
                .answer
                .as_ref()
                .map(|a| (a.state.as_str().to_owned(), a.version, a.at)),
        })
        .collect();
    let receipts = crate::service::proof::receipts(&state, shown.publisher.id, detail.customer.id)
        .await
        .map_err(error_page)?;
    let c = &detail.customer;
    let id = shown.publisher.id.to_string();
    let mut content = customer(
        c,
        &capture_lines(c),
        &lines,
        &detail.history,
        &id,
        &session.csrf,
    );
    content.0.push_str(&receipt_list(c.id, &receipts, &id).0);
    Ok(shown.page(&session, StatusCode::OK, Tab::Customers, &c.email, content))
}

/// `GET /admin/customers/{customer_id}/export`: the customer's own-data export (the document
/// the customer and the admin API get), as a JSON file; recorded in the audit trail.
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<String>,
    Query(which): Query<Which>,
) -> Result<Response, Response> {
    let shown = publisher_of(&state, &session, which.publisher.as_deref()).await?;
    let id = CustomerId::parse(&path).map_err(|_| not_found())?;
    let export = owner_data::export_for_admin(&state, &session.auth, &shown.publisher, id)
        .await
        .map_err(error_page)?;
    let body = serde_json::to_vec_pretty(&export).map_err(|e| error_page(ApiError::internal(e)))?;
    let disposition = format!("attachment; filename=\"customer-{id}.json\"");
    let headers = [
        (header::CONTENT_TYPE, "application/json".to_owned()),
        (header::CONTENT_DISPOSITION, disposition),
        (header::CACHE_CONTROL, "no-store".to_owned()),
    ];
    Ok((headers, body).into_response())
}

/// The customer's consent receipts, each with a download link.
fn receipt_list(customer: CustomerId, receipts: &[Receipt], publisher: &str) -> Markup {
    html! {
        h2 { "Consent receipts" }
        table id="receipts" {
            thead { tr { th { "When" } th { "Collected at" } th { "Receipt" } } }
            tbody {
                @for r in receipts {
                    tr {
                        td { (when(&r.created_at)) }
                        td { (r.collection_point) }
                        td { a href={ "/admin/customers/" (customer) "/receipts/" (r.id) "?publisher=" (publisher) } { "Download " (r.id) ".jws" } }
                    }
                }
                @if receipts.is_empty() { tr { td colspan="3" .muted { "No receipts yet." } } }
            }
        }
    }
}

/// `GET /admin/customers/{customer_id}/receipts/{receipt_id}`: one receipt as a file.
pub async fn receipt(
    State(state): State<AppState>,
    session: Session,
    Path((path, receipt)): Path<(String, String)>,
    Query(which): Query<Which>,
) -> Result<Response, Response> {
    let shown = publisher_of(&state, &session, which.publisher.as_deref()).await?;
    let id = CustomerId::parse(&path).map_err(|_| not_found())?;
    let found = crate::service::proof::receipt(&state, shown.publisher.id, &receipt)
        .await
        .map_err(error_page)?;
    if found.customer != id {
        return Err(not_found());
    }
    let name = format!("attachment; filename=\"receipt-{}.jws\"", found.id);
    let mut response = found.jws.into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/jose"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&name) {
        headers.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    Ok(response)
}

/// `POST /admin/customers/{customer_id}/erase`: erases once the box is ticked.
pub async fn erase(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<String>,
    Query(which): Query<Which>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Response> {
    let Form(form) = form.map_err(|_| bad_form())?;
    session.check_csrf(&form.csrf)?;
    let (shown, c) = customer_in_scope(&state, &session, which.publisher.as_deref(), &path).await?;
    if form.confirm != "yes" {
        return Err(message_page(
            StatusCode::BAD_REQUEST,
            "Not erased",
            "Tick the box to confirm that the customer is to be erased.",
        ));
    }
    let publisher = shown.publisher.id;
    service::erase(&state, &session.auth, publisher, c.id)
        .await
        .map_err(error_page)?;
    Ok(Redirect::to(&format!("/admin/customers?publisher={publisher}")).into_response())
}

/// One current consent with the customer's answer, for the detail page.
pub struct ConsentLine {
    /// Name.
    pub name: String,
    /// Newest version.
    pub newest: ConsentVersionNumber,
    /// Required.
    pub required: bool,
    /// The answer: (state, version, when), if any.
    pub answer: Option<(String, ConsentVersionNumber, DateTime<Utc>)>,
}

/// A customer's profile, capture answers and consent history.
pub fn customer(
    c: &Customer,
    capture: &[(String, String)],
    consents: &[ConsentLine],
    history: &[ConsentHistoryRecord],
    publisher: &str,
    csrf: &str,
) -> Markup {
    let name = [c.first_name.as_deref(), c.last_name.as_deref()]
        .into_iter()
        .flatten()
        .collect::<Vec<_>>()
        .join(" ");
    html! {
        p { a href={ "/admin/customers?publisher=" (publisher) } { "← Customer Accounts" } }
        h1 id="customer-email" { (c.email) }
        div.card {
            dl {
                dt { "Customer id" } dd { (c.id) }
                dt { "Name" } dd { (name) }
                dt { "Email verified" } dd { @if c.email_verified { "yes" } @else { "no" } }
                dt { "Country · locale · currency" } dd { (c.country) " · " (c.locale) " · " (c.currency) }
                dt { "Registered" } dd { (when(&c.created_at)) " from " (ip_or_dash(c.registration_ip)) }
                dt { "Last login" } dd { @if let Some(t) = &c.last_login_at { (when(t)) " from " (ip_or_dash(c.last_ip)) } @else { "never" } }
                dt { "External id" } dd { (c.external_id.as_deref().unwrap_or("")) }
                dt { "External data" } dd { code { (c.external_data.as_ref().map(ToString::to_string).unwrap_or_default()) } }
                @for (label, value) in capture { dt { (label) } dd { (value) } }
            }
        }
        h2 { "Consents" }
        table id="consents" {
            thead { tr { th { "Consent" } th { "Required" } th { "Answer" } th { "Version answered" } th { "Newest" } th { "Status" } } }
            tbody {
                @for l in consents {
                    tr {
                        td { (l.name) }
                        td { @if l.required { "yes" } @else { "no" } }
                        td { @if let Some((state, _, at)) = &l.answer { (state) " " span.muted { (when(at)) } } @else { span.muted { "never answered" } } }
                        td { @if let Some((_, v, _)) = &l.answer { (v) } }
                        td { (l.newest) }
                        td { @if l.answer.as_ref().is_some_and(|(_, v, _)| *v >= l.newest) { span.tag.ok { "up to date" } } @else { span.tag.warn { "needsUpdate" } } }
                    }
                }
            }
        }
        h2 { "Consent history" }
        table id="history" {
            thead { tr { th { "When" } th { "Consent" } th { "Version" } th { "Answer" } th { "IP" } th { "User agent" } } }
            tbody {
                @for h in history.iter().rev() {
                    tr {
                        td { (when(&h.at)) }
                        td { (h.name) }
                        td { (h.version) }
                        td { (h.state.as_str()) }
                        td { (h.ip.map(|ip| ip.to_string()).unwrap_or_default()) }
                        td.muted { (h.user_agent.as_deref().unwrap_or("")) }
                    }
                }
                @if history.is_empty() { tr { td colspan="6" .muted { "No answers yet." } } }
            }
        }
        h2 { "Their data" }
        p { a id="export" href={ "/admin/customers/" (c.id) "/export?publisher=" (publisher) } download { "Download everything kept about this customer (JSON)" } }
        h2 { "Erase" }
        form.card method="post" action={ "/admin/customers/" (c.id) "/erase?publisher=" (publisher) } {
            input type="hidden" name="csrf" value=(csrf);
            p { "Erasing removes the customer's personal data for good; the consent history keeps names, versions, answers and times only." }
            label { input type="checkbox" name="confirm" value="yes" required; " I understand this cannot be undone" }
            " " button.danger type="submit" { "Erase customer" }
        }
    }
}

/// An address as shown, `-` when none is kept.
fn ip_or_dash(ip: Option<std::net::IpAddr>) -> String {
    ip.map_or_else(|| "-".to_owned(), |ip| ip.to_string())
}
