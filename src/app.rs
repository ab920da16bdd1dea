//! Builds the service from settings: store, migrations, provisioning, GeoIP, listener.
//! `main` and the tests use the same [`Application::build`].

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use axum::extract::State;
use tokio::net::TcpListener;

use crate::auth::{HashParams, Hasher, Keys};
use crate::catalog::Catalog;
use crate::config::Settings;
use crate::geo::GeoIp;
use crate::service::Services;
use crate::state::{AppState, Shared};
use crate::store::{self, Store};

/// A built service, bound to its port, not yet serving.
pub struct Application {
    listener: TcpListener,
    metrics_listener: Option<TcpListener>,
    state: AppState,
}

impl Application {
    /// Connects, migrates (unless `database.migrate = false`), applies the config's
    /// declaration, opens GeoIP and binds `server.addr` (port 0 picks a free one).
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let store = store::connect(&settings.database).await?;
        if settings.database.migrate {
            store.migrate().await.context("database migrations")?;
        }
        let report = store
            .apply_declaration(&settings.declaration())
            .await
            .context("applying the publishers and consents of the config file")?;
        if !report.applied.is_empty() {
            tracing::info!(
                applied = report.applied.len(),
                published = report.published.len(),
                archived = report.archived.len(),
                "applied the config's publishers and consents"
            );
        }
        let geo = GeoIp::open(&settings.geoip.database)
            .map_err(|e| anyhow::anyhow!("geoip.database: {e}"))?;
        tracing::info!(database = %settings.geoip.database.display(), kind = geo.database_type(), "GeoIP ready");

        let keys = load_keys(&settings, store.as_ref()).await?;
        let idempotency_secret = idempotency_secret(&settings, store.as_ref()).await?;
        let auth = &settings.auth;
        let hasher = Hasher::start(
            auth.threads(),
            HashParams {
                memory_kib: auth.argon2_memory_kib,
                iterations: auth.argon2_iterations,
                parallelism: auth.argon2_parallelism,
            },
        )
        .map_err(|e| anyhow::anyhow!("auth.argon2_*: {e}"))?;

        crate::telemetry::sampler::spawn(Arc::downgrade(&store), settings.mail.max_attempts);
        let mailer = crate::mail::Mailer::new(&settings.mail).map_err(anyhow::Error::msg)?;
        let mail_notify = Arc::new(tokio::sync::Notify::new());
        crate::mail::spawn_outbox(
            Arc::downgrade(&store),
            mailer,
            mail_notify.clone(),
            settings.mail.clone(),
        );

        let catalog = Arc::new(Catalog::new(store.clone(), settings.cache.ttl));
        catalog.refresh_origins().await?;
        catalog.spawn_refresh();

        let addr = settings.server.addr;
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| anyhow::anyhow!("server.addr: cannot listen on {addr}: {e}"))?;
        let metrics_listener = match settings.server.metrics_addr {
            Some(addr) => Some(TcpListener::bind(addr).await.map_err(|e| {
                anyhow::anyhow!("server.metrics_addr: cannot listen on {addr}: {e}")
            })?),
            None => None,
        };
        let limiter = crate::limits::Limiter::new(&settings.limits).map(Arc::new);
        let outbound = crate::outbound::Outbound::new(settings.server.outbound_allow.clone());
        let captcha = crate::captcha::Verifier::new(&outbound).map_err(anyhow::Error::msg)?;
        let upstream = crate::upstream::Upstream::new(&outbound).map_err(anyhow::Error::msg)?;
        if settings.events.worker {
            let client = outbound
                .client(crate::outbound::Redirects::None)
                .map_err(anyhow::Error::msg)?;
            crate::events::spawn(Arc::downgrade(&store), client, settings.events.clone());
        }
        let db_health = crate::store::DbHealth::start(&settings.database);
        let state = AppState::new(Shared {
            services: Services {
                captcha,
                upstream,
                outbound,
                settings: Arc::new(settings),
                store,
                geo: Arc::new(geo),
                catalog,
                hasher: Arc::new(hasher),
                keys: Arc::new(keys),
                idempotency_secret,
                mail_notify,
            },
            limiter,
            metrics: crate::telemetry::metrics(),
            openapi: crate::http::openapi::document(),
            charts: Default::default(),
            db_health,
            draining: Default::default(),
        });
        // Imports left `running` by a server that stopped midway.
        if let Err(e) = crate::service::import::interrupt_stale(&state).await {
            tracing::warn!(error = %e.message(), "could not mark interrupted imports");
        }
        Ok(Application {
            listener,
            metrics_listener,
            state,
        })
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| self.state.settings.server.addr)
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.local_addr().port()
    }

    /// The bound metrics address, when `server.metrics_addr` is set.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_listener
            .as_ref()
            .and_then(|l| l.local_addr().ok())
    }

    /// The shared state (tests reach the store through it).
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves; then `/readyz` answers 503 while connections are
    /// still accepted for `server.drain_delay` (so load balancers notice), then stops accepting
    /// and lets in-flight requests finish for up to `server.shutdown_grace`.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        use crate::http::edge::serve::{ConnLimits, serve};
        let server = &self.state.settings.server;
        let (grace, delay) = (server.shutdown_grace, server.drain_delay);
        let limits = ConnLimits::of(server);
        let draining = self.state.draining.clone();
        let (stopping_tx, stopping_rx) = tokio::sync::watch::channel(false);
        if let Some(listener) = self.metrics_listener {
            // Probes may use this listener too: the main one's connection cap does not reach it.
            let state = self.state.clone();
            let ops = Router::new()
                .route(
                    "/metrics",
                    axum::routing::get(|State(state): State<AppState>| async move {
                        crate::http::ops::render_metrics(&state)
                    }),
                )
                .route("/healthz", axum::routing::get(crate::http::ops::healthz))
                .route("/readyz", axum::routing::get(crate::http::ops::readyz))
                .with_state(state);
            let ops_limits = ConnLimits {
                max_connections: 64,
                ..limits.clone()
            };
            let mut rx = stopping_rx.clone();
            let draining = draining.clone();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = rx.wait_for(|s| *s).await;
                };
                serve(listener, |_| ops.clone(), ops_limits, draining, stop, grace).await;
            });
        }
        let make = crate::http::router(self.state.clone());
        let stop = {
            let draining = draining.clone();
            async move {
                shutdown.await;
                draining.set();
                tracing::info!(
                    ?delay,
                    "shutting down: /readyz answers 503, still accepting for the drain delay"
                );
                tokio::time::sleep(delay).await;
                tracing::info!("shutting down: no new connections, finishing requests in flight");
                let _ = stopping_tx.send(true);
            }
        };
        let finished = serve(
            self.listener,
            |peer| make.edge(peer),
            limits,
            draining,
            stop,
            grace,
        )
        .await;
        if !finished {
            tracing::warn!(
                ?grace,
                "shutdown grace elapsed with requests still in flight"
            );
        }
        drop(stopping_rx);
        Ok(())
    }
}

