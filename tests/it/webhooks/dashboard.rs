//! The dashboard's changes (publish a consent, erase a customer) emit their events like the
//! admin API's, with the signed-in key as the actor.

use reqwest::StatusCode;
use serde_json::json;

use super::{Receiver, assert_clean, spawn, subscribe};
use crate::admin_api::{DEMO, publisher_key};
use crate::backend_tests;
use crate::dashboard::Admin;
use crate::support::Backend;

backend_tests!(dashboard_changes_emit_events);

async fn dashboard_changes_emit_events(backend: Backend) {
    let app = spawn(backend).await;
    let (key, key_id) = publisher_key(&app, DEMO).await;
    let receiver = Receiver::start().await;
    subscribe(
        &app,
        DEMO,
        &key,
        &receiver,
        &["consent.published", "customer.erased"],
    )
    .await;
    let c = app.signed_up("dash@example.com").await;
    let admin = Admin::sign_in(&app, &key).await;
    let (status, _) = admin
        .post(
            "/admin/consents?publisher=100000001",
            &[
                ("name", "dash_terms"),
                ("label", "Dashboard terms"),
                ("value", ""),
                ("csrf", admin.csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (status, _) = admin
        .post(
            &format!("/admin/customers/{}/erase", c.id),
            &[("csrf", admin.csrf.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let got = receiver.wait_for(2).await;
    got.iter().for_each(assert_clean);
    let actor = json!({"type": "admin_key", "id": key_id});
    let published = got
        .iter()
        .find(|g| g.event["type"] == "consent.published")
        .unwrap();
    assert_eq!(published.event["data"]["name"], "dash_terms");
    assert_eq!(published.event["actor"], actor);
    let erased = got
        .iter()
        .find(|g| g.event["type"] == "customer.erased")
        .unwrap();
    assert_eq!(erased.event["customerId"].to_string(), c.id);
    assert_eq!(erased.event["actor"], actor);
}
