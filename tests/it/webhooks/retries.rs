//! Retry rules: a receiver that answers too late is tried again (`events.timeout`); one that
//! keeps failing past `events.retry_for` has its endpoint disabled as `failing`.

use std::time::Duration;

use reqwest::Method;

use super::{Receiver, assert_clean, fast, subscribe};
use crate::admin_api::{DEMO, OPERATOR, call};
use crate::backend_tests;
use crate::support::{Backend, TestApp};

backend_tests!(
    an_answer_after_the_timeout_is_retried,
    an_endpoint_failing_past_retry_for_is_disabled,
);

async fn an_answer_after_the_timeout_is_retried(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| fast(f).merge(("events.timeout", "300ms"))).await;
    let receiver = Receiver::start().await;
    receiver.delay(Duration::from_millis(1500));
    subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    app.signed_up("slow@example.com").await;
    for _ in 0..200 {
        if receiver.requests().len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        receiver.requests().len() >= 2,
        "tried again after the timeout"
    );
    receiver.delay(Duration::ZERO);
    let delivered = "SELECT COUNT(*) FROM webhook_deliveries WHERE state = 'delivered'";
    for _ in 0..200 {
        if app.db.scalar(delivered).await == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        app.db.scalar(delivered).await,
        1,
        "delivered once it answered in time"
    );
    let got = receiver.requests();
    assert_clean(&got[0]);
    // Every try carries the same event id (a consumer deduplicates on it).
    let ids: std::collections::HashSet<String> = got.iter().map(|g| g.id.clone()).collect();
    assert_eq!(ids.len(), 1);
}

async fn an_endpoint_failing_past_retry_for_is_disabled(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| fast(f).merge(("events.retry_for", "1s"))).await;
    let receiver = Receiver::start().await;
    receiver.answer(500);
    let (id, _) = subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    app.signed_up("failing@example.com").await;
    let path = format!("/admin/api/publishers/{DEMO}/webhooks/{id}");
    let mut endpoint = serde_json::Value::Null;
    for _ in 0..100 {
        endpoint = call(&app, Method::GET, &path, OPERATOR, None).await.1["responseData"].clone();
        if endpoint["enabled"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint["disabledReason"], "failing", "{endpoint}");
    assert!(receiver.requests().len() >= 2, "retried before giving up");
    assert_eq!(
        endpoint["pendingDeliveries"], 1,
        "kept for when it is enabled again"
    );
    // The dashboard shows it disabled, and why.
    let admin = crate::dashboard::Admin::sign_in(&app, OPERATOR).await;
    let (_, page) = admin
        .get(&format!("/admin/webhooks?publisher={DEMO}"))
        .await;
    assert!(
        page.contains("disabled: failing (retries ran out)"),
        "{page}"
    );
}
