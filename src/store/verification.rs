//! Email verification: codes sent before registration, confirmation links after it.

use async_trait::async_trait;

use super::{NewMail, StoreError};
use crate::domain::{CustomerId, EmailKey, PublisherId};

/// What checking a verification code found. Only `Valid` lets a registration go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeCheck {
    /// The code matches, is unspent and unexpired.
    Valid,
    /// Another code: one try counted.
    Wrong,
    /// No code was sent to the address, or it was spent.
    Missing,
    /// Older than its lifetime.
    Expired,
    /// Too many wrong tries: the code is dead, a new one must be asked for.
    TooManyTries,
}

/// Codes and confirmation links. Implemented by both backends (`sql_verification.rs`).
#[async_trait]
pub trait VerificationStore: Send + Sync + 'static {
    /// Stores a new code for an address (replacing an earlier one, tries reset) and queues its
    /// email in one transaction, unless `per_hour` codes went to the address in the last hour
    /// (then nothing is stored: false).
    async fn store_email_code(
        &self,
        publisher: PublisherId,
        email_key: &EmailKey,
        code_hash: &str,
        ttl: std::time::Duration,
        per_hour: u32,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// Checks a code for an address, counting a wrong try; a code with `max_tries` wrong tries
    /// is dead. The code is spent by `create_customer`, not here.
    async fn check_email_code(
        &self,
        publisher: PublisherId,
        email_key: &EmailKey,
        code_hash: &str,
        max_tries: u32,
    ) -> Result<CodeCheck, StoreError>;

    /// Stores a confirmation token (by hash) for the customer's current address and queues its
    /// email in one transaction, unless `per_hour` links went out in the last hour (false).
    async fn request_email_confirmation(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token_hash: &str,
        ttl: std::time::Duration,
        per_hour: u32,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// Uses a confirmation token once: the customer's email becomes verified if the address is
    /// still the one the link went to. Returns whose address it was.
    async fn confirm_email(
        &self,
        token_hash: &str,
    ) -> Result<Option<(PublisherId, CustomerId)>, StoreError>;
}
