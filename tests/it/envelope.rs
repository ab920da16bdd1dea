//! Every error in the envelope, request ids, CORS.

use sqlx::Connection;

use crate::support::{Backend, TestApp, assert_error, json};

#[tokio::test]
async fn unknown_routes_and_methods() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let body = assert_error(app.get("/nope").await, 404, "REQ0004").await;
    assert_eq!(body["errors"].as_array().unwrap().len(), 1);
    assert_error(app.get("/publishers/100000001").await, 404, "REQ0004").await;
    let r = app.client.post(app.url("/locales")).send().await.unwrap();
    assert_error(r, 405, "REQ0005").await;
    for method in ["TRACE", "QUERY", "DELETE"] {
        let m = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = app
            .client
            .request(m, app.url("/locales"))
            .send()
            .await
            .unwrap();
        assert_error(r, 405, "REQ0005").await;
    }
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let big = "x".repeat(64 * 1024 + 1);
    let r = app
        .client
        .get(app.url("/locales"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    assert_error(r, 413, "REQ0006").await;
}

#[tokio::test]
async fn timeouts_are_enveloped() {
    let app = TestApp::spawn_with(Backend::Postgres, |f| {
        f.merge(("server.request_timeout", "300ms"))
    })
    .await;
    // Hold a lock the consents query must wait for, longer than the request may take.
    let mut blocker = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    sqlx::raw_sql("BEGIN; LOCK TABLE consent_versions IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let body = assert_error(app.consents("100000001").await, 503, "S0003").await;
    assert_eq!(body["message"], "Request timed out");
    sqlx::raw_sql("ROLLBACK")
        .execute(&mut blocker)
        .await
        .unwrap();
    let (status, _) = json(app.consents("100000001").await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn request_ids() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc.DEF_1-2")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc.DEF_1-2");
    let r = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "bad id!")
        .send()
        .await
        .unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(id != "bad id!" && !id.is_empty() && id.len() <= 64);
    let other = app.get("/healthz").await.headers()["x-request-id"].clone();
    assert_ne!(other.to_str().unwrap(), id, "a new id per request");
}

#[tokio::test]
async fn an_empty_authorization_header_is_ignored_on_public_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let r = app
        .client
        .get(app.url("/publishers/100000001/consents"))
        .header("authorization", "")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(
                reqwest::Method::OPTIONS,
                app.url("/publishers/100000001/consents"),
            )
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header(
                "access-control-request-headers",
                "authorization,content-type,idempotency-key,x-requested-by",
            )
            .send()
    };
    let r = preflight("http://localhost:3000").await.unwrap();
    assert!(r.status().is_success());
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let allowed = r.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_owned();
    for h in [
        "authorization",
        "content-type",
        "idempotency-key",
        "x-requested-by",
    ] {
        assert!(allowed.contains(h), "{h} in {allowed}");
    }
    assert!(
        r.headers()
            .get("access-control-allow-credentials")
            .is_none()
    );

    assert_eq!(r.headers()["access-control-max-age"], "600");
    let methods = r.headers()["access-control-allow-methods"]
        .to_str()
        .unwrap();
    for m in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(m), "{m} in {methods}");
    }
    assert_eq!(
        r.headers()["vary"],
        "origin, access-control-request-method, access-control-request-headers"
    );
    // The edge answers a preflight itself: no route, no handler, no body.
    assert!(r.headers().get("x-request-id").is_some());
    assert!(r.bytes().await.unwrap().is_empty());

    let r = preflight("https://evil.example").await.unwrap();
    assert!(r.status().is_success());
    assert!(r.headers().get("access-control-allow-origin").is_none());
    // An origin that differs by a trailing slash, or by case, is another origin.
    for near in [
        "http://localhost:3000/",
        "HTTP://LOCALHOST:3000",
        "http://localhost:30000",
    ] {
        let r = app
            .client
            .get(app.url("/publishers/100000001/consents"))
            .header("origin", near)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{near} was allowed"
        );
        // Browsers read exposed headers only where the origin is allowed.
        assert!(r.headers().get("access-control-expose-headers").is_none());
        // A cache must still keep the answers of different origins apart.
        assert_eq!(r.headers()["vary"], "origin");
    }

    // Errors carry CORS too, and expose the headers clients read.
    let r = app
        .client
        .get(app.url("/nope"))
        .header("origin", "http://localhost:3000")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["access-control-allow-origin"],
        "http://localhost:3000"
    );
    let exposed = r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("retry-after") && exposed.contains("x-request-id"));
    let (status, _) = json(r).await;
    assert_eq!(status, 404);
}
