//! The Customer Accounts page: search, filters, pages, the chart, and the CSV export of the
//! whole filtered list.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::chart::{Days, chart, days};
use super::frame::{Tab, error_page, message_page, publisher_of, when};
use super::session::Session;
use crate::http::admin::customers::CustomerQuery;
use crate::http::admin::export::csv_download;
use crate::service::{consents, customers as service};
use crate::state::AppState;
use crate::store::CustomerCursor;

/// Customers per page.
const PAGE: u32 = 50;

/// The customer list's query: the admin API's filters plus the publisher and the cursors of
/// the pages before (for "previous").
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    publisher: Option<String>,
    back: Option<String>,
    #[serde(flatten)]
    query: CustomerQuery,
}

fn link(path: &str, publisher: &str, q: &CustomerQuery, extra: &[(&str, &str)]) -> String {
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    s.append_pair("publisher", publisher);
    for (name, value) in q.given_filters() {
        s.append_pair(name, value);
    }
    for (name, value) in extra {
        s.append_pair(name, value);
    }
    format!("{path}?{}", s.finish())
}

/// `GET /admin/customers`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let Query(list) = query.unwrap_or_default();
    let shown = publisher_of(&state, &session, list.publisher.as_deref()).await?;
    let publisher = shown.publisher.id;
    let id = publisher.to_string();
    let q = &list.query;
    let current = consents::current(&state, publisher)
        .await
        .map_err(error_page)?;
    let consent_names: Vec<String> = current.iter().map(|c| c.name.to_string()).collect();
    let mut page = CustomersPage {
        filters: q,
        consent_names: &consent_names,
        rows: Vec::new(),
        next: None,
        previous: None,
        export: link("/admin/customers.csv", &id, q, &[]),
        chart: Days::default(),
        publisher: &id,
        error: None,
    };
    let title = "Customer Accounts";
    let (filter, after) = match q.filter().and_then(|f| Ok((f, q.after()?))) {
        Ok(v) => v,
        Err(e) => {
            page.error = Some(e.message().to_owned());
            let content = customers(&page);
            return Err(shown.page(
                &session,
                StatusCode::BAD_REQUEST,
                Tab::Customers,
                title,
                content,
            ));
        }
    };
    let found = service::page(&state, publisher, &filter, after.as_ref(), PAGE)
        .await
        .map_err(error_page)?;
    let standings = service::standings_of(&state, publisher, &current, &found.customers)
        .await
        .map_err(error_page)?;
    page.rows = found
        .customers
        .iter()
        .zip(&standings)
        .map(|(c, consents)| CustomerRow {
            id: c.id.to_string(),
            email: c.email.clone(),
            name: [c.first_name.as_deref(), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            country: c.country.to_string(),
            registered: c.created_at,
            last_login: c.last_login_at,
            needs_update: consents
                .iter()
                .filter(|s| s.needs_update())
                .map(|s| s.consent.name.to_string())
                .collect(),
            missing_required: consents.iter().any(|s| s.missing_required()),
        })
        .collect();
    (page.previous, page.next) = pager(&id, q, list.back.as_deref(), found.next);
    if after.is_none() {
        page.chart = days(&state, publisher).await.map_err(error_page)?;
    }
    let content = customers(&page);
    Ok(shown.page(&session, StatusCode::OK, Tab::Customers, title, content))
}

/// The links to the previous and the next page. "Previous" walks back through the cursors of
/// the pages before (`back`; "-": the first page).
fn pager(
    publisher: &str,
    q: &CustomerQuery,
    back: Option<&str>,
    next: Option<CustomerCursor>,
) -> (Option<String>, Option<String>) {
    let trail: Vec<&str> = back
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    let this = q
        .cursor
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "-".into());
    let next = next.map(|c| {
        let mut back = trail.clone();
        back.push(&this);
        link(
            "/admin/customers",
            publisher,
            q,
            &[("cursor", &c.encode()), ("back", &back.join(","))],
        )
    });
    let previous = trail.split_last().map(|(last, rest)| {
        let mut extra = vec![("back", rest.join(","))];
        if *last != "-" {
            extra.push(("cursor", (*last).to_owned()));
        }
        let extra: Vec<(&str, &str)> = extra.iter().map(|(k, v)| (*k, v.as_str())).collect();
        link("/admin/customers", publisher, q, &extra)
    });
    (previous, next)
}

