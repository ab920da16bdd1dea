//! `/admin`: the Customer Accounts dashboard, server-rendered HTML on the admin API's store
//! functions. Sign-in takes an admin key and starts a session kept in the database (replicas
//! share it) behind an HttpOnly, SameSite=Strict cookie (`Secure` unless
//! `admin.cookie_secure = false`); every form carries a CSRF token derived from the session.
//! A publisher key sees its own publisher only; operators pick one.

// The error side of these results is the page to answer with, built once per request.
#![allow(clippy::result_large_err)]

pub mod pages;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::{NaiveDate, Utc};
use hmac::{Hmac, Mac};
use maud::Markup;
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::admin::customers::{CustomerQuery, cursor_of};
use super::admin::export::csv_download;
use super::admin::{AdminAuth, CONFIG_OPERATOR, Scope};
use crate::auth::admin_key::{admin_key_hash, is_operator_key};
use crate::auth::tokens::{new_token, token_hash};
use crate::domain::capture::CaptureAnswers;
use crate::domain::{ConsentDraft, ConsentName, ConsentOwner, CustomerId, PublisherId};
use crate::state::AppState;
use crate::store::{AuditCursor, NewAdminSession, Published, Publisher, StoreError};
use pages::{ConsentLine, CustomerRow, CustomersPage, Frame, Tab};

/// The session cookie.
const COOKIE: &str = "enroll_admin";
/// The sign-in form's CSRF cookie (double submit: the form holds the same value).
const LOGIN_COOKIE: &str = "enroll_admin_login";
/// Customers per page.
const PAGE: u32 = 50;
/// Days in the registrations chart.
const CHART_DAYS: i64 = 30;
/// How long a chart is served from memory (it is the only aggregate the pages compute).
const CHART_TTL: Duration = Duration::from_secs(60);

/// Registrations per day.
type Days = Arc<Vec<(NaiveDate, i64)>>;

/// Registrations-per-day charts, per publisher, for [`CHART_TTL`].
#[derive(Default)]
pub struct ChartCache(Mutex<HashMap<PublisherId, (Instant, Days)>>);

/// The dashboard's routes (none is in a rate-limit class).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(index))
        .route("/admin/", get(index))
        .route("/admin/login", get(login_form).post(login))
        .route("/admin/logout", post(logout))
        .route("/admin/customers", get(customers))
        .route("/admin/customers.csv", get(export))
        .route("/admin/customers/{customer_id}", get(customer))
        .route("/admin/customers/{customer_id}/erase", post(erase))
        .route("/admin/consents", get(consents).post(publish))
        .route("/admin/consents/{name}/archive", post(archive))
        .route("/admin/audit", get(audit))
}

fn html(status: StatusCode, markup: Markup) -> Response {
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
        axum::Extension(super::error::Enveloped),
        Html(markup.into_string()),
    )
        .into_response()
}

fn message(status: StatusCode, title: &str, text: &str) -> Response {
    html(status, pages::message(title, text))
}

fn not_found() -> Response {
    message(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no such page, or it is not yours to see.",
    )
}

