//! Whether the database answers, known without waiting out a pool timeout.
//!
//! sqlx's pool retries a refused connection until `acquire_timeout`, so a request sent while
//! Postgres is down would wait that long (twice, for two queries). A probe on a connection of
//! its own notices a refusal or a dropped connection at once, and requests waiting on the
//! database are answered 503 as soon as it does (`http::db_gate`).

use std::future::Future;
use std::str::FromStr;
use std::time::Duration;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use tokio::sync::watch;

use crate::config::DatabaseSettings;

/// How often the probe asks while the database answers, and while it does not.
const PROBE_EVERY: Duration = Duration::from_millis(250);

/// The database's state as the probe last saw it; cheap to clone.
#[derive(Debug, Clone)]
pub struct DbHealth {
    /// `true` while the database is down; `None` when nothing probes (SQLite).
    down: Option<watch::Receiver<bool>>,
}

impl DbHealth {
    /// Starts the probe for a Postgres URL; SQLite (a file) is never "down" this way.
    pub fn start(settings: &DatabaseSettings) -> DbHealth {
        let Ok(options) = PgConnectOptions::from_str(&settings.url) else {
            return DbHealth { down: None };
        };
        if !(settings.url.starts_with("postgres://") || settings.url.starts_with("postgresql://")) {
            return DbHealth { down: None };
        }
        let (tx, rx) = watch::channel(false);
        // A hung (not refusing) server counts as down after the pool's own patience.
        let patience = settings.acquire_timeout.max(Duration::from_millis(500));
        tokio::spawn(probe(
            options.application_name("enroll-probe"),
            tx,
            patience,
        ));
        DbHealth { down: Some(rx) }
    }

    /// The probe saw the database refuse or drop its connection and not come back yet.
    pub fn is_down(&self) -> bool {
        self.down.as_ref().is_some_and(|rx| *rx.borrow())
    }

    /// Resolves when the database is (or goes) down; never when nothing probes.
    pub fn went_down(&self) -> Option<impl Future<Output = ()> + Send + use<>> {
        let mut rx = self.down.clone()?;
        Some(async move {
            if rx.wait_for(|down| *down).await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}

/// Runs `SELECT 1` on its own connection every [`PROBE_EVERY`] until nobody listens.
async fn probe(options: PgConnectOptions, tx: watch::Sender<bool>, patience: Duration) {
    let mut conn: Option<PgConnection> = None;
    while !tx.is_closed() {
        let answered = tokio::time::timeout(patience, async {
            let c = match conn.take() {
                Some(c) => c,
                None => PgConnection::connect_with(&options).await?,
            };
            let mut c = c;
            sqlx::query("SELECT 1").execute(&mut c).await?;
            conn = Some(c);
            Ok::<(), sqlx::Error>(())
        })
        .await;
        let down = !matches!(answered, Ok(Ok(())));
        tx.send_if_modified(|was| {
            if *was == down {
                return false;
            }
            if down {
                tracing::warn!("database unreachable: answering 503 S0002 until it returns");
            } else {
                tracing::info!("database reachable again");
            }
            *was = down;
            true
        });
        tokio::time::sleep(PROBE_EVERY).await;
    }
    if let Some(c) = conn {
        let _ = c.close().await;
    }
}
