//! A customer's own profile: the token's customer, its changes (names, country, locale,
//! external data, the email with the password), and its capture answers.

use super::Services;
use super::sessions::{SignedIn, check_password};
use crate::domain::CustomerPatch;
use crate::domain::capture::{CaptureInput, CaptureSettings, Profile, missing};
use crate::domain::fields::Given;
use crate::error::ApiError;
use crate::store::{Customer, CustomerChanges, StoreError};

/// The token's own customer (403 AUTH0004 for an erased one; 401 AUTH0002 for a token of an
/// ended session: issued before a password reset, an email change or "sign out everywhere").
pub async fn load(services: &Services, auth: &SignedIn) -> Result<Customer, ApiError> {
    let customer = services
        .store
        .customer(auth.publisher, auth.customer)
        .await?
        .ok_or_else(ApiError::access_denied)?;
    if customer.session_epoch != auth.epoch {
        return Err(ApiError::jwt_invalid());
    }
    Ok(customer)
}

fn given<T>(g: Given<T>) -> Option<Option<T>> {
    match g {
        Given::Absent => None,
        Given::Empty => Some(None),
        Given::Value(v) => Some(Some(v)),
    }
}

/// Changes names, country, locale, external data, and the email (with the current password,
/// under the login's failure budget: a stolen JWT is no password oracle). A taken email reads
/// `Customer email already exists` (422 USER0002): the OTT web app's account page compares
/// that text exactly (registration keeps `Customer already exists.`).
pub async fn patch(
    services: &Services,
    customer: &Customer,
    patch: CustomerPatch,
) -> Result<Customer, ApiError> {
    let mut changes = CustomerChanges {
        email: None,
        first_name: given(patch.first_name),
        last_name: given(patch.last_name),
        country: patch.country,
        locale: patch.locale,
        external_data: given(patch.external_data),
        capture: None,
    };
    if let Some(email) = patch.email {
        let password = patch.confirmation_password.unwrap_or_default();
        let ok = check_password(
            services,
            customer.publisher,
            &customer.email_key,
            &password,
            Some(&customer.password_hash),
        )
        .await?;
        if !ok {
            return Err(ApiError::confirmation_password_invalid());
        }
        changes.email = Some((email.as_str().to_owned(), email.key().clone()));
    }
    update(services, customer, &changes).await.map_err(|e| {
        if e.code() == "USER0002" {
            ApiError::customer_email_exists()
        } else {
            e
        }
    })
}

/// Writes `changes` to the customer: 403 AUTH0004 when it was erased since it was read,
/// 422 USER0002 / USER0004 for a taken email or external id.
async fn update(
    services: &Services,
    customer: &Customer,
    changes: &CustomerChanges,
) -> Result<Customer, ApiError> {
    services
        .store
        .update_customer(customer.publisher, customer.id, changes)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::access_denied(),
            e => super::registration::already_exists(e),
        })
}

/// A stored customer's capture profile.
pub fn capture_profile(customer: &Customer) -> Profile {
    Profile {
        first_name: customer.first_name.clone(),
        last_name: customer.last_name.clone(),
        answers: customer.capture.clone().unwrap_or_default(),
    }
}

/// Stores the capture form's answers: every required field must be answered afterwards.
pub async fn put_capture(
    services: &Services,
    customer: &Customer,
    settings: &CaptureSettings,
    input: CaptureInput,
) -> Result<Customer, ApiError> {
    let mut after = input.apply(&capture_profile(customer));
    let problems = missing(&after, settings);
    if !problems.is_empty() {
        return Err(ApiError::invalid_body(problems));
    }
    after.answers.submitted_at = Some(chrono::Utc::now());
    let changes = CustomerChanges {
        first_name: input.first_name,
        last_name: input.last_name,
        capture: Some(Some(after.answers)),
        ..CustomerChanges::default()
    };
    update(services, customer, &changes).await
}
