//! Overload generator for `bench/run`: offers POST /customers at a fixed rate (distinct emails)
//! for a fixed time from its own process, then prints what was admitted and how fast the 429
//! answers came. Usage: overload URL RATE SECONDS

use std::time::{Duration, Instant};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let url = args
        .get(1)
        .cloned()
        .unwrap_or_else(|| "http://127.0.0.1:8080/customers".into());
    let rate: u64 = args.get(2).map_or(Ok(200), |s| s.parse())?;
    let seconds: u64 = args.get(3).map_or(Ok(10), |s| s.parse())?;
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(512)
        .build()?;
    let run = uuid::Uuid::new_v4().simple().to_string();
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let started = Instant::now();
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut tasks = Vec::new();
    for i in 0..rate * seconds {
        ticker.tick().await;
        let body = serde_json::json!({
            "email": format!("overload-{run}-{i}@example.com"), "password": "secret123",
            "offerId": "S100000001_US", "locale": "en_GB", "country": "GB", "currency": "GBP"
        });
        let (client, url) = (client.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let sent = Instant::now();
            let status = client
                .post(&url)
                .json(&body)
                .send()
                .await
                .map(|r| r.status().as_u16())
                .unwrap_or(0);
            (status, sent.elapsed())
        }));
    }
    let offered_for = started.elapsed().as_secs_f64();
    let mut admitted = 0u64;
    let mut refused = Vec::new();
    let mut other = 0u64;
    for t in tasks {
        let (status, latency) = t.await?;
        match status {
            200 => admitted += 1,
            429 => refused.push(latency),
            _ => other += 1,
        }
    }
    refused.sort();
    let p99 = refused
        .get((refused.len() * 99 / 100).min(refused.len().saturating_sub(1)))
        .copied()
        .unwrap_or_default();
    println!(
        "offered_rps={:.1} seconds={offered_for:.2} admitted={admitted} admitted_per_s={:.2} refused={} other={other} p99_429_ms={:.2}",
        (rate * seconds) as f64 / offered_for,
        admitted as f64 / offered_for,
        refused.len(),
        p99.as_secs_f64() * 1000.0
    );
    Ok(())
}
