//! Self-service erasure (`DELETE /customers/{id}` with `confirmationPassword`): the admin
//! erasure's effect, a wrong password counted toward the login failure limit, the publisher's
//! switch, and another customer's token.

use reqwest::Method;
use serde_json::{Value, json};

use super::{export_with, register_full};
use crate::admin_api::{DEMO, OPERATOR, call};
use crate::backend_tests;
use crate::login::{failures_per_hour, login, refresh};
use crate::support::{Backend, Customer, TestApp, assert_error, json};

backend_tests!(
    a_wrong_password_is_refused_and_counted,
    the_right_password_erases_like_an_admin,
    the_publisher_can_turn_it_off,
    another_customers_token_erases_nothing,
);

async fn spawn(backend: Backend, failures: u32) -> TestApp {
    let limit = failures_per_hour(failures);
    TestApp::spawn_with(backend, move |f| {
        limit(f).merge(("admin.operator_key", OPERATOR))
    })
    .await
}

async fn erase(app: &TestApp, id: &str, jwt: &str, body: Value) -> reqwest::Response {
    app.authed(Method::DELETE, &format!("/customers/{id}"), jwt)
        .json(&body)
        .send()
        .await
        .unwrap()
}

async fn with_password(app: &TestApp, c: &Customer, password: &str) -> reqwest::Response {
    erase(
        app,
        &c.id,
        &c.jwt,
        json!({"confirmationPassword": password}),
    )
    .await
}

async fn erased(app: &TestApp, id: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customers WHERE id = {id} AND erased_at IS NOT NULL"
        ))
        .await
}

async fn a_wrong_password_is_refused_and_counted(backend: Backend) {
    let app = spawn(backend, 3).await;
    let c = app.signed_up("wrong@example.com").await;
    let failures = "SELECT COALESCE(CAST(SUM(failures) AS BIGINT), 0) FROM login_failures";
    for n in 1..=3 {
        let body = assert_error(with_password(&app, &c, "guess1234").await, 400, "REQ0001").await;
        assert_eq!(body["message"], "Invalid confirmationPassword");
        assert_eq!(body["details"][0]["field"], "confirmationPassword");
        assert_eq!(app.db.scalar(failures).await, n, "counted");
    }
    // Past the limit: 429 without evaluating, the right password too, and login alike.
    let r = with_password(&app, &c, "secret123").await;
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 429, "RATE0001").await;
    assert_error(
        login(&app, "wrong@example.com", "secret123").await,
        429,
        "RATE0001",
    )
    .await;
    assert_eq!(erased(&app, &c.id).await, 0);
    // No password at all: refused, and nothing evaluated.
    let body = assert_error(erase(&app, &c.id, &c.jwt, json!({})).await, 400, "REQ0001").await;
    assert_eq!(body["message"], "Invalid confirmationPassword");
    assert_eq!(app.db.scalar(failures).await, 3);
    assert_eq!(erased(&app, &c.id).await, 0);
}

