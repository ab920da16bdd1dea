//! Gauges that nothing updates as a side effect of serving: whether the database answers,
//! how long it takes, and the mail outbox backlog (sampled every few seconds); the pool's
//! connections (read at each scrape, `pool_gauges`).

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::store::Store;

/// How often the database and the outbox are sampled.
pub const EVERY: Duration = Duration::from_secs(5);

/// Samples until the store is dropped. `max_attempts` is `mail.max_attempts` (rows past it
/// are given up, not backlog).
pub fn spawn(store: Weak<dyn Store>, max_attempts: u32) {
    let max_attempts = i32::try_from(max_attempts).unwrap_or(i32::MAX);
    tokio::spawn(async move {
        loop {
            let Some(store) = store.upgrade() else { break };
            sample(store.as_ref(), max_attempts).await;
            drop(store);
            tokio::time::sleep(EVERY).await;
        }
    });
}

async fn sample(store: &dyn Store, max_attempts: i32) {
    let started = Instant::now();
    let up = store.ping().await.is_ok();
    metrics::gauge!("database_up").set(if up { 1.0 } else { 0.0 });
    if !up {
        return;
    }
    metrics::gauge!("database_ping_seconds").set(started.elapsed().as_secs_f64());
    match store.outbox_backlog(max_attempts).await {
        Ok(b) => {
            metrics::gauge!("mail_outbox_backlog").set(b.pending as f64);
            metrics::gauge!("mail_outbox_given_up").set(b.given_up as f64);
            let age = b.oldest.map_or(0.0, |at| {
                (chrono::Utc::now() - at).num_milliseconds().max(0) as f64 / 1000.0
            });
            metrics::gauge!("mail_outbox_oldest_unsent_seconds").set(age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the mail outbox backlog"),
    }
}

/// The pool's connections now: `database_pool_connections{state="in_use"|"idle"}` and
/// `database_pool_max_connections`.
pub fn pool_gauges(store: &dyn Store) {
    let p = store.pool_stats();
    let in_use = p.open.saturating_sub(p.idle);
    metrics::gauge!("database_pool_connections", "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!("database_pool_connections", "state" => "idle").set(f64::from(p.idle));
    metrics::gauge!("database_pool_max_connections").set(f64::from(p.max));
}
