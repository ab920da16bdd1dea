//! The customer-JWT extractor and the rule that a token only reaches its own customer.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;

use super::error::ApiError;
use crate::auth::TokenError;
use crate::domain::{CustomerId, PublisherId};
use crate::state::AppState;

/// A verified customer token: who, and of which publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerAuth {
    /// The customer the token was issued to.
    pub customer: CustomerId,
    /// Their publisher.
    pub publisher: PublisherId,
    /// The session epoch the token was issued in (checked where the customer is loaded).
    pub epoch: i64,
}

impl FromRequestParts<AppState> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let token = bearer_token(&parts.headers).ok_or_else(|| ApiError::jwt_missing())?;
        let invalid = || ApiError::jwt_invalid();
        let claims = state.keys.verify(token).map_err(|e| match e {
            TokenError::Expired => ApiError::jwt_expired(),
            TokenError::Invalid => invalid(),
        })?;
        Ok(CustomerAuth {
            customer: CustomerId::parse(&claims.customer_id).map_err(|_| invalid())?,
            publisher: PublisherId::parse(&claims.publisher_id).map_err(|_| invalid())?,
            epoch: claims.session_epoch,
        })
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235);
/// `None` when absent, empty or another scheme. Customer JWTs and admin keys both come so.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
}

/// 403 AUTH0004.
pub fn access_denied() -> ApiError {
    ApiError::access_denied()
}

impl CustomerAuth {
    /// The `{customerId}` of the path, which must be the token's own customer.
    pub fn check_path(&self, path: &str) -> Result<CustomerId, ApiError> {
        let id = CustomerId::parse(path).map_err(|_| ApiError::invalid_path("customerId"))?;
        if id == self.customer {
            Ok(id)
        } else {
            Err(access_denied())
        }
    }
}
