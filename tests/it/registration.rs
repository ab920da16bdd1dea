//! `POST /customers`: validation, uniqueness under races, consents at sign-up, what is stored.

use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, TestApp, assert_error, json, registration};

backend_tests!(
    registration_returns_a_session,
    every_failing_field_is_reported_at_once,
    unknown_offers_and_publishers_are_404,
    locales_output_is_accepted,
    fifty_concurrent_registrations_make_one_customer,
    look_alike_emails_never_make_a_second_account,
    email_uniqueness_is_per_publisher,
    consents_are_stored_with_the_customer_or_nothing_is,
    consents_can_be_mandatory_per_publisher,
    external_data_and_external_id,
    what_is_stored,
);

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.db.scalar(sql).await
}

async fn registration_returns_a_session(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let r = app.register(&registration("alice@example.com")).await;
    assert!(r.headers().contains_key("x-request-id"));
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body.get("code").is_none(),
        "the SDK takes a body without code for a success"
    );
    let data = &body["responseData"];
    let id = data["customerId"].as_i64().unwrap();
    assert!((100_000_000..=999_999_999).contains(&id));
    assert!(
        data["refreshToken"].as_str().unwrap().len() >= 22,
        "≥ 128 bits"
    );
    let jwt = data["jwt"].as_str().unwrap();
    let header: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "EdDSA");
    let claims: serde_json::Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            jwt.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["customerId"], id.to_string());
    assert_eq!(claims["publisherId"], "100000001");
    assert_eq!(claims["iss"], "enroll");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        900
    );
    assert!(claims["jti"].is_string());
    let (_, jwks) = json(app.get("/.well-known/jwks.json").await).await;
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"])
    );
    let (status, body) = json(app.get(&format!("/customers/{id}/capture/status")).await).await;
    assert_eq!((status, body["code"].as_str()), (401, Some("AUTH0001")));
}

async fn every_failing_field_is_reported_at_once(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = json!({"email": "not-an-email", "password": "short", "offerId": "S100000001_US",
                      "locale": "", "country": "UK", "currency": "XYZ", "lastName": "x".repeat(51)});
    let body = assert_error(app.register(&body).await, 400, "REQ0001").await;
    let fields: Vec<_> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "email", "password", "locale", "country", "currency", "lastName"
        ]
    );
    assert_eq!(
        body["errors"][0],
        "Invalid param email. Please enter a valid e-mail address."
    );
    assert!(
        body["errors"][1]
            .as_str()
            .unwrap()
            .starts_with("Invalid param password. ")
    );
    assert_eq!(body["errors"][2], "Invalid param locale");
    assert_eq!(body["details"][2]["reason"], "Missing");
    assert_eq!(body["details"][5]["reason"], "TooLong");
    // Empty strings mean "not given", as the Cleeng SDK sends them.
    let mut sdk = registration("sdk@example.com");
    sdk["captchaValue"] = json!("");
    sdk["consents"] = json!("");
    sdk["firstName"] = json!("");
    sdk["externalData"] = json!(null);
    assert_eq!(app.register(&sdk).await.status(), 200);
    for nul in [
        json!({"firstName": "a\u{0}b"}),
        json!({"email": "nul\u{0}@example.com"}),
    ] {
        let mut b = registration("nul@example.com");
        for (k, v) in nul.as_object().unwrap() {
            b[k] = v.clone();
        }
        assert_error(app.register(&b).await, 400, "REQ0001").await;
    }
    let r = app
        .client
        .post(app.url("/customers"))
        .header("content-type", "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "REQ0001").await;
    let r = app
        .client
        .post(app.url("/customers"))
        .body(registration("x@example.com").to_string())
        .send()
        .await
        .unwrap();
    assert_error(r, 415, "REQ0007").await;
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers").await, 1);
}

