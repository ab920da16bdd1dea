//! `POST /customers`: registration, with consents stored atomically and `Idempotency-Key`.

use std::sync::Arc;
use std::time::Duration;

use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hmac::{Hmac, Mac};
use serde::Serialize;
use serde_json::Value;
use sha2::Sha256;

use super::Data;
use super::client_ip::ClientIp;
use super::customer_consents::{check_answers, records};
use super::error::ApiError;
use super::json::AppJson;
use crate::auth::tokens::new_token;
use crate::captcha::CaptchaRoute;
use crate::catalog::PublisherView;
use crate::domain::capture::{CaptureAnswers, CaptureInput, Profile, missing};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{ConsentState, CustomerId, PublisherId, Registration, TenantRef};
use crate::state::AppState;
use crate::store::{
    Idempotency, IdempotencyRef, NewCustomer, NewRefreshToken, StoreError, conflict_field,
};

const ROUTE: &str = "POST /customers";
/// How long an outcome is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// A signed-in customer: tokens and id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// EdDSA JWT, 15 minutes.
    pub jwt: String,
    /// Opaque, single use, rotating.
    pub refresh_token: String,
    /// The customer (a number).
    pub customer_id: i64,
}

/// Resolves `publisherId` or `offerId` to an existing publisher (404 otherwise).
pub async fn resolve_publisher(
    state: &AppState,
    tenant: &TenantRef,
) -> Result<Arc<PublisherView>, ApiError> {
    let (id, field) = match tenant {
        TenantRef::Publisher(id) => (*id, "publisherId"),
        TenantRef::Offer(offer) => {
            let id = state
                .store
                .offer_publisher(offer)
                .await?
                .ok_or_else(|| ApiError::unknown("offerId"))?;
            (id, "offerId")
        }
    };
    state
        .catalog
        .publisher(id)
        .await?
        .ok_or_else(|| ApiError::unknown(field))
}

/// A new refresh token (a new family) to store, and the token to hand out.
pub fn refresh_token(state: &AppState) -> (String, NewRefreshToken) {
    let (token, hash) = new_token();
    let auth = &state.settings.auth;
    let now = chrono::Utc::now();
    let after =
        |d: Duration| now + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::days(365));
    let stored = NewRefreshToken {
        hash,
        family: uuid::Uuid::new_v4().simple().to_string(),
        expires_at: after(auth.refresh_token_ttl),
        family_expires_at: after(auth.refresh_family_ttl),
    };
    (token, stored)
}

/// The session epoch of a new customer; a registration's replay works only while the
/// customer is still in it.
const FIRST_EPOCH: i64 = 0;

/// A JWT for the customer in its session epoch, plus the given refresh token.
pub fn session(
    state: &AppState,
    customer: CustomerId,
    publisher: PublisherId,
    epoch: i64,
    refresh: String,
) -> Result<Session, ApiError> {
    Ok(Session {
        jwt: state
            .keys
            .issue(customer, publisher, epoch)
            .map_err(ApiError::internal)?,
        refresh_token: refresh,
        customer_id: customer.get(),
    })
}

/// Register a customer.
#[utoipa::path(post, path = "/customers", tag = "customers",
    params(("Idempotency-Key" = Option<String>, Header, description = "Retry-safe key, ≤ 255 characters")),
    responses(
        (status = 200, body = Session),
        (status = 400, body = super::error::ErrorBody),
        (status = 404, description = "Unknown publisherId or offerId", body = super::error::ErrorBody),
        (status = 409, description = "IDEM0001", body = super::error::ErrorBody),
        (status = 422, description = "USER0002, USER0004, IDEM0002", body = super::error::ErrorBody),
    ))]
