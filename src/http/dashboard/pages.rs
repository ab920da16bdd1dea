//! The dashboard's HTML, rendered on the server (maud escapes every value). No script is
//! needed: filters, paging, publishing and erasing are plain links and forms.

use chrono::{DateTime, NaiveDate, Utc};
use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::domain::link::is_http_url;
use crate::http::admin::customers::CustomerQuery;
use crate::store::{ConsentHistoryRecord, ConsentVersion, Customer};

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
}

fn document(title: &str, body: Markup) -> Markup {
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

/// The sign-in form.
pub fn login(error: Option<&str>, login_csrf: &str) -> Markup {
    document(
        "Sign in",
        html! {
            main style="max-width:28em;margin:4em auto" {
                h1 { "Enroll · Customer Accounts" }
                @if let Some(e) = error { p.flash.error { (e) } }
                form.card method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(login_csrf);
                    p { label { "Admin key" br; input type="password" name="key" id="key" autocomplete="off" required size="48"; } }
                    button type="submit" id="sign-in" { "Sign in" }
                    p.muted { "An operator key (config admin.operator_key or enroll key create --operator) or a publisher key." }
                }
            }
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

fn when(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M").to_string()
}

/// Registrations per day, as an SVG bar chart.
pub fn chart(days: &[(NaiveDate, i64)]) -> Markup {
    let max = days.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
    let total: i64 = days.iter().map(|(_, n)| n).sum();
    let (w, h, pad) = (900.0_f64, 140.0_f64, 20.0_f64);
    let slot = (w - 2.0 * pad) / days.len().max(1) as f64;
    html! {
        div.chart {
            strong { "Registrations per day, last " (days.len()) " days" }
            span.muted { " · " (total) " in all · most in a day: " (days.iter().map(|(_, n)| *n).max().unwrap_or(0)) }
            svg id="registrations-chart" viewBox={ "0 0 " (w) " " (h + 24.0) } role="img" aria-label="Registrations per day" {
                line x1=(pad) y1=(h) x2=(w - pad) y2=(h) stroke="#cbd2d9" {}
                @for (i, (day, n)) in days.iter().enumerate() {
                    @let bar = if *n == 0 { 0.0 } else { ((*n as f64) / (max as f64) * (h - 10.0)).max(2.0) };
                    rect x=(format!("{:.1}", pad + i as f64 * slot + 1.0)) y=(format!("{:.1}", h - bar))
                        width=(format!("{:.1}", (slot - 2.0).max(1.0))) height=(format!("{:.1}", bar)) fill="#1a56db" {
                        title { (day.format("%Y-%m-%d")) ": " (n) }
                    }
                }
                @if let (Some((first, _)), Some((last, _))) = (days.first(), days.last()) {
                    text x=(pad) y=(h + 16.0) font-size="11" fill="#7b8794" { (first.format("%b %d")) }
                    text x=(w - pad) y=(h + 16.0) font-size="11" fill="#7b8794" text-anchor="end" { (last.format("%b %d")) }
                }
            }
        }
    }
}

/// The Customer Accounts page.
pub struct CustomersPage<'a> {
    /// The filters as typed.
    pub filters: &'a CustomerQuery,
    /// Consent names for the filter.
    pub consent_names: &'a [String],
    /// This page's rows.
    pub rows: &'a [CustomerRow],
    /// Link to the next page.
    pub next: Option<String>,
    /// Link to the previous page.
    pub previous: Option<String>,
    /// Link to the CSV of the whole filtered list.
    pub export: String,
    /// Registrations per day.
    pub chart: &'a [(NaiveDate, i64)],
    /// The publisher id (kept in the filter form).
    pub publisher: &'a str,
    /// A problem with the filters.
    pub error: Option<&'a str>,
}

/// The Customer Accounts table with its search, filters, pages, export and chart.
pub fn customers(p: &CustomersPage<'_>) -> Markup {
    let f = p.filters;
    let v = |o: &Option<String>| o.clone().unwrap_or_default();
    let (consent, state, needs) = (v(&f.consent), v(&f.consent_state), v(&f.needs_update));
    html! {
        h1 { "Customer Accounts" }
        @if !p.chart.is_empty() { (chart(p.chart)) }
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
        @if let Some(e) = p.error { p.flash.error { (e) } }
        table id="customers" {
            thead { tr { th { "Email" } th { "Name" } th { "Country" } th { "Registered" } th { "Last login" } th { "Consents" } } }
            tbody {
                @for r in p.rows {
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

/// One current consent with the customer's answer, for the detail page.
pub struct ConsentLine {
    /// Name.
    pub name: String,
    /// Newest version.
    pub newest: i32,
    /// Required.
    pub required: bool,
    /// The answer: (state, version, when), if any.
    pub answer: Option<(String, i32, DateTime<Utc>)>,
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
                dt { "Registered" } dd { (when(&c.created_at)) " from " (c.registration_ip.as_deref().unwrap_or("-")) }
                dt { "Last login" } dd { @if let Some(t) = &c.last_login_at { (when(t)) " from " (c.last_ip.as_deref().unwrap_or("-")) } @else { "never" } }
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
                        td { (h.ip.as_deref().unwrap_or("")) }
                        td.muted { (h.user_agent.as_deref().unwrap_or("")) }
                    }
                }
                @if history.is_empty() { tr { td colspan="6" .muted { "No answers yet." } } }
            }
        }
        h2 { "Erase" }
        form.card method="post" action={ "/admin/customers/" (c.id) "/erase?publisher=" (publisher) } {
            input type="hidden" name="csrf" value=(csrf);
            p { "Erasing removes the customer's personal data for good; the consent history keeps names, versions, answers and times only." }
            label { input type="checkbox" name="confirm" value="yes" required; " I understand this cannot be undone" }
            " " button.danger type="submit" { "Erase customer" }
        }
    }
}

/// The consents page: current versions, every version, and the publish form.
pub fn consents(
    current: &[ConsentVersion],
    versions: &[ConsentVersion],
    publisher: &str,
    csrf: &str,
    flash: Option<(&str, bool)>,
) -> Markup {
    html! {
        h1 { "Consents" }
        @if let Some((text, ok)) = flash { p.flash.error[!ok] id="flash" { (text) } }
        table id="current-consents" {
            thead { tr { th { "Name" } th { "Owner" } th { "Version" } th { "Label" } th { "Document" } th { "Required" } th {} } }
            tbody {
                @for c in current {
                    tr data-consent=(c.name) {
                        td { (c.name) }
                        td { (c.owner.to_string()) }
                        td.version { (c.version) }
                        td { (c.label) }
                        td { @if is_http_url(&c.value) { a href=(c.value) rel="noreferrer noopener" { (c.value) } } @else { (c.value) } }
                        td { @if c.required { "yes" } @else { "no" } }
                        td {
                            @if matches!(c.owner, crate::domain::ConsentOwner::Publisher(_)) {
                                form.inline method="post" action={ "/admin/consents/" (c.name) "/archive?publisher=" (publisher) } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.secondary type="submit" { "Archive" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Publish a new version" }
        form.card method="post" action={ "/admin/consents?publisher=" (publisher) } id="publish" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { "Name (an existing one gets its next version)" br; input type="text" name="name" id="consent-name" required pattern="[a-z0-9_]+" maxlength="100"; } }
            p { label { "Label (shown to customers; may hold a link)" br; textarea name="label" id="consent-label" rows="2" cols="80" required {} } }
            p { label { "Document URL" br; input type="url" name="value" id="consent-value" size="60"; } }
            p { label { input type="checkbox" name="required" value="true" id="consent-required"; " Required to register" } }
            button type="submit" id="publish-button" { "Publish" }
        }
        h2 { "Every version" }
        table id="consent-versions" {
            thead { tr { th { "Name" } th { "Version" } th { "Label" } th { "Required" } th { "Archived" } th { "Published" } } }
            tbody {
                @for v in versions {
                    tr { td { (v.name) } td { (v.version) } td { (v.label) } td { @if v.required { "yes" } @else { "no" } } td { @if v.archived { "yes" } } td { (when(&v.created_at)) } }
                }
            }
        }
    }
}

/// The audit trail: who changed what, when.
pub fn audit(entries: &[crate::store::AuditEntry], next: Option<String>) -> Markup {
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
