//! Proof of consent: versions bound to their text, the tamper-evident history chain and its
//! verification (admin API and CLI), erased customers, concurrent writers, fetched documents.

use axum::Router;
use reqwest::Method;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::net::TcpListener;

use crate::admin_api::{
    DEMO, OPERATOR, OTHER, call, create_publisher, exec, ok, publisher_key, spawn,
};
use crate::backend_tests;
use crate::cli::{enroll, run};
use crate::support::{Backend, CACHE_WAIT, Customer, TestApp, json, registration};

backend_tests!(
    a_changed_label_gives_a_new_hash_bound_to_each_answer,
    an_edited_or_deleted_history_row_breaks_verification,
    an_erased_customer_still_verifies,
    concurrent_updates_keep_one_chain,
    a_document_fetched_or_given_is_part_of_the_hash,
);

/// The `textHash` of a consent in `GET /publishers/{id}/consents`.
pub async fn text_hash(app: &TestApp, name: &str) -> String {
    let (status, body) = json(app.consents(DEMO).await).await;
    assert_eq!(status, 200, "{body}");
    let consents = body["responseData"]["consents"].as_array().unwrap();
    let c = consents.iter().find(|c| c["name"] == name).unwrap();
    c["textHash"].as_str().unwrap().to_owned()
}

/// `PUT /customers/{id}/consents` with a request id; panics unless 200.
pub async fn put(app: &TestApp, c: &Customer, answers: Value, request_id: &str) {
    let r = app
        .authed(
            Method::PUT,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .header("x-request-id", request_id)
        .json(&json!({ "consents": answers }))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
}

/// A customer who accepted everything at sign-up.
pub async fn with_consents(app: &TestApp, email: &str) -> Customer {
    let mut body = registration(email);
    body["consents"] = json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
    ]);
    let (status, out) = json(app.register(&body).await).await;
    assert_eq!(status, 200, "{out}");
    Customer::from_session(&out["responseData"])
}

pub async fn verify(app: &TestApp, key: &str, customer: Option<&str>) -> (u16, Value) {
    let query = customer.map_or(String::new(), |c| format!("?customerId={c}"));
    let path = format!("/admin/api/publishers/{DEMO}/consents/verify{query}");
    call(app, Method::GET, &path, key, None).await
}

async fn cli_verify(app: &TestApp, customer: Option<&str>) -> (bool, String) {
    let mut cmd = enroll(&app.db.url);
    cmd.args(["consent", "verify", "--publisher", DEMO]);
    if let Some(c) = customer {
        cmd.args(["--customer", c]);
    }
    let (ok, out, err) = run(&mut cmd).await;
    (ok, format!("{out}{err}"))
}

async fn publish_label(app: &TestApp, label: &str) {
    let (status, body) = call(
        app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/consents"),
        OPERATOR,
        Some(json!({"name": "broadcaster_terms", "label": label,
                    "value": "https://demo.example/terms", "required": true})),
    )
    .await;
    assert_eq!(
        (status, &body["responseData"]["published"]),
        (200, &json!(true)),
        "{body}"
    );
}

async fn a_changed_label_gives_a_new_hash_bound_to_each_answer(backend: Backend) {
    let app = spawn(backend).await;
    let first = text_hash(&app, "broadcaster_terms").await;
    assert_eq!(first.len(), 64);
    let c = app.signed_up("label@example.com").await;
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_terms", "version": "1", "state": "accepted"}]),
        "req-one",
    )
    .await;
    publish_label(&app, "I accept the new Terms").await;
    tokio::time::sleep(CACHE_WAIT).await;
    let second = text_hash(&app, "broadcaster_terms").await;
    assert_ne!(first, second, "a changed label gives a new hash");
    let listed = ok(
        &app,
        &format!("/admin/api/publishers/{DEMO}/consents"),
        OPERATOR,
    )
    .await;
    let versions = &listed["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_terms")
        .unwrap()["versions"];
    assert_eq!(
        (
            versions[0]["textHash"].as_str(),
            versions[1]["textHash"].as_str()
        ),
        (Some(first.as_str()), Some(second.as_str()))
    );
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_terms", "version": "2", "state": "accepted"}]),
        "req-two",
    )
    .await;
    let joined = if app.db.pg_name().is_some() {
        app.db.text(&format!("SELECT string_agg(text_hash || '|' || collection_point || '|' || route || '|' || request_id, ',' ORDER BY id) FROM customer_consents WHERE customer_id = {} AND name = 'broadcaster_terms'", c.id)).await
    } else {
        app.db.text(&format!("SELECT group_concat(x, ',') FROM (SELECT text_hash || '|' || collection_point || '|' || route || '|' || request_id AS x FROM customer_consents WHERE customer_id = {} AND name = 'broadcaster_terms' ORDER BY id)", c.id)).await
    };
    let route = "PUT /customers/{customerId}/consents";
    assert_eq!(
        joined,
        format!("{first}|consents_update|{route}|req-one,{second}|consents_update|{route}|req-two"),
        "each history entry holds the hash of the version shown when it was answered"
    );
}