pub async fn register(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    headers: HeaderMap,
    AppJson(body): AppJson<Value>,
) -> Result<Response, ApiError> {
    let reg = Registration::parse(&body).map_err(ApiError::invalid_body)?;
    let view = resolve_publisher(&state, &reg.tenant).await?;
    let ip = reg.customer_ip.unwrap_or(client);
    super::guard::captcha(
        &state,
        &view,
        CaptchaRoute::Registration,
        &body,
        &headers,
        ip,
    )
    .await?;
    super::guard::strong_password(
        &view,
        "password",
        reg.password.expose(),
        reg.email.as_str(),
        &[reg.first_name.as_deref(), reg.last_name.as_deref()],
    )?;
    let capture = capture_answers(&view, &reg, &body)?;
    let publisher = view.publisher.id;
    let key = idempotency_key(&headers)?;
    let Some(key) = key else {
        return Ok(
            Data(create(&state, &view, reg, capture, client, &headers, None).await?)
                .into_response(),
        );
    };
    let hmac = fingerprint(&state, &body);
    // A running record older than the longest a request may run belongs to one that died.
    let stale = state.settings.server.request_timeout + Duration::from_secs(5);
    match state
        .store
        .idempotency_begin(publisher, &key, &hmac, stale, IDEMPOTENCY_TTL)
        .await?
    {
        Idempotency::Mismatch => Err(ApiError::idempotency_mismatch()),
        Idempotency::InProgress => Err(ApiError::idempotency_in_progress()),
        Idempotency::Done {
            status: 200,
            customer: Some(id),
            ..
        } => {
            // The same outcome, with a fresh token pair (tokens are never stored in clear),
            // while the customer's sessions were never ended (a password reset, an email
            // change, an erasure also forget this record; this covers one racing them).
            let (token, stored) = refresh_token(&state);
            state
                .store
                .add_refresh_token(publisher, id, &stored, FIRST_EPOCH)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => {
                        already_exists(StoreError::AlreadyExists("customers.email_key".into()))
                    }
                    e => ApiError::from(e),
                })?;
            Ok(Data(session(&state, id, publisher, FIRST_EPOCH, token)?).into_response())
        }
        Idempotency::Done {
            status, response, ..
        } => Ok(ApiError::replay(status, response)),
        Idempotency::Started => {
            match create(
                &state,
                &view,
                reg,
                capture,
                client,
                &headers,
                Some(key.clone()),
            )
            .await
            {
                Ok(session) => Ok(Data(session).into_response()),
                Err(e) if e.status().is_server_error() => {
                    if let Err(abandon) = state.store.idempotency_abandon(publisher, &key).await {
                        tracing::warn!(error = %abandon, "could not release an idempotency key");
                    }
                    Err(e)
                }
                Err(e) => {
                    state
                        .store
                        .idempotency_finish(publisher, &key, e.status().as_u16(), &e.body_json())
                        .await?;
                    Err(e)
                }
            }
        }
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<IdempotencyRef>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    match value.to_str() {
        Ok(k) if !k.trim().is_empty() && k.len() <= 255 => Ok(Some(IdempotencyRef {
            route: ROUTE.into(),
            key: k.trim().to_owned(),
        })),
        Ok(k) if k.trim().is_empty() => Ok(None),
        _ => Err(ApiError::invalid_body(vec![FieldError::invalid(
            "Idempotency-Key",
            Reason::InvalidValue,
        )])),
    }
}

