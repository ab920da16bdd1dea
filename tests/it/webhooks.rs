//! Events and webhooks over HTTP: a real receiver on loopback verifies every delivery with the
//! published Standard Webhooks implementation (the `standardwebhooks` crate). Each idea has
//! its file in `webhooks/`: endpoint management, every event from every front end, delivery
//! (outage, order, 410, rotation), several replicas and a crash.

mod cleeng;
mod cli;
mod dashboard;
mod delivery;
mod endpoints;
mod events;
mod imports;
mod replay;
mod replicas;
mod retries;

use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::admin_api::{OPERATOR, call};
use crate::support::{Backend, TestApp};

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Got {
    /// `webhook-id`.
    pub id: String,
    /// The body.
    pub event: Value,
    /// The raw body.
    pub raw: String,
    /// `webhook-signature`.
    pub signature: String,
    /// Which of the receiver's secrets verified it (indexes).
    pub verified_by: Vec<usize>,
    /// What the receiver answered.
    pub answered: u16,
}

struct Inner {
    status: AtomicU16,
    delay_ms: AtomicU64,
    secrets: Mutex<Vec<String>>,
    got: Mutex<Vec<Got>>,
}

/// A webhook receiver on 127.0.0.1 that answers `status` (200 unless set) and verifies each
/// request with every secret it was given.
pub struct Receiver {
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Inner {
            status: AtomicU16::new(200),
            delay_ms: AtomicU64::new(0),
            secrets: Mutex::new(Vec::new()),
            got: Mutex::new(Vec::new()),
        });
        let shared = inner.clone();
        let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let inner = shared.clone();
            async move {
                let verified_by = inner
                    .secrets
                    .lock()
                    .unwrap()
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| {
                        standardwebhooks::Webhook::new(s)
                            .unwrap()
                            .verify(&body, &headers)
                            .is_ok()
                    })
                    .map(|(i, _)| i)
                    .collect();
                let answered = inner.status.load(Ordering::SeqCst);
                let header = |n: &str| {
                    headers
                        .get(n)
                        .map(|v| v.to_str().unwrap().to_owned())
                        .unwrap_or_default()
                };
                inner.got.lock().unwrap().push(Got {
                    id: header("webhook-id"),
                    event: serde_json::from_slice(&body).unwrap_or(Value::Null),
                    raw: String::from_utf8_lossy(&body).into_owned(),
                    signature: header("webhook-signature"),
                    verified_by,
                    answered,
                });
                let delay = inner.delay_ms.load(Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(delay)).await;
                StatusCode::from_u16(answered).unwrap()
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver {
            url: format!("http://{addr}/hook"),
            inner,
        }
    }

    /// Answer this status from now on.
    pub fn answer(&self, status: u16) {
        self.inner.status.store(status, Ordering::SeqCst);
    }

    /// Answer only after this long.
    pub fn delay(&self, d: Duration) {
        self.inner
            .delay_ms
            .store(d.as_millis() as u64, Ordering::SeqCst);
    }

    /// Verify with this secret too.
    pub fn trust(&self, secret: &str) {
        self.inner.secrets.lock().unwrap().push(secret.to_owned());
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<Got> {
        self.inner.got.lock().unwrap().clone()
    }

    /// The requests answered 2xx (the deliveries).
    pub fn delivered(&self) -> Vec<Got> {
        self.requests()
            .into_iter()
            .filter(|g| (200..300).contains(&g.answered))
            .collect()
    }

    /// Waits (up to 30 s) until `n` deliveries arrived; panics otherwise.
    pub async fn wait_for(&self, n: usize) -> Vec<Got> {
        for _ in 0..600 {
            let got = self.delivered();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "expected {n} deliveries, got {:?}",
            self.delivered()
                .iter()
                .map(|g| g.event["type"].clone())
                .collect::<Vec<_>>()
        );
    }

    /// Waits until deliveries stop coming (nothing new for a second), then returns them.
    pub async fn settled(&self) -> Vec<Got> {
        let mut seen = usize::MAX;
        loop {
            let now = self.requests().len();
            if now == seen {
                return self.delivered();
            }
            seen = now;
            tokio::time::sleep(Duration::from_millis(1000)).await;
        }
    }
}

/// Waits (up to 10 s) until `n` deliveries are settled as delivered (a replay leaves a
/// delivery that a worker is still sending to that try).
pub async fn settled_deliveries(app: &TestApp, n: i64) {
    let sql = "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'";
    for _ in 0..200 {
        if app.db.scalar(sql).await >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{n} deliveries not settled");
}

/// Fast worker settings for tests.
pub fn fast(f: figment::Figment) -> figment::Figment {
    f.merge(("admin.operator_key", OPERATOR))
        .merge(("events.poll_interval", "50ms"))
        .merge(("events.retry_base", "100ms"))
        .merge(("events.retry_max", "400ms"))
        .merge(("events.timeout", "2s"))
}

/// A test server with an operator key and a fast delivery worker.
pub async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, fast).await
}

/// Creates an endpoint for `types` on the publisher; returns (id, secret) and makes the
/// receiver trust the secret.
pub async fn subscribe(
    app: &TestApp,
    publisher: &str,
    key: &str,
    receiver: &Receiver,
    types: &[&str],
) -> (i64, String) {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/admin/api/publishers/{publisher}/webhooks"),
        key,
        Some(json!({"url": receiver.url, "eventTypes": types})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["responseData"];
    let secret = data["secret"].as_str().unwrap().to_owned();
    receiver.trust(&secret);
    (data["id"].as_i64().unwrap(), secret)
}

/// Every event type.
pub const ALL: [&str; 9] = [
    "customer.registered",
    "customer.updated",
    "customer.email_verified",
    "customer.logged_in",
    "customer.password_changed",
    "customer.consents_changed",
    "customer.erased",
    "consent.published",
    "consent.archived",
];

/// Asserts a delivery is signed (verified by a trusted secret) and carries no secret.
pub fn assert_clean(g: &Got) {
    assert!(!g.verified_by.is_empty(), "unverified delivery: {g:?}");
    assert_eq!(g.id, g.event["id"].as_str().unwrap());
    // `textHash` is the public hash of a consent's text (proof of consent), not a secret.
    let data = g.event["data"]
        .to_string()
        .to_lowercase()
        .replace("\"texthash\"", "");
    for word in [
        "password",
        "secret123",
        "hash",
        "token",
        "$argon2",
        "whsec_",
    ] {
        assert!(!data.contains(word), "{word} in an event: {}", g.raw);
    }
}
