//! What every handler may use: the settings, the store, caches, clients and workers' handles,
//! built once by `app` and shared (cheaply cloned) by every request.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::service::Services;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `parts` with every request.
    pub fn new(parts: Shared) -> AppState {
        AppState(Arc::new(parts))
    }
}

/// The parts of [`AppState`]: the operations' [`Services`] and what only HTTP needs.
pub struct Shared {
    /// What the operations use (fields reached through `Deref`).
    pub services: Services,
    /// Prometheus.
    pub metrics: PrometheusHandle,
    /// Route-class limits (None when `limits.enabled = false`).
    pub limiter: Option<Arc<crate::limits::Limiter>>,
    /// The OpenAPI document.
    pub openapi: Bytes,
    /// The dashboard's registrations charts.
    pub charts: crate::http::dashboard::ChartCache,
    /// Whether the database answers (Postgres: probed), for fast 503s.
    pub db_health: crate::store::DbHealth,
    /// Set once shutdown begins.
    pub draining: crate::http::edge::serve::Draining,
}

impl Deref for Shared {
    type Target = Services;
    fn deref(&self) -> &Services {
        &self.services
    }
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
