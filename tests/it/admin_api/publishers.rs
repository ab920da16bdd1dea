//! Publishers through the admin API: operators create, read, list and change them; settings
//! are validated, the captcha secret never shown, and origins are operators' only.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, assert_error, json};

use super::{
    DEMO, OPERATOR, OTHER, call, create_publisher, ok, publisher_key, register_in, request, spawn,
};

backend_tests!(
    operators_create_read_list_and_update_publishers,
    settings_are_validated_and_the_captcha_secret_never_shown,
    publisher_keys_cannot_create_or_edit_origins,
);

async fn operators_create_read_list_and_update_publishers(backend: Backend) {
    let app = spawn(backend).await;
    let created = create_publisher(&app, OTHER).await;
    assert_eq!(created["id"], 200000002);
    assert_eq!(created["name"], "Publisher 200000002");
    assert_eq!(created["offers"], json!(["S200000002_US"]));
    assert_eq!(created["settings"]["cors_origins"], json!([]));
    // The running server sees it at once: its consents and its offer.
    let (status, _) = json(app.consents(OTHER).await).await;
    assert_eq!(status, 200);
    register_in(
        &app,
        OTHER,
        "first@other.example",
        json!({"publisherId": null, "offerId": "S200000002_US"}),
    )
    .await;

    let (status, body) = call(
        &app,
        Method::POST,
        "/admin/api/publishers",
        OPERATOR,
        Some(json!({"id": OTHER, "name": "Again"})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["reason"], "AlreadyExists");
    let (status, body) = call(
        &app,
        Method::POST,
        "/admin/api/publishers",
        OPERATOR,
        Some(json!({"id": "12", "name": ""})),
    )
    .await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["id", "name"], "every failing field at once");

    let list = ok(&app, "/admin/api/publishers", OPERATOR).await;
    let ids: Vec<i64> = list["publishers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [100000001, 200000002]);

    let (status, body) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{OTHER}"),
        OPERATOR,
        Some(json!({"name": "Other Media", "settings": {
            "default_locale": "nl_NL", "default_currency": "EUR",
            "supported_locales": ["nl_NL", "en_GB"], "supported_currencies": ["EUR"],
            "cors_origins": ["https://app.other.example"],
            "reset_url_origins": ["https://app.other.example"],
            "require_consents_at_registration": true
        }})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let p = ok(&app, &format!("/admin/api/publishers/{OTHER}"), OPERATOR).await;
    assert_eq!(p["name"], "Other Media");
    assert_eq!(p["settings"]["default_locale"], "nl_NL");
    assert_eq!(p["settings"]["supported_currencies"], json!(["EUR"]));
    assert_eq!(p["settings"]["require_consents_at_registration"], true);
    // Untouched settings stay.
    let (status, _) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{OTHER}"),
        OPERATOR,
        Some(json!({"settings": {"default_currency": "USD"}})),
    )
    .await;
    assert_eq!(status, 200);
    let p = ok(&app, &format!("/admin/api/publishers/{OTHER}"), OPERATOR).await;
    assert_eq!(p["settings"]["default_locale"], "nl_NL");
    assert_eq!(p["settings"]["default_currency"], "USD");

    // The new CORS origin works at once on this server.
    let r = app
        .client
        .request(Method::OPTIONS, app.url("/locales"))
        .header("origin", "https://app.other.example")
        .header("access-control-request-method", "GET")
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()
            .get("access-control-allow-origin")
            .map(|v| v.to_str().unwrap()),
        Some("https://app.other.example")
    );
    // And the stored settings are what the public API uses.
    let (status, body) = json(
        app.register(&json!({"email": "x@other.example", "password": "secret123",
            "publisherId": OTHER, "locale": "nl_NL", "country": "NL", "currency": "EUR"}))
            .await,
    )
    .await;
    assert_eq!(
        status, 400,
        "consents are now required at registration: {body}"
    );
}

async fn settings_are_validated_and_the_captcha_secret_never_shown(backend: Backend) {
    let app = spawn(backend).await;
    let path = format!("/admin/api/publishers/{DEMO}");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"cors_origins": ["https://a.example/path"], "colour": "red", "default_locale": "xx"}})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("REQ0001")),
        "{body}"
    );
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"settings.colour") && fields.contains(&"settings.default_locale"),
        "{fields:?}"
    );
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"cors_origins": ["https://a.example/path"]}})),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["details"][0]["field"], "settings.cors_origins");

    let secret = "captcha-secret-never-shown";
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"captcha": {"provider": "turnstile", "secret": secret, "routes": ["login"]}}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(secret));
    assert!(
        body["responseData"]["settings"]["captcha"]
            .get("secret")
            .is_none()
    );
    assert_eq!(
        body["responseData"]["settings"]["captcha"]["provider"],
        "turnstile"
    );
    // A captcha block without the secret keeps the stored one while it goes to the same place.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"captcha": {"provider": "turnstile", "routes": ["registration"], "secret": ""}}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let stored = app
        .store
        .publisher(enroll::domain::PublisherId::parse(DEMO).unwrap())
        .await
        .unwrap()
        .unwrap();
    let captcha = stored.settings.captcha.unwrap();
    assert_eq!((captcha.routes.len(), captcha.secret.as_str()), (1, secret));
    for path in ["/admin/api/publishers", "/admin/api/audit"] {
        let (_, body) = call(&app, Method::GET, path, OPERATOR, None).await;
        assert!(
            !body.to_string().contains(secret),
            "{path} never shows the secret"
        );
    }
    // Without a stored captcha, a block without a secret is refused.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"captcha": null}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        OPERATOR,
        Some(json!({"settings": {"captcha": {"provider": "turnstile"}}})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["details"][0]["field"], "settings.captcha");
}

async fn publisher_keys_cannot_create_or_edit_origins(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let path = format!("/admin/api/publishers/{DEMO}");
    let attempts = [
        (
            Method::POST,
            "/admin/api/publishers".to_owned(),
            Some(json!({"id": OTHER, "name": "x"})),
        ),
        (
            Method::POST,
            "/admin/api/keys".to_owned(),
            Some(json!({"publisherId": DEMO})),
        ),
        (Method::GET, "/admin/api/keys".to_owned(), None),
        (Method::POST, "/admin/api/keys/1/revoke".to_owned(), None),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"settings": {"cors_origins": ["https://evil.example"]}})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"settings": {"reset_url_origins": ["https://evil.example"]}})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"settings": {"reset_url_default": "https://evil.example/r"}})),
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"settings": {"confirm_url_default": "https://evil.example/c"}})),
        ),
    ];
    for (method, p, body) in attempts {
        let mut r = request(&app, method.clone(), &p, &key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        assert_error(r.send().await.unwrap(), 403, "AUTH0004").await;
    }
    let p = ok(&app, &path, &key).await;
    assert_eq!(
        p["settings"]["cors_origins"],
        json!(["http://localhost:3000"]),
        "nothing changed"
    );
    assert_eq!(
        ok(&app, "/admin/api/publishers", OPERATOR).await["publishers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Its own non-origin settings it may change, and sending the origins unchanged is fine.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &path,
        &key,
        Some(json!({"name": "Demo renamed", "settings": {
            "require_consents_at_registration": true, "default_locale": "en_GB",
            "cors_origins": ["http://localhost:3000"]}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"]["name"], "Demo renamed");
    assert_eq!(
        body["responseData"]["settings"]["require_consents_at_registration"],
        true
    );
}
