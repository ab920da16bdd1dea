//! Cleeng's identity routes beyond sign-up and sign-in: `DELETE /refresh_tokens` (log out of
//! every device), `POST /sso/auths` (a token pair for a customer signed in elsewhere) and
//! `DELETE /3.1/customers/{customerId}` (erasure). The last two are for the publisher's
//! servers: they take the publisher's token (an admin key) as Cleeng documents it, in
//! `X-Publisher-Token`, or as `Authorization: Bearer`.

use axum::Extension;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use serde_json::{Map, Value};

use crate::domain::customer::{customer_ip, tenant};
use crate::domain::fields::Fields;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{CustomerId, PublisherId};
use crate::http::Data;
use crate::http::admin::customers::{Erased, erase_customer};
use crate::http::admin::{AdminAuth, Scope};
use crate::http::api::auth::{CustomerAuth, Refreshed, bearer_token};
use crate::http::edge::client_ip::ClientIp;
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::sessions;
use crate::state::AppState;

/// The header Cleeng's API 3.1 and its SSO login take the publisher's token in.
pub const PUBLISHER_TOKEN: &str = "x-publisher-token";

/// A verified publisher token: an admin key of one publisher, or an operator key. Taken from
/// `X-Publisher-Token`, else from `Authorization: Bearer`; 401 ADM0001 when neither holds a
/// valid key.
pub struct PublisherToken(pub AdminAuth);

impl FromRequestParts<AppState> for PublisherToken {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(PUBLISHER_TOKEN)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|t| !t.is_empty());
        let key = header.or_else(|| bearer_token(&parts.headers));
        Ok(PublisherToken(AdminAuth::verify(state, key).await?))
    }
}

/// "Log out of all devices": ends every session of the customer (see README, Sessions): every
/// refresh token is revoked and every JWT issued before, this one too, stops working.
#[utoipa::path(delete, path = "/refresh_tokens", tag = "customers", security(("jwt" = [])),
    responses((status = 200, description = "`{}`"), (status = 401, body = crate::http::error::ErrorBody)))]
pub async fn revoke_refresh_tokens(
    State(state): State<AppState>,
    auth: CustomerAuth,
) -> Result<Data<Map<String, Value>>, ApiError> {
    sessions::end_all(&state, &auth).await?;
    Ok(Data(Map::new()))
}

/// The publisher the SSO call is for: the key's own (a `publisherId` or `offerId` in the body
/// must name it, else 403), or, for an operator key, the one the body names (required).
async fn sso_publisher(
    state: &AppState,
    auth: &AdminAuth,
    found: RequestTenant,
    f: &mut Fields<'_>,
) -> Result<PublisherId, ApiError> {
    let named = ["publisherId", "offerId"].iter().any(|k| {
        f.raw(k)
            .is_some_and(|v| !v.is_null() && v.as_str() != Some(""))
    });
    let tenant = if named || auth.is_operator() {
        tenant(f)
    } else {
        None
    };
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(std::mem::take(&mut f.errors)));
    }
    match (auth.scope, tenant) {
        (Scope::Publisher(own), None) => Ok(own),
        (scope, Some(tenant)) => {
            let publisher = found.resolve(state, &tenant).await?.publisher.id;
            match scope {
                Scope::Publisher(own) if own != publisher => {
                    Err(ApiError::access_denied().with_detail("publisherId", Reason::InvalidValue))
                }
                _ => Ok(publisher),
            }
        }
        (Scope::Operator, None) => Err(ApiError::invalid_body(vec![FieldError::invalid(
            "publisherId",
            Reason::Missing,
        )])),
    }
}

/// Single sign-on: a token pair for an existing customer who signed in with the publisher's
/// own identity provider. Body `{email, customerIP?}` (an operator key also names
/// `publisherId` or `offerId`). Updates the last login time and address; never creates a
/// customer: an unknown email is 404.
#[utoipa::path(post, path = "/sso/auths", tag = "customers",
    security(("publisherToken" = []), ("adminKey" = [])),
    responses(
        (status = 200, body = Refreshed),
        (status = 401, description = "ADM0001: missing, unknown or revoked publisher token", body = crate::http::error::ErrorBody),
        (status = 403, description = "AUTH0004: the body names another publisher than the key's", body = crate::http::error::ErrorBody),
        (status = 404, description = "REQ0003: no customer with this email (or unknown publisher)", body = crate::http::error::ErrorBody),
    ))]
pub async fn sso_auth(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    PublisherToken(auth): PublisherToken,
    found: RequestTenant,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Refreshed>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required_text("email");
    let ip = customer_ip(&mut f).unwrap_or(client);
    let publisher = sso_publisher(&state, &auth, found, &mut f).await?;
    let (Some(email), true) = (email, f.errors.is_empty()) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    Ok(Data(
        sessions::sso(&state, publisher, &email, ip).await?.into(),
    ))
}

/// Cleeng's API 3.1 erasure: the same as the admin API's `DELETE
/// /admin/api/publishers/{publisherId}/customers/{customerId}`. A customer of another publisher
/// than the key's is answered 404 like an unknown one.
#[utoipa::path(delete, path = "/3.1/customers/{customerId}", tag = "customers",
    params(("customerId" = String, Path)),
    security(("publisherToken" = []), ("adminKey" = [])),
    responses(
        (status = 200, body = Erased),
        (status = 401, description = "ADM0001", body = crate::http::error::ErrorBody),
        (status = 404, description = "REQ0003: no such customer of this publisher", body = crate::http::error::ErrorBody),
    ))]
pub async fn delete_customer(
    State(state): State<AppState>,
    PublisherToken(auth): PublisherToken,
    Path(path): Path<String>,
) -> Result<Data<Erased>, ApiError> {
    let id = CustomerId::parse(&path).map_err(|_| ApiError::invalid_path("customerId"))?;
    let publisher = crate::service::customers::publisher_of(&state, &auth, id).await?;
    Ok(Data(erase_customer(&state, &auth, publisher, id).await?))
}
