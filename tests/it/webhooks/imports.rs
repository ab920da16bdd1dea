//! Imported customers reach the publisher's endpoints like registered ones, marked imported
//! (a batch's events are written together, several statements' worth of rows); and a commit
//! wakes the delivery worker instead of leaving the event to its next poll.

use std::collections::HashSet;

use serde_json::json;

use super::{Receiver, assert_clean, fast, spawn, subscribe};
use crate::admin_api::{DEMO, OPERATOR};
use crate::backend_tests;
use crate::import::{import, jsonl, row};
use crate::support::{Backend, TestApp};

backend_tests!(
    imported_customers_reach_webhooks_marked_imported,
    a_commit_wakes_the_delivery_worker,
);

/// More rows than one multi-row statement holds (400), so a batch's events span several.
const ROWS: usize = 450;

async fn imported_customers_reach_webhooks_marked_imported(backend: Backend) {
    let app = spawn(backend).await;
    let receiver = Receiver::start().await;
    subscribe(
        &app,
        DEMO,
        OPERATOR,
        &receiver,
        &[
            "customer.registered",
            "customer.logged_in",
            "customer.updated",
        ],
    )
    .await;
    // A customer registered before the import: the upsert below updates it, which is an
    // update (marked imported), not a registration.
    app.signed_up("kept@example.com").await;
    receiver.wait_for(1).await;

    let mut rows: Vec<_> = (0..ROWS)
        .map(|i| {
            row(
                &format!("imported{i}@example.com"),
                json!({"firstName": format!("Row {i}"), "externalId": format!("legacy-{i}"),
                       "consents": [{"name": "terms", "version": 1, "state": "accepted"}]}),
            )
        })
        .collect();
    rows.push(row("kept@example.com", json!({"firstName": "Kept"})));
    rows.push(row("not-an-email", json!({})));
    let report = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        jsonl(&rows),
    )
    .await;
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(report["inserted"], ROWS, "{report}");
    assert_eq!(report["updated"], 1, "{report}");
    assert_eq!(report["failed"], 1, "{report}");

    let got = receiver.wait_for(ROWS + 2).await;
    let updated: Vec<_> = got
        .iter()
        .filter(|g| g.event["type"] == "customer.updated")
        .collect();
    assert_eq!(updated.len(), 1, "{:?}", types(&got));
    assert_clean(updated[0]);
    let data = &updated[0].event["data"];
    assert_eq!(
        (&data["changes"]["firstName"], &data["imported"]),
        (&json!("Kept"), &json!(true)),
        "{data}"
    );
    // Only what changed (the row's place differs from the sign-up's; its email is the same).
    let mut changed: Vec<&str> = data["changes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    changed.sort_unstable();
    assert_eq!(
        changed,
        ["country", "currency", "firstName", "locale"],
        "{data}"
    );
    let imported: Vec<_> = got
        .iter()
        .filter(|g| g.event["type"] == "customer.registered" && g.event["data"]["imported"] == true)
        .collect();
    assert_eq!(imported.len(), ROWS);
    let mut emails = HashSet::new();
    let mut ids = HashSet::new();
    for g in &imported {
        assert_clean(g);
        let e = &g.event;
        assert_eq!(e["type"], "customer.registered", "{e}");
        assert_eq!(e["publisherId"], json!(DEMO.parse::<i64>().unwrap()), "{e}");
        // Each imported customer's first event.
        assert_eq!(e["sequence"], 1, "{e}");
        assert!(e["customerId"].as_i64().is_some(), "{e}");
        assert_eq!(e["data"]["consents"][0]["name"], "terms", "{e}");
        assert!(ids.insert(e["id"].as_str().unwrap().to_owned()), "{e}");
        assert!(emails.insert(e["data"]["email"].as_str().unwrap().to_owned()));
    }
    assert!(emails.contains("imported0@example.com"));
    assert!(emails.contains(&format!("imported{}@example.com", ROWS - 1)));

    // Nothing more: no login events and no second registration of the updated customer.
    let settled = receiver.settled().await;
    assert_eq!(settled.len(), ROWS + 2, "{:?}", types(&settled));
    let stored = app
        .db
        .scalar("SELECT COUNT(*) FROM events WHERE type = 'customer.registered'")
        .await;
    assert_eq!(stored, i64::try_from(ROWS).unwrap() + 1);
}

fn types(got: &[super::Got]) -> Vec<String> {
    got.iter()
        .map(|g| g.event["type"].as_str().unwrap_or("?").to_owned())
        .collect()
}

/// With a poll interval of an hour, only the commit's wake-up can deliver in time.
async fn a_commit_wakes_the_delivery_worker(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| fast(f).merge(("events.poll_interval", "1h"))).await;
    let receiver = Receiver::start().await;
    subscribe(&app, DEMO, OPERATOR, &receiver, &["customer.registered"]).await;
    // Let the worker's first poll (at start-up) pass, so it is asleep for the hour.
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    app.signed_up("woken@example.com").await;
    let got = receiver.wait_for(1).await;
    assert_eq!(got[0].event["data"]["email"], "woken@example.com");
    app.signed_up("woken-again@example.com").await;
    let got = receiver.wait_for(2).await;
    assert_eq!(got[1].event["data"]["email"], "woken-again@example.com");
}