fn failure(e: impl std::fmt::Display) -> Response {
    tracing::error!(error = %e, "dashboard request failed");
    message(
        StatusCode::SERVICE_UNAVAILABLE,
        "Temporarily unavailable",
        "The dashboard could not reach its database. Try again in a moment.",
    )
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.settings.admin.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

/// The CSRF token of a session: an HMAC of its token under the server secret, so it need not
/// be stored (only its hash is, with the session).
fn csrf_of(state: &AppState, session_token: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&state.idempotency_secret) else {
        return String::new();
    };
    mac.update(b"admin-csrf\0");
    mac.update(session_token.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in admin.
pub struct Session {
    /// What the key reaches, and who it is for the audit trail.
    pub auth: AdminAuth,
    /// The session token's hash (to end it).
    token_hash: String,
    /// The CSRF token every form must carry.
    pub csrf: String,
}

impl Session {
    fn check_csrf(&self, given: &str) -> Result<(), Response> {
        if same(given, &self.csrf) {
            Ok(())
        } else {
            Err(message(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is no longer valid (signed out, or opened elsewhere). Go back, reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/admin/login").into_response();
        let token = cookie(&parts.headers, COOKIE).ok_or_else(to_login)?;
        let hash = token_hash(&token);
        let stored = state
            .store
            .admin_session(&hash)
            .await
            .map_err(failure)?
            .ok_or_else(to_login)?;
        let auth = match (stored.key, stored.operator_key_hash) {
            (Some(key), _) if key.revoked_at.is_none() => AdminAuth {
                scope: key.publisher.map_or(Scope::Operator, Scope::Publisher),
                key_id: Some(key.id),
                actor: key.label,
            },
            // A session of the config's operator key lasts while that key is configured.
            (None, Some(signed_in_with)) => {
                use secrecy::ExposeSecret;
                let configured = state.settings.admin.operator_key.expose_secret().trim();
                if configured.is_empty() || !same(&signed_in_with, &admin_key_hash(configured)) {
                    return Err(to_login());
                }
                AdminAuth {
                    scope: Scope::Operator,
                    key_id: None,
                    actor: CONFIG_OPERATOR.to_owned(),
                }
            }
            _ => return Err(to_login()),
        };
        Ok(Session {
            auth,
            token_hash: hash,
            csrf: csrf_of(state, &token),
        })
    }
}

async fn index(session: Result<Session, Response>) -> Redirect {
    match session {
        Ok(_) => Redirect::to("/admin/customers"),
        Err(_) => Redirect::to("/admin/login"),
    }
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let (token, _) = new_token();
    let mut response = html(status, pages::login(error, &token));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, 3600),
    );
    response
}

async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    key: String,
    #[serde(default)]
    csrf: String,
}

async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_page(&state, StatusCode::BAD_REQUEST, Some("Enter an admin key."));
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same(&form.csrf, &expected) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired; try again."),
        );
    }
    let key = form.key.trim();
    let (key_id, operator_key_hash, actor, publisher) =
        if is_operator_key(key, &state.settings.admin.operator_key) {
            (
                None,
                Some(admin_key_hash(key)),
                CONFIG_OPERATOR.to_owned(),
                None,
            )
        } else {
            match state.store.admin_key_by_hash(&admin_key_hash(key)).await {
                Ok(Some(k)) if k.revoked_at.is_none() => (Some(k.id), None, k.label, k.publisher),
                Ok(_) => {
                    return login_page(
                        &state,
                        StatusCode::UNAUTHORIZED,
                        Some("That key is not valid, or it was revoked."),
                    );
                }
                Err(e) => return failure(e),
            }
        };
    let (token, hash) = new_token();
    let ttl = state.settings.admin.session_ttl;
    let session = NewAdminSession {
        hash,
        key_id,
        operator_key_hash,
        csrf_hash: token_hash(&csrf_of(&state, &token)),
        expires_at: Utc::now()
            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8)),
    };
    if let Err(e) = state.store.create_admin_session(&session).await {
        return failure(e);
    }
    let audit = crate::store::NewAudit {
        key_id,
        actor,
        publisher,
        action: "dashboard.sign_in".into(),
        detail: serde_json::json!({}),
    };
    if let Err(e) = state.store.record_audit(&audit).await {
        tracing::warn!(error = %e, "could not record a dashboard sign-in");
    }
    let mut response = Redirect::to("/admin/customers").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, &token, ttl.as_secs()),
    );
    headers.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
    response
}

/// A form that carries only the CSRF token (sign out, archive, erase).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    confirm: String,
}

async fn logout(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(r) = session.check_csrf(&given) {
        return r;
    }
    if let Err(e) = state.store.delete_admin_session(&session.token_hash).await {
        return failure(e);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, COOKIE, "", 0));
    response
}

/// `?publisher=` of every page.
#[derive(Debug, Default, Deserialize)]
pub struct Which {
    publisher: Option<String>,
}

