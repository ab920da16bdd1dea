//! Email verification: a code before registration (checked when the customer registers), and
//! a confirmation link for customers who registered without one.

use hmac::{Hmac, Mac};
use rand::Rng;
use sha2::Sha256;

use super::Services;
use super::sessions::SignedIn;
use crate::auth::tokens::{new_token, token_hash};
use crate::catalog::PublisherView;
use crate::domain::problem::Reason;
use crate::domain::publisher::EmailVerification;
use crate::domain::{CustomerId, Email, EmailKey, PublisherId};
use crate::error::ApiError;
use crate::mail::templates::{self, Lang};
use crate::store::{CodeCheck, NewMail};

/// The stored form of a code: an HMAC under the server secret over publisher, address and
/// code, so a database dump does not give the (few) codes away to a brute force.
fn code_hash(
    services: &Services,
    publisher: PublisherId,
    email_key: &EmailKey,
    code: &str,
) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(&services.idempotency_secret) else {
        return String::new();
    };
    mac.update(b"email-code\0");
    mac.update(publisher.to_string().as_bytes());
    mac.update(b"\0");
    mac.update(email_key.as_str().as_bytes());
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

/// Whether the publisher asks for a code before registration.
pub fn required(view: &PublisherView) -> bool {
    view.publisher.settings.email_verification == EmailVerification::Required
}

/// Checks `verificationCode` for a registration when the publisher requires verification;
/// returns the hash to spend with the new customer (None when verification is off).
pub async fn check_code(
    services: &Services,
    view: &PublisherView,
    email_key: &EmailKey,
    code: Option<&str>,
) -> Result<Option<String>, ApiError> {
    if !required(view) {
        return Ok(None);
    }
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(ApiError::verification_failed(Reason::Missing));
    };
    let publisher = view.publisher.id;
    let hash = code_hash(services, publisher, email_key, code);
    let check = services
        .store
        .check_email_code(
            publisher,
            email_key,
            &hash,
            services.settings.auth.verification_code_tries,
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

/// Queues a verification code to an address that is no customer's yet, within the hourly
/// cap; nothing tells the caller which (run it after answering).
pub async fn send_code(
    services: &Services,
    view: &PublisherView,
    email: &Email,
    lang: Lang,
) -> Result<(), ApiError> {
    let publisher = &view.publisher;
    let key = email.key();
    if services
        .store
        .customer_by_email(publisher.id, key)
        .await?
        .is_some()
    {
        tracing::info!(publisher_id = %publisher.id, "verification code not sent: the customer exists");
        return Ok(());
    }
    let auth = &services.settings.auth;
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
    let stored = services
        .store
        .store_email_code(
            publisher.id,
            key,
            &code_hash(services, publisher.id, key, &code),
            auth.verification_code_ttl,
            auth.verification_codes_per_hour,
            &mail,
        )
        .await?;
    if stored {
        services.mail_notify.notify_one();
        tracing::info!(publisher_id = %publisher.id, "verification code queued");
    } else {
        tracing::info!(publisher_id = %publisher.id, "verification code not sent: hourly limit reached");
    }
    Ok(())
}

/// Emails the signed-in customer a link that confirms their address: `given` (`confirmUrl`)
/// is the page the link opens, on an origin the publisher allows for links, else the
/// publisher's `confirm_url_default`. Already verified: nothing is sent. At most
/// `auth.confirmations_per_hour` links per hour.
pub async fn request_confirmation(
    services: &Services,
    auth: &SignedIn,
    given: Option<&str>,
) -> Result<(), ApiError> {
    let customer = super::profile::load(services, auth).await?;
    let view = super::tenants::of_token(services, auth.publisher).await?;
    let mut link = super::passwords::link_base(
        &view,
        given,
        view.publisher.settings.confirm_url_default.as_deref(),
        "confirmUrl",
    )?;
    if customer.email_verified {
        return Ok(());
    }
    let (token, hash) = new_token();
    link.query_pairs_mut().append_pair("token", &token);
    let mail = NewMail {
        kind: "email_confirmation",
        customer: Some(customer.id),
        message: templates::email_confirmation(
            &customer.email,
            Lang::of(customer.locale.as_str()),
            &view.publisher.name,
            link.as_str(),
        ),
    };
    let settings = &services.settings.auth;
    if services
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
        services.mail_notify.notify_one();
        tracing::info!(customer_id = %customer.id, "email confirmation queued");
    } else {
        tracing::info!(customer_id = %customer.id, "email confirmation not sent: hourly limit reached");
    }
    Ok(())
}

/// Confirms an address with the token from the link: the customer whose address it proved,
/// or `None` when the link is not valid (used, expired, or for an address changed since).
pub async fn confirm(services: &Services, token: &str) -> Result<Option<CustomerId>, ApiError> {
    let confirmed = services
        .store
        .confirm_email(&token_hash(token.trim()))
        .await?;
    if let Some((_, customer)) = &confirmed {
        tracing::info!(customer_id = %customer, "email address confirmed");
    }
    Ok(confirmed.map(|(_, customer)| customer))
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
