//! The audit trail: every admin change, who made it, scoped per key, keyset pages.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::support::Backend;

use super::{DEMO, OPERATOR, OTHER, call, create_publisher, ok, publisher_key, register_in, spawn};

backend_tests!(every_change_is_audited_and_scoped,);

async fn every_change_is_audited_and_scoped(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (demo_key, demo_key_id) = publisher_key(&app, DEMO).await;
    let (other_key, _) = publisher_key(&app, OTHER).await;
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{DEMO}"),
        &demo_key,
        Some(json!({"settings": {"default_locale": "en_GB"}})),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = call(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{OTHER}/consents"),
        &other_key,
        Some(json!({"name": "other_terms", "label": "Terms"})),
    )
    .await;
    assert_eq!(status, 200);
    let c = register_in(&app, DEMO, "gone@demo.example", json!({})).await;
    let (status, _) = call(
        &app,
        Method::DELETE,
        &format!("/admin/api/publishers/{DEMO}/customers/{c}"),
        &demo_key,
        None,
    )
    .await;
    assert_eq!(status, 200);
    // A change that changes nothing is not a change.
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{DEMO}"),
        &demo_key,
        Some(json!({"settings": {"default_locale": "en_GB"}})),
    )
    .await;
    assert_eq!(status, 200);

    let all = ok(&app, "/admin/api/audit", OPERATOR).await;
    let actions: Vec<(&str, Option<i64>)> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["publisherId"].as_i64()))
        .collect();
    assert_eq!(
        actions,
        [
            ("customer.erase", Some(100000001)),
            ("consent.publish", Some(200000002)),
            ("publisher.update", Some(100000001)),
            ("key.create", Some(200000002)),
            ("key.create", Some(100000001)),
            ("publisher.create", Some(200000002)),
        ],
        "newest first"
    );
    let update = &all["entries"][2];
    assert_eq!(update["keyId"], demo_key_id);
    assert_eq!(update["actor"], "key of 100000001");
    assert_eq!(
        update["detail"],
        json!({"settings": {"default_locale": "en_GB"}})
    );
    assert!(chrono::DateTime::parse_from_rfc3339(update["at"].as_str().unwrap()).is_ok());
    assert_eq!(all["entries"][0]["detail"], json!({"customerId": c}));
    assert_eq!(all["entries"][1]["detail"]["version"], 1);
    let created = &all["entries"][5];
    assert_eq!(
        (created["actor"].as_str(), created["keyId"].as_i64()),
        (Some("operator (config)"), None)
    );
    assert!(all["entries"][4]["detail"]["keyId"].is_i64());

    // Scopes: a publisher key sees its own lines only; an operator can ask for one publisher.
    let mine = ok(&app, "/admin/api/audit", &demo_key).await;
    let mine: Vec<&str> = mine["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(mine, ["customer.erase", "publisher.update", "key.create"]);
    let other = ok(
        &app,
        &format!("/admin/api/audit?publisherId={OTHER}"),
        OPERATOR,
    )
    .await;
    assert_eq!(other["entries"].as_array().unwrap().len(), 3);
    let own = ok(
        &app,
        &format!("/admin/api/audit?publisherId={DEMO}"),
        &demo_key,
    )
    .await;
    assert_eq!(own["entries"].as_array().unwrap().len(), 3);

    // Keyset pages: every line once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/admin/api/audit?limit=4&cursor={c}"),
            None => "/admin/api/audit?limit=4".to_owned(),
        };
        let page = ok(&app, &path, OPERATOR).await;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_i64().unwrap()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let expected: Vec<i64> = all["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect();
    assert_eq!(seen, expected);
    let (status, _) = call(
        &app,
        Method::GET,
        "/admin/api/audit?cursor=zzz",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 400);
    let (status, _) = call(
        &app,
        Method::GET,
        "/admin/api/audit?limit=0",
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 400);
}
