//! `Idempotency-Key` on `POST /customers`.

use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, Customer, TestApp, assert_error, json, registration};

backend_tests!(
    a_retry_returns_the_same_customer_with_fresh_tokens,
    another_body_with_the_same_key_is_refused,
    a_key_in_flight_is_409,
    failures_are_replayed,
);

async fn post(app: &TestApp, key: &str, body: &serde_json::Value) -> reqwest::Response {
    app.client
        .post(app.url("/customers"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn a_retry_returns_the_same_customer_with_fresh_tokens(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = registration("i@example.com");
    let (s1, first) = json(post(&app, "key-1", &body).await).await;
    let (s2, second) = json(post(&app, "key-1", &body).await).await;
    assert_eq!((s1, s2), (200, 200), "{second}");
    let (a, b) = (
        Customer::from_session(&first["responseData"]),
        Customer::from_session(&second["responseData"]),
    );
    assert_eq!(a.id, b.id);
    assert_ne!(a.refresh, b.refresh);
    let r = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}", b.id),
            &b.jwt,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the fresh token works");
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM customers").await, 1);
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM server_secrets").await,
        1,
        "dev mode keeps the key in the database"
    );
    // The same key at another publisher is another key.
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    app.store
        .create_publisher(other, "Other", &Default::default(), &[])
        .await
        .unwrap();
    let mut elsewhere = registration("i@example.com");
    elsewhere.as_object_mut().unwrap().remove("offerId");
    elsewhere["publisherId"] = json!(200000002);
    let (status, third) = json(post(&app, "key-1", &elsewhere).await).await;
    assert_eq!(status, 200);
    assert_ne!(
        third["responseData"]["customerId"],
        first["responseData"]["customerId"]
    );
    let db = &app.db;
    let stored = db
        .text("SELECT body_hmac FROM idempotency_keys LIMIT 1")
        .await;
    assert_eq!(stored.len(), 64);
    assert!(!stored.contains("secret123"));
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM idempotency_keys WHERE response IS NULL AND status = 200")
            .await,
        2,
        "no token stored"
    );
    // Without a key, the same body is a duplicate.
    assert_error(app.register(&body).await, 422, "USER0002").await;
}

async fn another_body_with_the_same_key_is_refused(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("auth.idempotency_secret", "configured secret"))
    })
    .await;
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM server_secrets").await,
        0,
        "a configured key never reaches the database"
    );
    assert_eq!(
        post(&app, "key-2", &registration("j@example.com"))
            .await
            .status(),
        200
    );
    let body = assert_error(
        post(&app, "key-2", &registration("k@example.com")).await,
        422,
        "IDEM0002",
    )
    .await;
    assert_eq!(
        body["message"],
        "Idempotency-Key reused with another request"
    );
    let too_long = "k".repeat(256);
    assert_error(
        post(&app, &too_long, &registration("l@example.com")).await,
        400,
        "REQ0001",
    )
    .await;
}

async fn a_key_in_flight_is_409(backend: Backend) {
    // Slow hashing keeps the first request running while the second arrives.
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("auth.argon2_iterations", 60))
            .merge(("auth.hash_threads", 1))
    })
    .await;
    let body = registration("slow@example.com");
    let first = post(&app, "key-3", &body);
    let second = async {
        tokio::time::sleep(std::time::Duration::from_millis(150)).await;
        post(&app, "key-3", &body).await
    };
    let (first, second) = tokio::join!(first, second);
    let body409 = assert_error(second, 409, "IDEM0001").await;
    assert_eq!(
        body409["message"],
        "A request with this Idempotency-Key is in progress"
    );
    let (status, first) = json(first).await;
    assert_eq!(status, 200);
    let (status, again) = json(post(&app, "key-3", &registration("slow@example.com")).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        first["responseData"]["customerId"],
        again["responseData"]["customerId"]
    );
}

async fn failures_are_replayed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("dup@example.com").await;
    let mut body = registration("dup@example.com");
    body["firstName"] = json!("Again");
    let first = assert_error(post(&app, "key-4", &body).await, 422, "USER0002").await;
    let second = assert_error(post(&app, "key-4", &body).await, 422, "USER0002").await;
    assert_eq!(first, second);
}
