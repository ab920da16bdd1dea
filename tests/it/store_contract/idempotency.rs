//! `CustomerStore` idempotency records and shared secrets: a key runs once and replays its
//! outcome; the first replica's signing key and secrets win.

use std::sync::Arc;
use std::time::Duration;

use enroll::domain::PublisherId;
use enroll::store::{Idempotency, IdempotencyRef, Store};

use super::{HOUR, P1, P2, new_customer, pid, tick, two_publishers};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    a_key_runs_once_and_replays_its_outcome,
    abandoned_stale_and_expired_keys_run_again,
    a_registration_completes_its_key,
    the_first_signing_key_and_secret_win,
);

fn key(k: &str) -> IdempotencyRef {
    IdempotencyRef {
        route: "POST /customers".into(),
        key: k.into(),
    }
}

/// Claims `key` for a body with an hour's staleness and TTL.
async fn begin(
    store: &Arc<dyn Store>,
    publisher: PublisherId,
    key: &IdempotencyRef,
    body_hmac: &str,
) -> Idempotency {
    store
        .idempotency_begin(publisher, key, body_hmac, HOUR, HOUR)
        .await
        .unwrap()
}

async fn a_key_runs_once_and_replays_its_outcome(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    let k = key("k1");
    assert_eq!(begin(&store, p, &k, "body-a").await, Idempotency::Started);
    assert_eq!(
        begin(&store, p, &k, "body-a").await,
        Idempotency::InProgress
    );
    assert_eq!(begin(&store, p, &k, "body-b").await, Idempotency::Mismatch);
    let error = serde_json::json!({"errors": ["Email is taken"]});
    store.idempotency_finish(p, &k, 422, &error).await.unwrap();
    let done = Idempotency::Done {
        status: 422,
        customer: None,
        response: Some(error.clone()),
    };
    assert_eq!(begin(&store, p, &k, "body-a").await, done);
    // A finished record is not abandoned, and not finished twice.
    store.idempotency_abandon(p, &k).await.unwrap();
    store
        .idempotency_finish(p, &k, 500, &serde_json::json!({}))
        .await
        .unwrap();
    assert_eq!(begin(&store, p, &k, "body-a").await, done);
    // Keys are per publisher and per route.
    assert_eq!(
        store
            .idempotency_begin(pid(P2), &k, "body-a", HOUR, HOUR)
            .await
            .unwrap(),
        Idempotency::Started
    );
    let other_route = IdempotencyRef {
        route: "POST /other".into(),
        key: "k1".into(),
    };
    assert_eq!(
        begin(&store, p, &other_route, "body-a").await,
        Idempotency::Started
    );
}

async fn abandoned_stale_and_expired_keys_run_again(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    let k = key("k2");
    begin(&store, p, &k, "a").await;
    store.idempotency_abandon(p, &k).await.unwrap();
    assert_eq!(begin(&store, p, &k, "b").await, Idempotency::Started);
    // A running record whose process died (older than `stale`) is taken over.
    tick().await;
    assert_eq!(
        store
            .idempotency_begin(p, &k, "c", Duration::from_millis(1), HOUR)
            .await
            .unwrap(),
        Idempotency::Started
    );
    assert_eq!(begin(&store, p, &k, "d").await, Idempotency::Mismatch);
    // A finished record is forgotten after the TTL, and purged.
    store
        .idempotency_finish(p, &k, 400, &serde_json::json!({}))
        .await
        .unwrap();
    tick().await;
    assert_eq!(
        store
            .idempotency_begin(p, &k, "e", HOUR, Duration::from_millis(1))
            .await
            .unwrap(),
        Idempotency::Started
    );
    store
        .idempotency_finish(p, &k, 400, &serde_json::json!({}))
        .await
        .unwrap();
    tick().await;
    store.purge(0, Duration::from_millis(1)).await.unwrap();
    assert_eq!(begin(&store, p, &k, "f").await, Idempotency::Started);
}

async fn a_registration_completes_its_key(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    let k = key("k3");
    begin(&store, p, &k, "body").await;
    let mut new = new_customer("rae@example.com");
    new.idempotency = Some(k.clone());
    let c = store
        .create_customer(p, &new, &crate::store_contract::how())
        .await
        .unwrap();
    assert_eq!(
        begin(&store, p, &k, "body").await,
        Idempotency::Done {
            status: 200,
            customer: Some(c.id),
            response: None
        }
    );
    // The replay holds the old password's session: ending the sessions forgets it.
    assert!(store.end_sessions(p, c.id).await.unwrap());
    assert_eq!(begin(&store, p, &k, "body").await, Idempotency::Started);
}

async fn the_first_signing_key_and_secret_win(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    assert_eq!(
        store.ensure_signing_key("kid-1", "pem-1").await.unwrap(),
        vec!["pem-1"]
    );
    assert_eq!(
        store.ensure_signing_key("kid-2", "pem-2").await.unwrap(),
        vec!["pem-1"]
    );
    assert_eq!(
        store.ensure_secret("idempotency", "s-1").await.unwrap(),
        "s-1"
    );
    assert_eq!(
        store.ensure_secret("idempotency", "s-2").await.unwrap(),
        "s-1"
    );
    assert_eq!(store.ensure_secret("csrf", "c-1").await.unwrap(), "c-1");
    // Replicas starting together agree on one value.
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let secret = store
                    .ensure_secret("shared", &format!("v{i}"))
                    .await
                    .unwrap();
                let keys = store
                    .ensure_signing_key(&format!("k{i}"), &format!("p{i}"))
                    .await
                    .unwrap();
                (secret, keys)
            })
        })
        .collect();
    let mut seen = Vec::new();
    for r in racers {
        seen.push(r.await.unwrap());
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]), "{seen:?}");
    assert_eq!(seen[0].1, vec!["pem-1"]);
}
