//! The dashboard's changes (publish a consent, erase a customer) emit their events like the
//! admin API's, with the signed-in key as the actor; its Webhooks page shows the endpoints and
//! their deliveries and replays them, for the signed-in publisher only.

use reqwest::{Method, StatusCode};
use serde_json::json;

use super::{Receiver, assert_clean, settled_deliveries, spawn, subscribe};
use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, publisher_key};
use crate::backend_tests;
use crate::dashboard::Admin;
use crate::support::Backend;

backend_tests!(
    dashboard_changes_emit_events,
    the_webhooks_page_shows_and_replays_deliveries
);

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

/// The first `data-delivery="N"` of a page.
fn first_delivery(page: &str) -> String {
    let at = page.find("data-delivery=\"").expect("a delivery row") + 15;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

async fn the_webhooks_page_shows_and_replays_deliveries(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let receiver = Receiver::start().await;
    let (id, _) = subscribe(&app, DEMO, &key, &receiver, &["customer.registered"]).await;
    app.signed_up("dash-hook@example.com").await;
    let got = receiver.wait_for(1).await;
    let admin = Admin::sign_in(&app, &key).await;

    // The endpoint, enabled, and its delivery: delivered, one try, answered 200.
    let mut page = String::new();
    for _ in 0..100 {
        let (status, body) = admin.get("/admin/webhooks").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        page = body;
        if page.contains("tag ok\">delivered") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(page.contains(&format!("data-endpoint=\"{id}\"")), "{page}");
    assert!(
        page.contains(&receiver.url) && page.contains(">enabled<"),
        "{page}"
    );
    assert!(page.contains(&got[0].id), "the event id is shown: {page}");
    assert!(
        page.contains("tag ok\">delivered") && page.contains("<td class=\"attempts\">1</td>"),
        "{page}"
    );
    assert!(page.contains("<td class=\"response\">200"), "{page}");
    let delivery = first_delivery(&page);

    // Replaying needs the session's CSRF token; with it the receiver gets the event again.
    let one = format!("/admin/webhooks/{id}/deliveries/{delivery}/replay");
    let (status, _) = admin.post(&one, &[("csrf", "forged")]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, to) = admin.post(&one, &[("csrf", admin.csrf.as_str())]).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert!(to.contains("done=replayed"), "{to}");
    let again = receiver.wait_for(2).await;
    assert_eq!(again[1].id, got[0].id);
    settled_deliveries(&app, 1).await;

    // Everything since a time, as the datetime-local input sends it (UTC).
    let since = (chrono::Utc::now() - chrono::Duration::minutes(5))
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let (status, to) = admin
        .post(
            &format!("/admin/webhooks/{id}/replay"),
            &[("csrf", admin.csrf.as_str()), ("since", since.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{to}");
    assert!(to.ends_with("done=1"), "{to}");
    receiver.wait_for(3).await;

    // A disabled endpoint says so, and why.
    let path = format!("/admin/api/publishers/{DEMO}/webhooks/{id}/disable");
    call(&app, Method::POST, &path, &key, None).await;
    let (_, page) = admin.get("/admin/webhooks").await;
    assert!(page.contains("disabled by an admin"), "{page}");

    // Another publisher's endpoints and deliveries are not this session's.
    create_publisher(&app, OTHER).await;
    let other_hook = Receiver::start().await;
    let (other_id, _) =
        subscribe(&app, OTHER, OPERATOR, &other_hook, &["customer.registered"]).await;
    let (status, _) = admin
        .get(&format!("/admin/webhooks?publisher={OTHER}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .get(&format!("/admin/webhooks?webhook={other_id}"))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .post(
            &format!("/admin/webhooks/{other_id}/replay"),
            &[("csrf", admin.csrf.as_str()), ("since", since.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .post(
            &format!("/admin/webhooks/{other_id}/deliveries/{delivery}/replay?publisher={OTHER}"),
            &[("csrf", admin.csrf.as_str())],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, page) = admin.get("/admin/webhooks").await;
    assert!(!page.contains(&other_hook.url), "{page}");
}
