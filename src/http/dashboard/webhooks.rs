//! The webhooks page: the publisher's endpoints, enabled or disabled and why, the recent
//! deliveries of one endpoint with their status, tries and response code, and replays (one
//! delivery, or everything since a time), each a form with the session's CSRF token.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{DateTime, NaiveDateTime, Utc};
use maud::{Markup, html};
use serde::Deserialize;

use super::frame::{Tab, Which, bad_form, error_page, not_found, publisher_of, when};
use super::session::{CsrfForm, Session};
use crate::service::{deliveries, webhooks};
use crate::state::AppState;
use crate::store::{Delivery, WebhookEndpoint};

/// Deliveries shown for the selected endpoint.
const RECENT: u32 = 50;

/// `?publisher=&webhook=&done=` of the webhooks page.
#[derive(Debug, Default, Deserialize)]
pub struct WebhooksQuery {
    publisher: Option<String>,
    webhook: Option<String>,
    done: Option<String>,
}

/// `GET /admin/webhooks`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<WebhooksQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let Query(q) = query.unwrap_or_default();
    let shown = publisher_of(&state, &session, q.publisher.as_deref()).await?;
    let id = shown.publisher.id;
    let endpoints = webhooks::list(&state, &session.auth, id)
        .await
        .map_err(error_page)?;
    let selected = match q
        .webhook
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        Some(text) => {
            let wanted = text.parse::<i64>().map_err(|_| not_found())?;
            Some(
                endpoints
                    .iter()
                    .find(|e| e.id == wanted)
                    .ok_or_else(not_found)?,
            )
        }
        None => endpoints.first(),
    };
    let recent = match selected {
        Some(e) => deliveries::list(&state, &session.auth, id, e.id, None, RECENT)
            .await
            .map_err(error_page)?,
        None => Vec::new(),
    };
    let flash = q.done.as_deref().map(|d| match d {
        "replayed" => "The delivery will be sent again.".to_owned(),
        "busy" => {
            "That delivery is being sent right now; replay it again once it settles.".to_owned()
        }
        "none" => "Nothing to send again since that time.".to_owned(),
        n => format!("{n} deliveries will be sent again."),
    });
    let publisher = id.to_string();
    let view = View {
        publisher: &publisher,
        csrf: &session.csrf,
        endpoints: &endpoints,
        selected,
        recent: &recent,
        flash: flash.as_deref(),
    };
    Ok(shown.page(
        &session,
        StatusCode::OK,
        Tab::Webhooks,
        "Webhooks",
        view.render(),
    ))
}

/// `POST /admin/webhooks/{webhook}/deliveries/{delivery}/replay`.
pub async fn replay_one(
    State(state): State<AppState>,
    session: Session,
    Path((webhook, delivery)): Path<(String, String)>,
    Query(which): Query<Which>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Response> {
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    session.check_csrf(&given)?;
    let publisher = publisher_of(&state, &session, which.publisher.as_deref())
        .await?
        .publisher
        .id;
    let webhook = webhook.parse::<i64>().map_err(|_| not_found())?;
    let delivery = delivery.parse::<i64>().map_err(|_| not_found())?;
    let n = deliveries::replay_one(&state, &session.auth, publisher, webhook, delivery)
        .await
        .map_err(error_page)?;
    Ok(back(
        publisher,
        webhook,
        if n == 0 { "busy" } else { "replayed" },
    ))
}

/// The replay-since form.
#[derive(Debug, Deserialize)]
pub struct SinceForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    since: String,
}

/// `POST /admin/webhooks/{webhook}/replay`: every event since a time (UTC).
pub async fn replay_since(
    State(state): State<AppState>,
    session: Session,
    Path(webhook): Path<String>,
    Query(which): Query<Which>,
    form: Result<Form<SinceForm>, FormRejection>,
) -> Result<Response, Response> {
    let Form(form) = form.map_err(|_| bad_form())?;
    session.check_csrf(&form.csrf)?;
    let publisher = publisher_of(&state, &session, which.publisher.as_deref())
        .await?
        .publisher
        .id;
    let webhook = webhook.parse::<i64>().map_err(|_| not_found())?;
    let since = parse_time(&form.since).ok_or_else(bad_form)?;
    let n = deliveries::replay_since(&state, &session.auth, publisher, webhook, since)
        .await
        .map_err(error_page)?;
    let done = if n == 0 {
        "none".to_owned()
    } else {
        n.to_string()
    };
    Ok(back(publisher, webhook, &done))
}

fn back(publisher: crate::domain::PublisherId, webhook: i64, done: &str) -> Response {
    Redirect::to(&format!(
        "/admin/webhooks?publisher={publisher}&webhook={webhook}&done={done}"
    ))
    .into_response()
}

