//! `/admin/api/…`: the JSON admin API behind `Authorization: Bearer <admin key>`. An operator
//! key reaches every publisher; a publisher key only its own, and any other publisher id
//! answers 404 exactly like an unknown one.

pub mod audit;
pub mod consents;
pub mod customers;
pub mod export;
pub mod keys;
pub mod publishers;
pub mod settings;
pub mod views;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::rejection::QueryRejection;
use axum::http::request::Parts;
use axum::routing::{get, post};
use serde_json::Value;

use super::error::ApiError;
use crate::auth::admin_key::{admin_key_hash, is_operator_key};
use crate::domain::PublisherId;
use crate::state::AppState;
use crate::store::{NewAudit, Publisher};

/// What a key may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every publisher; only operators create keys and edit origins.
    Operator,
    /// One publisher.
    Publisher(PublisherId),
}

/// A verified admin key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAuth {
    /// What it reaches.
    pub scope: Scope,
    /// The stored key (`None` for the config's operator key).
    pub key_id: Option<i64>,
    /// Who, for the audit trail: the key's label.
    pub actor: String,
}

/// The actor name of `admin.operator_key` in the audit trail.
pub const CONFIG_OPERATOR: &str = "operator (config)";

/// 401 ADM0001: no key, an unknown key or a revoked one (the same answer for each).
pub fn unauthorized() -> ApiError {
    ApiError::admin_key_invalid()
}

/// 403 AUTH0004: the key is good but may not do this (a publisher key, operator-only action).
pub fn operator_only(field: &str) -> ApiError {
    super::auth::access_denied().with_detail(field, crate::domain::problem::Reason::InvalidValue)
}

impl FromRequestParts<AppState> for AdminAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Self::verify(state, super::auth::bearer_token(&parts.headers)).await
    }
}

impl AdminAuth {
    /// Verifies an admin key however it came (401 ADM0001 when missing, unknown or revoked).
    pub async fn verify(state: &AppState, key: Option<&str>) -> Result<Self, ApiError> {
        let key = key.ok_or_else(unauthorized)?;
        if is_operator_key(key, &state.settings.admin.operator_key) {
            return Ok(AdminAuth {
                scope: Scope::Operator,
                key_id: None,
                actor: CONFIG_OPERATOR.to_owned(),
            });
        }
        let stored = state
            .store
            .admin_key_by_hash(&admin_key_hash(key))
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(unauthorized)?;
        Ok(AdminAuth {
            scope: stored.publisher.map_or(Scope::Operator, Scope::Publisher),
            key_id: Some(stored.id),
            actor: stored.label,
        })
    }
}

impl AdminAuth {
    /// Whether this is an operator key.
    pub fn is_operator(&self) -> bool {
        self.scope == Scope::Operator
    }

    /// 404 (as for an unknown publisher) unless the key reaches `id`.
    pub fn check_publisher(&self, id: PublisherId) -> Result<(), ApiError> {
        match self.scope {
            Scope::Operator => Ok(()),
            Scope::Publisher(own) if own == id => Ok(()),
            Scope::Publisher(_) => Err(ApiError::unknown("publisherId")),
        }
    }

    /// 403 unless this is an operator key; `field` names what was attempted.
    pub fn require_operator(&self, field: &str) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(operator_only(field))
        }
    }

    /// An audit line for a change this key makes.
    pub fn audit(&self, publisher: Option<PublisherId>, action: &str, detail: Value) -> NewAudit {
        NewAudit {
            key_id: self.key_id,
            actor: self.actor.clone(),
            publisher,
            action: action.to_owned(),
            detail,
        }
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
    auth.check_publisher(id)?;
    state
        .store
        .publisher(id)
        .await?
        .ok_or_else(|| ApiError::unknown("publisherId"))
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
        .route("/admin/api/audit", get(audit::list))
}
