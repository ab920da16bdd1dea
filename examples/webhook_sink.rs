//! A webhook receiver for `bench/run`: answers every POST with 200 and keeps, per request, the
//! time from the event's `occurredAt` (written in the transaction of its change) to its arrival.
//!
//! `webhook_sink ADDR` listens on ADDR; `GET /stats` answers
//! `received=N p50_ms=X p99_ms=Y max_ms=Z` over everything received so far. The signature is
//! not checked: the tests do that; this only measures.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::routing::get;
use chrono::{DateTime, Utc};

type Error = Box<dyn std::error::Error>;

/// The value at quantile `q` of sorted `v` (nearest rank).
fn quantile(v: &[f64], q: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    v[rank - 1]
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let addr = std::env::args().nth(1).ok_or("usage: webhook_sink ADDR")?;
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let seen = latencies.clone();
    let stats = latencies.clone();
    let app = Router::new()
        .route(
            "/stats",
            get(move || async move {
                let mut v = stats.lock().map(|v| v.clone()).unwrap_or_default();
                v.sort_by(f64::total_cmp);
                format!(
                    "received={} p50_ms={:.1} p99_ms={:.1} max_ms={:.1}\n",
                    v.len(),
                    quantile(&v, 0.5),
                    quantile(&v, 0.99),
                    v.last().copied().unwrap_or(0.0)
                )
            }),
        )
        .fallback(move |body: Bytes| {
            let seen = seen.clone();
            async move {
                let now = Utc::now();
                let event: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
                if let Some(at) = event["occurredAt"]
                    .as_str()
                    .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                {
                    let ms = (now - at.with_timezone(&Utc))
                        .num_microseconds()
                        .unwrap_or(0) as f64
                        / 1000.0;
                    if let Ok(mut v) = seen.lock() {
                        v.push(ms);
                    }
                }
                "ok"
            }
        });
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    axum::serve(listener, app).await?;
    Ok(())
}
