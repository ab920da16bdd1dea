//! Cleeng's identity routes: `DELETE /refresh_tokens`, `POST /sso/auths` and
//! `DELETE /3.1/customers/{customerId}` with the publisher's token; and the capture form's
//! `email`, which never changes the sign-in address.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{
    DEMO, OPERATOR, OTHER, create_publisher, publisher_key, register_in, spawn,
};
use crate::backend_tests;
use crate::login::{login, refresh};
use crate::support::{Backend, Customer, TestApp, assert_error, json};

backend_tests!(
    revoking_refresh_tokens_logs_out_every_device,
    sso_gives_a_session_to_existing_customers_only,
    sso_refuses_bad_and_foreign_tokens,
    cleeng_erasure_is_the_admin_erasure,
    capture_email_never_changes_the_sign_in_address,
    external_data_numbers_keep_their_value,
    a_customer_of_another_publisher_cannot_log_in_here,
);

async fn sso(app: &TestApp, header: Option<(&str, String)>, body: Value) -> reqwest::Response {
    let mut r = app.client.post(app.url("/sso/auths")).json(&body);
    if let Some((name, value)) = header {
        r = r.header(name, value);
    }
    r.send().await.unwrap()
}

fn token(key: &str) -> Option<(&'static str, String)> {
    Some(("X-Publisher-Token", key.to_owned()))
}

async fn revoking_refresh_tokens_logs_out_every_device(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("devices@example.com").await;
    let other = app.signed_up("bystander@example.com").await;
    let (_, body) = json(login(&app, "devices@example.com", "secret123").await).await;
    let second = Customer::from_session(&body["responseData"]);
    // One device rotated once: its family is live too.
    let (_, body) = json(refresh(&app, &second.refresh).await).await;
    let rotated = body["responseData"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let r = app
        .client
        .delete(app.url("/refresh_tokens"))
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "AUTH0001").await;
    let r = app
        .authed(Method::DELETE, "/refresh_tokens", "not-a-jwt")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "AUTH0002").await;
    let r = app
        .authed(Method::DELETE, "/refresh_tokens", &c.jwt)
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(
        (status, body),
        (200, json!({"responseData": {}, "errors": []}))
    );
    for t in [&c.refresh, &rotated] {
        assert_error(refresh(&app, t).await, 401, "AUTH0005").await;
    }
    assert_eq!(
        refresh(&app, &other.refresh).await.status(),
        200,
        "another customer keeps theirs"
    );
    // Every session ended, the caller's too: its JWT and the other device's stop working.
    for jwt in [&c.jwt, &second.jwt] {
        let r = app
            .authed(Method::GET, &format!("/customers/{}", c.id), jwt)
            .send()
            .await
            .unwrap();
        assert_error(r, 401, "AUTH0002").await;
    }
    let r = app
        .authed(Method::DELETE, "/refresh_tokens", &c.jwt)
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "AUTH0002").await;
    assert_eq!(app.me(&other).await["email"], "bystander@example.com");
    // Signing in again works, and that session may end them again.
    let (status, body) = json(login(&app, "devices@example.com", "secret123").await).await;
    assert_eq!(status, 200);
    let fresh = Customer::from_session(&body["responseData"]);
    let r = app
        .authed(Method::DELETE, "/refresh_tokens", &fresh.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_error(refresh(&app, &fresh.refresh).await, 401, "AUTH0005").await;
}

