//! Consent receipts: one signed receipt per change, verifiable offline with the JWKS and a
//! published JWS library, listed for the customer (and only them), in the admin API and the
//! dashboard's data, and named by the `customer.consents_changed` event.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, ok, publisher_key, spawn};
use crate::backend_tests;
use crate::consent_proof::{put, text_hash, verify, with_consents};
use crate::support::{Backend, TestApp, assert_error, json};

backend_tests!(
    each_change_gets_a_receipt_that_verifies_with_the_jwks,
    receipts_are_the_customers_own,
    the_dashboard_lists_and_downloads_receipts,
    imported_answers_are_chained_without_a_receipt,
);

async fn receipts(app: &TestApp, id: &str, jwt: &str) -> reqwest::Response {
    app.authed(
        Method::GET,
        &format!("/customers/{id}/consents/receipts"),
        jwt,
    )
    .send()
    .await
    .unwrap()
}

/// Verifies a compact JWS with the server's JWKS (jsonwebtoken): its payload.
async fn verified(app: &TestApp, jws: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: Value = app
        .get("/.well-known/jwks.json")
        .await
        .json()
        .await
        .unwrap();
    let header = jsonwebtoken::decode_header(jws)?;
    let kid = header.kid.expect("a kid header");
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .expect("the kid is in the JWKS");
    let key = DecodingKey::from_ed_components(jwk["x"].as_str().unwrap())?;
    let mut validation = Validation::new(Algorithm::EdDSA);
    validation.required_spec_claims.clear();
    validation.validate_exp = false;
    Ok(jsonwebtoken::decode::<Value>(jws, &key, &validation)?.claims)
}

/// The JWS with one byte of its payload changed (and still valid base64url).
fn tampered(jws: &str) -> String {
    let parts: Vec<&str> = jws.split('.').collect();
    let mut payload = URL_SAFE_NO_PAD.decode(parts[1]).unwrap();
    let at = payload.windows(8).position(|w| w == b"accepted").unwrap();
    payload[at] = b'A';
    format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(&payload),
        parts[2]
    )
}

async fn each_change_gets_a_receipt_that_verifies_with_the_jwks(backend: Backend) {
    let app = spawn(backend).await;
    let c = with_consents(&app, "receipt@example.com").await;
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "declined"},
                         {"name": "broadcaster_terms", "version": "1", "state": "accepted"}]),
        "r",
    )
    .await;
    let (status, body) = json(receipts(&app, &c.id, &c.jwt).await).await;
    assert_eq!(status, 200, "{body}");
    let list = body["responseData"]["receipts"].as_array().unwrap().clone();
    let points: Vec<&str> = list
        .iter()
        .map(|r| r["collectionPoint"].as_str().unwrap())
        .collect();
    assert_eq!(points, ["consents_update", "registration"], "newest first");

    let newest = verified(&app, list[0]["jws"].as_str().unwrap())
        .await
        .expect("the receipt verifies");
    assert_eq!(newest["consentReceiptID"], list[0]["receiptId"]);
    assert_eq!(
        (
            newest["piiPrincipalId"].as_str(),
            newest["jurisdiction"].as_str()
        ),
        (Some(c.id.as_str()), Some("GB"))
    );
    assert_eq!(newest["piiControllers"][0]["piiControllerId"], DEMO);
    assert_eq!(
        newest["piiControllers"][0]["piiController"],
        "Demo Publisher"
    );
    assert_eq!(newest["policyUrl"], "https://demo.example/terms");
    let purposes = newest["services"][0]["purposes"].as_array().unwrap();
    let terms = purposes
        .iter()
        .find(|p| p["consentName"] == "broadcaster_terms")
        .unwrap();
    assert_eq!(
        (terms["consentVersion"].as_str(), terms["state"].as_str()),
        (Some("1"), Some("accepted"))
    );
    assert_eq!(
        terms["textHash"],
        text_hash(&app, "broadcaster_terms").await
    );
    let marketing = purposes
        .iter()
        .find(|p| p["consentName"] == "broadcaster_marketing")
        .unwrap();
    assert_eq!(marketing["state"], "declined");

    let first = list[1]["jws"].as_str().unwrap();
    assert!(verified(&app, first).await.is_ok());
    assert!(
        verified(&app, &tampered(first)).await.is_err(),
        "one changed byte fails verification"
    );

    // The admin API lists the same receipts and serves one as a file.
    let admin = ok(
        &app,
        &format!("/admin/api/publishers/{DEMO}/customers/{}/receipts", c.id),
        OPERATOR,
    )
    .await;
    assert_eq!(admin["receipts"][0]["jws"], list[0]["jws"]);
    let id = list[0]["receiptId"].as_str().unwrap();
    let file = app
        .client
        .get(app.url(&format!("/admin/api/publishers/{DEMO}/receipts/{id}")))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(file.status(), 200);
    assert_eq!(file.headers()["content-type"], "application/jose");
    assert_eq!(file.text().await.unwrap(), list[0]["jws"].as_str().unwrap());

    // The event of the change names its receipt and the texts answered.
    let event: Value = serde_json::from_str(&app.db.text(&format!(
        "SELECT body FROM events WHERE type = 'customer.consents_changed' AND customer_id = {}", c.id)).await).unwrap();
    assert_eq!(event["data"]["receiptId"].as_str(), Some(id), "{event}");
    let changed = &event["data"]["consents"][0];
    assert_eq!(changed["name"], "broadcaster_marketing");
    assert_eq!(
        changed["textHash"],
        text_hash(&app, "broadcaster_marketing").await
    );
}