/// `GET /admin/customers.csv`: the filtered list as the admin API's CSV, recorded in the
/// audit trail.
pub async fn export(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let Query(list) = query.unwrap_or_default();
    let publisher = publisher_of(&state, &session, list.publisher.as_deref())
        .await?
        .publisher
        .id;
    let filter = list
        .query
        .filter()
        .map_err(|e| message_page(StatusCode::BAD_REQUEST, "Bad filter", e.message()))?;
    let described = list.query.describe();
    let batches = service::export(&state, &session.auth, publisher, filter, described)
        .await
        .map_err(error_page)?;
    Ok(csv_download(publisher, batches))
}

/// One row of the Customer Accounts table.
pub struct CustomerRow {
    /// Id.
    pub id: String,
    /// Email.
    pub email: String,
    /// First and last name.
    pub name: String,
    /// Country.
    pub country: String,
    /// Registered.
    pub registered: DateTime<Utc>,
    /// Last login.
    pub last_login: Option<DateTime<Utc>>,
    /// Consent answers owed (names of consents whose newest version is unanswered).
    pub needs_update: Vec<String>,
    /// Required consents declined or unanswered.
    pub missing_required: bool,
}

/// The Customer Accounts page.
pub struct CustomersPage<'a> {
    /// The filters as typed.
    pub filters: &'a CustomerQuery,
    /// Consent names for the filter.
    pub consent_names: &'a [String],
    /// This page's rows.
    pub rows: Vec<CustomerRow>,
    /// Link to the next page.
    pub next: Option<String>,
    /// Link to the previous page.
    pub previous: Option<String>,
    /// Link to the CSV of the whole filtered list.
    pub export: String,
    /// Registrations per day (none past the first page).
    pub chart: Days,
    /// The publisher id (kept in the filter form).
    pub publisher: &'a str,
    /// A problem with the filters.
    pub error: Option<String>,
}

/// The Customer Accounts table with its search, filters, pages, export and chart.
pub fn customers(p: &CustomersPage<'_>) -> Markup {
    let f = p.filters;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let (consent, state, needs) = (v(&f.consent), v(&f.consent_state), v(&f.needs_update));
    html! {
        h1 { "Customer Accounts" }
        @if !p.chart.is_empty() { (chart(&p.chart)) }
        form.filters method="get" action="/admin/customers" id="filters" {
            input type="hidden" name="publisher" value=(p.publisher);
            label { "Search" input type="search" name="q" id="q" value=(v(&f.q)) placeholder="email, name or external id"; }
            label { "Country" input type="text" name="country" id="country" value=(v(&f.country)) size="3" maxlength="2" placeholder="GB"; }
            label { "Registered from" input type="date" name="registeredFrom" value=(v(&f.registered_from)); }
            label { "to" input type="date" name="registeredTo" value=(v(&f.registered_to)); }
            label { "Consent"
                select name="consent" id="consent" {
                    option value="" { "any" }
                    @for name in p.consent_names { option value=(name) selected[consent == *name] { (name) } }
                }
            }
            label { "answer"
                select name="consentState" id="consent-state" {
                    option value="" { "any" }
                    option value="accepted" selected[state == "accepted"] { "accepted" }
                    option value="declined" selected[state == "declined"] { "declined" }
                }
            }
            label { "Needs update"
                select name="needsUpdate" id="needs-update" {
                    option value="" { "any" }
                    option value="true" selected[needs == "true"] { "yes" }
                    option value="false" selected[needs == "false"] { "no" }
                }
            }
            button type="submit" id="apply" { "Apply" }
            a.button.secondary href=(p.export) id="export" { "Export CSV" }
        }
        @if let Some(e) = &p.error { p.flash.error { (e) } }
        table id="customers" {
            thead { tr { th { "Email" } th { "Name" } th { "Country" } th { "Registered" } th { "Last login" } th { "Consents" } } }
            tbody {
                @for r in &p.rows {
                    tr data-customer=(r.id) {
                        td { a href={ "/admin/customers/" (r.id) "?publisher=" (p.publisher) } { (r.email) } }
                        td { (r.name) }
                        td { (r.country) }
                        td { (when(&r.registered)) }
                        td { @if let Some(t) = &r.last_login { (when(t)) } @else { span.muted { "never" } } }
                        td.status {
                            @if r.missing_required { span.tag.no { "required missing" } " " }
                            @if r.needs_update.is_empty() { span.tag.ok { "up to date" } }
                            @else { span.tag.warn title=(r.needs_update.join(", ")) { "needsUpdate: " (r.needs_update.join(", ")) } }
                        }
                    }
                }
                @if p.rows.is_empty() { tr { td colspan="6" .muted { "No customers match." } } }
            }
        }
        div.pager {
            @if let Some(prev) = &p.previous { a.button.secondary href=(prev) id="previous" { "← Previous" } }
            @if let Some(next) = &p.next { a.button.secondary href=(next) id="next" { "Next →" } }
        }
    }
}
