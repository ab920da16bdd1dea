//! Every check of a customer's password (login, `confirmationPassword`, …) goes through
//! [`check`]: it spends one of the hourly failure budget of (publisher, email key) BEFORE the
//! argon2 work, atomically in the database, so no burst on any number of replicas gets more
//! than `auth.login_failures_per_hour` guesses evaluated; a right password gives its reservation
//! back (only failures count).

use sha2::{Digest, Sha256};

use super::error::ApiError;
use crate::domain::PublisherId;
use crate::state::AppState;

/// The budget's key: a hash of the email key (the address itself is never stored there).
pub fn budget_key(email_key: &str) -> String {
    hex::encode(Sha256::digest(email_key.as_bytes()))
}

/// Whether `password` matches `hash` (`None`: an unknown account, checked against a dummy
/// hash so it takes as long and always fails). Counted against (publisher, `email_key`):
/// past the limit, 429 RATE0001 with `Retry-After` (until the hour ends) and no argon2 work.
pub async fn check(
    state: &AppState,
    publisher: PublisherId,
    email_key: &str,
    password: &str,
    hash: Option<&str>,
) -> Result<bool, ApiError> {
    let key_hash = budget_key(email_key);
    let now = chrono::Utc::now().timestamp();
    let hour = now / 3600;
    let limit = i64::from(state.settings.auth.login_failures_per_hour);
    let Some(_) = state
        .store
        .reserve_password_check(publisher, &key_hash, hour, limit)
        .await?
    else {
        metrics::counter!("login_throttled_total").increment(1);
        let retry_after = u64::try_from((hour + 1) * 3600 - now).unwrap_or(3600);
        return Err(ApiError::too_many_requests().with_retry_after(retry_after));
    };
    // The same work either way: an unknown account verifies against a dummy hash.
    let verified = match state.hasher.prepare_dummy().await {
        Ok(_) => match hash {
            Some(hash) => state.hasher.verify(password, hash).await,
            None => state.hasher.verify_dummy(password).await,
        },
        Err(e) => Err(e),
    };
    match verified {
        Ok(false) => {
            metrics::counter!("login_failures_total").increment(1);
            Ok(false)
        }
        // Right, or never evaluated (hashing busy or failing): not a failure.
        outcome => {
            state
                .store
                .release_password_check(publisher, &key_hash, hour)
                .await?;
            Ok(outcome?)
        }
    }
}