async fn the_right_password_erases_like_an_admin(backend: Backend) {
    let app = spawn(backend, 100).await;
    let c = register_full(&app, "gone@example.com", "81.2.69.142", "gone-agent/1").await;
    let id = c.id.clone();
    let r = with_password(&app, &c, "secret123").await;
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"], json!({"id": id, "erased": true}));

    // The tombstone: nothing personal.
    let personal = "email, email_key, password_hash, first_name, last_name, locale, country, currency, \
                    external_id, external_data, registration_ip, last_ip, last_login_at, capture";
    let nulls = personal
        .split(", ")
        .map(|c| format!("{c} IS NULL"))
        .collect::<Vec<_>>()
        .join(" AND ");
    let sql = format!(
        "SELECT COUNT(*) FROM customers WHERE id = {id} AND {nulls} AND erased_at IS NOT NULL"
    );
    assert_eq!(app.db.scalar(&sql).await, 1, "every personal field is NULL");
    // The history keeps name, version, state and time, without address or user agent.
    let count = |cond: &str| {
        format!("SELECT COUNT(*) FROM customer_consents WHERE customer_id = {id}{cond}")
    };
    assert_eq!(app.db.scalar(&count("")).await, 3);
    let located = count(" AND (ip IS NOT NULL OR user_agent IS NOT NULL)");
    assert_eq!(app.db.scalar(&located).await, 0);
    let kept = count(" AND name = 'broadcaster_marketing' AND version = 1 AND state = 'declined'");
    assert_eq!(app.db.scalar(&kept).await, 1);
    for table in ["refresh_tokens", "idempotency_keys", "outbox"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE customer_id = {id}");
        assert_eq!(app.db.scalar(&sql).await, 0, "{table}");
    }
    // Recorded as the customer's own doing, in the audit trail and the event.
    let audit = format!(
        "SELECT COUNT(*) FROM admin_audit WHERE action = 'customer.erase' AND actor = 'customer' \
         AND key_id IS NULL AND CAST(detail AS TEXT) LIKE '%{id}%'"
    );
    assert_eq!(app.db.scalar(&audit).await, 1);
    let event = app
        .db
        .text(&format!(
            "SELECT body FROM events WHERE type = 'customer.erased' AND customer_id = {id}"
        ))
        .await;
    let event: Value = serde_json::from_str(&event).unwrap();
    assert_eq!(event["actor"], json!({"type": "customer"}), "{event}");

    // The token reaches nothing any more (as for any erased customer), and login fails.
    assert_error(
        app.authed(Method::GET, &format!("/customers/{id}"), &c.jwt)
            .send()
            .await
            .unwrap(),
        403,
        "AUTH0004",
    )
    .await;
    assert_error(export_with(&app, &id, &c.jwt).await, 403, "AUTH0004").await;
    assert_error(with_password(&app, &c, "secret123").await, 403, "AUTH0004").await;
    assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
    assert_error(
        login(&app, "gone@example.com", "secret123").await,
        401,
        "USER0001",
    )
    .await;
}

async fn the_publisher_can_turn_it_off(backend: Backend) {
    let app = spawn(backend, 100).await;
    let c = app.signed_up("kept@example.com").await;
    let path = format!("/admin/api/publishers/{DEMO}");
    let off = json!({"settings": {"self_erasure": false}});
    let (status, body) = call(&app, Method::PATCH, &path, OPERATOR, Some(off)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"]["settings"]["self_erasure"], false);
    let body = assert_error(with_password(&app, &c, "secret123").await, 403, "USER0005").await;
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("Self-service erasure is turned off"),
        "{body}"
    );
    assert_eq!(erased(&app, &c.id).await, 0);
    // Back on (null restores the default): the same request erases.
    let on = json!({"settings": {"self_erasure": null}});
    let (status, body) = call(&app, Method::PATCH, &path, OPERATOR, Some(on)).await;
    assert_eq!(
        (status, &body["responseData"]["settings"]["self_erasure"]),
        (200, &json!(true))
    );
    let (status, body) = json(with_password(&app, &c, "secret123").await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(erased(&app, &c.id).await, 1);
}

async fn another_customers_token_erases_nothing(backend: Backend) {
    let app = spawn(backend, 100).await;
    let a = app.signed_up("a@example.com").await;
    let b = app.signed_up("b@example.com").await;
    let r = erase(
        &app,
        &a.id,
        &b.jwt,
        json!({"confirmationPassword": "secret123"}),
    )
    .await;
    assert_error(r, 403, "AUTH0004").await;
    let r = erase(
        &app,
        &a.id,
        "",
        json!({"confirmationPassword": "secret123"}),
    )
    .await;
    assert_error(r, 401, "AUTH0001").await;
    assert_eq!(erased(&app, &a.id).await, 0);
    assert_eq!(erased(&app, &b.id).await, 0);
    assert_eq!(app.me(&a).await["email"], "a@example.com");
}
