//! Sessions: login, refresh-token rotation, single sign-on, ending every session, and the
//! password check every one of them (and an email change) goes through.

use std::net::IpAddr;
use std::time::Duration;

use sha2::{Digest, Sha256};

use super::Services;
use crate::auth::Verified;
use crate::auth::tokens::{new_token, token_hash};
use crate::catalog::PublisherView;
use crate::domain::EmailKey;
use crate::domain::{CustomerId, PublisherId, SessionEpoch};
use crate::error::ApiError;
use crate::store::{NewRefreshToken, Rotation, StoreError};

/// A customer signed in by a verified token: who, of which publisher, in which session epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The customer the token was issued to.
    pub customer: CustomerId,
    /// Their publisher.
    pub publisher: PublisherId,
    /// The session epoch the token was issued in (checked where the customer is loaded).
    pub epoch: SessionEpoch,
}

/// A token pair handed to a customer.
#[derive(Debug)]
pub struct Tokens {
    /// Whose.
    pub customer: CustomerId,
    /// EdDSA JWT carrying the session epoch.
    pub jwt: String,
    /// Opaque, single use, rotating.
    pub refresh_token: String,
}

/// The session epoch of a new customer; a registration's replay works only while the
/// customer is still in it.
pub const FIRST_EPOCH: SessionEpoch = SessionEpoch::FIRST;