/// The publisher a page shows: a publisher key's own (another id is "not found"), or the one
/// an operator picked (the first one when none is picked).
async fn publisher_of(
    state: &AppState,
    session: &Session,
    which: Option<&str>,
) -> Result<(Publisher, Vec<(String, String)>), Response> {
    let which = which.map(str::trim).filter(|s| !s.is_empty());
    let wanted = match which {
        Some(text) => Some(PublisherId::parse(text).map_err(|_| not_found())?),
        None => None,
    };
    match session.auth.scope {
        Scope::Publisher(own) => {
            if wanted.is_some_and(|w| w != own) {
                return Err(not_found());
            }
            let p = state
                .store
                .publisher(own)
                .await
                .map_err(failure)?
                .ok_or_else(not_found)?;
            Ok((p, Vec::new()))
        }
        Scope::Operator => {
            let all = state.store.publishers().await.map_err(failure)?;
            let picker = all
                .iter()
                .map(|p| (p.id.to_string(), p.name.clone()))
                .collect();
            let chosen = match wanted {
                Some(id) => all.into_iter().find(|p| p.id == id).ok_or_else(not_found)?,
                None => all.into_iter().next().ok_or_else(|| {
                    message(
                        StatusCode::OK,
                        "No publishers yet",
                        "Create one with `enroll publisher create` or the admin API.",
                    )
                })?,
            };
            Ok((chosen, picker))
        }
    }
}

fn frame<'a>(
    session: &'a Session,
    picker: &'a [(String, String)],
    id: &'a str,
    name: &'a str,
    tab: Tab,
) -> Frame<'a> {
    Frame {
        actor: &session.auth.actor,
        operator: session.auth.is_operator(),
        publishers: picker,
        publisher: Some((id, name)),
        csrf: &session.csrf,
        tab,
    }
}

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
    for (name, value) in [
        ("q", &q.q),
        ("country", &q.country),
        ("registeredFrom", &q.registered_from),
        ("registeredTo", &q.registered_to),
        ("consent", &q.consent),
        ("consentState", &q.consent_state),
        ("needsUpdate", &q.needs_update),
    ] {
        if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
            s.append_pair(name, v);
        }
    }
    for (name, value) in extra {
        s.append_pair(name, value);
    }
    format!("{path}?{}", s.finish())
}

async fn chart(
    state: &AppState,
    publisher: PublisherId,
) -> Result<Arc<Vec<(NaiveDate, i64)>>, StoreError> {
    if let Ok(cache) = state.charts.0.lock()
        && let Some((at, days)) = cache.get(&publisher)
        && at.elapsed() < CHART_TTL
    {
        return Ok(days.clone());
    }
    let today = Utc::now().date_naive();
    let first = today - chrono::Duration::days(CHART_DAYS - 1);
    let since = first
        .and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc());
    let counts = state.store.registrations_per_day(publisher, since).await?;
    let days: Vec<(NaiveDate, i64)> = first
        .iter_days()
        .take(CHART_DAYS as usize)
        .map(|d| {
            (
                d,
                counts.iter().find(|(c, _)| *c == d).map_or(0, |(_, n)| *n),
            )
        })
        .collect();
    let days = Arc::new(days);
    if let Ok(mut cache) = state.charts.0.lock() {
        cache.insert(publisher, (Instant::now(), days.clone()));
    }
    Ok(days)
}

