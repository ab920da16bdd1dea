//! What sign-in, refresh-token rotation, password resets and the email outbox store.

use crate::domain::{CustomerId, EmailKey, PublisherId, SessionEpoch};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{Customer, NewRefreshToken, StoreError};

/// What presenting a refresh token did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// The token was good and is now used; its successor is stored.
    Rotated {
        /// Whose token.
        customer: CustomerId,
        /// Their publisher.
        publisher: PublisherId,
        /// The customer's session epoch (the token's family belongs to it).
        epoch: SessionEpoch,
    },
    /// Unknown, expired, revoked, or used moments ago (a second tab, a retry): refused.
    Refused,
    /// Used long ago: presumed stolen, so its whole family was revoked.
    FamilyRevoked,
}

/// An email to send, written to the outbox in the transaction of its cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMail {
    /// `password_reset`, `password_changed`, …
    pub kind: &'static str,
    /// About whom (for logs, never the address).
    pub customer: Option<CustomerId>,
    /// The rendered message.
    pub message: MailMessage,
}

/// Email not sent yet (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct OutboxBacklog {
    /// Rows still to be tried.
    pub pending: i64,
    /// Rows given up after the last allowed try.
    pub given_up: i64,
    /// When the oldest pending row was queued.
    pub oldest: Option<chrono::DateTime<chrono::Utc>>,
}

/// The connection pool right now (for metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Open connections.
    pub open: u32,
    /// Open and idle.
    pub idle: u32,
    /// The most it may open.
    pub max: u32,
}

/// An outbox row claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMail {
    /// Row id.
    pub id: i64,
    /// The kind.
    pub kind: String,
    /// About whom.
    pub customer: Option<i64>,
    /// Tries so far.
    pub attempts: i32,
    /// The message.
    pub message: MailMessage,
}

/// A rendered email as the outbox keeps it until it is sent (`mail::templates` renders it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailMessage {
    /// Recipient address (the one stored on the customer).
    pub to: String,
    /// Subject line.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Sign-in, refresh tokens, password resets, the email outbox and housekeeping.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The customer of a publisher with this email key.
    async fn customer_by_email(
        &self,
        publisher: PublisherId,
        email_key: &EmailKey,
    ) -> Result<Option<Customer>, StoreError>;

    /// Records a successful login: last login time and address, and a new refresh token;
    /// only while the customer's session epoch is still `epoch`, the one whose password was
    /// checked (`NotFound` otherwise: the password was reset meanwhile).
    async fn record_login(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        ip: std::net::IpAddr,
        token: &NewRefreshToken,
        epoch: SessionEpoch,
    ) -> Result<(), StoreError>;

    /// [`record_login`](Self::record_login) that also replaces the password hash, in the same
    /// transaction, when `rehash` is `(checked, new)` and the stored hash is still `checked`
    /// (an imported legacy hash, or argon2id under old parameters, upgraded at login).
    async fn record_login_rehashed(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        ip: std::net::IpAddr,
        token: &NewRefreshToken,
        epoch: SessionEpoch,
        rehash: (&str, &str),
    ) -> Result<(), StoreError>;

    /// Reserves one password check of (publisher, key) in an hour bucket (Unix hours), in one
    /// statement: counts it and returns the new count, or `None` (counting nothing) when
    /// `limit` checks are already counted. Concurrent callers on any replica never get more
    /// than `limit` reservations.
    async fn reserve_password_check(
        &self,
        publisher: PublisherId,
        key_hash: &str,
        hour: i64,
        limit: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Gives a reservation back (the password was right: only failures count).
    async fn release_password_check(
        &self,
        publisher: PublisherId,
        key_hash: &str,
        hour: i64,
    ) -> Result<(), StoreError>;

    /// Ends every session of a customer ("sign out everywhere"): bumps the session epoch (JWTs
    /// issued before stop reaching the customer), revokes every refresh token, forgets the
    /// idempotent registration replays and outstanding reset links, in one transaction.
    /// False when there is no such (unerased) customer.
    async fn end_sessions(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<bool, StoreError>;

    /// Uses a refresh token (by hash) once: stores its successor `next_hash` in the same
    /// family (living `ttl`, never past the family's end). A token used more than `grace`
    /// ago revokes its family.
    async fn rotate_refresh_token(
        &self,
        hash: &str,
        next_hash: &str,
        ttl: std::time::Duration,
        grace: std::time::Duration,
    ) -> Result<Rotation, StoreError>;

    /// The publisher of a customer that is not erased (for keys that reach every publisher).
    async fn customer_publisher(
        &self,
        customer: CustomerId,
    ) -> Result<Option<PublisherId>, StoreError>;

    /// Stores a reset token (by hash) and its email in one transaction, unless the customer
    /// already had `per_hour` resets in the last hour (then nothing is stored: false).
    async fn request_password_reset(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token_hash: &str,
        ttl: std::time::Duration,
        per_hour: u32,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// The customer a valid (unused, unexpired) reset token belongs to, if it belongs to
    /// this publisher's customer with this email key.
    async fn reset_token_customer(
        &self,
        publisher: PublisherId,
        email_key: &EmailKey,
        token_hash: &str,
    ) -> Result<Option<Customer>, StoreError>;

    /// Uses the token, stores the new password hash, ends every session of the customer (as
    /// [`AccountStore::end_sessions`]) and queues the email, in one transaction; false if the
    /// token was used meanwhile.
    async fn reset_password(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token_hash: &str,
        password_hash: &str,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// Claims the next due email for `lease` (another replica skips it meanwhile).
    async fn claim_mail(
        &self,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Option<OutboxMail>, StoreError>;

    /// Unsent email: rows under `max_attempts` tries, rows given up, the oldest pending.
    async fn outbox_backlog(&self, max_attempts: i32) -> Result<OutboxBacklog, StoreError>;

    /// Marks an email sent (after the server accepted it) and purges its payload.
    async fn mail_sent(&self, id: i64) -> Result<(), StoreError>;

    /// Records a failed try and when to try again.
    async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_in: std::time::Duration,
    ) -> Result<(), StoreError>;

    /// Drops what has expired: old login-failure buckets, idempotency records past `idempotency_ttl`.
    async fn purge(
        &self,
        hour: i64,
        idempotency_ttl: std::time::Duration,
    ) -> Result<(), StoreError>;
}
