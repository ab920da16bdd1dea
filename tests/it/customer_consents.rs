//! `GET`/`PUT /customers/{id}/consents`: answers, history, and `needsUpdate` across versions.

use enroll::domain::ConsentOwner;
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::consents::{demo, draft};
use crate::support::{Backend, CACHE_WAIT, Customer, TestApp, assert_error, json};

backend_tests!(
    never_answered_consents_need_an_update,
    answers_are_recorded_and_history_is_append_only,
    a_new_version_asks_every_customer_again,
    unknown_consents_and_versions,
);

async fn get(app: &TestApp, c: &Customer) -> Vec<Value> {
    let r = app
        .authed(
            Method::GET,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    body["responseData"]["consents"].as_array().unwrap().clone()
}

async fn put(app: &TestApp, c: &Customer, consents: Value) -> reqwest::Response {
    app.authed(
        Method::PUT,
        &format!("/customers/{}/consents", c.id),
        &c.jwt,
    )
    .header("user-agent", "enroll-tests/1")
    .json(&json!({ "consents": consents }))
    .send()
    .await
    .unwrap()
}

fn find<'a>(consents: &'a [Value], name: &str) -> &'a Value {
    consents.iter().find(|c| c["name"] == name).unwrap()
}

fn accept_all(version: &str) -> Value {
    json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": version, "state": "accepted"},
        {"name": "broadcaster_marketing", "version": "1", "state": "declined", "id": 7, "value": "ignored"}
    ])
}

async fn never_answered_consents_need_an_update(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("n@example.com").await;
    let consents = get(&app, &c).await;
    assert_eq!(consents.len(), 3);
    for consent in &consents {
        assert_eq!(consent["customerId"], c.id.as_str());
        assert_eq!(
            (consent["state"].as_str(), consent["version"].as_str()),
            (Some("declined"), Some(""))
        );
        assert_eq!(consent["needsUpdate"], true);
        assert!(consent["date"].is_null());
        assert_eq!(consent["newestVersion"], "1");
    }
    assert_eq!(find(&consents, "broadcaster_terms")["required"], true);
    assert!(
        find(&consents, "broadcaster_terms")["label"]
            .as_str()
            .unwrap()
            .contains("Terms")
    );
}

async fn answers_are_recorded_and_history_is_append_only(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("h@example.com").await;
    let (status, body) = json(put(&app, &c, accept_all("1")).await).await;
    assert_eq!(status, 200, "{body}");
    let consents = body["responseData"]["consents"].as_array().unwrap().clone();
    let terms = find(&consents, "broadcaster_terms");
    assert_eq!(
        (
            terms["state"].as_str(),
            terms["version"].as_str(),
            terms["needsUpdate"].as_bool()
        ),
        (Some("accepted"), Some("1"), Some(false))
    );
    assert!(terms["date"].as_i64().unwrap() > 1_700_000_000);
    assert_eq!(
        find(&consents, "broadcaster_marketing")["needsUpdate"],
        false,
        "a declined answer is an answer"
    );
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]),
    )
    .await;
    let consents = get(&app, &c).await;
    assert_eq!(
        find(&consents, "broadcaster_marketing")["state"],
        "accepted"
    );
    let db = &app.db;
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {}",
            c.id
        ))
        .await,
        4
    );
    assert_eq!(
        db.scalar(&format!("SELECT COUNT(*) FROM customer_consents WHERE customer_id = {} AND user_agent = 'enroll-tests/1' AND ip = '127.0.0.1'", c.id)).await,
        4
    );
    assert_eq!(
        db.scalar(&format!("SELECT COUNT(*) FROM customer_consents WHERE customer_id = {} AND name = 'broadcaster_marketing' AND state = 'declined'", c.id)).await,
        1,
        "the earlier answer is kept"
    );
}

async fn a_new_version_asks_every_customer_again(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("v@example.com").await;
    put(&app, &c, accept_all("1")).await;
    let owner = ConsentOwner::Publisher(demo());
    app.store
        .publish_consent(owner, &draft("broadcaster_terms", "New terms", true))
        .await
        .unwrap();
    // Answering the new version at once works even before this replica's cache has it.
    let d = app.signed_up("w@example.com").await;
    let (status, body) = json(put(&app, &d, accept_all("2")).await).await;
    assert_eq!(status, 200, "{body}");
    let consents = body["responseData"]["consents"].as_array().unwrap().clone();
    let terms = find(&consents, "broadcaster_terms");
    assert_eq!(
        (
            terms["version"].as_str(),
            terms["newestVersion"].as_str(),
            terms["needsUpdate"].as_bool()
        ),
        (Some("2"), Some("2"), Some(false)),
        "the answer is judged against the newest version, not a stale cache"
    );

    tokio::time::sleep(CACHE_WAIT).await;
    let consents = get(&app, &c).await;
    let terms = find(&consents, "broadcaster_terms");
    assert_eq!(
        (
            terms["version"].as_str(),
            terms["newestVersion"].as_str(),
            terms["needsUpdate"].as_bool()
        ),
        (Some("1"), Some("2"), Some(true))
    );
    assert_eq!(terms["label"], "New terms");
    assert_eq!(find(&consents, "terms")["needsUpdate"], false);
    // An older version is still accepted, and still needs an update.
    put(&app, &c, accept_all("1")).await;
    assert_eq!(
        find(&get(&app, &c).await, "broadcaster_terms")["needsUpdate"],
        true
    );
    put(&app, &c, accept_all("2")).await;
    let terms = find(&get(&app, &c).await, "broadcaster_terms").clone();
    assert_eq!(
        (terms["version"].as_str(), terms["needsUpdate"].as_bool()),
        (Some("2"), Some(false))
    );
}

async fn unknown_consents_and_versions(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("u@example.com").await;
    let body = assert_error(
        put(
            &app,
            &c,
            json!([{"name": "nope", "version": "1", "state": "accepted"}]),
        )
        .await,
        404,
        "CON0001",
    )
    .await;
    assert_eq!(body["message"], "Unknown consent nope");
    let body = assert_error(
        put(
            &app,
            &c,
            json!([{"name": "terms", "version": "9", "state": "accepted"}]),
        )
        .await,
        400,
        "CON0002",
    )
    .await;
    assert_eq!(body["message"], "Unknown version 9 of consent terms");
    assert_error(
        put(
            &app,
            &c,
            json!([{"name": "terms", "version": "1", "state": "maybe"}]),
        )
        .await,
        400,
        "REQ0001",
    )
    .await;
    let r = app
        .authed(
            Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "REQ0001").await;
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customer_consents")
            .await,
        0,
        "nothing recorded"
    );
}
