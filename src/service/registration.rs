//! One registration: the publisher's rules (consents, capture, password policy, email
//! verification), the `Idempotency-Key`, and one write transaction for the customer, its
//! consent answers, its spent code, the idempotency record and its first refresh token.

use std::net::IpAddr;
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use super::Services;
use super::consent_answers::{check_answers, records};
use super::sessions::{FIRST_EPOCH, Tokens, issue, new_refresh_token};
use crate::catalog::PublisherView;
use crate::domain::capture::{CaptureAnswers, CaptureInput, Profile, missing};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::proof::CollectionPoint;
use crate::domain::{ConsentState, Registration};
use crate::error::ApiError;
use crate::store::{Idempotency, IdempotencyRef, NewCustomer, StoreError, Taken};

/// The route idempotency records are kept under.
const ROUTE: &str = "POST /customers";
/// How long an outcome is remembered.
const IDEMPOTENCY_TTL: Duration = Duration::from_secs(24 * 3600);

/// A registration as the request brought it: the validated sign-up, its capture answers
/// (see [`capture_answers`]), where it came from, and its idempotency key.
pub struct SignUp {
    /// The validated body.
    pub registration: Registration,
    /// The capture answers to store, if any.
    pub capture: Option<CaptureAnswers>,
    /// The client's address (`customerIP` of the body wins).
    pub client: IpAddr,
    /// The client's user agent, kept with the consent answers.
    pub user_agent: Option<String>,
    /// The `Idempotency-Key`, with the fingerprint of the body it came with.
    pub idempotency: Option<(String, String)>,
}

/// What a registration answers.
pub enum Registered {
    /// A session for the (new, or replayed) customer.
    Session(Tokens),
    /// The remembered answer of an earlier request with the same key that failed.
    Replay {
        /// Its status.
        status: u16,
        /// Its body.
        body: Option<Value>,
    },
}

/// The publisher's password policy on a registration's password (`password` field).
pub fn check_password_policy(view: &PublisherView, reg: &Registration) -> Result<(), ApiError> {
    super::passwords::policy_hint(
        view,
        reg.password.expose(),
        reg.email.as_str(),
        &[reg.first_name.as_deref(), reg.last_name.as_deref()],
    )
    .map_err(|hint| {
        ApiError::invalid_body(vec![FieldError::with_message(
            "password",
            Reason::Weak,
            format!("Invalid param password. {hint}"),
        )])
    })
}

/// HMAC of the canonical body under the server secret (the body holds a password): what an
/// idempotency key is bound to.
pub fn fingerprint(services: &Services, body: &Value) -> String {
    let canonical = serde_json::to_vec(body).unwrap_or_default();
    let mut mac = match Hmac::<Sha256>::new_from_slice(&services.idempotency_secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(&canonical);
    hex::encode(mac.finalize().into_bytes())
}

/// The capture answers a registration carries (fields of settings that are off are ignored),
/// as the document to store; with `required_at_registration`, every required one must be there.
pub fn capture_answers(
    view: &PublisherView,
    reg: &Registration,
    body: &Value,
) -> Result<Option<CaptureAnswers>, ApiError> {
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
    Ok((profile.answers != CaptureAnswers::default()).then_some(profile.answers))
}

/// Registers a customer of `view`'s publisher, once per idempotency key: a retry of a
/// success gets a fresh token pair (while the customer's sessions were never ended), a retry
/// of a refusal the same refusal, a different body under the same key 422 IDEM0002, a retry
/// while the first runs 409 IDEM0001.
pub async fn register(
    services: &Services,
    view: &PublisherView,
    sign_up: SignUp,
) -> Result<Registered, ApiError> {
    let publisher = view.publisher.id;
    let Some((key, hmac)) = &sign_up.idempotency else {
        return Ok(Registered::Session(
            create(services, view, sign_up, None).await?,
        ));
    };
    let key = IdempotencyRef {
        route: ROUTE.into(),
        key: key.clone(),
    };
    // A running record older than the longest a request may run belongs to one that died.
    let stale = services.settings.server.request_timeout + Duration::from_secs(5);
    match services
        .store
        .idempotency_begin(publisher, &key, hmac, stale, IDEMPOTENCY_TTL)
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
            let (token, stored) = new_refresh_token(services);
            services
                .store
                .add_refresh_token(publisher, id, &stored, FIRST_EPOCH)
                .await
                .map_err(|e| match e {
                    StoreError::NotFound(_) => ApiError::customer_exists(),
                    e => ApiError::from(e),
                })?;
            Ok(Registered::Session(issue(
                services,
                id,
                publisher,
                FIRST_EPOCH,
                token,
            )?))
        }
        Idempotency::Done {
            status, response, ..
        } => Ok(Registered::Replay {
            status,
            body: response,
        }),
        Idempotency::Started => match create(services, view, sign_up, Some(key.clone())).await {
            Ok(tokens) => Ok(Registered::Session(tokens)),
            Err(e) if e.status().is_server_error() => {
                if let Err(abandon) = services.store.idempotency_abandon(publisher, &key).await {
                    tracing::warn!(error = %abandon, "could not release an idempotency key");
                }
                Err(e)
            }
            Err(e) => {
                services
                    .store
                    .idempotency_finish(publisher, &key, e.status().as_u16(), &e.body_json())
                    .await?;
                Err(e)
            }
        },
    }
}

async fn create(
    services: &Services,
    view: &PublisherView,
    sign_up: SignUp,
    idempotency: Option<IdempotencyRef>,
) -> Result<Tokens, ApiError> {
    let SignUp {
        registration: reg,
        capture,
        client,
        user_agent,
        ..
    } = sign_up;
    let publisher = view.publisher.id;
    let ip = reg.customer_ip.unwrap_or(client);
    let consents = match &reg.consents {
        Some(answers) => {
            let checked = check_answers(services, view, answers).await?;
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
            records(&checked, Some(ip), user_agent.as_deref())
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
        services,
        view,
        reg.email.key(),
        reg.verification_code.as_deref(),
    )
    .await?;
    let password_hash = services.hasher.hash(reg.password.expose()).await?;
    let (token, refresh) = new_refresh_token(services);
    let new = NewCustomer {
        email: reg.email.as_str().to_owned(),
        email_key: reg.email.key().clone(),
        password_hash,
        first_name: reg.first_name,
        last_name: reg.last_name,
        locale: reg.locale,
        country: reg.country,
        currency: reg.currency,
        external_id: reg.external_id,
        external_data: reg.external_data,
        ip: Some(ip),
        registered_at: None,
        consents,
        refresh,
        idempotency,
        verification,
        capture,
    };
    let request_id = super::proof::request_id();
    let how = super::proof::collection(
        services,
        CollectionPoint::Registration,
        "POST /customers",
        request_id.as_deref(),
    );
    let customer = services
        .store
        .create_customer(publisher, &new, &how)
        .await
        .map_err(already_exists)?;
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer registered");
    issue(
        services,
        customer.id,
        publisher,
        customer.session_epoch,
        token,
    )
}

/// A unique-rule violation as the client sees it (422 USER0002 / USER0004).
pub fn already_exists(e: StoreError) -> ApiError {
    match &e {
        StoreError::AlreadyExists(Taken::Email) => ApiError::customer_exists(),
        StoreError::AlreadyExists(Taken::ExternalId) => ApiError::external_id_exists(),
        _ => ApiError::from(e),
    }
}
