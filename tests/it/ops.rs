//! Health, readiness, metrics, OpenAPI, and behaviour while the database is away.

use std::time::{Duration, Instant};

use sqlx::Connection;

use crate::admin_api::OPERATOR;
use crate::support::{
    Backend, ServerProcess, TestApp, assert_error, json, postgres_admin_url, registration,
};

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
async fn every_route_is_counted_in_its_class() {
    let app = TestApp::spawn(Backend::Sqlite).await;
    // (method, path sent, route template, class)
    let routes = [
        ("POST", "/customers", "/customers", "registration"),
        ("POST", "/auths", "/auths", "login"),
        // SSO hands out a session like a login does.
        ("POST", "/sso/auths", "/sso/auths", "login"),
        (
            "PATCH",
            "/customers/passwords",
            "/customers/passwords",
            "password_reset",
        ),
        // Emails are sent from these: the reset class limits them.
        (
            "POST",
            "/customers/verification",
            "/customers/verification",
            "password_reset",
        ),
        (
            "POST",
            "/customers/123/email/confirmation",
            "/customers/{customer_id}/email/confirmation",
            "password_reset",
        ),
        (
            "GET",
            "/customers/123",
            "/customers/{customer_id}",
            "default",
        ),
        ("DELETE", "/refresh_tokens", "/refresh_tokens", "default"),
        (
            "DELETE",
            "/3.1/customers/123",
            "/3.1/customers/{customer_id}",
            "default",
        ),
        ("GET", "/healthz", "/healthz", "ops"),
        ("POST", "/healthz", "/healthz", "ops"),
        // The admin API is in no customer rate-limit class (API.md, Rate limits).
        ("GET", "/admin/api/keys", "/admin/api/keys", "admin"),
        ("PUT", "/admin/api/keys", "/admin/api/keys", "admin"),
        // A method a customer route does not serve is the default class's.
        (
            "GET",
            "/customers/verification",
            "/customers/verification",
            "default",
        ),
    ];
    for (method, path, _, _) in routes {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        app.client
            .request(method, app.url(path))
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
    }
    let text = app.get("/metrics").await.text().await.unwrap();
    for (method, _, route, class) in routes {
        let counted = text
            .lines()
            .filter(|l| l.starts_with("http_requests_total{"))
            .filter(|l| l.contains(&format!("route=\"{route}\"")))
            .filter(|l| l.contains(&format!("method=\"{method}\"")))
            .find_map(|l| l.split("class=\"").nth(1)?.split('"').next());
        assert_eq!(counted, Some(class), "{method} {route}: {text}");
    }
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

/// The value of the series `name{labels…}` in Prometheus text (labels in any order).
fn series(text: &str, name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    text.lines().find_map(|line| {
        let (key, value) = line.rsplit_once(' ')?;
        let (metric, rest) = key.split_once('{').unwrap_or((key, "}"));
        let found: Vec<&str> = rest.trim_end_matches('}').split(',').collect();
        let all = labels
            .iter()
            .all(|(k, v)| found.contains(&format!("{k}=\"{v}\"").as_str()));
        (metric == name && all && (labels.is_empty() || rest != "}"))
            .then(|| value.parse().ok())
            .flatten()
    })
}

/// The access lines (target `access`) of a log, parsed.
fn access_lines(log: &[String]) -> Vec<serde_json::Value> {
    log.iter()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["target"] == "access")
        .collect()
}

crate::backend_tests!(access_lines_and_ops_metrics_of_a_running_server);

