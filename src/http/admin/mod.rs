//! `/admin/api/…`: the JSON admin API behind `Authorization: Bearer <admin key>`. An operator
//! key reaches every publisher; a publisher key only its own, and any other publisher id
//! answers 404 exactly like an unknown one.

pub mod audit;
pub mod consents;
pub mod customers;
pub mod deliveries;
pub mod export;
pub mod imports;
pub mod keys;
pub mod proof;
pub mod publishers;
pub mod views;
pub mod webhooks;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::rejection::QueryRejection;
use axum::http::request::Parts;
use axum::routing::{get, post};

use super::error::ApiError;
use crate::domain::PublisherId;
use crate::state::AppState;
use crate::store::Publisher;

pub use crate::service::admin_keys::{AdminAuth, CONFIG_OPERATOR, Scope, operator_only};

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::verify(state, crate::http::api::auth::bearer_token(&parts.headers)).await
    }
}

/// The `{publisherId}` of the path: 400 when malformed, 404 when the key does not reach it or
/// it does not exist (the same answer, so a publisher key learns nothing about others).
pub async fn publisher_in_scope(
    state: &AppState,
    auth: &AdminAuth,
    text: &str,
) -> Result<Publisher, ApiError> {
    let id = PublisherId::parse(text).map_err(|_| ApiError::invalid_path("publisherId"))?;
    crate::service::publishers::in_scope(state, auth, id).await
}

/// A query string that does not parse (a repeated parameter, bad encoding): 400 REQ0002.
pub fn query_rejected(_: QueryRejection) -> ApiError {
    ApiError::query_string_invalid()
}

/// `limit`: `default` when absent, 1 ..= `max`.
pub fn page_limit(text: Option<&str>, default: u32, max: u32) -> Result<u32, ApiError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(default),
        Some(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| ApiError::invalid_query("limit")),
    }
}

/// RFC 3339 in UTC with whole seconds, as the admin API writes times.
pub fn time(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The admin routes (all wait on the database; they run under the request timeout).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/api/me", get(keys::me))
        .route("/admin/api/keys", get(keys::list).post(keys::create))
        .route("/admin/api/keys/{keyId}/revoke", post(keys::revoke))
        .route(
            "/admin/api/publishers",
            get(publishers::list).post(publishers::create),
        )
        .route(
            "/admin/api/publishers/{publisherId}",
            get(publishers::read).patch(publishers::update),
        )
        .route(
            "/admin/api/publishers/{publisherId}/consents",
            get(consents::list).post(consents::publish),
        )
        .route(
            "/admin/api/publishers/{publisherId}/consents/{name}/archive",
            post(consents::archive),
        )
        .route(
            "/admin/api/publishers/{publisherId}/customers",
            get(customers::list),
        )
        .route(
            "/admin/api/publishers/{publisherId}/customers.csv",
            get(export::export),
        )
        .route(
            "/admin/api/publishers/{publisherId}/customers/{customerId}",
            get(customers::read).delete(customers::erase),
        )
        .route(
            "/admin/api/publishers/{publisherId}/customers/{customerId}/export",
            get(customers::export),
        )
        .route(
            "/admin/api/publishers/{publisherId}/consents/verify",
            get(proof::verify),
        )
        .route(
            "/admin/api/publishers/{publisherId}/customers/{customerId}/receipts",
            get(proof::receipts),
        )
        .route(
            "/admin/api/publishers/{publisherId}/receipts/{receiptId}",
            get(proof::receipt),
        )
        .route("/admin/api/audit", get(audit::list))
        .route(
            "/admin/api/publishers/{publisherId}/webhooks",
            get(webhooks::list).post(webhooks::create),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}",
            get(webhooks::read)
                .patch(webhooks::update)
                .delete(webhooks::delete),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/disable",
            post(webhooks::disable),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/rotate-secret",
            post(webhooks::rotate_secret),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries",
            get(deliveries::list),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries/{deliveryId}/replay",
            post(deliveries::replay_one),
        )
        .route(
            "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/replay",
            post(deliveries::replay_since),
        )
        .route(
            "/admin/api/publishers/{publisherId}/imports/{importId}",
            get(imports::report),
        )
}

/// The upload of an import: a file, streamed, under `admin.import_body_limit` rather than
/// `server.body_limit`, and without `server.request_timeout` (a large file takes a while).
pub fn import_routes() -> Router<AppState> {
    Router::new().route(
        "/admin/api/publishers/{publisherId}/imports",
        post(imports::start),
    )
}
