//! Every event type reaches a subscribed endpoint signed, from each front end that causes it
//! (customer API, admin API, CLI, the config file), with a per-customer sequence; a change
//! that is refused or rolled back emits nothing.

use reqwest::Method;
use serde_json::{Value, json};

use super::{ALL, Receiver, assert_clean, fast, spawn, subscribe};
use crate::admin_api::{DEMO, OPERATOR, call};
use crate::backend_tests;
use crate::cli::{enroll, run};
use crate::login::login;
use crate::passwords::{ask_reset, link, set_password};
use crate::support::smtp::SmtpServer;
use crate::support::{Backend, TestApp, json, registration};

backend_tests!(
    every_event_arrives_signed_with_the_customers_sequence,
    refused_and_rolled_back_changes_emit_nothing,
    the_cli_and_the_config_file_emit_consent_events,
);

async fn with_smtp(backend: Backend) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, move |f| {
        fast(f)
            .merge(("mail.transport", "smtp"))
            .merge(("mail.smtp.host", "127.0.0.1"))
            .merge(("mail.smtp.port", port))
            .merge(("mail.smtp.tls", "none"))
    })
    .await;
    (app, smtp)
}

fn of_type<'a>(events: &'a [Value], kind: &str) -> &'a Value {
    events
        .iter()
        .find(|e| e["type"] == kind)
        .unwrap_or_else(|| panic!("no {kind} in {events:?}"))
}