/// The id of a customer's `n`-th history entry (0-based, in order).
async fn entry_id(app: &TestApp, c: &Customer, n: i64) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT id FROM customer_consents WHERE customer_id = {} ORDER BY id LIMIT 1 OFFSET {n}",
            c.id
        ))
        .await
}

async fn an_edited_or_deleted_history_row_breaks_verification(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let edited = with_consents(&app, "edited@example.com").await;
    put(
        &app,
        &edited,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]),
        "r1",
    )
    .await;
    put(
        &app,
        &edited,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "declined"}]),
        "r2",
    )
    .await;
    let deleted = with_consents(&app, "deleted@example.com").await;
    put(
        &app,
        &deleted,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]),
        "r3",
    )
    .await;

    let (status, body) = verify(&app, OPERATOR, None).await;
    assert_eq!(status, 200, "{body}");
    let report = &body["responseData"];
    assert_eq!(
        (
            report["ok"].as_bool(),
            report["entries"].as_u64(),
            report["customers"].as_u64()
        ),
        (Some(true), Some(7), Some(2)),
        "{report}"
    );
    let (fine, out) = cli_verify(&app, None).await;
    assert!(fine, "{out}");

    // The publisher key of another publisher does not reach this one.
    let (other_key, _) = publisher_key(&app, OTHER).await;
    let (status, _) = verify(&app, &other_key, None).await;
    assert_eq!(status, 404);
    let (own_key, _) = publisher_key(&app, DEMO).await;
    assert_eq!(verify(&app, &own_key, None).await.0, 200);

    // Someone turns a declined marketing answer into an accepted one.
    let third = entry_id(&app, &edited, 3).await;
    exec(
        &app.db,
        &format!("UPDATE customer_consents SET state = 'accepted' WHERE id = {third}"),
    )
    .await;
    let (_, body) = verify(&app, OPERATOR, None).await;
    let broken = &body["responseData"]["broken"];
    assert_eq!(body["responseData"]["ok"], false);
    assert_eq!(
        (
            broken["customerId"].as_str(),
            broken["entryId"].as_i64(),
            broken["field"].as_str()
        ),
        (Some(edited.id.as_str()), Some(third), Some("entry_hash")),
        "{body}"
    );
    let (fine, out) = cli_verify(&app, Some(&edited.id)).await;
    assert!(!fine, "a broken chain exits non-zero: {out}");
    assert!(
        out.contains(&format!("customer {}, history entry {third}", edited.id)),
        "{out}"
    );
    // The other customer's chain still holds on its own.
    let (_, body) = verify(&app, OPERATOR, Some(&deleted.id)).await;
    assert_eq!(body["responseData"]["ok"], true, "{body}");

    // Deleting an entry breaks the link of the one after it.
    let first = entry_id(&app, &deleted, 0).await;
    let second = entry_id(&app, &deleted, 1).await;
    exec(
        &app.db,
        &format!("DELETE FROM customer_consents WHERE id = {first}"),
    )
    .await;
    let (_, body) = verify(&app, OPERATOR, Some(&deleted.id)).await;
    let broken = &body["responseData"]["broken"];
    assert_eq!(
        (broken["entryId"].as_i64(), broken["field"].as_str()),
        (Some(second), Some("prev_hash")),
        "{body}"
    );
    let (fine, out) = cli_verify(&app, Some(&deleted.id)).await;
    assert!(
        !fine && out.contains(&format!("history entry {second}")),
        "{out}"
    );

    // Deleting the newest entry leaves a chain that holds, but its receipt names the loss.
    let tail = with_consents(&app, "tail@example.com").await;
    let last = entry_id(&app, &tail, 1).await;
    assert_eq!(
        verify(&app, OPERATOR, Some(&tail.id)).await.1["responseData"]["ok"],
        true
    );
    exec(
        &app.db,
        &format!("DELETE FROM customer_consents WHERE id = {last}"),
    )
    .await;
    let (_, body) = verify(&app, OPERATOR, Some(&tail.id)).await;
    let broken = &body["responseData"]["broken"];
    assert_eq!(
        (broken["customerId"].as_str(), broken["field"].as_str()),
        (Some(tail.id.as_str()), Some("receipt")),
        "{body}"
    );
    let (fine, out) = cli_verify(&app, Some(&tail.id)).await;
    assert!(
        !fine && out.contains(&format!("customer {}: receipt", tail.id)),
        "{out}"
    );
}

