//! Replays through the admin API and the CLI: one delivery again (the same event id, signed
//! again), every event since a time (also those an endpoint created later never got), an
//! endpoint's deliveries listed; another publisher's key reaches none of it.

use reqwest::Method;
use serde_json::{Value, json};

use super::{Receiver, assert_clean, settled_deliveries, spawn, subscribe};
use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, publisher_key};
use crate::backend_tests;
use crate::cli::run;
use crate::support::Backend;

backend_tests!(
    deliveries_are_listed_and_replayed,
    the_cli_lists_and_replays_deliveries
);

async fn deliveries(app: &crate::support::TestApp, id: i64) -> Vec<Value> {
    let path = format!("/admin/api/publishers/{DEMO}/webhooks/{id}/deliveries");
    let (status, body) = call(app, Method::GET, &path, OPERATOR, None).await;
    assert_eq!(status, 200, "{body}");
    body["responseData"]["deliveries"]
        .as_array()
        .unwrap()
        .clone()
}

async fn deliveries_are_listed_and_replayed(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    let before = chrono::Utc::now() - chrono::Duration::seconds(5);
    app.signed_up("replay-1@example.com").await;
    app.signed_up("replay-2@example.com").await;
    let first = receiver.wait_for(2).await;

    // Listed newest first, delivered, with the receiver's status.
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = deliveries(&app, id).await;
        if listed.iter().all(|d| d["state"] == "delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert!(listed[0]["id"].as_i64() > listed[1]["id"].as_i64());
    assert_eq!(listed[0]["responseStatus"], 200);
    assert_eq!(listed[0]["eventType"], "customer.registered");
    let (delivery, event) = (
        listed[1]["id"].as_i64().unwrap(),
        listed[1]["eventId"].as_str().unwrap().to_owned(),
    );

    // One delivery again: the same event, signed again.
    let one = format!("/admin/api/publishers/{DEMO}/webhooks/{id}/deliveries/{delivery}/replay");
    let (status, body) = call(&app, Method::POST, &one, OPERATOR, None).await;
    assert_eq!(
        (status, &body["responseData"]),
        (200, &json!({"replayed": 1})),
        "{body}"
    );
    let got = receiver.wait_for(3).await;
    assert_eq!(got[2].id, event);
    assert_eq!(
        got[2].raw,
        first.iter().find(|g| g.id == event).unwrap().raw
    );
    assert_clean(&got[2]);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/webhooks/{id}/deliveries/999999/replay"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 404);

    // An endpoint created after the events gets them by a replay since a time before them.
    let late = Receiver::start().await;
    let (late_id, _) = subscribe(&app, DEMO, OPERATOR, &late, &["customer.registered"]).await;
    let since = format!("/admin/api/publishers/{DEMO}/webhooks/{late_id}/replay");
    let (status, body) = call(
        &app,
        Method::POST,
        &since,
        OPERATOR,
        Some(json!({"since": before.to_rfc3339()})),
    )
    .await;
    assert_eq!(
        (status, &body["responseData"]),
        (200, &json!({"replayed": 2})),
        "{body}"
    );
    let got = late.wait_for(2).await;
    let emails: Vec<&str> = got
        .iter()
        .map(|g| g.event["data"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails.len(), 2);
    assert!(emails.contains(&"replay-1@example.com") && emails.contains(&"replay-2@example.com"));
    got.iter().for_each(assert_clean);

    // A bad time is a clear 400; a time after everything replays nothing.
    let (status, body) = call(
        &app,
        Method::POST,
        &since,
        OPERATOR,
        Some(json!({"since": "yesterday"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["field"], "since");
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let (_, body) = call(
        &app,
        Method::POST,
        &since,
        OPERATOR,
        Some(json!({"since": later})),
    )
    .await;
    assert_eq!(body["responseData"]["replayed"], 0, "{body}");

    // Another publisher's key: 404 for all of it.
    create_publisher(&app, OTHER).await;
    let (other, _) = publisher_key(&app, OTHER).await;
    for (method, path, body) in [
        (
            Method::GET,
            format!("/admin/api/publishers/{DEMO}/webhooks/{id}/deliveries"),
            None,
        ),
        (
            Method::GET,
            format!("/admin/api/publishers/{OTHER}/webhooks/{id}/deliveries"),
            None,
        ),
        (Method::POST, one.clone(), None),
        (
            Method::POST,
            format!("/admin/api/publishers/{OTHER}/webhooks/{id}/deliveries/{delivery}/replay"),
            None,
        ),
        (
            Method::POST,
            since.clone(),
            Some(json!({"since": before.to_rfc3339()})),
        ),
    ] {
        let (status, answer) = call(&app, method.clone(), &path, &other, body).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    // The audit trail has the replays.
    let (_, audit) = call(&app, Method::GET, "/admin/api/audit", OPERATOR, None).await;
    assert!(audit.to_string().contains("webhook.replay"), "{audit}");
}

async fn the_cli_lists_and_replays_deliveries(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    app.signed_up("cli-replay@example.com").await;
    let got = receiver.wait_for(1).await;
    settled_deliveries(&app, 1).await;
    let url = app.db.url.clone();
    let enroll = || {
        let mut cmd = crate::cli::enroll(&url);
        cmd.env("ENROLL_SERVER__OUTBOUND_ALLOW", "127.0.0.0/8");
        cmd
    };
    let id = id.to_string();
    let (ok, out, err) =
        run(enroll().args(["webhook", "deliveries", "--publisher", DEMO, &id])).await;
    assert!(ok && out.contains(&got[0].id), "{out}{err}");
    let delivery = out
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let (ok, out, err) = run(enroll().args([
        "webhook",
        "replay",
        "--publisher",
        DEMO,
        &id,
        "--delivery",
        &delivery,
    ]))
    .await;
    assert!(ok && out.contains("replaying 1"), "{out}{err}");
    let again = receiver.wait_for(2).await;
    assert_eq!(again[1].id, got[0].id);
    let (ok, _, err) = run(enroll().args([
        "webhook",
        "replay",
        "--publisher",
        DEMO,
        &id,
        "--since",
        "not a time",
    ]))
    .await;
    assert!(!ok && err.contains("RFC 3339"), "{err}");
    let (ok, _, err) = run(enroll().args(["webhook", "replay", "--publisher", DEMO, &id])).await;
    assert!(!ok && err.contains("--delivery"), "{err}");
}
