//! Webhook deliveries of the event outbox. Events are written by the store in the transaction
//! of their change (see `store::sql_events`); this worker claims due deliveries (every
//! replica may run one: Postgres hands each delivery to one of them with `FOR UPDATE SKIP
//! LOCKED`), signs them to the Standard Webhooks 1.0 specification and sends them through the
//! outbound policy. All state is in the database, so a restart or a crash loses nothing: a
//! claim that was never settled expires after the timeout and the delivery is tried again.

pub mod cleeng;

use std::sync::Weak;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Utc;
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::config::EventSettings;
use crate::outbound::OutboundClient;
use crate::store::{ClaimedDelivery, DeliveryResult, Store};

/// How often the oldest-undelivered gauge is refreshed.
const SAMPLE_EVERY: Duration = Duration::from_secs(15);

/// How often old events and deliveries are purged.
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// A new endpoint secret: `whsec_` and the base64 of 32 random bytes.
pub fn new_secret() -> String {
    let bytes: [u8; 32] = rand::random();
    format!("whsec_{}", STANDARD.encode(bytes))
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` for each secret, space-separated
/// (Standard Webhooks 1.0; two during a rotation). A secret that is not `whsec_` + base64 is
/// used as its bytes.
pub fn signature(secrets: &[String], id: &str, timestamp: i64, body: &str) -> String {
    secrets
        .iter()
        .filter_map(|secret| {
            let raw = secret.strip_prefix("whsec_").unwrap_or(secret);
            let key = STANDARD
                .decode(raw)
                .unwrap_or_else(|_| raw.as_bytes().to_vec());
            // HMAC takes keys of any length; this never fails.
            let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
            mac.update(format!("{id}.{timestamp}.").as_bytes());
            mac.update(body.as_bytes());
            Some(format!(
                "v1,{}",
                STANDARD.encode(mac.finalize().into_bytes())
            ))
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// The delay before try `attempts + 1`: `retry_base × 2^(attempts−1)`, at most `retry_max`,
/// of which a random half (jitter, so failing receivers are not hit in lockstep).
pub fn backoff(settings: &EventSettings, attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.saturating_sub(1))
        .unwrap_or(0)
        .min(30);
    let full = settings
        .retry_base
        .saturating_mul(2u32.saturating_pow(exponent))
        .min(settings.retry_max);
    let jitter: f64 = rand::random::<f64>() * 0.5 + 0.5;
    full.mul_f64(jitter)
}

/// How long the worker lets commits gather once woken: one claim and one settling write per
/// 50 ms at most, not one per commit (on SQLite each is a write registrations wait behind).
const COALESCE: Duration = Duration::from_millis(50);

/// Starts the delivery worker; it ends when the store is dropped.
pub fn spawn(store: Weak<dyn Store>, client: OutboundClient, settings: EventSettings) {
    tokio::spawn(async move {
        // A claim outlives a try (timeout) with room to record it; a crashed worker's claims
        // are taken over once it expires.
        let lease = settings.timeout * 2 + Duration::from_secs(5);
        let mut sampled: Option<Instant> = None;
        // The first purge waits an interval: start-up (migrations, config) has the writer.
        let mut purged = Instant::now();
        let mut reported = std::collections::HashSet::new();
        let Some(signal) = store.upgrade().map(|s| s.event_signal()) else {
            return;
        };
        loop {
            let Some(store) = store.upgrade() else { break };
            if sampled.is_none_or(|t| t.elapsed() >= SAMPLE_EVERY) {
                sampled = Some(Instant::now());
                sample(store.as_ref(), &mut reported).await;
            }
            if purged.elapsed() >= PURGE_EVERY {
                purged = Instant::now();
                let cutoff = Utc::now()
                    - chrono::Duration::from_std(settings.retention)
                        .unwrap_or(chrono::Duration::days(30));
                if let Err(e) = store.purge_events(cutoff).await {
                    tracing::warn!(error = %e, "webhooks: purging old events failed");
                }
            }
            match store.claim_deliveries(settings.batch.max(1), lease).await {
                Ok(batch) if !batch.is_empty() => {
                    let sends = batch.iter().map(|d| deliver(&client, &settings, d));
                    let tries = futures_util::future::join_all(sends).await;
                    // One write for the whole batch (SQLite has one writer at a time, and
                    // registrations wait for it).
                    let settled: Vec<_> = batch.iter().zip(tries).collect();
                    if let Err(e) = store.settle_deliveries(&settled).await {
                        // Unsettled: the claims expire and the deliveries are tried again
                        // (at least once).
                        tracing::error!(error = %e, deliveries = settled.len(), "webhooks: could not record tries");
                    }
                    continue;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "webhooks: cannot claim deliveries; will retry")
                }
            }
            drop(store);
            // Woken by this process's commits at once; other replicas' events by the poll.
            tokio::select! {
                () = signal.notified() => {
                    // A burst of commits (a login storm) becomes one claim, not one each.
                    tokio::time::sleep(COALESCE).await;
                }
                () = tokio::time::sleep(settings.poll_interval) => {}
            }
        }
    });
}

/// Sets the oldest-undelivered gauge of each endpoint with a backlog, and 0 for those whose
/// backlog is gone since the last sample.
async fn sample(store: &dyn Store, reported: &mut std::collections::HashSet<i64>) {
    match store.oldest_undelivered().await {
        Ok(rows) => {
            let now = Utc::now();
            let current: std::collections::HashSet<i64> = rows.iter().map(|r| r.0).collect();
            for gone in reported.difference(&current) {
                metrics::gauge!("webhook_oldest_undelivered_seconds", "endpoint" => gone.to_string())
                    .set(0.0);
            }
            *reported = current;
            for (endpoint, oldest) in rows {
                let age = (now - oldest).num_milliseconds().max(0) as f64 / 1000.0;
                metrics::gauge!("webhook_oldest_undelivered_seconds", "endpoint" => endpoint.to_string())
                    .set(age);
            }
        }
        Err(e) => tracing::warn!(error = %e, "webhooks: cannot read the backlog"),
    }
}

/// Tries one delivery; counts and logs how it ended.
async fn deliver(
    client: &OutboundClient,
    settings: &EventSettings,
    d: &ClaimedDelivery,
) -> DeliveryResult {
    let result = attempt(client, settings, d).await;
    let outcome = match &result {
        DeliveryResult::Delivered(_) => "delivered",
        DeliveryResult::Skipped => "skipped",
        DeliveryResult::Retry { .. } => "retry",
        DeliveryResult::Disable { reason, .. } => reason,
    };
    metrics::counter!("webhook_deliveries_total", "outcome" => outcome).increment(1);
    match &result {
        DeliveryResult::Delivered(status) => {
            let latency = (Utc::now() - d.queued_at).num_milliseconds().max(0) as f64 / 1000.0;
            metrics::histogram!("webhook_delivery_latency_seconds").record(latency);
            tracing::debug!(endpoint = d.endpoint, event = %d.event_id, status, "webhook delivered");
        }
        DeliveryResult::Skipped => {
            tracing::debug!(endpoint = d.endpoint, event = %d.event_id, "no Cleeng topic; skipped");
        }
        DeliveryResult::Retry { status, error, at } => {
            tracing::info!(endpoint = d.endpoint, event = %d.event_id, attempt = d.attempts, ?status, %error, retry_at = %at, "webhook not delivered; will retry");
        }
        DeliveryResult::Disable {
            status,
            error,
            reason,
        } => {
            tracing::warn!(endpoint = d.endpoint, event = %d.event_id, ?status, %error, reason, "webhook endpoint disabled");
        }
    }
    result
}

/// One POST: its status, or why there was none.
async fn post(
    client: &OutboundClient,
    settings: &EventSettings,
    url: &str,
    headers: &[(&str, String)],
    body: &str,
) -> Result<u16, String> {
    let mut request = client
        .post(url)
        .map_err(|refused| refused.to_string())?
        .timeout(settings.timeout)
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, value);
    }
    match request.body(body.to_owned()).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(e) if e.is_timeout() => Err(format!("no answer within {:?}", settings.timeout)),
        Err(e) => Err(format!("request failed: {}", e.without_url())),
    }
}

/// Sends the delivery in its endpoint's format: a 2xx for every request is delivered.
async fn send(
    client: &OutboundClient,
    settings: &EventSettings,
    d: &ClaimedDelivery,
) -> Option<Result<u16, String>> {
    if d.format == "cleeng" {
        let event: serde_json::Value = serde_json::from_str(&d.body).unwrap_or_default();
        let bodies = cleeng::bodies(d.publisher, &event, d.email.as_deref());
        // Cleeng invalidates a rotated secret at once: only the current one signs.
        let secret = d.secrets.first().map(String::as_str).unwrap_or_default();
        let mut last = None;
        for body in &bodies {
            let header = [(cleeng::SIGNATURE_HEADER, cleeng::signature(secret, body))];
            let sent = post(client, settings, &d.url, &header, body).await;
            let ok = matches!(sent, Ok(s) if (200..300).contains(&s));
            last = Some(sent);
            if !ok {
                break;
            }
        }
        return last;
    }
    let timestamp = Utc::now().timestamp();
    let headers = [
        ("webhook-id", d.event_id.clone()),
        ("webhook-timestamp", timestamp.to_string()),
        (
            "webhook-signature",
            signature(&d.secrets, &d.event_id, timestamp, &d.body),
        ),
    ];
    Some(post(client, settings, &d.url, &headers, &d.body).await)
}

async fn attempt(
    client: &OutboundClient,
    settings: &EventSettings,
    d: &ClaimedDelivery,
) -> DeliveryResult {
    let Some(sent) = send(client, settings, d).await else {
        return DeliveryResult::Skipped;
    };
    let (status, error) = match sent {
        Ok(status) if (200..300).contains(&status) => {
            return DeliveryResult::Delivered(i32::from(status));
        }
        Ok(410) => {
            return DeliveryResult::Disable {
                status: Some(410),
                error: "410 Gone".into(),
                reason: "gone",
            };
        }
        Ok(status) => (Some(i32::from(status)), format!("answered {status}")),
        Err(error) => (None, error),
    };
    let retry_for = chrono::Duration::from_std(settings.retry_for).unwrap_or(chrono::Duration::MAX);
    if Utc::now() - d.queued_at >= retry_for {
        return DeliveryResult::Disable {
            status,
            error,
            reason: "failing",
        };
    }
    let at = Utc::now()
        + chrono::Duration::from_std(backoff(settings, d.attempts))
            .unwrap_or(chrono::Duration::hours(1));
    DeliveryResult::Retry { status, error, at }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_like_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned();
        let body = r#"{"test": 2432232314}"#;
        let sig = signature(&[secret], "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body);
        assert_eq!(sig, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    }

    #[test]
    fn backoff_doubles_within_its_bounds() {
        let s = EventSettings::default();
        assert!(backoff(&s, 1) <= s.retry_base && backoff(&s, 1) >= s.retry_base / 2);
        assert!(backoff(&s, 40) <= s.retry_max);
    }
}