async fn an_erased_customer_still_verifies(backend: Backend) {
    let app = spawn(backend).await;
    let c = with_consents(&app, "erased@example.com").await;
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]),
        "r",
    )
    .await;
    let path = format!("/admin/api/publishers/{DEMO}/customers/{}", c.id);
    let (status, body) = call(&app, Method::DELETE, &path, OPERATOR, None).await;
    assert_eq!(status, 200, "{body}");
    let ips = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {} AND ip IS NOT NULL",
            c.id
        ))
        .await;
    assert_eq!(ips, 0, "the erasure nulled the addresses");
    let (status, body) = verify(&app, OPERATOR, Some(&c.id)).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            body["responseData"]["ok"].as_bool(),
            body["responseData"]["entries"].as_u64()
        ),
        (Some(true), Some(3)),
        "{body}"
    );
    let (fine, out) = cli_verify(&app, Some(&c.id)).await;
    assert!(fine, "{out}");
}

async fn concurrent_updates_keep_one_chain(backend: Backend) {
    let app = spawn(backend).await;
    let c = app.signed_up("race@example.com").await;
    let puts = (0..8).map(|i| {
        let state = if i % 2 == 0 { "accepted" } else { "declined" };
        put(
            &app,
            &c,
            json!([{"name": "broadcaster_marketing", "version": "1", "state": state},
                             {"name": "terms", "version": "1", "state": "accepted"}]),
            "race",
        )
    });
    futures_util::future::join_all(puts).await;
    let rows = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {}",
            c.id
        ))
        .await;
    let links = app.db.scalar(&format!(
        "SELECT COUNT(DISTINCT COALESCE(prev_hash, '-')) FROM customer_consents WHERE customer_id = {}", c.id)).await;
    assert_eq!(
        (rows, links),
        (16, 16),
        "no two entries chain from the same one"
    );
    let (_, body) = verify(&app, OPERATOR, Some(&c.id)).await;
    assert_eq!(body["responseData"]["ok"], true, "{body}");
}

/// A document server on loopback answering `bytes` to every GET.
async fn document_server(bytes: &'static [u8]) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new().fallback(move || async move { bytes });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/terms.html")
}

async fn a_document_fetched_or_given_is_part_of_the_hash(backend: Backend) {
    const DOC: &[u8] = b"<h1>Terms</h1><p>Version of 2026.</p>";
    let app = spawn(backend).await;
    let url = document_server(DOC).await;
    let path = format!("/admin/api/publishers/{DEMO}/consents");
    let publish = |body: Value| call(&app, Method::POST, &path, OPERATOR, Some(body));
    let (status, body) = publish(
        json!({"name": "doc_terms", "label": "I accept", "value": url, "fetchDocument": true}),
    )
    .await;
    assert_eq!(
        (status, &body["responseData"]["version"]),
        (200, &json!("1")),
        "{body}"
    );
    let listed = ok(
        &app,
        &format!("/admin/api/publishers/{DEMO}/consents"),
        OPERATOR,
    )
    .await;
    let v1 = listed["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "doc_terms")
        .unwrap()["versions"][0]
        .clone();
    assert_eq!(
        v1["documentSha256"],
        hex::encode(Sha256::digest(DOC)),
        "{v1}"
    );
    // The same bytes given directly say the same: nothing new is published.
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(DOC);
    let (_, body) = publish(
        json!({"name": "doc_terms", "label": "I accept", "value": url, "documentBase64": b64}),
    )
    .await;
    assert_eq!(body["responseData"]["published"], false, "{body}");
    // Other bytes behind the same URL and label: a new version with another hash.
    let (_, body) = publish(json!({"name": "doc_terms", "label": "I accept", "value": url, "documentBase64": "b3RoZXI="})).await;
    assert_eq!(body["responseData"]["version"], "2", "{body}");
    tokio::time::sleep(CACHE_WAIT).await;
    assert_ne!(
        text_hash(&app, "doc_terms").await,
        v1["textHash"].as_str().unwrap()
    );
    // A document the outbound policy refuses is never fetched.
    let refused = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR))
            .merge(("server.outbound_allow", Vec::<String>::new()))
    })
    .await;
    let (status, body) = call(
        &refused,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/consents"),
        OPERATOR,
        Some(
            json!({"name": "doc_terms", "label": "I accept", "value": url, "fetchDocument": true}),
        ),
    )
    .await;
    assert_eq!(
        (status, body["details"][0]["field"].as_str()),
        (400, Some("value")),
        "{body}"
    );
}
