//! Health, readiness, metrics, OpenAPI, and behaviour while the database is away.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::support::{Backend, TestApp, assert_error, json, postgres_admin_url};

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, body) = json(app.get("/healthz").await).await;
    assert_eq!(
        (status, body),
        (
            200,
            serde_json::json!({"responseData":{"status":"ok"},"errors":[]})
        )
    );
    let (status, _) = json(app.get("/readyz").await).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn metrics_count_requests_by_class_and_status() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    app.locales("81.2.69.142").await;
    app.get("/nope").await;
    // Any token is a method: made-up ones share one label value, so clients cannot grow the
    // series without bound.
    for made_up in ["FOO1", "FOO2"] {
        let method = reqwest::Method::from_bytes(made_up.as_bytes()).unwrap();
        app.client
            .request(method, app.url("/locales"))
            .send()
            .await
            .unwrap();
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(!text.contains("FOO1") && !text.contains("FOO2"), "{text}");
    assert!(text.contains("method=\"OTHER\""), "{text}");
    assert!(text.contains("http_requests_total{"), "{text}");
    assert!(
        text.lines().any(|l| l.starts_with("http_requests_total{")
            && l.contains("class=\"default\"")
            && l.contains("route=\"/locales\"")
            && l.contains("status=\"200\"")),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket{"),
        "latency histogram: {text}"
    );
    assert!(!text.contains("81.2.69.142"), "no personal data in metrics");
}

#[tokio::test]
async fn metrics_can_move_to_their_own_listener() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("server.metrics_addr", "127.0.0.1:0"))
    })
    .await;
    assert_error(app.get("/metrics").await, 404, "REQ0004").await;
    // The separate listener's port is not known to the harness; Application exposes it.
    let settings = enroll::Settings::from_figment(
        crate::support::base_figment(&app.db).merge(("server.metrics_addr", "127.0.0.1:0")),
    )
    .unwrap();
    let other = enroll::Application::build(settings).await.unwrap();
    let addr = other.metrics_addr().unwrap();
    tokio::spawn(other.run_until_stopped(std::future::pending()));
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("http_requests_total"), "{text}");
}

#[tokio::test]
async fn openapi_describes_the_routes() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    let (status, doc) = json(app.get("/openapi.json").await).await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    for path in [
        "/locales",
        "/publishers/{publisherId}/consents",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} documented");
    }
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["paths"]["/customers/{customerId}"]["patch"].is_object());
    assert!(doc["components"]["securitySchemes"]["jwt"].is_object());
}

async fn set_connections(db: &str, allowed: bool) {
    let mut admin = sqlx::PgConnection::connect(&postgres_admin_url())
        .await
        .unwrap();
    sqlx::query(&format!("ALTER DATABASE {db} ALLOW_CONNECTIONS {allowed}"))
        .execute(&mut admin)
        .await
        .unwrap();
    if !allowed {
        sqlx::query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1")
            .bind(db)
            .execute(&mut admin)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn database_outage_is_503_and_recovers_by_itself() {
    let app = TestApp::spawn(Backend::Postgres).await;
    let db = app.db.pg_name().unwrap().to_owned();
    set_connections(&db, false).await;

    let started = Instant::now();
    let r = app.get("/readyz").await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "answered at once, not after the acquire timeout: {:?}",
        started.elapsed()
    );
    assert!(r.headers().contains_key("retry-after"));
    assert_error(r, 503, "S0002").await;
    let (status, _) = json(app.get("/healthz").await).await;
    assert_eq!(status, 200, "liveness does not depend on the database");
    let r = app.consents("100000001").await;
    assert!(r.headers().contains_key("retry-after"));
    let body = assert_error(r, 503, "S0002").await;
    assert_eq!(body["message"], "Service unavailable");

    set_connections(&db, true).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if app.get("/readyz").await.status() == 200 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "service resumes when the database returns"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (status, _) = json(app.consents("100000001").await).await;
    assert_eq!(status, 200);
}
