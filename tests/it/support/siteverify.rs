//! A small real siteverify server on loopback (the protocol reCAPTCHA, hCaptcha and Turnstile
//! share): a form POST of `secret`, `response`, `remoteip` answered with JSON. It keeps every
//! request, and can be made slow, broken (HTTP 500) or to answer something that is not JSON.
//!
//! Tokens: `good-token` passes (score 0.9), `low-score` passes with score 0.1, anything else
//! fails with `invalid-input-response`; an empty secret fails with `missing-input-secret`.
// Not every test uses every knob.
#![allow(dead_code)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use serde::Deserialize;
use tokio::net::TcpListener;

/// The token that passes with a high score.
pub const GOOD_TOKEN: &str = "good-token";
/// The token that passes with score 0.1.
pub const LOW_SCORE_TOKEN: &str = "low-score";

#[derive(Default)]
struct Knobs {
    requests: Mutex<Vec<(String, String, Option<String>)>>,
    slow: Mutex<Option<Duration>>,
    broken: AtomicBool,
    non_json: AtomicBool,
}

/// A running siteverify server; clones share its state.
#[derive(Clone)]
pub struct Siteverify {
    /// The full endpoint URL, `http://127.0.0.1:PORT/siteverify`.
    pub url: String,
    knobs: Arc<Knobs>,
}

#[derive(Debug, Deserialize)]
struct VerifyForm {
    #[serde(default)]
    secret: String,
    #[serde(default)]
    response: String,
    remoteip: Option<String>,
}

impl Siteverify {
    /// Starts the server on `127.0.0.1:0` (it lives as long as the test's runtime).
    pub async fn start() -> Siteverify {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let knobs = Arc::new(Knobs::default());
        let app = Router::new()
            .route("/siteverify", post(siteverify))
            .with_state(knobs.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Siteverify {
            url: format!("http://{addr}/siteverify"),
            knobs,
        }
    }

    /// Every answer waits this long first (`None`: answer at once).
    pub fn set_slow(&self, d: Option<Duration>) {
        *self.knobs.slow.lock().unwrap() = d;
    }

    /// Answer HTTP 500 to everything.
    pub fn set_broken(&self, on: bool) {
        self.knobs.broken.store(on, Ordering::SeqCst);
    }

    /// Answer HTTP 200 with an HTML page instead of JSON.
    pub fn set_non_json(&self, on: bool) {
        self.knobs.non_json.store(on, Ordering::SeqCst);
    }

    /// The requests received so far, in order: (secret, response, remoteip).
    pub fn requests(&self) -> Vec<(String, String, Option<String>)> {
        self.knobs.requests.lock().unwrap().clone()
    }
}

// `Form` requires `Content-Type: application/x-www-form-urlencoded` (else 415), so a client
// that posts JSON or a query string never gets a 200 here.
async fn siteverify(State(knobs): State<Arc<Knobs>>, Form(form): Form<VerifyForm>) -> Response {
    knobs.requests.lock().unwrap().push((
        form.secret.clone(),
        form.response.clone(),
        form.remoteip.clone(),
    ));
    let slow = *knobs.slow.lock().unwrap();
    if let Some(d) = slow {
        tokio::time::sleep(d).await;
    }
    if knobs.broken.load(Ordering::SeqCst) {
        return (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response();
    }
    if knobs.non_json.load(Ordering::SeqCst) {
        return (
            [(header::CONTENT_TYPE, "text/html")],
            "<html><body>captive portal</body></html>",
        )
            .into_response();
    }
    let now = "2026-01-01T00:00:00Z";
    let answer = if form.secret.is_empty() {
        serde_json::json!({"success": false, "error-codes": ["missing-input-secret"]})
    } else {
        match form.response.as_str() {
            GOOD_TOKEN => serde_json::json!({
                "success": true, "score": 0.9, "action": "register",
                "challenge_ts": now, "hostname": "localhost", "error-codes": []
            }),
            LOW_SCORE_TOKEN => serde_json::json!({
                "success": true, "score": 0.1, "action": "register",
                "challenge_ts": now, "hostname": "localhost", "error-codes": []
            }),
            _ => serde_json::json!({"success": false, "error-codes": ["invalid-input-response"]}),
        }
    };
    Json(answer).into_response()
}