async fn unknown_offers_and_publishers_are_404(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut b = registration("a@example.com");
    b["offerId"] = json!("S999999999_US");
    let body = assert_error(app.register(&b).await, 404, "REQ0003").await;
    assert_eq!(body["message"], "Invalid param offerId");
    let mut b = registration("a@example.com");
    b.as_object_mut().unwrap().remove("offerId");
    b["publisherId"] = json!("999999999");
    let body = assert_error(app.register(&b).await, 404, "REQ0003").await;
    assert_eq!(body["message"], "Invalid param publisherId");
    b["publisherId"] = json!(100000001);
    assert_eq!(
        app.register(&b).await.status(),
        200,
        "a numeric publisherId"
    );
}

async fn locales_output_is_accepted(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for (i, ip) in [
        "81.2.69.142",
        "130.59.1.1",
        "193.190.1.1",
        "133.11.1.1",
        "200.130.1.1",
        "10.0.0.1",
    ]
    .iter()
    .enumerate()
    {
        let (_, locales) = json(app.locales(ip).await).await;
        let d = &locales["responseData"];
        let mut b = registration(&format!("geo{i}@example.com"));
        b["locale"] = d["locale"].clone();
        b["country"] = d["country"].clone();
        b["currency"] = d["currency"].clone();
        let (status, body) = json(app.register(&b).await).await;
        assert_eq!(status, 200, "{ip}: {body}");
    }
}

async fn fifty_concurrent_registrations_make_one_customer(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let body = registration("race@example.com");
    let requests: Vec<_> = (0..50).map(|_| app.register(&body)).collect();
    let mut statuses: Vec<u16> = Vec::new();
    for r in futures_util::future::join_all(requests).await {
        let (status, body) = json(r).await;
        if status != 200 {
            assert_eq!(
                (status, body["code"].as_str()),
                (422, Some("USER0002")),
                "{body}"
            );
        }
        statuses.push(status);
    }
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 1);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers").await, 1);
}

async fn look_alike_emails_never_make_a_second_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("alice.fine@example.com").await;
    for look_alike in [
        "Alice.Fine@Example.com",
        "ＡＬＩＣＥ.fine@example.com",
        "alice.ﬁne@example.com",
        " alice.fine@EXAMPLE.com ",
    ] {
        let body = assert_error(
            app.register(&registration(look_alike)).await,
            422,
            "USER0002",
        )
        .await;
        assert_eq!(body["message"], "Customer already exists.", "{look_alike}");
        assert_eq!(body["details"][0]["field"], "email");
    }
    assert_eq!(count(&app, "SELECT COUNT(*) FROM customers").await, 1);
}

async fn email_uniqueness_is_per_publisher(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    app.store
        .create_publisher(other, "Other", &Default::default(), &[])
        .await
        .unwrap();
    app.signed_up("bob@example.com").await;
    let mut b = registration("bob@example.com");
    b.as_object_mut().unwrap().remove("offerId");
    b["publisherId"] = json!("200000002");
    let (status, _) = json(app.register(&b).await).await;
    assert_eq!(status, 200);
}

async fn consents_are_stored_with_the_customer_or_nothing_is(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut b = registration("c@example.com");
    b["consents"] = json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "declined"}
    ]);
    let body = assert_error(app.register(&b).await, 400, "REQ0001").await;
    assert_eq!(body["details"][0]["reason"], "NotAccepted");
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("broadcaster_terms")
    );
    b["consents"] = json!([{"name": "terms", "version": "1", "state": "accepted"}]);
    assert_error(app.register(&b).await, 400, "REQ0001").await;
    b["consents"] = json!([]);
    let body = assert_error(app.register(&b).await, 400, "REQ0001").await;
    assert_eq!(
        body["details"].as_array().unwrap().len(),
        2,
        "every required consent not accepted is reported"
    );
    assert_eq!(
        body["errors"].as_array().unwrap().len(),
        1,
        "one message per field"
    );
    // A declined required consent cannot hide behind an accepted duplicate.
    b["consents"] = json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "declined"}
    ]);
    assert_error(app.register(&b).await, 400, "REQ0001").await;
    b["consents"] = json!([{"name": "nope", "version": "1", "state": "accepted"}]);
    let body = assert_error(app.register(&b).await, 404, "CON0001").await;
    assert_eq!(body["message"], "Unknown consent nope");
    b["consents"] = json!([{"name": "terms", "version": "7", "state": "accepted"}]);
    let body = assert_error(app.register(&b).await, 400, "CON0002").await;
    assert_eq!(body["message"], "Unknown version 7 of consent terms");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM customers").await,
        0,
        "nothing stored"
    );
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM customer_consents").await,
        0
    );

    b["consents"] = json!([
        {"name": "terms", "version": 1, "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted", "id": "x", "value": "tolerated"},
        {"name": "broadcaster_marketing", "version": "1", "state": "declined"}
    ]);
    let (status, body) = json(app.register(&b).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM customer_consents").await,
        3
    );
}

