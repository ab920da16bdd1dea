//! What every handler may use: the settings, the store, caches, clients and workers' handles,
//! built once by `app` and shared (cheaply cloned) by every request.

use std::ops::Deref;
use std::sync::Arc;

use bytes::Bytes;
use metrics_exporter_prometheus::PrometheusHandle;

use crate::auth::{Hasher, Keys};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::geo::GeoIp;
use crate::store::Store;

/// What every handler may use.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    /// Shares `parts` with every request.
    pub fn new(parts: Shared) -> AppState {
        AppState(Arc::new(parts))
    }
}

/// The parts of [`AppState`].
pub struct Shared {
    /// The settings the service started with.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The GeoIP database.
    pub geo: Arc<GeoIp>,
    /// Publishers and consents, cached.
    pub catalog: Arc<Catalog>,
    /// Prometheus.
    pub metrics: PrometheusHandle,
    /// Password hashing threads.
    pub hasher: Arc<Hasher>,
    /// JWT keys.
    pub keys: Arc<Keys>,
    /// HMAC key for idempotency fingerprints, shared by replicas through the database.
    pub idempotency_secret: Vec<u8>,
    /// Wakes the outbox worker when an email was queued.
    pub mail_notify: Arc<tokio::sync::Notify>,
    /// Captcha siteverify client.
    pub captcha: crate::captcha::Verifier,
    /// Where outbound HTTP may go (`server.outbound_allow`); every outbound client comes from it.
    pub outbound: crate::outbound::Outbound,
    /// Route-class limits (None when `limits.enabled = false`).
    pub limiter: Option<Arc<crate::limits::Limiter>>,
    /// The OpenAPI document.
    pub openapi: Bytes,
    /// The dashboard's registrations charts.
    pub charts: crate::http::dashboard::ChartCache,
    /// Whether the database answers (Postgres: probed), for fast 503s.
    pub db_health: crate::store::DbHealth,
    /// Set once shutdown begins.
    pub draining: crate::http::serve::Draining,
}

impl Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}
