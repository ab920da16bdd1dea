//! Delivery: a receiver that was down gets everything afterwards, each customer's events in
//! order; 410 disables the endpoint (and enabling it again delivers what waited); during a
//! rotation both secrets sign.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{Receiver, assert_clean, spawn, subscribe};
use crate::admin_api::{DEMO, OPERATOR, call};
use crate::backend_tests;
use crate::login::login;
use crate::support::Backend;

backend_tests!(
    a_receiver_down_for_a_while_gets_everything_in_each_customers_order,
    a_410_disables_the_endpoint_and_nothing_is_lost,
    during_a_rotation_both_secrets_sign,
);

/// Registers `n` customers and logs each in twice: three events per customer.
async fn activity(app: &crate::support::TestApp, n: usize) {
    for i in 0..n {
        let email = format!("order{i}@example.com");
        app.signed_up(&email).await;
        for _ in 0..2 {
            assert_eq!(login(app, &email, "secret123").await.status(), 200);
        }
    }
}

async fn a_receiver_down_for_a_while_gets_everything_in_each_customers_order(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    subscribe(
        &app,
        DEMO,
        OPERATOR,
        &receiver,
        &["customer.registered", "customer.logged_in"],
    )
    .await;
    activity(&app, 3).await;
    // Retried while down, and never a customer's later event before an earlier one.
    for _ in 0..200 {
        if receiver.requests().len() >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(receiver.requests().len() >= 8, "{:?}", receiver.requests());
    assert!(receiver.delivered().is_empty());
    for g in receiver.requests() {
        assert_eq!(g.event["sequence"], 1, "{g:?}");
    }
    receiver.answer(200);
    let got = receiver.wait_for(9).await;
    got.iter().for_each(assert_clean);
    let mut by_customer: HashMap<String, Vec<i64>> = HashMap::new();
    for g in &got {
        by_customer
            .entry(g.event["customerId"].to_string())
            .or_default()
            .push(g.event["sequence"].as_i64().unwrap());
    }
    assert_eq!(by_customer.len(), 3);
    for sequences in by_customer.values() {
        assert_eq!(sequences, &[1, 2, 3]);
    }
    // Each event once (no duplicate deliveries after success).
    let settled = receiver.settled().await;
    assert_eq!(settled.len(), 9);
    let metrics = app.get("/metrics").await.text().await.unwrap();
    for name in [
        "events_written_total",
        "webhook_deliveries_total{outcome=\"retry\"}",
        "webhook_deliveries_total{outcome=\"delivered\"}",
        "webhook_delivery_latency_seconds",
    ] {
        assert!(metrics.contains(name), "{name} not in {metrics}");
    }
}

async fn a_410_disables_the_endpoint_and_nothing_is_lost(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    receiver.answer(410);
    let (id, _) = subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    let one = format!("/admin/api/publishers/{DEMO}/webhooks/{id}");
    app.signed_up("gone1@example.com").await;
    let mut endpoint = json!(null);
    for _ in 0..200 {
        endpoint = call(&app, Method::GET, &one, OPERATOR, None).await.1["responseData"].clone();
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(endpoint["enabled"], false, "{endpoint}");
    assert_eq!(endpoint["disabledReason"], "gone");
    app.signed_up("gone2@example.com").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        receiver.requests().len(),
        1,
        "a disabled endpoint gets nothing"
    );
    assert_eq!(endpoint["pendingDeliveries"], 1);

    // Back: enabling the endpoint delivers what waited, in order.
    receiver.answer(200);
    let (status, body) = call(
        &app,
        Method::PATCH,
        &one,
        OPERATOR,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event["data"]["email"], "gone1@example.com");
    // gone2 registered while the endpoint was disabled: it was not subscribed then.
    assert_eq!(receiver.settled().await.len(), 1);
}

async fn during_a_rotation_both_secrets_sign(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    let (id, old) = subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/webhooks/{id}/rotate-secret"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new = body["responseData"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new, old);
    receiver.trust(&new);
    app.signed_up("rotate@example.com").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].verified_by, [0, 1], "{:?}", got[0]);
    assert_eq!(got[0].signature.split(' ').count(), 2);
}
