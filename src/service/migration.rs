//! Lazy migration from a Cleeng-compatible upstream (publisher setting `migration`): a login
//! for an email Enroll does not know is sent to the upstream once; when it accepts the
//! password, the customer it holds is created here with that password (argon2id) and the
//! login answers as any other. Upstream down, slow or refusing: the same 401 as a wrong
//! password, and no customer. A password reset for an unknown email goes upstream too, and
//! setting the new password with the upstream's token migrates the customer the same way.

use std::net::IpAddr;

use super::Services;
use super::sessions::{self, Tokens};
use crate::catalog::PublisherView;
use crate::domain::migration::MigrationSettings;
use crate::domain::proof::CollectionPoint;
use crate::domain::tables::currency_for;
use crate::domain::{ConsentAnswer, ConsentState, Country, Currency, Email, EmailKey, Locale};
use crate::error::ApiError;
use crate::store::{Customer, NewConsentRecord, NewCustomer, StoreError, Taken};
use crate::upstream::{Proof, UpstreamCustomer};

/// Signs in a customer Enroll does not know yet through the publisher's upstream (see the
/// module). The caller found no customer for `email`; `migration` is the publisher's setting.
pub async fn login(
    sv: &Services,
    view: &PublisherView,
    migration: &MigrationSettings,
    email: &str,
    password: &str,
    ip: IpAddr,
) -> Result<Tokens, ApiError> {
    let publisher = view.publisher.id;
    let key = EmailKey::of(email);
    // The hourly budget of password checks counts upstream checks too.
    let reservation = sessions::reserve_check(sv, publisher, &key).await?;
    let proof = sv
        .upstream
        .login(migration, publisher, email, password)
        .await;
    let found = match proof {
        Proof::Accepted(found) => found,
        Proof::Refused => {
            metrics::counter!("login_failures_total").increment(1);
            return Err(ApiError::wrong_credentials());
        }
        Proof::Unavailable => {
            // Not evaluated: not a failure of the customer's.
            reservation.release(sv).await?;
            return Err(ApiError::wrong_credentials());
        }
    };
    reservation.release(sv).await?;
    match create(sv, view, email, password, &found, Some(ip)).await? {
        Some(customer) => {
            tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer migrated from the upstream at login");
            sessions::start(sv, publisher, customer.id, ip, customer.session_epoch, None)
                .await?
                .ok_or_else(ApiError::wrong_credentials)
        }
        // Created meanwhile by a concurrent first login: that one is the customer now.
        None => sessions::login(sv, view, email, password, ip).await,
    }
}

/// Sends a reset request for an email Enroll does not know to the publisher's upstream
/// (once; run after answering). Its email links to `reset_url`, and the token in it is the
/// upstream's: [`reset`] takes it.
pub async fn request_reset(
    sv: &Services,
    view: &PublisherView,
    migration: &MigrationSettings,
    email: &str,
    reset_url: &str,
) {
    let publisher = view.publisher.id;
    let sent = sv
        .upstream
        .request_reset(migration, publisher, email, Some(reset_url))
        .await;
    tracing::info!(publisher_id = %publisher, forwarded = sent, "password reset for an unknown email sent to the migration upstream");
}

/// Sets a new password with a token of the upstream's reset email: the upstream takes it,
/// then the customer is read with the new password and created here. `false` when the
/// upstream refuses the token (or cannot be reached), as for an invalid token.
pub async fn reset(
    sv: &Services,
    view: &PublisherView,
    migration: &MigrationSettings,
    email: &str,
    token: &str,
    new_password: &str,
) -> Result<bool, ApiError> {
    let publisher = view.publisher.id;
    if !sv
        .upstream
        .reset(migration, publisher, email, token, new_password)
        .await
    {
        return Ok(false);
    }
    let Proof::Accepted(found) = sv
        .upstream
        .login(migration, publisher, email, new_password)
        .await
    else {
        // The upstream has the new password; the next login migrates the customer.
        return Ok(true);
    };
    // No client address here: the customer's first login records one.
    if let Some(customer) = create(sv, view, email, new_password, &found, None).await? {
        tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer migrated from the upstream at a password reset");
    }
    Ok(true)
}

