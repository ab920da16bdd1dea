//! Email verification: a code before registration (`POST /customers/verification`, then
//! `verificationCode` in `POST /customers`), and a confirmation link for customers who
//! registered without one (`POST /customers/{customerId}/email/confirmation`, used through
//! `POST` or `GET /customers/email/confirmation`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use hmac::{Hmac, Mac};
use rand::Rng;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use sha2::Sha256;
use tracing::Instrument;

use super::Data;
use super::auth::CustomerAuth;
use super::error::ApiError;
use super::json::AppJson;
use super::passwords::link_base;
use super::registration::resolve_publisher;
use crate::auth::tokens::{new_token, token_hash};
use crate::catalog::PublisherView;
use crate::domain::customer::{EMAIL_MESSAGE, tenant};
use crate::domain::fields::{Fields, Given};
use crate::domain::problem::{FieldError, Reason};
use crate::domain::publisher::EmailVerification;
use crate::domain::{Email, Locale, PublisherId};
use crate::mail::templates::{self, Lang};
use crate::state::AppState;
use crate::store::{CodeCheck, NewMail};

/// The stored form of a code: an HMAC under the server secret over publisher, address and
/// code, so a database dump does not give the (few) codes away to a brute force.
pub fn code_hash(state: &AppState, publisher: PublisherId, email_key: &str, code: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&state.idempotency_secret) else {
        return String::new();
    };
    mac.update(b"email-code\0");
    mac.update(publisher.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(email_key.as_bytes());
    mac.update(b"\0");
    mac.update(code.trim().as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A random code of `len` digits.
fn new_code(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
        .collect()
}

/// Checks `verificationCode` for a registration when the publisher requires verification;
/// returns the hash to spend with the new customer (None when verification is off).
pub async fn check_code(
    state: &AppState,
    view: &PublisherView,
    email_key: &str,
    code: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if view.publisher.settings.email_verification != EmailVerification::Required {
        return Ok(None);
    }
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(ApiError::verification_failed(Reason::Missing));
    };
    let publisher = view.publisher.id;
    let hash = code_hash(state, publisher, email_key, code);
    let check = state
        .store
        .check_email_code(
            publisher,
            email_key,
            &hash,
            state.settings.auth.verification_code_tries,
        )
        .await?;
    match check {
        CodeCheck::Valid => Ok(Some(hash)),
        CodeCheck::Missing => Err(ApiError::verification_failed(Reason::NotFound)),
        CodeCheck::Wrong | CodeCheck::Expired | CodeCheck::TooManyTries => {
            tracing::info!(publisher_id = %publisher, outcome = ?check, "email verification failed");
            Err(ApiError::verification_failed(Reason::InvalidValue))
        }
    }
}

fn empty() -> Data<Map<String, Value>> {
    Data(Map::new())
}

/// Sends a verification code to an address before registration. Always `200 {}` once the
/// body is valid, whether or not a code was sent (an existing customer, an hourly cap, or a
/// publisher without verification send nothing), so the answer tells nothing about accounts.
#[utoipa::path(post, path = "/customers/verification", tag = "customers",
    responses((status = 200, description = "`{}`, whatever the address"), (status = 400, body = super::error::ErrorBody), (status = 404, body = super::error::ErrorBody)))]
