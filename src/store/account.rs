//! What sign-in, refresh-token rotation, password resets and the email outbox store.

use crate::domain::{CustomerId, PublisherId};
use serde::{Deserialize, Serialize};

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
        epoch: i64,
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
