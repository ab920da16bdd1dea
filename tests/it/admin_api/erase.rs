//! Erasing a customer: a tombstone without personal data, a history without addresses, no
//! tokens, resets, emails or idempotency records; no login; the email can register again.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;

use super::{DEMO, call, publisher_key, spawn};
use crate::backend_tests;
use crate::login::{login, refresh};
use crate::support::{Backend, Customer, TestApp, assert_error, json};

backend_tests!(erasing_leaves_a_tombstone_and_frees_the_email);

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.scalar(sql).await
}

async fn erasing_leaves_a_tombstone_and_frees_the_email(backend: Backend) {
    let app = spawn(backend).await;
    let email = "Erase.Me@example.com";
    let signup = json!({
        "email": email, "password": "secret123", "offerId": "S100000001_US",
        "locale": "en_GB", "country": "GB", "currency": "GBP", "firstName": "Erase", "lastName": "Me",
        "externalId": "ext-erase", "externalData": {"a": 1}, "customerIP": "81.2.69.142",
        "consents": [
            {"name": "terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_marketing", "version": "1", "state": "declined"}
        ]
    });
    let r = app
        .client
        .post(app.url("/customers"))
        .header("idempotency-key", "erase-me-1")
        .header("user-agent", "enroll-tests/1")
        .json(&signup)
        .send()
        .await
        .unwrap();
    let (status, out) = json(r).await;
    assert_eq!(status, 200, "{out}");
    let c = Customer::from_session(&out["responseData"]);
    let id = c.id.clone();
    // A login (last login, another refresh token), a failed one, and a reset email.
    let (status, _) = json(login(&app, email, "secret123").await).await;
    assert_eq!(status, 200);
    let (status, _) = json(login(&app, email, "wrong-password1").await).await;
    assert_eq!(status, 401);
    let r = app
        .client
        .put(app.url("/customers/passwords"))
        .json(&json!({"customerEmail": email, "publisherId": DEMO}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    for _ in 0..100 {
        if count(
            &app,
            &format!("SELECT COUNT(*) FROM outbox WHERE customer_id = {id}"),
        )
        .await
            == 1
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for table in [
        "refresh_tokens",
        "password_resets",
        "outbox",
        "idempotency_keys",
    ] {
        assert!(
            count(
                &app,
                &format!("SELECT COUNT(*) FROM {table} WHERE customer_id = {id}")
            )
            .await
                >= 1,
            "{table} before"
        );
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM login_failures").await, 1);

    let (key, _) = publisher_key(&app, DEMO).await;
    let path = format!("/admin/api/publishers/{DEMO}/customers/{id}");
    let (status, body) = call(&app, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"], json!({"id": id, "erased": true}));

    // The tombstone: the id and registration time stay, nothing personal.
    let personal = "email, email_key, password_hash, first_name, last_name, locale, country, currency, \
                    external_id, external_data, registration_ip, last_ip, last_login_at";
    let nulls = personal
        .split(", ")
        .map(|c| format!("{c} IS NULL"))
        .collect::<Vec<_>>()
        .join(" AND ");
    assert_eq!(
        count(&app, &format!("SELECT COUNT(*) FROM customers WHERE id = {id} AND {nulls} AND erased_at IS NOT NULL")).await,
        1,
        "every personal field is NULL"
    );
    // The history keeps name, version, state and time, not where from.
    assert_eq!(
        count(
            &app,
            &format!("SELECT COUNT(*) FROM customer_consents WHERE customer_id = {id}")
        )
        .await,
        3
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {id} \
            AND (ip IS NOT NULL OR user_agent IS NOT NULL)"
            )
        )
        .await,
        0
    );
    assert_eq!(
        count(
            &app,
            &format!(
                "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {id} \
            AND name = 'broadcaster_marketing' AND version = 1 AND state = 'declined'"
            )
        )
        .await,
        1
    );
    for table in [
        "refresh_tokens",
        "password_resets",
        "outbox",
        "idempotency_keys",
    ] {
        assert_eq!(
            count(
                &app,
                &format!("SELECT COUNT(*) FROM {table} WHERE customer_id = {id}")
            )
            .await,
            0,
            "{table}"
        );
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM login_failures").await, 0);

    // Gone from the admin API and unable to sign in.
    let (status, _) = call(&app, Method::GET, &path, &key, None).await;
    assert_eq!(status, 404);
    let (_, list) = call(
        &app,
        Method::GET,
        &format!("/admin/api/publishers/{DEMO}/customers?q=erase"),
        &key,
        None,
    )
    .await;
    assert_eq!(list["responseData"]["customers"], json!([]));
    assert_error(login(&app, email, "secret123").await, 401, "USER0001").await;
    assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
    let r = app
        .authed(Method::GET, &format!("/customers/{id}"), &c.jwt)
        .send()
        .await
        .unwrap();
    assert_ne!(
        r.status(),
        200,
        "a JWT issued before the erasure reaches nothing"
    );
    let (status, _) = call(&app, Method::DELETE, &path, &key, None).await;
    assert_eq!(status, 404, "erased once");

    // The email (and the external id) can register again, as a new customer.
    let (status, out) = json(app.register(&signup).await).await;
    assert_eq!(status, 200, "{out}");
    let again = out["responseData"]["customerId"]
        .as_i64()
        .unwrap()
        .to_string();
    assert_ne!(again, id);
    let (status, _) = json(login(&app, email, "secret123").await).await;
    assert_eq!(status, 200);
}
