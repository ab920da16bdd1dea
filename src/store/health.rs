//! Whether the database answers, known without waiting out a pool timeout.
//!
//! sqlx's pool retries a refused connection until `acquire_timeout`, so a request sent while
//! Postgres is down would wait that long (twice, for two queries). A probe on a connection of
//! its own notices a refusal or a dropped connection at once, and requests waiting on the
//! database are answered 503 as soon as it does (`http::db_gate`). A probe that gets no
//! answer in time changes nothing: under load that is slowness, not an outage.

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

/// What one look at the database found.
enum Seen {
    Up,
    /// Refused, or dropped and refused again: decisive, and fast.
    Down,
    /// No answer within the patience: a slow (loaded) server looks the same as a hung one,
    /// so this changes nothing; the pool's own acquire timeout still applies.
    Unknown,
}

/// `SELECT 1` on the kept connection; if that fails, once more on a fresh one (an idle
/// connection a pooler or `idle_session_timeout` closed is no outage).
async fn look(
    conn: &mut Option<PgConnection>,
    options: &PgConnectOptions,
    patience: Duration,
) -> Seen {
    if let Some(mut c) = conn.take() {
        match tokio::time::timeout(patience, sqlx::query("SELECT 1").execute(&mut c)).await {
            Ok(Ok(_)) => {
                *conn = Some(c);
                return Seen::Up;
            }
            Err(_) => return Seen::Unknown,
            Ok(Err(_)) => {}
        }
    }
    let fresh = tokio::time::timeout(patience, async {
        let mut c = PgConnection::connect_with(options).await?;
        sqlx::query("SELECT 1").execute(&mut c).await?;
        Ok::<_, sqlx::Error>(c)
    })
    .await;
    match fresh {
        Ok(Ok(c)) => {
            *conn = Some(c);
            Seen::Up
        }
        Ok(Err(_)) => Seen::Down,
        Err(_) => Seen::Unknown,
    }
}

/// Looks every [`PROBE_EVERY`] until nobody listens.
async fn probe(options: PgConnectOptions, tx: watch::Sender<bool>, patience: Duration) {
    let mut conn: Option<PgConnection> = None;
    while !tx.is_closed() {
        let down = match look(&mut conn, &options, patience).await {
            Seen::Up => false,
            Seen::Down => true,
            Seen::Unknown => *tx.borrow(),
        };
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