async fn consents_can_be_mandatory_per_publisher(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge((
            "publishers",
            json!([{"id": 100000001, "name": "Demo", "offers": ["S100000001_US"],
            "settings": {"require_consents_at_registration": true},
            "consents": [{"name": "broadcaster_terms", "label": "Terms", "required": true}]}]),
        ))
    })
    .await;
    let body = assert_error(
        app.register(&registration("m@example.com")).await,
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(
        (
            body["details"][0]["field"].as_str(),
            body["details"][0]["reason"].as_str()
        ),
        (Some("consents"), Some("Missing"))
    );
    let mut b = registration("m@example.com");
    b["consents"] = json!([{"name": "terms", "version": "1", "state": "accepted"},
                          {"name": "broadcaster_terms", "version": "1", "state": "accepted"}]);
    assert_eq!(app.register(&b).await.status(), 200);
}

async fn external_data_and_external_id(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut b = registration("d@example.com");
    b["externalData"] = json!({"big": "x".repeat(4000)});
    let body = assert_error(app.register(&b).await, 400, "REQ0001").await;
    assert_eq!(
        (
            body["details"][0]["field"].as_str(),
            body["details"][0]["reason"].as_str()
        ),
        (Some("externalData"), Some("TooLong"))
    );
    b["externalData"] = json!("{\"plan\":\"gold\"}");
    b["externalId"] = json!("ext-1");
    b["customerIP"] = json!("81.2.69.142");
    b["firstName"] = json!("Dee");
    let (status, body) = json(app.register(&b).await).await;
    assert_eq!(status, 200);
    let c = crate::support::Customer::from_session(&body["responseData"]);
    let me = app.me(&c).await;
    assert_eq!(me["externalData"], json!({"plan": "gold"}));
    assert_eq!(me["externalId"], "ext-1");
    assert_eq!(me["lastUserIp"], "81.2.69.142");
    assert_eq!(me["firstName"], "Dee");
    let mut again = registration("e@example.com");
    again["externalId"] = json!("ext-1");
    let body = assert_error(app.register(&again).await, 422, "USER0004").await;
    assert_eq!(body["message"], "Customer external id already exists");
    assert_eq!(body["details"][0]["field"], "externalId");
}

async fn what_is_stored(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("Stored@Example.com").await;
    let db = &app.db;
    let hash = db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {}",
            c.id
        ))
        .await;
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert_eq!(
        db.text(&format!("SELECT email FROM customers WHERE id = {}", c.id))
            .await,
        "Stored@Example.com"
    );
    assert_eq!(
        db.text(&format!(
            "SELECT email_key FROM customers WHERE id = {}",
            c.id
        ))
        .await,
        "stored@example.com"
    );
    let stored = db
        .text(&format!(
            "SELECT hash FROM refresh_tokens WHERE customer_id = {}",
            c.id
        ))
        .await;
    assert_ne!(stored, c.refresh, "refresh tokens are stored hashed");
    assert_eq!(stored, enroll::auth::tokens::token_hash(&c.refresh));
    let ids: std::collections::HashSet<String> = futures_util::future::join_all(
        (0..5).map(|i| app.signed_up_owned(format!("n{i}@example.com"))),
    )
    .await
    .into_iter()
    .map(|c| c.id)
    .collect();
    assert_eq!(ids.len(), 5);
}