async fn sso_gives_a_session_to_existing_customers_only(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let c = app.signed_up("Sso.User@example.com").await;
    let before = app.db.scalar("SELECT COUNT(*) FROM customers").await;
    // As Cleeng documents it: X-Publisher-Token, `{email, customerIP}`.
    let r = sso(
        &app,
        token(&key),
        json!({"email": "sso.user@EXAMPLE.com", "customerIP": "81.2.69.142"}),
    )
    .await;
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let data = &body["responseData"];
    let session = Customer {
        id: c.id.clone(),
        jwt: data["jwt"].as_str().unwrap().to_owned(),
        refresh: data["refreshToken"].as_str().unwrap().to_owned(),
    };
    let me = app.me(&session).await;
    assert_eq!(me["id"], c.id.as_str(), "the token is the customer's");
    assert!(
        me["lastLoginDate"].is_string(),
        "the last login is recorded"
    );
    assert_eq!(me["lastUserIp"], "81.2.69.142");
    assert_eq!(refresh(&app, &session.refresh).await.status(), 200);
    // Unknown email: 404, and nobody is created.
    let r = sso(&app, token(&key), json!({"email": "nobody@example.com"})).await;
    let body = assert_error(r, 404, "REQ0003").await;
    assert_eq!(body["details"][0]["field"], "email");
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM customers").await,
        before
    );
    let r = sso(&app, token(&key), json!({"email": ""})).await;
    assert_error(r, 400, "REQ0001").await;
    // Bearer works too; the operator names the publisher.
    let r = sso(
        &app,
        Some(("Authorization", format!("Bearer {key}"))),
        json!({"email": "sso.user@example.com"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = sso(
        &app,
        token(OPERATOR),
        json!({"email": "sso.user@example.com"}),
    )
    .await;
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(body["details"][0]["field"], "publisherId");
    let r = sso(
        &app,
        token(OPERATOR),
        json!({"email": "sso.user@example.com", "publisherId": 100000001}),
    )
    .await;
    assert_eq!(r.status(), 200);
    let r = sso(
        &app,
        token(OPERATOR),
        json!({"email": "sso.user@example.com", "publisherId": "999999999"}),
    )
    .await;
    assert_error(r, 404, "REQ0003").await;
}

async fn sso_refuses_bad_and_foreign_tokens(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (other_key, other_id) = publisher_key(&app, OTHER).await;
    let (demo_key, _) = publisher_key(&app, DEMO).await;
    app.signed_up("victim@example.com").await;
    let body = json!({"email": "victim@example.com"});
    assert_error(sso(&app, None, body.clone()).await, 401, "ADM0001").await;
    assert_error(sso(&app, token(""), body.clone()).await, 401, "ADM0001").await;
    assert_error(
        sso(&app, token("made-up-key"), body.clone()).await,
        401,
        "ADM0001",
    )
    .await;
    // A customer JWT is not a publisher token.
    let c = app.signed_up("customer@example.com").await;
    assert_error(
        sso(
            &app,
            Some(("Authorization", format!("Bearer {}", c.jwt))),
            body.clone(),
        )
        .await,
        401,
        "ADM0001",
    )
    .await;
    // Another publisher's key: its own customers only; naming the victim's publisher is 403.
    let r = sso(&app, token(&other_key), body.clone()).await;
    assert_error(r, 404, "REQ0003").await;
    let r = sso(
        &app,
        token(&other_key),
        json!({"email": "victim@example.com", "publisherId": DEMO}),
    )
    .await;
    assert_error(r, 403, "AUTH0004").await;
    let r = sso(
        &app,
        token(&other_key),
        json!({"email": "victim@example.com", "offerId": "S100000001_US"}),
    )
    .await;
    assert_error(r, 403, "AUTH0004").await;
    // A revoked key stops working.
    let (status, _) = crate::admin_api::call(
        &app,
        Method::POST,
        &format!("/admin/api/keys/{other_id}/revoke"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200);
    assert_error(
        sso(&app, token(&other_key), json!({"email": "x@example.com"})).await,
        401,
        "ADM0001",
    )
    .await;
    assert_eq!(sso(&app, token(&demo_key), body).await.status(), 200);
}

async fn cleeng_erasure_is_the_admin_erasure(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (demo_key, _) = publisher_key(&app, DEMO).await;
    let (other_key, _) = publisher_key(&app, OTHER).await;
    let c = app.signed_up("Gone@example.com").await;
    let elsewhere = register_in(&app, OTHER, "elsewhere@example.com", json!({})).await;
    let delete = |id: &str, header: Option<(&'static str, String)>| {
        let mut r = app.client.delete(app.url(&format!("/3.1/customers/{id}")));
        if let Some((k, v)) = header {
            r = r.header(k, v);
        }
        r.send()
    };
    assert_error(delete(&c.id, None).await.unwrap(), 401, "ADM0001").await;
    assert_error(delete(&c.id, token("wrong")).await.unwrap(), 401, "ADM0001").await;
    // Another publisher's key: as unknown (it learns nothing about other tenants).
    assert_error(
        delete(&c.id, token(&other_key)).await.unwrap(),
        404,
        "REQ0003",
    )
    .await;
    assert_eq!(
        app.me(&c).await["email"],
        "Gone@example.com",
        "nothing erased"
    );
    assert_error(
        delete("123", token(&demo_key)).await.unwrap(),
        400,
        "REQ0003",
    )
    .await;
    assert_error(
        delete("999999999", token(&demo_key)).await.unwrap(),
        404,
        "REQ0003",
    )
    .await;
    let (status, body) = json(delete(&c.id, token(&demo_key)).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"], json!({"id": c.id, "erased": true}));
    // What the admin erasure does: a tombstone, no tokens, the email free, an audit line.
    assert_eq!(
        app.db.scalar(&format!("SELECT COUNT(*) FROM customers WHERE id = {} AND email IS NULL AND erased_at IS NOT NULL", c.id)).await,
        1
    );
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM refresh_tokens WHERE customer_id = {}",
                c.id
            ))
            .await,
        0
    );
    assert_error(
        login(&app, "gone@example.com", "secret123").await,
        401,
        "USER0001",
    )
    .await;
    assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM admin_audit WHERE action = 'customer.erase'")
            .await,
        1
    );
    assert_error(
        delete(&c.id, token(&demo_key)).await.unwrap(),
        404,
        "REQ0003",
    )
    .await;
    assert_eq!(
        app.register(&crate::support::registration("gone@example.com"))
            .await
            .status(),
        200
    );
    // The operator key reaches any publisher's customer, as Bearer too.
    let (status, _) = json(
        delete(
            &elsewhere,
            Some(("Authorization", format!("Bearer {OPERATOR}"))),
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
}

async fn capture_email_never_changes_the_sign_in_address(backend: Backend) {
    let app =
        crate::capture::with_capture(backend, json!({"first_name_last_name": "optional"})).await;
    let c = app.signed_up("capture.me@example.com").await;
    // The SDK's capture form sends every key, `email` among them ("Confirm Email").
    let answers = json!({"firstName": "Ann", "lastName": "Lee", "address": null, "address2": null,
        "city": null, "state": null, "postCode": null, "country": null, "email": "thief@example.com",
        "birthDate": null, "companyName": null, "phoneNumber": null, "customAnswers": null});
    let r = app
        .authed(Method::PUT, &format!("/customers/{}/capture", c.id), &c.jwt)
        .json(&answers)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let me = app.me(&c).await;
    assert_eq!(
        (me["email"].as_str(), me["firstName"].as_str()),
        (Some("capture.me@example.com"), Some("Ann"))
    );
    assert_eq!(
        login(&app, "capture.me@example.com", "secret123")
            .await
            .status(),
        200
    );
    assert_error(
        login(&app, "thief@example.com", "secret123").await,
        401,
        "USER0001",
    )
    .await;
}

async fn external_data_numbers_keep_their_value(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("numbers@example.com").await;
    let patch = |body: &'static str| {
        app.authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    // Beyond a double: refused in the envelope, never a 500 (Postgres jsonb would refuse it).
    for bad in [
        r#"{"externalData": {"n": 1e400}}"#,
        r#"{"externalData": {"n": [-1e309]}}"#,
    ] {
        assert_error(patch(bad).await.unwrap(), 400, "REQ0001").await;
    }
    let sent = r#"{"externalData": {"max": 1.7976931348623157e308, "tiny": 5e-324, "third": 0.3333333333333333, "u": 18446744073709551615, "i": -9223372036854775808, "js": 9007199254740993}}"#;
    let (status, body) = json(patch(sent).await.unwrap()).await;
    assert_eq!(status, 200, "{body}");
    let sent: Value = serde_json::from_str(sent).unwrap();
    // Read back from the database: every number exactly as sent.
    let me = app.me(&c).await;
    assert_eq!(me["externalData"], sent["externalData"]);
    for (k, text) in [
        ("u", "18446744073709551615"),
        ("i", "-9223372036854775808"),
        ("js", "9007199254740993"),
        ("third", "0.3333333333333333"),
    ] {
        assert_eq!(me["externalData"][k].to_string(), text);
    }
    // Ids given as numbers still work.
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&json!({"email": "numbers@example.com", "password": "secret123", "publisherId": 100000001}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

async fn a_customer_of_another_publisher_cannot_log_in_here(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    register_in(&app, OTHER, "elsewhere@example.com", json!({})).await;
    app.signed_up("here@example.com").await;
    // The right password of a customer of publisher 200000002, asked of 100000001.
    let (status, foreign) = json(login(&app, "elsewhere@example.com", "secret123").await).await;
    let (_, wrong) = json(login(&app, "here@example.com", "wrongpass1").await).await;
    let (_, unknown) = json(login(&app, "nobody@example.com", "secret123").await).await;
    assert_eq!(status, 401);
    assert_eq!(foreign["code"], "USER0001");
    assert_eq!(foreign, wrong, "the same body as a wrong password");
    assert_eq!(foreign, unknown);
    // By offerId likewise, and at its own publisher it works.
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&json!({"email": "elsewhere@example.com", "password": "secret123", "offerId": "S100000001_US"}))
        .send()
        .await
        .unwrap();
    assert_eq!(json(r).await, (401, wrong));
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&json!({"email": "elsewhere@example.com", "password": "secret123", "publisherId": OTHER}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn the_identity_routes_are_in_the_openapi_document() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, doc) = json(app.get("/openapi.json").await).await;
    for (path, method) in [
        ("/refresh_tokens", "delete"),
        ("/sso/auths", "post"),
        ("/3.1/customers/{customerId}", "delete"),
    ] {
        assert!(doc["paths"][path][method].is_object(), "{method} {path}");
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["publisherToken"],
        json!({"type": "apiKey", "in": "header", "name": "X-Publisher-Token"})
    );
}
