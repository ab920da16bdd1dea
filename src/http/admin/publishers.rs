//! `/admin/api/publishers`: operators create and list publishers; a publisher key reads its
//! own and changes its settings except the origins (CORS, reset URLs) and the captcha
//! `siteverify_url` (where the server connects), which are operators'. The captcha secret is
//! never shown; a captcha block sent without one keeps the stored one only while provider and
//! siteverify URL stay.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use super::{AdminAuth, publisher_in_scope, time};
use crate::domain::fields::{Fields, bounded};
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{OfferId, PublisherId, PublisherSettings};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::publishers::{self as service, SettingsChange, redacted};
use crate::state::AppState;
use crate::store::Publisher;

/// A publisher as the admin API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminPublisher {
    /// Nine digits.
    pub id: u32,
    /// Display name.
    pub name: String,
    /// Offer ids that resolve to it.
    pub offers: Vec<String>,
    /// The settings, as in the config file's `[publishers.settings]` (`captcha.secret` left out).
    #[schema(value_type = Object)]
    pub settings: Value,
    /// RFC 3339.
    pub created_at: String,
}

/// Publishers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Publishers {
    /// By id.
    pub publishers: Vec<AdminPublisher>,
}

async fn view(state: &AppState, p: Publisher) -> Result<AdminPublisher, ApiError> {
    let offers = service::offers(state, p.id).await?;
    Ok(AdminPublisher {
        id: u32::try_from(p.id.get()).unwrap_or_default(),
        name: p.name,
        offers: offers.iter().map(ToString::to_string).collect(),
        settings: redacted(&p.settings),
        created_at: time(p.created_at),
    })
}

/// Every publisher an operator key reaches; a publisher key gets its own.
#[utoipa::path(get, path = "/admin/api/publishers", tag = "admin", security(("adminKey" = [])),
    responses((status = 200, body = Publishers), (status = 401, body = crate::http::error::ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: AdminAuth,
) -> Result<Data<Publishers>, ApiError> {
    let publishers = service::list(&state, &auth).await?;
    let mut views = Vec::with_capacity(publishers.len());
    for p in publishers {
        views.push(view(&state, p).await?);
    }
    Ok(Data(Publishers { publishers: views }))
}

/// One publisher (404 for a publisher key's other publishers, as for unknown ones).
#[utoipa::path(get, path = "/admin/api/publishers/{publisherId}", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)),
    responses((status = 200, body = AdminPublisher), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn read(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
) -> Result<Data<AdminPublisher>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    Ok(Data(view(&state, publisher).await?))
}

/// Body of a new publisher.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct NewPublisher {
    /// Nine digits.
    id: String,
    /// Display name.
    name: String,
    /// Offer ids such as `S123456789_US`.
    offers: Option<Vec<String>>,
    /// Settings as in `[publishers.settings]`; absent ones take their defaults.
    #[schema(value_type = Object)]
    settings: Option<Value>,
}

/// Creates a publisher (operators only).
#[utoipa::path(post, path = "/admin/api/publishers", tag = "admin", security(("adminKey" = [])),
    request_body = NewPublisher,
    responses((status = 200, body = AdminPublisher), (status = 400, body = crate::http::error::ErrorBody),
        (status = 403, body = crate::http::error::ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: AdminAuth,
    AppJson(body): AppJson<Value>,
) -> Result<Data<AdminPublisher>, ApiError> {
    auth.require_operator("publishers")?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let id = f.required("id", None, PublisherId::parse);
    let name = name(&mut f, true);
    let offers = offers(&mut f);
    let settings = match f.raw("settings") {
        None | Some(Value::Null) => Some(PublisherSettings::default()),
        Some(patch) => settings_after(&auth, &mut f, &PublisherSettings::default(), patch)?,
    };
    let (Some(id), Some(name), Some(settings)) = (id, name, settings) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let created = service::create(&state, &auth, id, &name, &settings, &offers).await?;
    Ok(Data(view(&state, created).await?))
}

fn name(f: &mut Fields<'_>, required: bool) -> Option<String> {
    let name = f
        .optional("name", bounded(1, 200))
        .value()
        .map(|n| n.trim().to_owned());
    match name {
        Some(n) if n.is_empty() => {
            f.problem(FieldError::invalid("name", Reason::TooShort));
            None
        }
        None if required && !f.errors.iter().any(|e| e.field == "name") => {
            f.problem(FieldError::invalid("name", Reason::Missing));
            None
        }
        other => other,
    }
}

/// The settings a body's `settings` object makes of `current`: `None` with the problems added
/// to the body's others (all are answered at once), or the service's refusal (403).
fn settings_after(
    auth: &AdminAuth,
    f: &mut Fields<'_>,
    current: &PublisherSettings,
    patch: &Value,
) -> Result<Option<PublisherSettings>, ApiError> {
    match service::settings_after(auth, current, SettingsChange::Keys(patch)) {
        Ok(settings) => Ok(Some(settings)),
        Err(e) if e.status() == axum::http::StatusCode::BAD_REQUEST => {
            e.details.into_iter().for_each(|d| f.problem(d));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

fn offers(f: &mut Fields<'_>) -> Vec<OfferId> {
    match f.raw("offers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            let parsed: Option<Vec<OfferId>> = items
                .iter()
                .map(|v| v.as_str().and_then(|s| OfferId::parse(s).ok()))
                .collect();
            parsed.unwrap_or_else(|| {
                f.problem(FieldError::invalid("offers", Reason::InvalidValue));
                Vec::new()
            })
        }
        Some(_) => {
            f.problem(FieldError::invalid("offers", Reason::InvalidValue));
            Vec::new()
        }
    }
}

/// Body of a publisher change.
#[derive(Debug, utoipa::ToSchema)]
#[allow(dead_code)]
pub struct PublisherChange {
    /// A new display name.
    name: Option<String>,
    /// Settings to replace, by key (`cors_origins`, `default_locale`, …); the others stay.
    #[schema(value_type = Object)]
    settings: Option<Value>,
}

/// Changes the name or settings. A publisher key may not change `cors_origins`,
/// `reset_url_origins`, `reset_url_default`, `confirm_url_default` or
/// `captcha.siteverify_url` (403).
/// `require_consents_at_registration: true` breaks sign-up through the Cleeng MediaStore SDK
/// and JW Player's OTT web app: neither sends consents in `POST /customers`.
#[utoipa::path(patch, path = "/admin/api/publishers/{publisherId}", tag = "admin", security(("adminKey" = [])),
    params(("publisherId" = String, Path)), request_body = PublisherChange,
    responses((status = 200, body = AdminPublisher), (status = 400, body = crate::http::error::ErrorBody),
        (status = 403, description = "AUTH0004 a publisher key changing origins or the captcha siteverify_url", body = crate::http::error::ErrorBody),
        (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<AdminPublisher>, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let current = publisher_in_scope(&state, &auth, &text).await?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let new_name = name(&mut f, false);
    let settings = match f.raw("settings") {
        None | Some(Value::Null) => Some(current.settings.clone()),
        Some(patch) => settings_after(&auth, &mut f, &current.settings, patch)?,
    };
    let Some(settings) = settings.filter(|_| f.errors.is_empty()) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    let name = new_name.unwrap_or_else(|| current.name.clone());
    let updated = service::update(&state, &auth, current, name, settings).await?;
    Ok(Data(view(&state, updated).await?))
}
