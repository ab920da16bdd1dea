//! Field problems: what is wrong with one input field, reported all at once.

use serde::Serialize;

/// Why a field was refused (API.md `details[].reason`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub enum Reason {
    /// Required and absent.
    Missing,
    /// Present but not acceptable.
    InvalidValue,
    /// Too short.
    TooShort,
    /// Too long.
    TooLong,
    /// Names something that does not exist.
    NotFound,
    /// Would duplicate something unique.
    AlreadyExists,
    /// A password that is too easy to guess.
    Weak,
    /// A required consent not accepted.
    NotAccepted,
}

/// One field problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// The request field.
    pub field: String,
    /// Why.
    pub reason: Reason,
    /// The message for that field (clients match on it).
    pub message: String,
}

impl FieldError {
    /// A problem with the generic message `Invalid param <field>`.
    pub fn invalid(field: &str, reason: Reason) -> Self {
        FieldError {
            field: field.to_owned(),
            reason,
            message: format!("Invalid param {field}"),
        }
    }

    /// A problem with its own message.
    pub fn with_message(field: &str, reason: Reason, message: impl Into<String>) -> Self {
        FieldError {
            field: field.to_owned(),
            reason,
            message: message.into(),
        }
    }
}