/// A time as a `datetime-local` input sends it (read as UTC), or RFC 3339.
fn parse_time(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    ["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"]
        .iter()
        .find_map(|f| NaiveDateTime::parse_from_str(text, f).ok())
        .map(|t| t.and_utc())
}

/// What the page shows.
struct View<'a> {
    publisher: &'a str,
    csrf: &'a str,
    endpoints: &'a [WebhookEndpoint],
    selected: Option<&'a WebhookEndpoint>,
    recent: &'a [Delivery],
    flash: Option<&'a str>,
}

/// Enabled, or disabled and why.
fn status(e: &WebhookEndpoint) -> Markup {
    let why = match e.disabled_reason.as_deref() {
        Some("gone") => "disabled: the receiver answered 410 Gone",
        Some("failing") => "disabled: failing (retries ran out)",
        Some("admin") => "disabled by an admin",
        _ => "disabled",
    };
    html! {
        @if e.enabled { span.tag.ok { "enabled" } } @else { span.tag.no { (why) } }
    }
}

fn state_tag(d: &Delivery) -> Markup {
    html! {
        @if d.state == "delivered" {
            span.tag.ok { "delivered" }
        } @else if d.state == "pending" && d.attempts > 0 {
            span.tag.warn { "retrying" }
        } @else if d.state == "pending" {
            span.tag.warn { "pending" }
        } @else {
            span.tag { (d.state) }
        }
    }
}

impl View<'_> {
    fn render(&self) -> Markup {
        let p = self.publisher;
        html! {
            h1 { "Webhooks" }
            @if let Some(text) = self.flash { p.flash id="flash" { (text) } }
            table id="endpoints" {
                thead { tr { th { "Id" } th { "URL" } th { "Format" } th { "Events" } th { "Status" } th { "Pending" } th {} } }
                tbody {
                    @for e in self.endpoints {
                        tr data-endpoint=(e.id) {
                            td { (e.id) }
                            td { code { (e.url) } @if let Some(d) = &e.description { br; span.muted { (d) } } }
                            td { (e.format) }
                            td { (e.event_types.join(", ")) }
                            td.status { (status(e)) }
                            td.pending { (e.pending) }
                            td { a href={ "/admin/webhooks?publisher=" (p) "&webhook=" (e.id) } { "Deliveries" } }
                        }
                    }
                    @if self.endpoints.is_empty() {
                        tr { td colspan="7" .muted { "No endpoints yet: create one with the admin API or `enroll webhook create`." } }
                    }
                }
            }
            @if let Some(e) = self.selected { (self.deliveries(e)) }
        }
    }

    fn deliveries(&self, e: &WebhookEndpoint) -> Markup {
        let p = self.publisher;
        html! {
            h2 { "Recent deliveries to endpoint " (e.id) }
            @if !e.enabled { p.muted { "Replayed deliveries wait until the endpoint is enabled again." } }
            form.filters method="post" action={ "/admin/webhooks/" (e.id) "/replay?publisher=" (p) } id="replay-since" {
                input type="hidden" name="csrf" value=(self.csrf);
                label { "Send again every event since (UTC)" input type="datetime-local" name="since" id="since" required; }
                button type="submit" { "Replay" }
            }
            table id="deliveries" {
                thead { tr { th { "Event" } th { "Type" } th { "Customer" } th { "Status" } th { "Tries" } th { "Response" } th { "Occurred" } th { "Delivered / next try" } th {} } }
                tbody {
                    @for d in self.recent {
                        tr data-delivery=(d.id) {
                            td { code { (d.event_id) } }
                            td { (d.event_type) }
                            td { (d.customer.map(|c| c.to_string()).unwrap_or_default()) }
                            td.state { (state_tag(d)) }
                            td.attempts { (d.attempts) }
                            td.response {
                                (d.last_status.map(|s| s.to_string()).unwrap_or_default())
                                @if let Some(err) = &d.last_error { " " span.muted { (err) } }
                            }
                            td { (when(&d.occurred_at)) }
                            td {
                                @if let Some(t) = &d.finished_at { (when(t)) }
                                @else if d.state == "pending" { span.muted { (when(&d.next_attempt_at)) } }
                            }
                            td {
                                form.inline method="post" action={ "/admin/webhooks/" (e.id) "/deliveries/" (d.id) "/replay?publisher=" (p) } {
                                    input type="hidden" name="csrf" value=(self.csrf);
                                    button.secondary type="submit" { "Send again" }
                                }
                            }
                        }
                    }
                    @if self.recent.is_empty() { tr { td colspan="9" .muted { "No deliveries yet." } } }
                }
            }
        }
    }
}
