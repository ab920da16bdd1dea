//! The customer-JWT extractor, the rule that a token only reaches its own customer, and the
//! token pairs as customers receive them.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use serde::Serialize;

use crate::auth::{Keys, TokenError};
use crate::domain::{CustomerId, PublisherId};
use crate::http::error::ApiError;
use crate::service::profile;
use crate::service::sessions::Tokens;
use crate::state::AppState;
use crate::store::Customer;

/// A verified customer token: who, of which publisher, in which session epoch.
pub use crate::service::sessions::SignedIn as CustomerAuth;

/// Why a request has no valid customer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenRefused {
    /// No bearer token (401 AUTH0001).
    Missing,
    /// Not one of ours, or unreadable (401 AUTH0002).
    Invalid,
    /// Expired (401 AUTH0003).
    Expired,
}

impl From<TokenRefused> for ApiError {
    fn from(refused: TokenRefused) -> Self {
        match refused {
            TokenRefused::Missing => ApiError::jwt_missing(),
            TokenRefused::Invalid => ApiError::jwt_invalid(),
            TokenRefused::Expired => ApiError::jwt_expired(),
        }
    }
}

/// The request's customer token, verified: each request's token is verified once, by the
/// limiter when its route is limited (it hands this on in the request's extensions), else
/// by the extractor.
#[derive(Debug, Clone, Copy)]
pub struct VerifiedToken(pub Result<CustomerAuth, TokenRefused>);

impl VerifiedToken {
    /// Verifies the bearer token of `headers`.
    pub fn of(keys: &Keys, headers: &HeaderMap) -> VerifiedToken {
        VerifiedToken(verify(keys, headers))
    }
}

fn verify(keys: &Keys, headers: &HeaderMap) -> Result<CustomerAuth, TokenRefused> {
    let token = bearer_token(headers).ok_or(TokenRefused::Missing)?;
    let claims = keys.verify(token).map_err(|e| match e {
        TokenError::Expired => TokenRefused::Expired,
        TokenError::Invalid => TokenRefused::Invalid,
    })?;
    Ok(CustomerAuth {
        customer: CustomerId::parse(&claims.customer_id).map_err(|_| TokenRefused::Invalid)?,
        publisher: PublisherId::parse(&claims.publisher_id).map_err(|_| TokenRefused::Invalid)?,
        epoch: claims.session_epoch,
    })
}

impl FromRequestParts<AppState> for CustomerAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let verified = match parts.extensions.get::<VerifiedToken>() {
            Some(verified) => *verified,
            None => VerifiedToken::of(&state.keys, &parts.headers),
        };
        Ok(verified.0?)
    }
}

/// The token of `Authorization: Bearer <token>` (the scheme is case-insensitive, RFC 7235);
/// `None` when absent, empty or another scheme. Customer JWTs and admin keys both come so.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())?
        .trim()
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
}

impl CustomerAuth {
    /// The `{customerId}` of the path, which must be the token's own customer.
    pub fn check_path(&self, path: &str) -> Result<CustomerId, ApiError> {
        let id = CustomerId::parse(path).map_err(|_| ApiError::invalid_path("customerId"))?;
        if id == self.customer {
            Ok(id)
        } else {
            Err(ApiError::access_denied())
        }
    }

    /// The customer `{customerId}` names, which must be the token's own, in the token's
    /// session (see [`profile::load`]).
    pub async fn load(&self, state: &AppState, path: &str) -> Result<Customer, ApiError> {
        self.check_path(path)?;
        profile::load(state, self).await
    }
}

/// A signed-in customer: tokens and id.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// EdDSA JWT, 15 minutes.
    pub jwt: String,
    /// Opaque, single use, rotating.
    pub refresh_token: String,
    /// The customer (a number).
    pub customer_id: i64,
}

impl From<Tokens> for Session {
    fn from(t: Tokens) -> Self {
        Session {
            jwt: t.jwt,
            refresh_token: t.refresh_token,
            customer_id: t.customer.get(),
        }
    }
}

/// A new token pair.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Refreshed {
    /// EdDSA JWT.
    pub jwt: String,
    /// The next refresh token (the one presented is now used).
    pub refresh_token: String,
}

impl From<Tokens> for Refreshed {
    fn from(t: Tokens) -> Self {
        Refreshed {
            jwt: t.jwt,
            refresh_token: t.refresh_token,
        }
    }
}