async fn customers(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Query(list) = query.unwrap_or_default();
    let (publisher, picker) = match publisher_of(&state, &session, list.publisher.as_deref()).await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let id = publisher.id.to_string();
    let q = &list.query;
    let current = match state.store.current_consents(publisher.id).await {
        Ok(c) => c,
        Err(e) => return failure(e),
    };
    let consent_names: Vec<String> = current.iter().map(|c| c.name.to_string()).collect();
    let parsed = q.filter().and_then(|f| Ok((f, q.after()?)));
    let (filter, after) = match parsed {
        Ok(v) => v,
        Err(e) => {
            let page = CustomersPage {
                filters: q,
                consent_names: &consent_names,
                rows: &[],
                next: None,
                previous: None,
                export: link("/admin/customers.csv", &id, q, &[]),
                chart: &[],
                publisher: &id,
                error: Some(e.message()),
            };
            let f = frame(&session, &picker, &id, &publisher.name, Tab::Customers);
            return html(
                StatusCode::BAD_REQUEST,
                pages::page(&f, "Customer Accounts", pages::customers(&page)),
            );
        }
    };
    let mut found = match state
        .store
        .customer_page(publisher.id, &filter, after.as_ref(), PAGE + 1)
        .await
    {
        Ok(rows) => rows,
        Err(e) => return failure(e),
    };
    let more = found.len() > PAGE as usize;
    found.truncate(PAGE as usize);
    let ids: Vec<CustomerId> = found.iter().map(|c| c.id).collect();
    let all_answers = match state.store.consent_answers_of(publisher.id, &ids).await {
        Ok(a) => a,
        Err(e) => return failure(e),
    };
    let mut rows = Vec::with_capacity(found.len());
    for c in &found {
        let answers: Vec<&crate::store::ConsentRecord> = all_answers
            .iter()
            .filter(|(id, _)| *id == c.id)
            .map(|(_, a)| a)
            .collect();
        let answer = |owner, name: &ConsentName| {
            answers.iter().find(|a| a.owner == owner && &a.name == name)
        };
        rows.push(CustomerRow {
            id: c.id.to_string(),
            email: c.email.clone(),
            name: [c.first_name.as_deref(), c.last_name.as_deref()]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(" "),
            country: c.country.clone(),
            registered: c.created_at,
            last_login: c.last_login_at,
            needs_update: current
                .iter()
                .filter(|v| answer(v.owner, &v.name).is_none_or(|a| a.version < v.version))
                .map(|v| v.name.to_string())
                .collect(),
            missing_required: current.iter().any(|v| {
                v.required
                    && answer(v.owner, &v.name)
                        .is_none_or(|a| a.state != crate::domain::ConsentState::Accepted)
            }),
        });
    }
    // "Previous" walks back through the cursors of the pages before ("-": the first page).
    let trail: Vec<&str> = list
        .back
        .as_deref()
        .unwrap_or("")
        .split(',')
        .filter(|s| !s.is_empty())
        .collect();
    let this = q
        .cursor
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "-".into());
    let next = more
        .then(|| found.last().map(cursor_of))
        .flatten()
        .map(|c| {
            let mut back = trail.clone();
            back.push(&this);
            link(
                "/admin/customers",
                &id,
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
        link("/admin/customers", &id, q, &extra)
    });
    let days = if after.is_none() {
        match chart(&state, publisher.id).await {
            Ok(d) => d,
            Err(e) => return failure(e),
        }
    } else {
        Arc::new(Vec::new())
    };
    let page = CustomersPage {
        filters: q,
        consent_names: &consent_names,
        rows: &rows,
        next,
        previous,
        export: link("/admin/customers.csv", &id, q, &[]),
        chart: &days,
        publisher: &id,
        error: None,
    };
    let f = frame(&session, &picker, &id, &publisher.name, Tab::Customers);
    html(
        StatusCode::OK,
        pages::page(&f, "Customer Accounts", pages::customers(&page)),
    )
}

