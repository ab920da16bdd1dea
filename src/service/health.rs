//! Whether this replica can serve: the database answers; and the pool's gauges for metrics.

use super::Services;
use crate::error::ApiError;

/// The database answers (`/readyz`); 503 S0002 when it does not.
pub async fn ready(services: &Services) -> Result<(), ApiError> {
    services.store.ping().await.map_err(ApiError::unavailable)
}

/// Sets the connection-pool gauges from the pool's counts (no query), before metrics render.
pub fn sample_pool(services: &Services) {
    crate::telemetry::sampler::pool_gauges(services.store.as_ref());
}
