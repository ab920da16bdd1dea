//! The JSON admin API over HTTP: the shared helpers, key authentication and the OpenAPI
//! document; each resource has its file in `admin_api/` (publishers, isolation of publisher
//! keys, consents, customers, export, erasure, audit, sessions, 100,000 customers).

mod audit;
mod consents;
mod customers;
mod erase;
mod export;
mod isolation;
pub mod large;
mod publishers;
mod sessions;

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Backend, TestApp, TestDb, assert_error, json};

backend_tests!(keys_authenticate_and_revoked_or_wrong_ones_get_401);

/// The operator key the test servers are configured with.
pub const OPERATOR: &str = "operator-key-for-the-tests-0123456789";
/// The demo publisher of the config file.
pub const DEMO: &str = "100000001";
/// A second publisher the tests create.
pub const OTHER: &str = "200000002";

/// A server whose `admin.operator_key` is [`OPERATOR`].
pub async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await
}

/// An admin request.
pub fn request(app: &TestApp, method: Method, path: &str, key: &str) -> reqwest::RequestBuilder {
    app.client.request(method, app.url(path)).bearer_auth(key)
}

/// An admin request with an optional JSON body: status and body.
pub async fn call(
    app: &TestApp,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let mut r = request(app, method, path, key);
    if let Some(b) = body {
        r = r.json(&b);
    }
    json(r.send().await.unwrap()).await
}