/// The JWT keys of `jwt.keys`, or the development key kept in the database.
async fn load_keys(settings: &Settings, store: &dyn Store) -> anyhow::Result<Keys> {
    let jwt = &settings.jwt;
    let pems = if jwt.keys.is_empty() {
        let candidate = crate::auth::jwt::generate_pem().map_err(anyhow::Error::msg)?;
        let kid = uuid::Uuid::new_v4().simple().to_string();
        let stored = store.ensure_signing_key(&kid, &candidate).await?;
        tracing::warn!(
            "jwt.keys is not set: signing with a development key kept in the database; \
             configure your own Ed25519 PEM files in production"
        );
        stored
            .into_iter()
            .map(|pem| ("the database's development key".to_owned(), pem))
            .collect()
    } else {
        let mut pems = Vec::new();
        for path in &jwt.keys {
            let pem = std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("jwt.keys: cannot read {}: {e}", path.display()))?;
            pems.push((format!("jwt.keys: {}", path.display()), pem));
        }
        pems
    };
    Keys::from_pems(&pems, &jwt.issuer, jwt.ttl).map_err(anyhow::Error::msg)
}

/// The HMAC key for idempotency fingerprints: from config, else generated once and kept in
/// the database (then a database dump holds both the key and the fingerprints: a warning).
async fn idempotency_secret(settings: &Settings, store: &dyn Store) -> anyhow::Result<Vec<u8>> {
    use secrecy::ExposeSecret;
    use sha2::Digest;
    let configured = settings.auth.idempotency_secret.expose_secret();
    if !configured.is_empty() {
        return Ok(sha2::Sha256::digest(configured.as_bytes()).to_vec());
    }
    let stored = store
        .ensure_secret("idempotency_hmac", &hex::encode(rand::random::<[u8; 32]>()))
        .await?;
    tracing::warn!(
        "auth.idempotency_secret is not set: using one kept in the database; \
         set it (the same on every replica) in production"
    );
    hex::decode(stored).context("the stored idempotency secret is not hex")
}

/// Resolves on SIGTERM or SIGINT.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

/// Applies pending migrations (`enroll migrate`).
pub async fn migrate(database: &crate::config::DatabaseSettings) -> anyhow::Result<()> {
    let store = store::connect(database).await?;
    store.migrate().await?;
    Ok(())
}

/// What the admin operations need, for one command: the store (migrated unless
/// `database.migrate = false`) and caches of this process. Hashing threads start idle, the
/// JWT key is a throwaway one (commands issue no tokens) and no worker is started.
pub async fn command_services(settings: Settings) -> anyhow::Result<Services> {
    let store = store::connect(&settings.database).await?;
    if settings.database.migrate {
        store.migrate().await.context("database migrations")?;
    }
    let geo = crate::geo::GeoIp::open(&settings.geoip.database)
        .map_err(|e| anyhow::anyhow!("geoip.database: {e}"))?;
    let auth = &settings.auth;
    let hasher = crate::auth::Hasher::start(
        1,
        crate::auth::HashParams {
            memory_kib: auth.argon2_memory_kib,
            iterations: auth.argon2_iterations,
            parallelism: auth.argon2_parallelism,
        },
    )
    .map_err(|e| anyhow::anyhow!("auth.argon2_*: {e}"))?;
    let pem = crate::auth::jwt::generate_pem().map_err(anyhow::Error::msg)?;
    let keys = crate::auth::Keys::from_pems(
        &[("a key of this command".into(), pem)],
        &settings.jwt.issuer,
        settings.jwt.ttl,
    )
    .map_err(anyhow::Error::msg)?;
    let outbound = crate::outbound::Outbound::new(settings.server.outbound_allow.clone());
    let captcha = crate::captcha::Verifier::new(&outbound).map_err(anyhow::Error::msg)?;
    let upstream = crate::upstream::Upstream::new(&outbound).map_err(anyhow::Error::msg)?;
    Ok(Services {
        upstream,
        catalog: Arc::new(crate::catalog::Catalog::new(
            store.clone(),
            settings.cache.ttl,
        )),
        settings: Arc::new(settings),
        store,
        geo: Arc::new(geo),
        hasher: Arc::new(hasher),
        keys: Arc::new(keys),
        idempotency_secret: Vec::new(),
        mail_notify: Arc::new(tokio::sync::Notify::new()),
        captcha,
        outbound,
    })
}