pub async fn send_code(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required("email", Some(EMAIL_MESSAGE), Email::parse);
    let tenant = tenant(&mut f);
    let locale = f
        .optional("locale", |s| {
            Locale::parse(s).map_err(|_| Reason::InvalidValue)
        })
        .value();
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let (Some(email), Some(tenant)) = (email, tenant) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    let view = resolve_publisher(&state, &tenant).await?;
    if view.publisher.settings.email_verification != EmailVerification::Required {
        return Ok(empty());
    }
    let lang = locale.map_or(Lang::En, |l| Lang::of(&l.to_string()));
    // The lookup and the email happen after the answer, so timing tells nothing.
    tokio::spawn(
        async move {
            if let Err(e) = queue_code(&state, &view, &email, lang).await {
                tracing::warn!(error = %e, "verification code could not be queued");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(empty())
}

async fn queue_code(
    state: &AppState,
    view: &PublisherView,
    email: &Email,
    lang: Lang,
) -> Result<(), ApiError> {
    let publisher = &view.publisher;
    let key = email.key();
    if state
        .store
        .customer_by_email(publisher.id, key)
        .await?
        .is_some()
    {
        tracing::info!(publisher_id = %publisher.id, "verification code not sent: the customer exists");
        return Ok(());
    }
    let auth = &state.settings.auth;
    let code = new_code(auth.verification_code_length);
    let minutes = auth.verification_code_ttl.as_secs().div_ceil(60);
    let mail = NewMail {
        kind: "verification_code",
        customer: None,
        message: templates::verification_code(
            email.as_str(),
            lang,
            &publisher.name,
            &code,
            minutes,
        ),
    };
    let stored = state
        .store
        .store_email_code(
            publisher.id,
            key,
            &code_hash(state, publisher.id, key, &code),
            auth.verification_code_ttl,
            auth.verification_codes_per_hour,
            &mail,
        )
        .await?;
    if stored {
        state.mail_notify.notify_one();
        tracing::info!(publisher_id = %publisher.id, "verification code queued");
    } else {
        tracing::info!(publisher_id = %publisher.id, "verification code not sent: hourly limit reached");
    }
    Ok(())
}

/// Emails the signed-in customer a link that confirms their address (`emailVerified`).
/// `confirmUrl` (optional) is the frontend page the link opens, on an origin the publisher
/// allows for links; else the publisher's `confirm_url_default`. Already verified: nothing is
/// sent. At most `auth.confirmations_per_hour` links per hour.
#[utoipa::path(post, path = "/customers/{customerId}/email/confirmation", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, description = "`{}`"), (status = 400, description = "Invalid param confirmUrl", body = super::error::ErrorBody), (status = 403, body = super::error::ErrorBody)))]
pub async fn request_confirmation(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    // Another customer's id is 403 before the body is looked at.
    auth.check_path(&path)?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let given = f.text("confirmUrl");
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let customer = super::customers::load(&state, &auth, &path).await?;
    let view = super::customer_consents::publisher_view(&state, auth.publisher).await?;
    let mut link = link_base(
        &view,
        match &given {
            Given::Value(v) => Some(v.as_str()),
            _ => None,
        },
        view.publisher.settings.confirm_url_default.as_deref(),
        "confirmUrl",
    )?;
    if customer.email_verified {
        return Ok(empty());
    }
    let (token, hash) = new_token();
    link.query_pairs_mut().append_pair("token", &token);
    let mail = NewMail {
        kind: "email_confirmation",
        customer: Some(customer.id),
        message: templates::email_confirmation(
            &customer.email,
            Lang::of(&customer.locale),
            &view.publisher.name,
            link.as_str(),
        ),
    };
    let settings = &state.settings.auth;
    if state
        .store
        .request_email_confirmation(
            auth.publisher,
            customer.id,
            &hash,
            settings.confirmation_ttl,
            settings.confirmations_per_hour,
            &mail,
        )
        .await?
    {
        state.mail_notify.notify_one();
        tracing::info!(customer_id = %customer.id, "email confirmation queued");
    } else {
        tracing::info!(customer_id = %customer.id, "email confirmation not sent: hourly limit reached");
    }
    Ok(empty())
}

fn token_invalid() -> ApiError {
    ApiError::invalid_body(vec![FieldError::with_message(
        "token",
        Reason::InvalidValue,
        "Invalid param token. The link is not valid (used, expired, or for another address)",
    )])
}

/// Confirms an address with the token from the link (for frontends that open the link
/// themselves): `{"customerId", "emailVerified": true}`.
#[utoipa::path(post, path = "/customers/email/confirmation", tag = "customers",
    responses((status = 200, description = "`{\"customerId\", \"emailVerified\": true}`"), (status = 400, description = "Invalid param token", body = super::error::ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Value>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let Some(token) = f.required_text("token") else {
        return Err(ApiError::invalid_body(f.errors));
    };
    match state.store.confirm_email(&token_hash(token.trim())).await? {
        Some((_, customer)) => {
            tracing::info!(customer_id = %customer, "email address confirmed");
            Ok(Data(
                json!({"customerId": customer.to_string(), "emailVerified": true}),
            ))
        }
        None => Err(token_invalid()),
    }
}

/// The link's query.
#[derive(Debug, Deserialize)]
pub struct ConfirmQuery {
    token: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\n<body style=\"font-family:sans-serif;max-width:32em;margin:4em auto;line-height:1.5\">\
         <h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    // A finished page: the envelope safety net leaves it alone.
    (status, axum::Extension(super::error::Enveloped), Html(html)).into_response()
}

/// The page the emailed link can open directly (when `confirm_url_default` points here).
#[utoipa::path(get, path = "/customers/email/confirmation", tag = "customers",
    params(("token" = String, Query)),
    responses((status = 200, description = "HTML: confirmed"), (status = 400, description = "HTML: the link is not valid")))]
pub async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<ConfirmQuery>,
) -> Result<Response, ApiError> {
    let token = query.token.unwrap_or_default();
    if token.trim().is_empty() {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link has no token. Open the link from the email again.",
        ));
    }
    Ok(
        match state.store.confirm_email(&token_hash(token.trim())).await? {
            Some((_, customer)) => {
                tracing::info!(customer_id = %customer, "email address confirmed");
                page(
                    StatusCode::OK,
                    "Email address confirmed",
                    "Thank you: your email address is confirmed. You can close this page.",
                )
            }
            None => page(
                StatusCode::BAD_REQUEST,
                "Link not valid",
                "This link was already used, has expired, or was sent to an address that has changed since. Ask for a new one in the app.",
            ),
        },
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn codes_are_digits_of_the_length_asked() {
        for len in 6..=8 {
            let c = super::new_code(len);
            assert_eq!(c.len(), len);
            assert!(c.bytes().all(|b| b.is_ascii_digit()));
        }
    }
}