async fn export(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ListQuery>, QueryRejection>,
) -> Response {
    let Query(list) = query.unwrap_or_default();
    let (publisher, _) = match publisher_of(&state, &session, list.publisher.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let filter = match list.query.filter() {
        Ok(f) => f,
        Err(e) => return message(StatusCode::BAD_REQUEST, "Bad filter", e.message()),
    };
    let audit = session.auth.audit(
        Some(publisher.id),
        "customer.export",
        serde_json::json!({"filter": list.query.describe(), "via": "dashboard"}),
    );
    if let Err(e) = state.store.record_audit(&audit).await {
        return failure(e);
    }
    csv_download(&state, publisher.id, filter)
}

async fn customer_in_scope(
    state: &AppState,
    session: &Session,
    which: Option<&str>,
    path: &str,
) -> Result<(Publisher, Vec<(String, String)>, crate::store::Customer), Response> {
    let (publisher, picker) = publisher_of(state, session, which).await?;
    let id = CustomerId::parse(path).map_err(|_| not_found())?;
    let customer = state
        .store
        .customer(publisher.id, id)
        .await
        .map_err(failure)?
        .ok_or_else(not_found)?;
    Ok((publisher, picker, customer))
}

fn capture_lines(c: &crate::store::Customer) -> Vec<(String, String)> {
    let a = CaptureAnswers::from_stored(c.capture.as_ref());
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

async fn customer(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<String>,
    Query(which): Query<Which>,
) -> Response {
    let (publisher, picker, c) =
        match customer_in_scope(&state, &session, which.publisher.as_deref(), &path).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    let loaded = async {
        let current = state.store.current_consents(publisher.id).await?;
        let answers = state.store.consent_answers(publisher.id, c.id).await?;
        let history = state.store.consent_history(publisher.id, c.id).await?;
        Ok::<_, StoreError>((current, answers, history))
    };
    let (current, answers, history) = match loaded.await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let lines: Vec<ConsentLine> = current
        .iter()
        .map(|v| ConsentLine {
            name: v.name.to_string(),
            newest: v.version,
            required: v.required,
            answer: answers
                .iter()
                .find(|a| a.owner == v.owner && a.name == v.name)
                .map(|a| (a.state.as_str().to_owned(), a.version, a.at)),
        })
        .collect();
    let id = publisher.id.to_string();
    let content = pages::customer(&c, &capture_lines(&c), &lines, &history, &id, &session.csrf);
    let f = frame(&session, &picker, &id, &publisher.name, Tab::Customers);
    html(StatusCode::OK, pages::page(&f, &c.email, content))
}

async fn erase(
    State(state): State<AppState>,
    session: Session,
    Path(path): Path<String>,
    Query(which): Query<Which>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad form",
            "The form could not be read.",
        );
    };
    if let Err(r) = session.check_csrf(&form.csrf) {
        return r;
    }
    let (publisher, _, c) =
        match customer_in_scope(&state, &session, which.publisher.as_deref(), &path).await {
            Ok(v) => v,
            Err(r) => return r,
        };
    if form.confirm != "yes" {
        return message(
            StatusCode::BAD_REQUEST,
            "Not erased",
            "Tick the box to confirm that the customer is to be erased.",
        );
    }
    let audit = session.auth.audit(
        Some(publisher.id),
        "customer.erase",
        serde_json::json!({"customerId": c.id.to_string(), "via": "dashboard"}),
    );
    match state.store.erase_customer(publisher.id, c.id, &audit).await {
        Ok(_) => {
            Redirect::to(&format!("/admin/customers?publisher={}", publisher.id)).into_response()
        }
        Err(e) => failure(e),
    }
}

/// `?publisher=&done=` of the consents page (`done` says what the last form did).
#[derive(Debug, Default, Deserialize)]
pub struct ConsentsQuery {
    publisher: Option<String>,
    done: Option<String>,
}

async fn consents(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ConsentsQuery>, QueryRejection>,
) -> Response {
    let Query(q) = query.unwrap_or_default();
    let (publisher, picker) = match publisher_of(&state, &session, q.publisher.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let loaded = async {
        let current = state.store.current_consents(publisher.id).await?;
        let versions = state
            .store
            .consent_versions(ConsentOwner::Publisher(publisher.id))
            .await?;
        Ok::<_, StoreError>((current, versions))
    };
    let (current, versions) = match loaded.await {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let flash = q.done.as_deref().map(|d| match d {
        "published" => ("A new version was published.", true),
        "unchanged" => (
            "The current version already says this; nothing was published.",
            true,
        ),
        "archived" => ("The consent was archived.", true),
        _ => ("Done.", true),
    });
    render_consents(
        &session,
        &picker,
        &publisher,
        &current,
        &versions,
        flash,
        StatusCode::OK,
    )
}

fn render_consents(
    session: &Session,
    picker: &[(String, String)],
    publisher: &Publisher,
    current: &[crate::store::ConsentVersion],
    versions: &[crate::store::ConsentVersion],
    flash: Option<(&str, bool)>,
    status: StatusCode,
) -> Response {
    let id = publisher.id.to_string();
    let content = pages::consents(current, versions, &id, &session.csrf, flash);
    let f = frame(session, picker, &id, &publisher.name, Tab::Consents);
    html(status, pages::page(&f, "Consents", content))
}

/// The publish form.
#[derive(Debug, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    required: Option<String>,
}

async fn publish(
    State(state): State<AppState>,
    session: Session,
    Query(which): Query<Which>,
    form: Result<Form<PublishForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return message(
            StatusCode::BAD_REQUEST,
            "Bad form",
            "The form could not be read.",
        );
    };
    if let Err(r) = session.check_csrf(&form.csrf) {
        return r;
    }
    let (publisher, picker) = match publisher_of(&state, &session, which.publisher.as_deref()).await
    {
        Ok(p) => p,
        Err(r) => return r,
    };
    let name = match ConsentName::parse(form.name.trim()) {
        Ok(n) => n,
        Err(e) => {
            return refused(&state, &session, &picker, &publisher, format!("Name: {e}")).await;
        }
    };
    let draft = ConsentDraft {
        name,
        label: form.label.trim().to_owned(),
        value: form.value.trim().to_owned(),
        required: form.required.is_some(),
        enabled_by_default: false,
        placeholder: String::new(),
    };
    if let Err(e) = draft.check() {
        return refused(&state, &session, &picker, &publisher, e).await;
    }
    let audit = session.auth.audit(
        Some(publisher.id),
        "consent.publish",
        serde_json::json!({"name": draft.name.to_string(), "label": draft.label, "value": draft.value,
                           "required": draft.required, "via": "dashboard"}),
    );
    match state
        .store
        .admin_publish_consent(ConsentOwner::Publisher(publisher.id), &draft, &audit)
        .await
    {
        Ok(published) => {
            state.catalog.invalidate(publisher.id);
            let done = match published {
                Published::New(_) => "published",
                Published::Unchanged(_) => "unchanged",
            };
            Redirect::to(&format!(
                "/admin/consents?publisher={}&done={done}",
                publisher.id
            ))
            .into_response()
        }
        Err(StoreError::Invalid(e)) => refused(&state, &session, &picker, &publisher, e).await,
        Err(e) => failure(e),
    }
}