/// Creates the customer the upstream holds, with `password`; `None` when a customer with this
/// email exists meanwhile. Fields the upstream has that Enroll would refuse fall back to the
/// publisher's (else the server's) defaults, or are left out.
async fn create(
    sv: &Services,
    view: &PublisherView,
    email: &str,
    password: &str,
    found: &UpstreamCustomer,
    ip: Option<IpAddr>,
) -> Result<Option<Customer>, ApiError> {
    let publisher = view.publisher.id;
    let key = EmailKey::of(email);
    // The upstream's spelling of the address when it is the same address.
    let email = found
        .email
        .as_deref()
        .and_then(|e| Email::parse(e).ok())
        .filter(|e| *e.key() == key)
        .or_else(|| Email::parse(email).ok())
        .ok_or_else(ApiError::wrong_credentials)?;
    let settings = &view.publisher.settings;
    let geo = &sv.settings.geoip;
    let country = found
        .country
        .as_deref()
        .and_then(|c| Country::parse(c).ok())
        .unwrap_or_else(|| geo.default_country.clone());
    let currency = found
        .currency
        .as_deref()
        .and_then(|c| Currency::parse(c).ok())
        .or_else(|| settings.default_currency.clone())
        .or_else(|| currency_for(country.as_str()).and_then(|c| Currency::parse(c).ok()))
        .unwrap_or_else(|| geo.default_currency.clone());
    let locale = found
        .locale
        .as_deref()
        .and_then(|l| Locale::parse(l).ok())
        .or_else(|| settings.default_locale.clone())
        .unwrap_or_else(|| geo.default_locale.clone());
    let name = |n: &Option<String>| n.clone().filter(|n| (1..=50).contains(&n.chars().count()));
    let external_id = found
        .external_id
        .clone()
        .filter(|e| e.chars().count() <= 100);
    let external_data = found
        .external_data
        .clone()
        .filter(|d| d.to_string().len() <= 4000);
    // The upstream's answers to consents that exist here, at versions that exist here (one
    // this Enroll does not know is left out, not the customer), each at the upstream's time.
    let answers: Vec<ConsentAnswer> = found
        .consents
        .iter()
        .map(|c| ConsentAnswer {
            name: c.name.clone(),
            version: c.version.to_string(),
            state: if c.accepted {
                ConsentState::Accepted
            } else {
                ConsentState::Declined
            },
        })
        .collect();
    let mut consents: Vec<NewConsentRecord> = Vec::new();
    let known = super::consent_answers::known_answers(sv, view, &answers).await?;
    for (c, one) in found.consents.iter().zip(known) {
        match one {
            Ok(checked) => consents.extend(
                super::consent_answers::records(std::slice::from_ref(&checked), ip, None)
                    .into_iter()
                    .map(|r| NewConsentRecord { at: c.at, ..r }),
            ),
            Err(_) => {
                tracing::info!(publisher_id = %publisher, consent = %c.name, version = c.version, "an upstream consent answer has no consent here; left out");
            }
        }
    }
    let password_hash = sv.hasher.hash(password).await?;
    let mut new = NewCustomer {
        email: email.as_str().to_owned(),
        email_key: email.key().clone(),
        password_hash,
        first_name: name(&found.first_name),
        last_name: name(&found.last_name),
        locale,
        country,
        currency,
        external_id,
        external_data,
        ip,
        registered_at: found.registered_at,
        consents,
        refresh: sessions::new_refresh_token(sv).1,
        idempotency: None,
        verification: None,
        capture: None,
    };
    // The upstream collected the answers: they are kept as imported ones (chained, no receipt).
    let how = super::proof::collection(sv, CollectionPoint::Import, "POST /auths", None);
    loop {
        match sv.store.create_customer(publisher, &new, &how).await {
            Ok(customer) => return Ok(Some(customer)),
            Err(StoreError::AlreadyExists(Taken::Email)) => return Ok(None),
            // Another customer here has the upstream's external id: leave it out.
            Err(StoreError::AlreadyExists(Taken::ExternalId)) if new.external_id.is_some() => {
                new.external_id = None
            }
            Err(e) => return Err(e.into()),
        }
    }
}
