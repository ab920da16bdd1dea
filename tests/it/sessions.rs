//! Ending sessions: a password reset, an email change, an erasure and "sign out everywhere"
//! end every way of getting a session that existed before them — registration replays
//! (`Idempotency-Key`), refresh tokens, and JWTs already issued — also when they race.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::login::{login, refresh};
use crate::passwords::{ask_reset, link, set_password, with_smtp};
use crate::support::{Backend, Customer, TestApp, assert_error, json, registration};

backend_tests!(
    a_password_reset_ends_replays_refresh_tokens_and_jwts,
    an_email_change_ends_every_earlier_session,
    ending_sessions_everywhere,
    an_erasure_ends_replays,
    logins_and_refreshes_racing_a_reset_leave_no_live_session,
);

const DEMO: &str = "100000001";

async fn register_with_key(app: &TestApp, key: &str, body: &Value) -> reqwest::Response {
    app.client
        .post(app.url("/customers"))
        .header("idempotency-key", key)
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn session(r: reqwest::Response) -> Customer {
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    Customer::from_session(&body["responseData"])
}

async fn profile(app: &TestApp, id: &str, jwt: &str) -> reqwest::Response {
    app.authed(reqwest::Method::GET, &format!("/customers/{id}"), jwt)
        .send()
        .await
        .unwrap()
}

async fn patch(app: &TestApp, c: &Customer, body: Value) -> reqwest::Response {
    app.authed(
        reqwest::Method::PATCH,
        &format!("/customers/{}", c.id),
        &c.jwt,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

/// Neither the JWT nor the refresh token of `s` gets anything any more.
async fn assert_ended(app: &TestApp, s: &Customer, what: &str) {
    let r = profile(app, &s.id, &s.jwt).await;
    let body = assert_error(r, 401, "AUTH0002").await;
    assert_eq!(body["message"], "Invalid JWT token", "{what}");
    assert_error(refresh(app, &s.refresh).await, 401, "AUTH0005").await;
}

/// The session works: its JWT reads the profile and its refresh token rotates.
async fn assert_alive(app: &TestApp, s: &Customer) {
    assert_eq!(profile(app, &s.id, &s.jwt).await.status(), 200);
    let r = session_pair(refresh(app, &s.refresh).await).await;
    assert_eq!(profile(app, &s.id, &r).await.status(), 200);
}

async fn session_pair(r: reqwest::Response) -> String {
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    body["responseData"]["jwt"].as_str().unwrap().to_owned()
}

async fn reset_password(
    app: &TestApp,
    smtp: &crate::support::smtp::SmtpServer,
    email: &str,
    mails: usize,
    password: &str,
) -> reqwest::Response {
    let r = ask_reset(app, email, json!("http://localhost:3000/reset")).await;
    assert_eq!(r.status(), 200);
    let mail = smtp.wait_for(mails).await.remove(mails - 1);
    let (_, token) = link(&mail);
    set_password(app, email, &token, password).await
}

async fn a_password_reset_ends_replays_refresh_tokens_and_jwts(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    let body = registration("victim@example.com");
    let first = session(register_with_key(&app, "signup-1", &body).await).await;
    // Before the reset a retry is the same outcome with a working session (the neighbour).
    let replayed = session(register_with_key(&app, "signup-1", &body).await).await;
    assert_eq!(replayed.id, first.id);
    assert_alive(&app, &replayed).await;
    let replayed = session(register_with_key(&app, "signup-1", &body).await).await;
    let logged_in = session(login(&app, "victim@example.com", "secret123").await).await;

    let r = reset_password(&app, &smtp, "victim@example.com", 1, "brandnew42").await;
    assert_eq!(r.status(), 200);

    // The retry carries the old password: it no longer mints anything.
    for _ in 0..2 {
        let r = register_with_key(&app, "signup-1", &body).await;
        assert_error(r, 422, "USER0002").await;
    }
    for (s, what) in [
        (&first, "registration"),
        (&replayed, "replay"),
        (&logged_in, "login"),
    ] {
        assert_ended(&app, s, what).await;
    }
    assert_error(
        login(&app, "victim@example.com", "secret123").await,
        401,
        "USER0001",
    )
    .await;
    // The new password starts sessions that live.
    let fresh = session(login(&app, "victim@example.com", "brandnew42").await).await;
    assert_alive(&app, &fresh).await;
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT session_epoch FROM customers WHERE id = {}",
                first.id
            ))
            .await,
        1
    );
}