async fn receipts_are_the_customers_own(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let mine = with_consents(&app, "mine@example.com").await;
    let theirs = with_consents(&app, "theirs@example.com").await;
    assert_error(receipts(&app, &theirs.id, &mine.jwt).await, 403, "AUTH0004").await;
    assert_error(
        receipts(&app, &mine.id, "not-a-token").await,
        401,
        "AUTH0002",
    )
    .await;
    let (status, body) = json(receipts(&app, &mine.id, &mine.jwt).await).await;
    assert_eq!(
        (
            status,
            body["responseData"]["receipts"].as_array().map(Vec::len)
        ),
        (200, Some(1)),
        "{body}"
    );
    let id = body["responseData"]["receipts"][0]["receiptId"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another publisher's key reaches neither the list nor the receipt.
    let (key, _) = publisher_key(&app, OTHER).await;
    let (status, _) = call(
        &app,
        Method::GET,
        &format!(
            "/admin/api/publishers/{DEMO}/customers/{}/receipts",
            mine.id
        ),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/admin/api/publishers/{OTHER}/receipts/{id}"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 404);
}

async fn the_dashboard_lists_and_downloads_receipts(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let c = with_consents(&app, "dash-receipt@example.com").await;
    put(
        &app,
        &c,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "declined"}]),
        "d",
    )
    .await;
    let (_, body) = json(receipts(&app, &c.id, &c.jwt).await).await;
    let listed = body["responseData"]["receipts"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 2, "{body}");

    let admin = crate::dashboard::Admin::sign_in(&app, OPERATOR).await;
    let (status, page) = admin
        .get(&format!("/admin/customers/{}?publisher={DEMO}", c.id))
        .await;
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Consent receipts"), "{page}");
    for r in &listed {
        let rid = r["receiptId"].as_str().unwrap();
        let link = format!("/admin/customers/{}/receipts/{rid}?publisher={DEMO}", c.id);
        assert!(page.contains(&link), "{link} on {page}");
        let (status, file) = admin.get(&link).await;
        assert_eq!(
            (status, file.as_str()),
            (reqwest::StatusCode::OK, r["jws"].as_str().unwrap())
        );
    }

    // Another publisher's session reaches neither the page nor a receipt.
    let (key, _) = publisher_key(&app, OTHER).await;
    let other = crate::dashboard::Admin::sign_in(&app, &key).await;
    let rid = listed[0]["receiptId"].as_str().unwrap();
    let (status, file) = other
        .get(&format!(
            "/admin/customers/{}/receipts/{rid}?publisher={DEMO}",
            c.id
        ))
        .await;
    assert_ne!(status, 200, "{file}");
    assert!(!file.contains(listed[0]["jws"].as_str().unwrap()));
    let (status, file) = other
        .get(&format!("/admin/customers/{}/receipts/{rid}", c.id))
        .await;
    assert_ne!(status, 200, "{file}");
}

/// An import brings answers the publisher's old system collected: they join the customer's
/// chain, marked imported, with no receipt (Enroll did not collect them); the customer's next
/// change through Enroll gets one, chained after them.
async fn imported_answers_are_chained_without_a_receipt(backend: Backend) {
    let app = spawn(backend).await;
    let hash = crate::import::fixtures()
        .into_iter()
        .find(|(name, _)| name == "argon2id")
        .unwrap()
        .1;
    let rows = crate::import::jsonl(&[crate::import::row(
        "imported-proof@example.com",
        json!({"passwordHash": hash, "country": "GB", "consents": [
            {"name": "terms", "version": 1, "state": "accepted", "date": "2020-01-02T03:04:05Z"},
            {"name": "broadcaster_terms", "version": 1, "state": "accepted"}]}),
    )]);
    let report =
        crate::import::import(&app, DEMO, OPERATOR, "insert", "application/x-ndjson", rows).await;
    assert_eq!(
        (report["state"].as_str(), report["inserted"].as_i64()),
        (Some("done"), Some(1)),
        "{report}"
    );
    let r = crate::login::login(&app, "imported-proof@example.com", "Legacy-pass 42!").await;
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let c = crate::support::Customer::from_session(&body["responseData"]);

    let (status, body) = json(receipts(&app, &c.id, &c.jwt).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"]["receipts"], json!([]), "{body}");
    let entries = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {} AND imported \
             AND collection_point = 'import' AND receipt_id IS NULL AND entry_hash IS NOT NULL",
            c.id
        ))
        .await;
    assert_eq!(entries, 2);

    put(
        &app,
        &c,
        json!([{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]),
        "after-import",
    )
    .await;
    let (_, body) = json(receipts(&app, &c.id, &c.jwt).await).await;
    let list = body["responseData"]["receipts"].as_array().unwrap().clone();
    assert_eq!(list.len(), 1, "{body}");
    let payload = verified(&app, list[0]["jws"].as_str().unwrap())
        .await
        .expect("the receipt verifies");
    let purposes = payload["services"][0]["purposes"].as_array().unwrap();
    assert_eq!(purposes.len(), 1, "{payload}");
    assert_eq!(purposes[0]["consentName"], "broadcaster_marketing");

    // The chain runs through the imported entries and the new one.
    let (status, body) = verify(&app, OPERATOR, Some(&c.id)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["responseData"]["ok"].as_bool(),
            body["responseData"]["entries"].as_u64()
        ),
        (Some(true), Some(3)),
        "{body}"
    );
}
