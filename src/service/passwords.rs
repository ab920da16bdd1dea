//! Passwords: the publisher's policy, asking for a reset email, and setting a new password
//! with the emailed token (which ends every session).

use super::Services;
use crate::auth::tokens::{new_token, token_hash};
use crate::catalog::PublisherView;
use crate::domain::EmailKey;
use crate::domain::password::Password;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::strength::user_inputs;
use crate::error::ApiError;
use crate::mail::templates::{self, Lang};
use crate::store::NewMail;

/// The publisher's password policy alone (zxcvbn score with the customer's email and names as
/// inputs, the common-passwords list): the hint (zxcvbn's feedback) when it refuses.
pub fn policy_hint(
    view: &PublisherView,
    password: &str,
    email: &str,
    names: &[Option<&str>],
) -> Result<(), String> {
    let policy = &view.publisher.settings.password_policy;
    if !policy.is_active() {
        return Ok(());
    }
    let names: Vec<&str> = names.iter().flatten().copied().collect();
    let inputs = user_inputs(email, &names);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    policy.check(password, &inputs)
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

/// Queues a reset email to the customer with this email, if there is one and the hourly
/// limit allows; nothing tells the caller which (run it after answering). For an unknown
/// email of a publisher migrating from an upstream, the upstream is asked to send its own.
pub async fn send_reset(
    services: &Services,
    view: &PublisherView,
    email: &str,
    base: url::Url,
) -> Result<(), ApiError> {
    let publisher = &view.publisher;
    let Some(customer) = services
        .store
        .customer_by_email(publisher.id, &EmailKey::of(email))
        .await?
    else {
        if let Some(migration) = &publisher.settings.migration {
            super::migration::request_reset(services, view, migration, email, base.as_str()).await;
        }
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
        Lang::of(customer.locale.as_str()),
        &publisher.name,
        link.as_str(),
    );
    let mail = NewMail {
        kind: "password_reset",
        customer: Some(customer.id),
        message,
    };
    let auth = &services.settings.auth;
    if services
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
        services.mail_notify.notify_one();
        tracing::info!(customer_id = %customer.id, "password reset email queued");
    } else {
        tracing::info!(customer_id = %customer.id, "password reset not sent: hourly limit reached");
    }
    Ok(())
}

/// Sets a new password with the token from the reset email (400 when the token is not valid
/// or the publisher's policy refuses the password); every session is signed out and the
/// customer is told by email. For an unknown email of a publisher migrating from an
/// upstream, the token is the upstream's: it takes the new password, and the customer is
/// migrated with it.
pub async fn reset(
    services: &Services,
    view: &PublisherView,
    email: &str,
    token: &str,
    password: &Password,
) -> Result<(), ApiError> {
    let publisher = &view.publisher;
    let hash = token_hash(token);
    let key = EmailKey::of(email);
    let Some(customer) = services
        .store
        .reset_token_customer(publisher.id, &key, &hash)
        .await?
    else {
        let migrating = match &publisher.settings.migration {
            Some(m) => services
                .store
                .customer_by_email(publisher.id, &key)
                .await?
                .is_none()
                .then_some(m),
            None => None,
        };
        if let Some(migration) = migrating {
            policy_hint(view, password.expose(), email, &[]).map_err(weak)?;
            let expose = password.expose();
            if super::migration::reset(services, view, migration, email, token, expose).await? {
                return Ok(());
            }
        }
        return Err(ApiError::reset_token_invalid());
    };
    policy_hint(
        view,
        password.expose(),
        &customer.email,
        &[
            customer.first_name.as_deref(),
            customer.last_name.as_deref(),
        ],
    )
    .map_err(weak)?;
    let password_hash = services.hasher.hash(password.expose()).await?;
    let message = templates::password_changed(
        &customer.email,
        Lang::of(customer.locale.as_str()),
        &publisher.name,
    );
    let mail = NewMail {
        kind: "password_changed",
        customer: Some(customer.id),
        message,
    };
    if !services
        .store
        .reset_password(publisher.id, customer.id, &hash, &password_hash, &mail)
        .await?
    {
        return Err(ApiError::reset_token_invalid());
    }
    services.mail_notify.notify_one();
    tracing::info!(customer_id = %customer.id, "password reset; refresh tokens revoked");
    Ok(())
}

/// A new password the publisher's policy refuses (400 on `newPassword`).
fn weak(hint: String) -> ApiError {
    ApiError::invalid_body(vec![FieldError::with_message(
        "newPassword",
        Reason::Weak,
        format!("Password score does not match standards. {hint}"),
    )])
}