/// A new refresh token (a new family) to store, and the token to hand out.
pub fn new_refresh_token(services: &Services) -> (String, NewRefreshToken) {
    let (token, hash) = new_token();
    let auth = &services.settings.auth;
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

/// A JWT for the customer in its session epoch, with the given refresh token.
pub fn issue(
    services: &Services,
    customer: CustomerId,
    publisher: PublisherId,
    epoch: SessionEpoch,
    refresh_token: String,
) -> Result<Tokens, ApiError> {
    Ok(Tokens {
        customer,
        jwt: services
            .keys
            .issue(customer, publisher, epoch)
            .map_err(ApiError::internal)?,
        refresh_token,
    })
}

/// Sign in with email and password: 401 USER0001 alike for an unknown email and a wrong
/// password; the check is counted against the hourly failure budget (429 RATE0001).
pub async fn login(
    services: &Services,
    view: &PublisherView,
    email: &str,
    password: &str,
    ip: IpAddr,
) -> Result<Tokens, ApiError> {
    let publisher = view.publisher.id;
    let key = EmailKey::of(email);
    let customer = services.store.customer_by_email(publisher, &key).await?;
    if customer.is_none()
        && let Some(migration) = &view.publisher.settings.migration
    {
        return Box::pin(super::migration::login(
            services, view, migration, email, password, ip,
        ))
        .await;
    }
    // Counted per (publisher, email) whether or not the account exists.
    let checked = check(
        services,
        publisher,
        &key,
        password,
        customer.as_ref().map(|c| c.password_hash.as_str()),
    )
    .await?;
    let Some(customer) = customer.filter(|_| checked.ok) else {
        return Err(ApiError::wrong_credentials());
    };
    let epoch = customer.session_epoch;
    // An imported legacy hash (or argon2id under old parameters) becomes a current one, in
    // the login's transaction; when hashing is busy it waits for the next login.
    let rehashed = match checked.rehash {
        true => services.hasher.hash(password).await.ok(),
        false => None,
    };
    let rehash = rehashed
        .as_deref()
        .map(|new| (customer.password_hash.as_str(), new));
    // The password checked was reset (or the account erased) meanwhile: as a wrong one.
    let tokens = start(services, publisher, customer.id, ip, epoch, rehash)
        .await?
        .ok_or_else(ApiError::wrong_credentials)?;
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer logged in");
    Ok(tokens)
}

/// Single sign-on: a token pair for an existing customer of `publisher` signed in by the
/// publisher's own identity provider (404 REQ0003 on `email` for an unknown one).
pub async fn sso(
    services: &Services,
    publisher: PublisherId,
    email: &str,
    ip: IpAddr,
) -> Result<Tokens, ApiError> {
    let unknown = || ApiError::unknown("email");
    let customer = services
        .store
        .customer_by_email(publisher, &EmailKey::of(email))
        .await?
        .ok_or_else(unknown)?;
    // Its sessions were ended (or it was erased) since the lookup: as for an unknown one.
    let tokens = start(
        services,
        publisher,
        customer.id,
        ip,
        customer.session_epoch,
        None,
    )
    .await?
    .ok_or_else(unknown)?;
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer signed in by SSO");
    Ok(tokens)
}

/// Records a login (time, address, a new refresh family) in the customer's session `epoch`
/// and issues the pair; `None` when that epoch has ended meanwhile (or the customer is gone).
pub(super) async fn start(
    services: &Services,
    publisher: PublisherId,
    customer: CustomerId,
    ip: IpAddr,
    epoch: SessionEpoch,
    rehash: Option<(&str, &str)>,
) -> Result<Option<Tokens>, ApiError> {
    let (token, stored) = new_refresh_token(services);
    let store = &services.store;
    let recorded = match rehash {
        None => {
            store
                .record_login(publisher, customer, ip, &stored, epoch)
                .await
        }
        Some(r) => {
            store
                .record_login_rehashed(publisher, customer, ip, &stored, epoch, r)
                .await
        }
    };
    match recorded {
        Err(StoreError::NotFound(_)) => return Ok(None),
        other => other?,
    }
    issue(services, customer, publisher, epoch, token).map(Some)
}

/// Trades a refresh token for a new pair (single use, rotating); a token used long ago
/// revokes its family. 401 AUTH0005 when refused.
pub async fn refresh(services: &Services, presented: &str) -> Result<Tokens, ApiError> {
    let (next, next_hash) = new_token();
    let auth = &services.settings.auth;
    let rotation = services
        .store
        .rotate_refresh_token(
            &token_hash(presented),
            &next_hash,
            auth.refresh_token_ttl,
            auth.refresh_reuse_grace,
        )
        .await?;
    match rotation {
        Rotation::Rotated {
            customer,
            publisher,
            epoch,
        } => issue(services, customer, publisher, epoch, next),
        Rotation::FamilyRevoked => {
            metrics::counter!("refresh_token_reuse_total").increment(1);
            tracing::warn!("a used refresh token was presented again: its family is revoked");
            Err(ApiError::refresh_refused())
        }
        Rotation::Refused => Err(ApiError::refresh_refused()),
    }
}

/// "Log out of all devices": every refresh token of the customer is revoked and every JWT
/// issued before (the presenting one too) stops working.
pub async fn end_all(services: &Services, auth: &SignedIn) -> Result<(), ApiError> {
    // A token of an already ended session may not end the newer ones (401, as elsewhere).
    let customer = super::profile::load(services, auth).await?;
    if !services
        .store
        .end_sessions(auth.publisher, customer.id)
        .await?
    {
        return Err(ApiError::access_denied());
    }
    tracing::info!(customer_id = %customer.id, "every session ended by the customer");
    Ok(())
}

/// The password budget's key: a hash of the email key (the address itself is never stored).
fn budget_key(email_key: &EmailKey) -> String {
    hex::encode(Sha256::digest(email_key.as_str().as_bytes()))
}

/// Every check of a customer's password (login, `confirmationPassword`, …): whether
/// `password` matches `hash` (`None`: an unknown account, checked against a dummy hash so it
/// takes as long and always fails). It spends one of the hourly failure budget of (publisher,
/// `email_key`) BEFORE the argon2 work, atomically in the database, so no burst on any number
/// of replicas gets more than `auth.login_failures_per_hour` guesses evaluated; a right
/// password gives its reservation back. Past the limit: 429 RATE0001 with `Retry-After`
/// (until the hour ends) and no argon2 work.
pub async fn check_password(
    services: &Services,
    publisher: PublisherId,
    email_key: &EmailKey,
    password: &str,
    hash: Option<&str>,
) -> Result<bool, ApiError> {
    check(services, publisher, email_key, password, hash)
        .await
        .map(|v| v.ok)
}

/// One password check reserved in the hourly failure budget of (publisher, email key).
pub(super) struct Reservation {
    publisher: PublisherId,
    key_hash: String,
    hour: i64,
}

impl Reservation {
    /// Gives the reservation back: the password was right, or never evaluated.
    pub(super) async fn release(self, services: &Services) -> Result<(), ApiError> {
        services
            .store
            .release_password_check(self.publisher, &self.key_hash, self.hour)
            .await?;
        Ok(())
    }
}

/// Spends one check of the hourly failure budget of (publisher, `email_key`), atomically in
/// the database; past the limit 429 RATE0001 with `Retry-After` (until the hour ends).
pub(super) async fn reserve_check(
    services: &Services,
    publisher: PublisherId,
    email_key: &EmailKey,
) -> Result<Reservation, ApiError> {
    let key_hash = budget_key(email_key);
    let now = chrono::Utc::now().timestamp();
    let hour = now / 3600;
    let limit = i64::from(services.settings.auth.login_failures_per_hour);
    let Some(_) = services
        .store
        .reserve_password_check(publisher, &key_hash, hour, limit)
        .await?
    else {
        metrics::counter!("login_throttled_total").increment(1);
        let retry_after = u64::try_from((hour + 1) * 3600 - now).unwrap_or(3600);
        return Err(ApiError::too_many_requests().with_retry_after(retry_after));
    };
    Ok(Reservation {
        publisher,
        key_hash,
        hour,
    })
}

/// [`check_password`], also telling whether the matched hash should be replaced.
async fn check(
    services: &Services,
    publisher: PublisherId,
    email_key: &EmailKey,
    password: &str,
    hash: Option<&str>,
) -> Result<Verified, ApiError> {
    let reservation = reserve_check(services, publisher, email_key).await?;
    // The same work either way: an unknown account verifies against a dummy hash.
    let hasher = &services.hasher;
    let verified = match hasher.prepare_dummy().await {
        Ok(_) => match hash {
            Some(hash) => hasher.check(password, hash).await,
            None => hasher
                .verify_dummy(password)
                .await
                .map(|ok| Verified { ok, rehash: false }),
        },
        Err(e) => Err(e),
    };
    match verified {
        Ok(v) if !v.ok => {
            metrics::counter!("login_failures_total").increment(1);
            Ok(v)
        }
        // Right, or never evaluated (hashing busy or failing): not a failure.
        outcome => {
            reservation.release(services).await?;
            Ok(outcome?)
        }
    }
}
