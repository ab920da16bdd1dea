//! `PUT /customers/passwords` (ask for a reset email) and `PATCH /customers/passwords`
//! (set a new password with the emailed token).

use std::sync::Arc;

use axum::extract::State;
use serde_json::{Map, Value};
use tracing::Instrument;

use super::Data;
use super::error::ApiError;
use super::json::AppJson;
use super::registration::resolve_publisher;
use crate::auth::tokens::{new_token, token_hash};
use crate::catalog::PublisherView;
use crate::domain::customer::tenant;
use crate::domain::email::email_key;
use crate::domain::fields::{Fields, Given};
use crate::domain::password::{PASSWORD_RULE, Password};
use crate::domain::problem::{FieldError, Reason};
use crate::mail::templates::{self, Lang};
use crate::state::AppState;
use crate::store::NewMail;

fn empty() -> Data<Map<String, Value>> {
    Data(Map::new())
}

/// The base of the reset link: the given `resetUrl` when it is https (http only on loopback)
/// and its origin is one the publisher allows, else the publisher's default.
pub fn reset_link_base(view: &PublisherView, given: Option<&str>) -> Result<url::Url, ApiError> {
    link_base(
        view,
        given,
        view.publisher.settings.reset_url_default.as_deref(),
        "resetUrl",
    )
}

/// The base of a link emailed to a customer: `given` (the request's `field`) when it is https
/// (http only on loopback) and its origin is one of the publisher's `reset_url_origins`,
/// else `default`.
pub fn link_base(
    view: &PublisherView,
    given: Option<&str>,
    default: Option<&str>,
    field: &str,
) -> Result<url::Url, ApiError> {
    let invalid = |reason| ApiError::invalid_body(vec![FieldError::invalid(field, reason)]);
    let settings = &view.publisher.settings;
    let Some(given) = given else {
        return default
            .and_then(|d| url::Url::parse(d).ok())
            .ok_or_else(|| invalid(Reason::Missing));
    };
    let url = url::Url::parse(given).map_err(|_| invalid(Reason::InvalidValue))?;
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    let scheme_ok = url.scheme() == "https" || (url.scheme() == "http" && loopback);
    let origin = url.origin().ascii_serialization();
    let allowed = settings
        .reset_url_origins
        .iter()
        .any(|o| o.trim_end_matches('/') == origin);
    if scheme_ok && allowed && url.username().is_empty() && url.password().is_none() {
        Ok(url)
    } else {
        Err(invalid(Reason::InvalidValue))
    }
}

/// Ask for a password-reset email: always `200 {}` at once, whether or not the customer exists.
#[utoipa::path(put, path = "/customers/passwords", tag = "customers",
    responses((status = 200, description = "`{}`, whatever the email"), (status = 400, description = "Invalid param resetUrl", body = super::error::ErrorBody)))]
pub async fn request_reset(
    State(state): State<AppState>,
    axum::Extension(super::client_ip::ClientIp(client)): axum::Extension<
        super::client_ip::ClientIp,
    >,
    headers: axum::http::HeaderMap,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("customerEmail");
    let tenant = tenant(&mut f);
    let reset_url = f.text("resetUrl");
    let (Some(email), Some(tenant)) = (email, tenant) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let view = resolve_publisher(&state, &tenant).await?;
    super::guard::captcha(
        &state,
        &view,
        crate::captcha::CaptchaRoute::PasswordReset,
        &body,
        &headers,
        client,
    )
    .await?;
    let base = reset_link_base(
        &view,
        match &reset_url {
            Given::Value(v) => Some(v.as_str()),
            _ => None,
        },
    )?;
    // The lookup and the email happen after the answer, so timing tells nothing.
    tokio::spawn(
        async move {
            if let Err(e) = send_reset(&state, &view, &email_key(&email), base).await {
                tracing::warn!(error = %e, "password reset could not be queued");
            }
        }
        .instrument(tracing::Span::current()),
    );
    Ok(empty())
}

async fn send_reset(
    state: &AppState,
    view: &Arc<PublisherView>,
    key: &str,
    base: url::Url,
) -> Result<(), ApiError> {
    let publisher = &view.publisher;
    let Some(customer) = state.store.customer_by_email(publisher.id, key).await? else {
        return Ok(());
    };
    let (token, hash) = new_token();
    let mut link = base;
    link.query_pairs_mut()
        .append_pair("email", &customer.email)
        .append_pair("resetPasswordToken", &token)
        .append_pair("publisherId", &publisher.id.to_string());
    // To the address stored on the customer, never the one typed in the request.
    let message = templates::password_reset(
        &customer.email,
        Lang::of(&customer.locale),
        &publisher.name,
        link.as_str(),
    );
    let mail = NewMail {
        kind: "password_reset",
        customer: Some(customer.id),
        message,
    };
    let auth = &state.settings.auth;
    if state
        .store
        .request_password_reset(
            publisher.id,
            customer.id,
            &hash,
            auth.reset_token_ttl,
            auth.resets_per_hour,
            &mail,
        )
        .await?
    {
        state.mail_notify.notify_one();
        tracing::info!(customer_id = %customer.id, "password reset email queued");
    } else {
        tracing::info!(customer_id = %customer.id, "password reset not sent: hourly limit reached");
    }
    Ok(())
}

fn token_invalid() -> ApiError {
    ApiError::reset_token_invalid()
}

/// Set a new password with the token from the reset email; every session is signed out.
#[utoipa::path(patch, path = "/customers/passwords", tag = "customers",
    responses((status = 200, description = "`{}`"), (status = 400, description = "resetPasswordToken is not valid, or the password rule", body = super::error::ErrorBody)))]
pub async fn reset(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("customerEmail");
    let tenant = tenant(&mut f);
    let token = f.required(
        "resetPasswordToken",
        Some("resetPasswordToken is not valid"),
        |s| Ok::<_, String>(s.to_owned()),
    );
    // The OTT web app's edit-password page matches these case-sensitively (API.md).
    let rule = format!("invalid param password. {PASSWORD_RULE}");
    let password = f.required("newPassword", Some(&rule), Password::parse);
    let (Some(email), Some(tenant), Some(token), Some(password)) = (email, tenant, token, password)
    else {
        return Err(ApiError::invalid_body(f.errors));
    };
    let view = resolve_publisher(&state, &tenant).await?;
    let publisher = &view.publisher;
    let hash = token_hash(&token);
    let customer = state
        .store
        .reset_token_customer(publisher.id, &email_key(&email), &hash)
        .await?
        .ok_or_else(token_invalid)?;
    super::guard::policy_hint(
        &view,
        password.expose(),
        &customer.email,
        &[
            customer.first_name.as_deref(),
            customer.last_name.as_deref(),
        ],
    )
    .map_err(|hint| {
        ApiError::invalid_body(vec![FieldError::with_message(
            "newPassword",
            Reason::Weak,
            format!("Password score does not match standards. {hint}"),
        )])
    })?;
    let password_hash = state.hasher.hash(password.expose()).await?;
    let message =
        templates::password_changed(&customer.email, Lang::of(&customer.locale), &publisher.name);
    let mail = NewMail {
        kind: "password_changed",
        customer: Some(customer.id),
        message,
    };
    if !state
        .store
        .reset_password(publisher.id, customer.id, &hash, &password_hash, &mail)
        .await?
    {
        return Err(token_invalid());
    }
    state.mail_notify.notify_one();
    tracing::info!(customer_id = %customer.id, "password reset; refresh tokens revoked");
    Ok(empty())
}