/// GET with the key; panics unless 200; `responseData`.
pub async fn ok(app: &TestApp, path: &str, key: &str) -> Value {
    let (status, body) = call(app, Method::GET, path, key, None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    body["responseData"].clone()
}

/// Creates a publisher (operator) with an offer `S<id>_US`.
pub async fn create_publisher(app: &TestApp, id: &str) -> Value {
    let (status, body) = call(
        app,
        Method::POST,
        "/admin/api/publishers",
        OPERATOR,
        Some(json!({"id": id, "name": format!("Publisher {id}"), "offers": [format!("S{id}_US")]})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    body["responseData"].clone()
}

/// A new publisher key (made by the operator); returns (key, key id).
pub async fn publisher_key(app: &TestApp, publisher: &str) -> (String, i64) {
    let (status, body) = call(
        app,
        Method::POST,
        "/admin/api/keys",
        OPERATOR,
        Some(json!({"publisherId": publisher, "label": format!("key of {publisher}")})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["responseData"];
    (
        data["key"].as_str().unwrap().to_owned(),
        data["id"].as_i64().unwrap(),
    )
}

/// Registers a customer of `publisher` through the public API with `extra` fields; its id.
pub async fn register_in(app: &TestApp, publisher: &str, email: &str, extra: Value) -> String {
    let mut body = json!({
        "email": email, "password": "secret123", "publisherId": publisher,
        "locale": "en_GB", "country": "GB", "currency": "GBP"
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let (status, out) = json(app.register(&body).await).await;
    assert_eq!(status, 200, "{out}");
    out["responseData"]["customerId"]
        .as_i64()
        .unwrap()
        .to_string()
}

/// Runs SQL on the test database.
pub async fn exec(db: &TestDb, sql: &str) {
    use sqlx::Connection;
    if db.pg_name().is_some() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::raw_sql(sql).execute(&mut c).await.unwrap();
    }
}

async fn me(app: &TestApp, key: &str) -> reqwest::Response {
    request(app, Method::GET, "/admin/api/me", key)
        .send()
        .await
        .unwrap()
}

async fn keys_authenticate_and_revoked_or_wrong_ones_get_401(backend: Backend) {
    let app = spawn(backend).await;
    let none = app.get("/admin/api/me").await;
    let body = assert_error(none, 401, "ADM0001").await;
    assert_eq!(body["message"], "Invalid admin key");
    assert_error(me(&app, "wrong-key").await, 401, "ADM0001").await;
    let r = app
        .client
        .get(app.url("/admin/api/publishers"))
        .header("authorization", "Basic b3A6b3A=")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "ADM0001").await;
    // A customer's JWT is no admin key.
    let c = app.signed_up("jwt@example.com").await;
    assert_error(me(&app, &c.jwt).await, 401, "ADM0001").await;

    let (status, body) = json(me(&app, OPERATOR).await).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["responseData"],
        json!({"scope": "operator", "publisherId": null, "keyId": null, "label": "operator (config)"})
    );

    // A stored operator key, then revoked: 401 at once, and listed as revoked.
    let (status, made) = call(
        &app,
        Method::POST,
        "/admin/api/keys",
        OPERATOR,
        Some(json!({"label": "ops"})),
    )
    .await;
    assert_eq!(status, 200, "{made}");
    let key = made["responseData"]["key"].as_str().unwrap().to_owned();
    let id = made["responseData"]["id"].as_i64().unwrap();
    assert_eq!(made["responseData"]["scope"], "operator");
    let (status, body) = json(me(&app, &key).await).await;
    assert_eq!((status, &body["responseData"]["keyId"]), (200, &json!(id)));
    // Keys are stored hashed: the database never holds the key.
    let stored = app
        .db
        .text(&format!("SELECT hash FROM admin_keys WHERE id = {id}"))
        .await;
    assert!(!stored.contains(&key) && stored.len() == 64);
    let (status, listed) = call(&app, Method::GET, "/admin/api/keys", OPERATOR, None).await;
    assert_eq!(status, 200);
    assert!(!listed.to_string().contains(&key), "lists never show keys");

    let (status, revoked) = call(
        &app,
        Method::POST,
        &format!("/admin/api/keys/{id}/revoke"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200, "{revoked}");
    assert!(revoked["responseData"]["revokedAt"].is_string());
    assert_error(me(&app, &key).await, 401, "ADM0001").await;
    let (status, _) = call(
        &app,
        Method::POST,
        "/admin/api/keys/999999/revoke",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        Method::POST,
        "/admin/api/keys/abc/revoke",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 400);

    // Publisher keys: scope and label.
    let (pkey, pid) = publisher_key(&app, DEMO).await;
    let (_, body) = json(me(&app, &pkey).await).await;
    assert_eq!(
        body["responseData"],
        json!({"scope": "publisher", "publisherId": 100000001, "keyId": pid, "label": "key of 100000001"})
    );
    let (status, body) = call(
        &app,
        Method::POST,
        "/admin/api/keys",
        OPERATOR,
        Some(json!({"publisherId": "999999999"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (404, Some("REQ0003")),
        "{body}"
    );
}

#[tokio::test]
async fn openapi_documents_the_admin_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (_, doc) = json(app.get("/openapi.json").await).await;
    for (path, methods) in [
        ("/admin/api/me", &["get"][..]),
        ("/admin/api/keys", &["get", "post"]),
        ("/admin/api/keys/{keyId}/revoke", &["post"]),
        ("/admin/api/publishers", &["get", "post"]),
        ("/admin/api/publishers/{publisherId}", &["get", "patch"]),
        (
            "/admin/api/publishers/{publisherId}/consents",
            &["get", "post"],
        ),
        (
            "/admin/api/publishers/{publisherId}/consents/{name}/archive",
            &["post"],
        ),
        ("/admin/api/publishers/{publisherId}/customers", &["get"]),
        (
            "/admin/api/publishers/{publisherId}/customers.csv",
            &["get"],
        ),
        (
            "/admin/api/publishers/{publisherId}/customers/{customerId}",
            &["get", "delete"],
        ),
        ("/admin/api/audit", &["get"]),
    ] {
        for m in methods {
            assert!(doc["paths"][path][m].is_object(), "{m} {path} documented");
        }
    }
    assert!(doc["components"]["securitySchemes"]["adminKey"].is_object());
    let params: Vec<&str> =
        doc["paths"]["/admin/api/publishers/{publisherId}/customers"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
    for p in [
        "limit",
        "cursor",
        "q",
        "country",
        "registeredFrom",
        "registeredTo",
        "consent",
        "consentState",
        "needsUpdate",
    ] {
        assert!(params.contains(&p), "{p} in {params:?}");
    }
}