async fn every_event_arrives_signed_with_the_customers_sequence(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    let receiver = Receiver::start().await;
    subscribe(&app, DEMO, OPERATOR, &receiver, &ALL).await;

    // Customer API: register, log in, change the profile, answer consents, confirm the
    // address, reset the password.
    let c = app.signed_up("Events@Example.com").await;
    let r = login(&app, "events@example.com", "secret123").await;
    assert_eq!(r.status(), 200);
    let r = app
        .authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
        .json(&json!({"firstName": "Ada"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = app
        .authed(
            Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .json(&json!({"consents": [
            {"name": "terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let r = app
        .authed(
            Method::POST,
            &format!("/customers/{}/email/confirmation", c.id),
            &c.jwt,
        )
        .json(&json!({"confirmUrl": "http://localhost:3000/confirm"}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.wait_for(1).await.remove(0);
    let text = mail.decoded();
    let start = text.find("token=").unwrap() + "token=".len();
    let end = text[start..]
        .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '-' || ch == '_'))
        .unwrap()
        + start;
    let r = app
        .client
        .post(app.url("/customers/email/confirmation"))
        .json(&json!({"token": &text[start..end]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = ask_reset(
        &app,
        "events@example.com",
        json!("http://localhost:3000/reset"),
    )
    .await;
    assert_eq!(r.status(), 200);
    let (_, token) = link(&smtp.wait_for(2).await.remove(1));
    let r = set_password(&app, "events@example.com", &token, "another-Secret-42").await;
    assert_eq!(r.status(), 200);

    // Delivered before the erasure (which strips the data of the customer's stored events).
    receiver.wait_for(6).await;

    // Admin API: publish and archive a consent, erase the customer.
    let consents = format!("/admin/api/publishers/{DEMO}/consents");
    let (status, body) = call(
        &app,
        Method::POST,
        &consents,
        OPERATOR,
        Some(json!({"name": "newsletter", "label": "Weekly news"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("{consents}/newsletter/archive"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/api/publishers/{DEMO}/customers/{}", c.id),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200);

    let got = receiver.wait_for(9).await;
    got.iter().for_each(assert_clean);
    let events: Vec<Value> = got.iter().map(|g| g.event.clone()).collect();
    let mine: Vec<&Value> = events
        .iter()
        .filter(|e| {
            e["customerId"].as_i64().map(|i| i.to_string()).as_deref() == Some(c.id.as_str())
        })
        .collect();
    let types: Vec<&str> = mine.iter().map(|e| e["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "customer.registered",
            "customer.logged_in",
            "customer.updated",
            "customer.consents_changed",
            "customer.email_verified",
            "customer.password_changed",
            "customer.erased"
        ]
    );
    let sequences: Vec<i64> = mine
        .iter()
        .map(|e| e["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(sequences, [1, 2, 3, 4, 5, 6, 7]);
    for e in &events {
        assert_eq!(e["publisherId"].as_i64(), Some(100000001), "{e}");
        assert!(e["occurredAt"].as_str().unwrap().ends_with('Z'));
        assert!(e["id"].as_str().unwrap().starts_with("evt_"));
    }
    let registered = of_type(&events, "customer.registered");
    assert_eq!(registered["data"]["email"], "Events@Example.com");
    assert_eq!(registered["actor"], json!({"type": "customer"}));
    assert_eq!(
        of_type(&events, "customer.updated")["data"],
        json!({"changes": {"firstName": "Ada"}})
    );
    let changed = &of_type(&events, "customer.consents_changed")["data"]["consents"];
    let marketing = changed
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_marketing")
        .unwrap();
    assert_eq!(
        (
            &marketing["state"],
            &marketing["version"],
            &marketing["oldState"]
        ),
        (&json!("accepted"), &json!(1), &json!(null))
    );
    assert_eq!(
        of_type(&events, "customer.email_verified")["data"]["email"],
        "Events@Example.com"
    );
    let published = of_type(&events, "consent.published");
    assert_eq!(published["data"]["name"], "newsletter");
    assert_eq!(published["data"]["version"], 1);
    assert_eq!(published["customerId"], json!(null));
    assert_eq!(published["actor"], json!({"type": "operator"}));
    assert_eq!(
        of_type(&events, "consent.archived")["data"]["name"],
        "newsletter"
    );
    assert_eq!(
        of_type(&events, "customer.erased")["actor"],
        json!({"type": "operator"})
    );
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM events WHERE customer_id IS NOT NULL")
            .await,
        7
    );
    let kept = app
        .db
        // `"Ada"` with its quotes: SQLite's LIKE ignores case, and a bare `ada` turns up in
        // the hex of ids and hashes.
        .scalar("SELECT COUNT(*) FROM events WHERE body LIKE '%Events@Example.com%' OR body LIKE '%\"Ada\"%'")
        .await;
    assert_eq!(
        kept, 0,
        "an erasure leaves no personal data in stored events"
    );
}

async fn refused_and_rolled_back_changes_emit_nothing(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    app.signed_up("once@example.com").await;
    // The same address again: the insert fails inside the transaction, which rolls back.
    let r = app.register(&registration("ONCE@example.com")).await;
    assert_eq!(r.status(), 422);
    // Refused before any transaction.
    let mut bad = registration("bad@example.com");
    bad["password"] = json!("x");
    assert_ne!(app.register(&bad).await.status(), 200);
    let got = receiver.settled().await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event["data"]["email"], "once@example.com");
    // (The config file's consents, published at start-up, are events too.)
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM events WHERE customer_id IS NOT NULL")
            .await,
        1
    );
}

async fn the_cli_and_the_config_file_emit_consent_events(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    subscribe(&app, DEMO, OPERATOR, &receiver, &["consent.published"]).await;
    let (ok, out, err) = run(enroll(&app.db.url).args([
        "consent",
        "set",
        "--publisher",
        DEMO,
        "--name",
        "cli_terms",
        "--label",
        "CLI terms",
    ]))
    .await;
    assert!(ok, "{out}{err}");
    let got = receiver.wait_for(1).await;
    assert_clean(&got[0]);
    assert_eq!(got[0].event["actor"], json!({"type": "cli"}));
    assert_eq!(got[0].event["data"]["name"], "cli_terms");
    // The config file's consents were published at start-up, before the endpoint existed:
    // they are in the outbox with the system as their actor.
    let system: i64 = app
        .db
        .scalar("SELECT COUNT(*) FROM events WHERE type = 'consent.published' AND body LIKE '%\"system\"%'")
        .await;
    assert!(system >= 1, "{system}");
}