/// HMAC of the canonical body under the server secret (the body holds a password).
fn fingerprint(state: &AppState, body: &Value) -> String {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    let mut mac = match Hmac::<Sha256>::new_from_slice(&state.idempotency_secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(&canonical);
    hex::encode(mac.finalize().into_bytes())
}

/// The capture answers a registration carries (fields of settings that are off are ignored),
/// as the document to store; with `required_at_registration`, every required one must be there.
fn capture_answers(
    view: &PublisherView,
    reg: &Registration,
    body: &Value,
) -> Result<Option<Value>, ApiError> {
    let settings = &view.publisher.settings.capture;
    if !settings.enabled() {
        return Ok(None);
    }
    let mut f = Fields::new(body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let input = CaptureInput::parse(&mut f, settings, false, chrono::Utc::now().date_naive());
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let mut profile = input.apply(&Profile {
        first_name: reg.first_name.clone(),
        last_name: reg.last_name.clone(),
        answers: CaptureAnswers::default(),
    });
    // The address's country is the customer's unless the capture form says otherwise later.
    if let Some(address) = profile.answers.address.as_mut()
        && address.country.is_empty()
    {
        address.country = reg.country.to_string();
    }
    if settings.required_at_registration {
        // The address's country defaults to the customer's, which registration requires.
        let problems: Vec<FieldError> = missing(&profile, settings)
            .into_iter()
            .filter(|p| p.field != "country")
            .collect();
        if !problems.is_empty() {
            return Err(ApiError::invalid_body(problems));
        }
        profile.answers.submitted_at = Some(chrono::Utc::now());
    }
    Ok((profile.answers != CaptureAnswers::default()).then(|| profile.answers.to_stored()))
}

async fn create(
    state: &AppState,
    view: &PublisherView,
    reg: Registration,
    capture: Option<Value>,
    client: std::net::IpAddr,
    headers: &HeaderMap,
    idempotency: Option<IdempotencyRef>,
) -> Result<Session, ApiError> {
    let publisher = view.publisher.id;
    let ip = reg.customer_ip.unwrap_or(client).to_string();
    let consents = match &reg.consents {
        Some(answers) => {
            let checked = check_answers(state, view, answers).await?;
            let declined: Vec<FieldError> = view
                .consents
                .iter()
                .filter(|c| {
                    c.required
                        && !checked.iter().any(|a| {
                            a.consent.owner == c.owner
                                && a.consent.name == c.name
                                && a.state == ConsentState::Accepted
                        })
                })
                .map(|c| {
                    FieldError::with_message(
                        "consents",
                        Reason::NotAccepted,
                        format!(
                            "Invalid param consents. The required consent {} was not accepted",
                            c.name
                        ),
                    )
                })
                .collect();
            if !declined.is_empty() {
                return Err(ApiError::invalid_body(declined));
            }
            records(&checked, &ip, headers)
        }
        None if view.publisher.settings.require_consents_at_registration => {
            return Err(ApiError::invalid_body(vec![FieldError::invalid(
                "consents",
                Reason::Missing,
            )]));
        }
        None => Vec::new(),
    };
    // Checked here, past the idempotency key: a retry of a registration that succeeded
    // replays it instead of meeting its spent code.
    let verification = super::verification::check_code(
        state,
        view,
        reg.email.key(),
        reg.verification_code.as_deref(),
    )
    .await?;
    let password_hash = state.hasher.hash(reg.password.expose()).await?;
    let (token, refresh) = refresh_token(state);
    let new = NewCustomer {
        email: reg.email.as_str().to_owned(),
        email_key: reg.email.key().to_owned(),
        password_hash,
        first_name: reg.first_name,
        last_name: reg.last_name,
        locale: reg.locale.to_string(),
        country: reg.country.to_string(),
        currency: reg.currency.to_string(),
        external_id: reg.external_id,
        external_data: reg.external_data,
        ip: Some(ip),
        consents,
        refresh,
        idempotency,
        verification,
        capture,
    };
    let customer = state
        .store
        .create_customer(publisher, &new)
        .await
        .map_err(already_exists)?;
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer registered");
    session(state, customer.id, publisher, customer.session_epoch, token)
}

/// A unique-rule violation as the client sees it (422 USER0002 / USER0004).
pub fn already_exists(e: StoreError) -> ApiError {
    match &e {
        StoreError::AlreadyExists(what) => match conflict_field(what) {
            Some("email") => ApiError::customer_exists(),
            Some("externalId") => ApiError::external_id_exists(),
            _ => ApiError::from(e),
        },
        _ => ApiError::from(e),
    }
}
