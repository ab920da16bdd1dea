//! `POST /auths` and `POST /auths/refresh_token`.

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Backend, Customer, TestApp, assert_error, json};

backend_tests!(
    login_returns_a_session_and_records_it,
    unknown_email_and_wrong_password_look_the_same,
    failures_throttle_one_email_only,
    a_burst_of_wrong_passwords_on_two_replicas_is_evaluated_at_most_the_limit,
    a_right_password_gives_its_reservation_back,
    refresh_tokens_rotate_and_reuse_revokes_the_family,
    refresh_tokens_expire,
);

pub async fn login(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let body = json!({"email": email, "password": password, "publisherId": "100000001"});
    app.client
        .post(app.url("/auths"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/auths/refresh_token"))
        .json(&json!({"refreshToken": token}))
        .send()
        .await
        .unwrap()
}

async fn login_returns_a_session_and_records_it(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("Login@Example.com").await;
    let body = json!({"email": "login@example.com", "password": "secret123", "offerId": "S100000001_US", "customerIP": "81.2.69.142"});
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "exactly 200");
    let (_, body) = json(r).await;
    let s = Customer::from_session(&body["responseData"]);
    assert_eq!(s.id, c.id);
    assert_ne!(s.refresh, c.refresh);
    let me = app.me(&s).await;
    assert!(me["lastLoginDate"].is_string());
    assert_eq!(me["lastUserIp"], "81.2.69.142");
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&json!({"email": "login@example.com"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    let fields: Vec<_> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["password", "publisherId"]);
}

async fn unknown_email_and_wrong_password_look_the_same(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("known@example.com").await;
    let wrong = login(&app, "known@example.com", "wrong1234").await;
    let unknown = login(&app, "nobody@example.com", "wrong1234").await;
    let (a, b) = (
        assert_error(wrong, 401, "USER0001").await,
        assert_error(unknown, 401, "USER0001").await,
    );
    assert_eq!(a, b, "same status and body");
    assert_eq!(a["message"], "Wrong email or password");
    let other = assert_error(login(&app, "not an email", "x").await, 401, "USER0001").await;
    assert_eq!(other, a);
}

async fn failures_throttle_one_email_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("target@example.com").await;
    app.signed_up("bystander@example.com").await;
    for batch in 0..10 {
        let tries: Vec<_> = (0..10)
            .map(|_| login(&app, "target@example.com", "guess1234"))
            .collect();
        for r in futures_util::future::join_all(tries).await {
            assert_eq!(r.status(), 401, "batch {batch}");
        }
    }
    for password in ["guess1234", "secret123"] {
        let r = login(&app, "TARGET@example.com", password).await;
        let retry: u64 = r.headers()["retry-after"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!((1..=3600).contains(&retry), "{retry}");
        assert_eq!(
            assert_error(r, 429, "RATE0001").await["message"],
            "Too many requests"
        );
    }
    assert_eq!(
        login(&app, "bystander@example.com", "secret123")
            .await
            .status(),
        200
    );
    // Unknown accounts are counted the same way, so the throttle reveals nothing.
    for _ in 0..10 {
        let tries: Vec<_> = (0..10)
            .map(|_| login(&app, "ghost@example.com", "guess1234"))
            .collect();
        futures_util::future::join_all(tries).await;
    }
    assert_error(
        login(&app, "ghost@example.com", "guess1234").await,
        429,
        "RATE0001",
    )
    .await;
}

/// The server with at most `n` failed password checks per (publisher, email) and hour.
pub fn failures_per_hour(n: u32) -> impl Fn(figment::Figment) -> figment::Figment + Copy {
    move |f| f.merge(("auth.login_failures_per_hour", n))
}

/// Sorts answers into evaluated (the password was checked: `evaluated` status) and throttled
/// (429 RATE0001 with `Retry-After`); anything else fails the test.
pub async fn evaluated_and_throttled(
    responses: Vec<reqwest::Response>,
    evaluated: u16,
) -> (usize, usize) {
    let (mut checked, mut throttled) = (0, 0);
    for r in responses {
        let retry = r.headers().get("retry-after").cloned();
        let (status, body) = json(r).await;
        if status == 429 {
            assert_eq!(body["code"], "RATE0001", "{body}");
            assert!(retry.is_some(), "Retry-After");
            throttled += 1;
        } else {
            assert_eq!(status, evaluated, "{body}");
            checked += 1;
        }
    }
    (checked, throttled)
}

async fn a_burst_of_wrong_passwords_on_two_replicas_is_evaluated_at_most_the_limit(
    backend: Backend,
) {
    let app = TestApp::spawn_with(backend, failures_per_hour(5)).await;
    let replica = TestApp::spawn_on(app.db.clone(), failures_per_hour(5)).await;
    app.signed_up("burst@example.com").await;
    let tries = (0..30).map(|i| {
        let server = if i % 2 == 0 { &app } else { &replica };
        login(server, "burst@example.com", "guess1234")
    });
    let responses = futures_util::future::join_all(tries).await;
    let (checked, throttled) = evaluated_and_throttled(responses, 401).await;
    assert!(
        (1..=5).contains(&checked),
        "{checked} guesses evaluated with a limit of 5"
    );
    assert_eq!(checked + throttled, 30);
    assert_eq!(
        app.db
            .scalar("SELECT CAST(SUM(failures) AS BIGINT) FROM login_failures")
            .await,
        i64::try_from(checked).unwrap()
    );
    // The right password is not evaluated either, on any replica, for the rest of the hour.
    for server in [&app, &replica] {
        assert_error(
            login(server, "burst@example.com", "secret123").await,
            429,
            "RATE0001",
        )
        .await;
    }
    // An unknown address is throttled the same way (the throttle reveals nothing).
    let tries = (0..12).map(|_| login(&replica, "ghost@example.com", "guess1234"));
    let responses = futures_util::future::join_all(tries).await;
    let (checked, throttled) = evaluated_and_throttled(responses, 401).await;
    assert!(checked <= 5 && checked + throttled == 12, "{checked}");
}

async fn a_right_password_gives_its_reservation_back(backend: Backend) {
    let app = TestApp::spawn_with(backend, failures_per_hour(3)).await;
    app.signed_up("owner@example.com").await;
    for _ in 0..2 {
        assert_eq!(
            login(&app, "owner@example.com", "guess1234").await.status(),
            401
        );
    }
    // Only failures count: signing in often is never throttled.
    for _ in 0..4 {
        assert_eq!(
            login(&app, "owner@example.com", "secret123").await.status(),
            200
        );
    }
    assert_eq!(
        login(&app, "owner@example.com", "guess1234").await.status(),
        401
    );
    for password in ["secret123", "guess1234"] {
        assert_error(
            login(&app, "owner@example.com", password).await,
            429,
            "RATE0001",
        )
        .await;
    }
}

async fn session_of(r: reqwest::Response) -> Value {
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    body["responseData"].clone()
}

async fn refresh_tokens_rotate_and_reuse_revokes_the_family(backend: Backend) {
    let app =
        TestApp::spawn_with(backend, |f| f.merge(("auth.refresh_reuse_grace", "300ms"))).await;
    let c = app.signed_up("r@example.com").await;
    let first = session_of(refresh(&app, &c.refresh).await).await;
    assert!(first.get("customerId").is_none());
    let r2 = first["refreshToken"].as_str().unwrap().to_owned();
    assert_ne!(r2, c.refresh);
    let jwt = first["jwt"].as_str().unwrap();
    assert_eq!(
        app.authed(reqwest::Method::GET, &format!("/customers/{}", c.id), jwt)
            .send()
            .await
            .unwrap()
            .status(),
        200
    );

    // Within the grace period a used token is only refused (a second tab, a retry).
    let body = assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
    assert_eq!(
        body["message"],
        "Refresh token is expired or does not exist"
    );
    let second = session_of(refresh(&app, &r2).await).await;
    let r3 = second["refreshToken"].as_str().unwrap().to_owned();

    // Later, a used token means theft: the whole family dies, the newest token too.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_error(refresh(&app, &r2).await, 401, "AUTH0005").await;
    assert_error(refresh(&app, &r3).await, 401, "AUTH0005").await;
    // Another family (a login elsewhere) is untouched.
    let other = session_of(login(&app, "r@example.com", "secret123").await).await;
    session_of(refresh(&app, other["refreshToken"].as_str().unwrap()).await).await;

    assert_error(refresh(&app, "unknown-token").await, 401, "AUTH0005").await;
    let r = app
        .client
        .post(app.url("/auths/refresh_token"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "REQ0001").await;
}

async fn refresh_tokens_expire(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("auth.refresh_token_ttl", "1s"))).await;
    let c = app.signed_up("e@example.com").await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
}