/// The consents page again with what was wrong with the publish form.
async fn refused(
    state: &AppState,
    session: &Session,
    picker: &[(String, String)],
    publisher: &Publisher,
    text: String,
) -> Response {
    let current = state
        .store
        .current_consents(publisher.id)
        .await
        .unwrap_or_default();
    let versions = state
        .store
        .consent_versions(ConsentOwner::Publisher(publisher.id))
        .await
        .unwrap_or_default();
    render_consents(
        session,
        picker,
        publisher,
        &current,
        &versions,
        Some((&text, false)),
        StatusCode::BAD_REQUEST,
    )
}

async fn archive(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(which): Query<Which>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(r) = session.check_csrf(&given) {
        return r;
    }
    let (publisher, _) = match publisher_of(&state, &session, which.publisher.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Ok(name) = ConsentName::parse(&name) else {
        return not_found();
    };
    let audit = session.auth.audit(
        Some(publisher.id),
        "consent.archive",
        serde_json::json!({"name": name.to_string(), "via": "dashboard"}),
    );
    match state
        .store
        .admin_archive_consent(ConsentOwner::Publisher(publisher.id), &name, &audit)
        .await
    {
        Ok(true) => {
            state.catalog.invalidate(publisher.id);
            Redirect::to(&format!(
                "/admin/consents?publisher={}&done=archived",
                publisher.id
            ))
            .into_response()
        }
        Ok(false) => not_found(),
        Err(e) => failure(e),
    }
}

/// `?publisher=&before=` of the audit page.
#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    publisher: Option<String>,
    before: Option<String>,
}

async fn audit(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<AuditQuery>, QueryRejection>,
) -> Response {
    let Query(q) = query.unwrap_or_default();
    let (publisher, picker) = match publisher_of(&state, &session, q.publisher.as_deref()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let before = q.before.as_deref().and_then(AuditCursor::decode);
    let mut entries = match state
        .store
        .audit_page(Some(publisher.id), before, PAGE + 1)
        .await
    {
        Ok(e) => e,
        Err(e) => return failure(e),
    };
    let more = entries.len() > PAGE as usize;
    entries.truncate(PAGE as usize);
    let next = more
        .then(|| entries.last().map(|e| AuditCursor(e.id).encode()))
        .flatten()
        .map(|c| format!("/admin/audit?publisher={}&before={c}", publisher.id));
    let id = publisher.id.to_string();
    let f = frame(&session, &picker, &id, &publisher.name, Tab::Audit);
    html(
        StatusCode::OK,
        pages::page(&f, "Audit trail", pages::audit(&entries, next)),
    )
}
