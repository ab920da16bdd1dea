//! Every operation once, whichever front end asks (customer API, admin API, dashboard, CLI):
//! its rules, its transaction, and the side effects that belong to it (audit line, cache
//! invalidation, waking the mail outbox, and later the event). Front ends parse their input
//! into domain values, call one function here, and render what it returns; none of them
//! calls the store.
//!
//! A function here takes [`Services`] first (a `&AppState` coerces to it), then the tenant,
//! then domain values, and returns domain values or an [`ApiError`](crate::error::ApiError).

use std::sync::Arc;

use crate::auth::{Hasher, Keys};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::geo::GeoIp;
use crate::store::Store;

/// What the operations use: settings, the store, caches, clients and the workers' handles,
/// built once by `app`.
pub struct Services {
    /// The settings the service started with.
    pub settings: Arc<Settings>,
    /// The database.
    pub store: Arc<dyn Store>,
    /// The GeoIP database.
    pub geo: Arc<GeoIp>,
    /// Publishers and consents, cached.
    pub catalog: Arc<Catalog>,
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
    /// The client of publishers' migration upstreams (under the outbound policy).
    pub upstream: crate::upstream::Upstream,
}

pub mod admin_keys;
pub mod audit;
pub mod consent_answers;
pub mod consents;
pub mod customers;
pub mod deliveries;
pub mod health;
pub mod import;
mod import_rows;
pub mod migration;
pub mod owner_data;
pub mod passwords;
pub mod profile;
pub mod proof;
pub mod publishers;
pub mod registration;
pub mod sessions;
pub mod tenants;
pub mod verification;
pub mod webhooks;
