//! Operations endpoints: liveness, readiness, metrics, the OpenAPI document.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::error::ApiError;
use super::{Data, json_response};
use crate::state::AppState;

/// A health answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations",
    responses((status = 200, description = "Alive", body = Health)))]
pub async fn healthz() -> Data<Health> {
    Data(Health { status: "ok" })
}

/// The database answers.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "S0002 database unreachable", body = super::error::ErrorBody),
    ))]
pub async fn readyz(State(state): State<AppState>) -> Result<Data<Health>, ApiError> {
    if state.draining.is_set() {
        // Load balancers take this replica out while it still serves (server.drain_delay).
        return Err(ApiError::unavailable("shutting down"));
    }
    crate::service::health::ready(&state).await?;
    Ok(Data(Health { status: "ok" }))
}

/// Prometheus metrics (no personal data).
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    render_metrics(&state)
}

/// The Prometheus text of this process.
pub fn render_metrics(state: &AppState) -> Response {
    crate::service::health::sample_pool(state);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// The public keys that verify customer JWTs (`kid` in each token's header).
#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "operations",
    responses((status = 200, description = "A JSON Web Key Set (RFC 7517), not enveloped")))]
pub async fn jwks(State(state): State<AppState>) -> Response {
    json_response(state.keys.jwks())
}

/// This API as OpenAPI 3.1.
#[utoipa::path(get, path = "/openapi.json", tag = "operations",
    responses((status = 200, description = "OpenAPI 3.1 document")))]
pub async fn openapi(State(state): State<AppState>) -> Response {
    json_response(state.openapi.clone())
}