/// As ops run it (`log.format = json`, `log.level = info`, its own process), on either backend:
/// one access line per request with numbers for numbers (a streamed CSV export included), no
/// query string and no email; and the counters and gauges ops ask for move with a
/// registration, a login, failed logins and a stuck email.
async fn access_lines_and_ops_metrics_of_a_running_server(backend: Backend) {
    let db = crate::support::TestDb::new(backend).await;
    // Nothing listens on this port: the reset email stays in the outbox.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let smtp_port = closed.local_addr().unwrap().port().to_string();
    drop(closed);
    let server = ServerProcess::start(&[
        ("ENROLL_DATABASE__URL", db.url.clone()),
        ("ENROLL_LIMITS__ENABLED", "false".into()),
        ("ENROLL_ADMIN__OPERATOR_KEY", OPERATOR.into()),
        ("ENROLL_MAIL__TRANSPORT", "smtp".into()),
        ("ENROLL_MAIL__SMTP__HOST", "127.0.0.1".into()),
        ("ENROLL_MAIL__SMTP__PORT", smtp_port),
        ("ENROLL_MAIL__SMTP__TLS", "none".into()),
        ("ENROLL_MAIL__RETRY_BASE", "1h".into()),
    ])
    .await;
    let client = reqwest::Client::new();
    let url = |p: &str| format!("{}{p}", server.address);
    let email = "ops.watcher@example.com";
    let r = client
        .post(url("/customers"))
        .header("x-request-id", "reg-1")
        .json(&registration(email))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let reg_bytes = r.bytes().await.unwrap().len();
    let login = |password: &str, id: &str| {
        client
            .post(url("/auths"))
            .header("x-request-id", id)
            .json(&serde_json::json!({"email": email, "password": password, "offerId": "S100000001_US"}))
            .send()
    };
    assert_eq!(login("secret123", "login-ok").await.unwrap().status(), 200);
    for id in ["login-bad-1", "login-bad-2"] {
        assert_eq!(login("wrong-pass-1", id).await.unwrap().status(), 401);
    }
    let r = client
        .get(url("/locales?customerIP=81.2.69.142"))
        .header("x-request-id", "loc-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .put(url("/customers/passwords"))
        .json(&serde_json::json!({"customerEmail": email, "offerId": "S100000001_US"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(url(
            "/admin/api/publishers/100000001/customers.csv?q=ops.watcher%40example.com",
        ))
        .bearer_auth(OPERATOR)
        .header("x-request-id", "csv-1")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let csv_bytes = r.bytes().await.unwrap().len();
    assert!(csv_bytes > 0);
    let r = client
        .get(url("/nope/ops.watcher@example.com"))
        .header("x-request-id", "unknown-route")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // The outbox and database gauges are sampled every 5 s.
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let text = client
            .get(url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if series(&text, "mail_outbox_backlog", &[]) == Some(1.0) || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    let p = ("publisher", "100000001");
    let want = [
        ("registrations_total", vec![p, ("outcome", "ok")], 1.0),
        ("logins_total", vec![p, ("outcome", "ok")], 1.0),
        ("logins_total", vec![p, ("outcome", "denied")], 2.0),
        (
            "password_resets_total",
            vec![p, ("step", "requested"), ("outcome", "ok")],
            1.0,
        ),
        ("argon2_queue_depth", vec![], 0.0),
        ("database_up", vec![], 1.0),
        ("mail_outbox_backlog", vec![], 1.0),
        ("log_lines_dropped_total", vec![], 0.0),
        (
            "database_pool_max_connections",
            vec![],
            10.0, // database.max_connections
        ),
        // Nothing queues for a connection once the requests above are answered.
        ("database_pool_waiting", vec![], 0.0),
    ];
    for (name, labels, value) in want {
        assert_eq!(
            series(&text, name, &labels),
            Some(value),
            "{name} {labels:?}:\n{text}"
        );
    }
    // A registration hashes once; each login verifies once (the dummy hash is made once).
    assert!(series(&text, "argon2_duration_seconds_count", &[("op", "hash")]) >= Some(1.0));
    assert_eq!(
        series(&text, "argon2_duration_seconds_count", &[("op", "verify")]),
        Some(3.0),
        "{text}"
    );
    assert!(series(&text, "mail_outbox_oldest_unsent_seconds", &[]) >= Some(0.0));
    assert!(series(&text, "database_pool_connections", &[("state", "idle")]).is_some());
    // Every statement above took its connection through the measured pool.
    assert!(
        series(&text, "database_pool_acquire_duration_seconds_count", &[]) >= Some(10.0),
        "{text}"
    );
    assert!(
        !text.contains(email) && !text.contains("81.2.69.142"),
        "{text}"
    );

    // Access lines are written by a thread of their own, a few milliseconds later.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = server.log.lock().unwrap().clone();
    let lines = access_lines(&log);
    let by_id = |id: &str| -> Vec<&serde_json::Value> {
        lines.iter().filter(|l| l["request_id"] == id).collect()
    };
    let reg = by_id("reg-1");
    assert_eq!(reg.len(), 1, "one line per request: {log:#?}");
    let reg = reg[0];
    assert_eq!(reg["level"], "INFO");
    assert_eq!(reg["method"], "POST");
    assert_eq!(reg["route"], "/customers");
    assert_eq!(reg["status"], 200);
    assert_eq!(reg["bytes"], reg_bytes);
    assert_eq!(reg["client_ip"], "127.0.0.1");
    assert_eq!(reg["publisher_id"], "100000001");
    assert!(reg["latency_us"].as_u64().unwrap() > 0, "{reg}");
    assert!(
        chrono::DateTime::parse_from_rfc3339(reg["timestamp"].as_str().unwrap()).is_ok(),
        "{reg}"
    );
    assert!(
        reg.get("span").is_none() && reg.get("spans").is_none(),
        "{reg}"
    );
    let bad = by_id("login-bad-1");
    assert_eq!((bad.len(), &bad[0]["status"]), (1, &serde_json::json!(401)));
    let loc = by_id("loc-1")[0];
    assert_eq!(loc["route"], "/locales");
    assert!(
        loc.get("publisher_id").is_none(),
        "no publisher on /locales: {loc}"
    );
    // A streamed body is counted when it has been sent, not when the handler returned.
    let csv = by_id("csv-1")[0];
    assert_eq!(
        csv["route"],
        "/admin/api/publishers/{publisherId}/customers.csv"
    );
    assert_eq!(
        (&csv["status"], &csv["bytes"]),
        (&serde_json::json!(200), &serde_json::json!(csv_bytes))
    );
    // Unknown paths are not written out: a path can carry anything.
    assert_eq!(by_id("unknown-route")[0]["route"], "unmatched");
    for line in &log {
        assert!(!line.contains(email), "no email in logs: {line}");
        assert!(
            !line.contains("81.2.69.142"),
            "no query string in logs: {line}"
        );
        assert!(
            !line.contains("secret123") && !line.contains("wrong-pass-1"),
            "{line}"
        );
    }
}
