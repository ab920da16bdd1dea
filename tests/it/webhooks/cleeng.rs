//! `format = cleeng`: Cleeng's body (`broadcasterId`, `topic`, `data`) for the event types
//! Cleeng has a topic for, signed with a hex HMAC-SHA256 of the body under the endpoint's
//! shared secret. A loopback receiver recomputes the signature on its own.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use reqwest::Method;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::net::TcpListener;

use super::spawn;
use crate::admin_api::{DEMO, OPERATOR, call};
use crate::backend_tests;
use crate::support::{Backend, json};

backend_tests!(cleeng_endpoints_get_cleeng_shaped_signed_webhooks);

/// What the receiver got: the body, and whether its signature header matched.
type Got = Arc<Mutex<Vec<(Value, bool)>>>;

/// A receiver that checks `X-Cleeng-Signature` against its own HMAC of the raw body.
async fn receiver(secret: Arc<Mutex<String>>) -> (String, Got) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cleeng", listener.local_addr().unwrap());
    let got: Got = Arc::default();
    let seen = got.clone();
    let app = Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let (seen, secret) = (seen.clone(), secret.clone());
        async move {
            let key = secret.lock().unwrap().clone();
            let mut mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).unwrap();
            mac.update(&body);
            let expected = hex::encode(mac.finalize().into_bytes());
            let sent = headers
                .get("x-cleeng-signature")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            seen.lock().unwrap().push((body, sent == expected));
            "ok"
        }
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (url, got)
}

async fn wait_for(got: &Got, n: usize) -> Vec<(Value, bool)> {
    for _ in 0..600 {
        if got.lock().unwrap().len() >= n {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = got.lock().unwrap().clone();
    assert!(all.len() >= n, "expected {n} webhooks, got {all:?}");
    all
}

async fn cleeng_endpoints_get_cleeng_shaped_signed_webhooks(backend: Backend) {
    let app = spawn(backend).await;
    let secret = Arc::new(Mutex::new(String::new()));
    let (url, got) = receiver(secret.clone()).await;
    let base = format!("/admin/api/publishers/{DEMO}/webhooks");

    // Types Cleeng has no topic for are refused, with a message that says which it has.
    let (status, body) = call(
        &app,
        Method::POST,
        &base,
        OPERATOR,
        Some(json!({"url": url, "format": "cleeng", "eventTypes": ["customer.registered", "customer.logged_in"]})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["field"], "eventTypes");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("customer.consents_changed"),
        "{body}"
    );

    let (status, body) = call(
        &app,
        Method::POST,
        &base,
        OPERATOR,
        Some(json!({"url": url, "format": "cleeng",
                    "eventTypes": ["customer.registered", "customer.consents_changed"]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let created = &body["responseData"];
    assert_eq!(created["format"], "cleeng");
    let shared = created["secret"].as_str().unwrap().to_owned();
    assert!(
        !shared.starts_with("whsec_") && (16..=64).contains(&shared.len()),
        "{shared}"
    );
    *secret.lock().unwrap() = shared;
    // The format is chosen at creation.
    let one = format!("{base}/{}", created["id"]);
    let (status, body) = call(
        &app,
        Method::PATCH,
        &one,
        OPERATOR,
        Some(json!({"format": "standard"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["field"], "format");

    let c = app.signed_up("cleeng-hook@example.com").await;
    let first = wait_for(&got, 1).await;
    let (body, signed) = &first[0];
    assert!(
        signed,
        "the signature must be the hex HMAC-SHA256 of the body: {body}"
    );
    assert_eq!(
        *body,
        json!({"broadcasterId": 100000001, "topic": "customerRegistered",
               "data": {"customerId": c.id.parse::<i64>().unwrap(),
                        "customerEmail": "cleeng-hook@example.com", "customerExternalId": null}})
    );

    // Two consents changed: two customerConsentUpdated webhooks.
    let r = app
        .authed(
            Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .json(&json!({"consents": [
            {"name": "terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]}))
        .send()
        .await
        .unwrap();
    let (status, answer) = json(r).await;
    assert_eq!(status, 200, "{answer}");
    let all = wait_for(&got, 3).await;
    for (body, signed) in &all[1..] {
        assert!(signed, "{body}");
        assert_eq!(body["topic"], "customerConsentUpdated");
        assert_eq!(body["broadcasterId"], 100000001);
        assert_eq!(body["data"]["customerEmail"], "cleeng-hook@example.com");
        assert_eq!(body["data"]["consentState"], "accepted");
    }
    let mut names: Vec<&str> = all[1..]
        .iter()
        .map(|(b, _)| b["data"]["consentName"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["broadcaster_marketing", "terms"]);
}