async fn an_email_change_ends_every_earlier_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = registration("old@example.com");
    let first = session(register_with_key(&app, "signup-2", &body).await).await;
    let other = session(login(&app, "old@example.com", "secret123").await).await;
    // Changing the names, or the email to one with the same key, ends nothing.
    assert_eq!(
        patch(&app, &first, json!({"firstName": "Al"}))
            .await
            .status(),
        200
    );
    let r = patch(
        &app,
        &first,
        json!({"email": "OLD@example.com", "confirmationPassword": "secret123"}),
    )
    .await;
    assert_eq!(r.status(), 200);
    assert_eq!(profile(&app, &first.id, &first.jwt).await.status(), 200);
    assert_eq!(
        session(register_with_key(&app, "signup-2", &body).await)
            .await
            .id,
        first.id
    );

    let (status, changed) = json(
        patch(
            &app,
            &other,
            json!({"email": "new@example.com", "confirmationPassword": "secret123"}),
        )
        .await,
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["responseData"]["email"], "new@example.com");
    for (s, what) in [(&first, "registration"), (&other, "the changer's own")] {
        assert_ended(&app, s, what).await;
    }
    // The retry names the old address, which is free now: it is a new customer, never a
    // session of this one.
    let again = session(register_with_key(&app, "signup-2", &body).await).await;
    assert_ne!(again.id, first.id);
    assert_error(profile(&app, &first.id, &again.jwt).await, 403, "AUTH0004").await;
    let fresh = session(login(&app, "new@example.com", "secret123").await).await;
    assert_eq!(fresh.id, first.id);
    assert_alive(&app, &fresh).await;
}

async fn ending_sessions_everywhere(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = registration("everywhere@example.com");
    let first = session(register_with_key(&app, "signup-3", &body).await).await;
    let second = session(login(&app, "everywhere@example.com", "secret123").await).await;
    let bystander = app.signed_up("bystander@example.com").await;
    let publisher = enroll::domain::PublisherId::parse(DEMO).unwrap();
    let id = enroll::domain::CustomerId::parse(&first.id).unwrap();
    // Tenant first: the id under another publisher is no customer.
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    assert!(!app.store.end_sessions(other, id).await.unwrap());
    assert_alive(&app, &second).await;
    let second = session(login(&app, "everywhere@example.com", "secret123").await).await;

    assert!(app.store.end_sessions(publisher, id).await.unwrap());
    assert_ended(&app, &first, "registration").await;
    assert_ended(&app, &second, "login").await;
    let r = register_with_key(&app, "signup-3", &body).await;
    assert_error(r, 422, "USER0002").await;
    // Only this customer's sessions end; signing in again works.
    assert_alive(&app, &bystander).await;
    let fresh = session(login(&app, "everywhere@example.com", "secret123").await).await;
    assert_alive(&app, &fresh).await;
    let unknown = enroll::domain::CustomerId::parse("999999998").unwrap();
    assert!(!app.store.end_sessions(publisher, unknown).await.unwrap());
}

async fn an_erasure_ends_replays(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = registration("erased@example.com");
    let first = session(register_with_key(&app, "signup-4", &body).await).await;
    assert!(crate::verification::erase(&app, &first.id).await);
    assert_error(refresh(&app, &first.refresh).await, 401, "AUTH0005").await;
    assert_error(profile(&app, &first.id, &first.jwt).await, 403, "AUTH0004").await;
    // The address is free again: the retry registers a new customer, never the erased one.
    let again = session(register_with_key(&app, "signup-4", &body).await).await;
    assert_ne!(again.id, first.id);
    assert_error(profile(&app, &first.id, &again.jwt).await, 403, "AUTH0004").await;
}

async fn logins_and_refreshes_racing_a_reset_leave_no_live_session(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    app.signed_up("race@example.com").await;
    let r = ask_reset(
        &app,
        "race@example.com",
        json!("http://localhost:3000/reset"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let (_, token) = link(&smtp.wait_for(1).await.remove(0));
    let mut sessions = Vec::new();
    for _ in 0..6 {
        sessions.push(session(login(&app, "race@example.com", "secret123").await).await);
    }
    let logins = futures_util::future::join_all(
        (0..6).map(|_| login(&app, "race@example.com", "secret123")),
    );
    let refreshes =
        futures_util::future::join_all(sessions.iter().map(|s| refresh(&app, &s.refresh)));
    let (logins, refreshes, reset) = tokio::join!(
        logins,
        refreshes,
        set_password(&app, "race@example.com", &token, "brandnew42")
    );
    assert_eq!(reset.status(), 200);
    // Whatever came out of the race with the old password is over now.
    let mut started = Vec::new();
    for r in logins {
        let (status, body) = json(r).await;
        match status {
            200 => started.push(Customer::from_session(&body["responseData"])),
            401 => assert_eq!(body["code"], "USER0001"),
            other => panic!("{other}: {body}"),
        }
    }
    for (r, old) in refreshes.into_iter().zip(&sessions) {
        let (status, body) = json(r).await;
        match status {
            200 => started.push(Customer {
                id: old.id.clone(),
                jwt: body["responseData"]["jwt"].as_str().unwrap().to_owned(),
                refresh: body["responseData"]["refreshToken"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            }),
            401 => assert_eq!(body["code"], "AUTH0005"),
            other => panic!("{other}: {body}"),
        }
    }
    for s in started.iter().chain(&sessions) {
        assert_ended(&app, s, "raced").await;
    }
}
