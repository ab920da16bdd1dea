//! `/admin/api/publishers/{id}/webhooks`: create (the secret once), list, read, update,
//! disable, rotate, delete; publisher keys reach only their own publisher's endpoints.

use base64::Engine;
use reqwest::Method;
use serde_json::json;

use super::spawn;
use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, publisher_key};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    endpoints_are_managed_and_the_secret_is_shown_once,
    publisher_keys_reach_only_their_own_endpoints,
);

async fn endpoints_are_managed_and_the_secret_is_shown_once(backend: Backend) {
    let app = spawn(backend).await;
    let base = format!("/admin/api/publishers/{DEMO}/webhooks");
    let (status, body) = call(
        &app,
        Method::POST,
        &base,
        OPERATOR,
        Some(json!({"url": "https://crm.example/hooks", "eventTypes": ["customer.registered", "customer.erased"],
                    "description": "CRM"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let created = &body["responseData"];
    let secret = created["secret"].as_str().unwrap();
    let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    assert!((24..=64).contains(&bytes.len()), "{} bytes", bytes.len());
    assert_eq!(created["format"], "standard");
    assert_eq!(created["enabled"], true);
    assert_eq!(
        created["eventTypes"],
        json!(["customer.registered", "customer.erased"])
    );
    let id = created["id"].as_i64().unwrap();
    let one = format!("{base}/{id}");

    // Never shown again: not in the list, not in the endpoint, not in the audit trail.
    let (_, list) = call(&app, Method::GET, &base, OPERATOR, None).await;
    assert_eq!(
        list["responseData"]["webhooks"].as_array().unwrap().len(),
        1
    );
    let (status, got) = call(&app, Method::GET, &one, OPERATOR, None).await;
    assert_eq!(status, 200);
    assert_eq!(got["responseData"]["description"], "CRM");
    let (_, audit) = call(&app, Method::GET, "/admin/api/audit", OPERATOR, None).await;
    for text in [list.to_string(), got.to_string(), audit.to_string()] {
        assert!(!text.contains(raw) && !text.contains("whsec_"), "{text}");
    }
    assert!(audit.to_string().contains("webhook.create"), "{audit}");

    // Bad input, every problem at once.
    let (status, body) = call(
        &app,
        Method::POST,
        &base,
        OPERATOR,
        Some(
            json!({"url": "ftp://x.example/", "eventTypes": ["customer.nothing"], "format": "xml"}),
        ),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["url", "eventTypes", "format"]);
    let (status, body) = call(&app, Method::POST, &base, OPERATOR, Some(json!({}))).await;
    assert_eq!(status, 400, "{body}");

    // Update, disable, enable.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &one,
        OPERATOR,
        Some(json!({"url": "https://crm.example/v2", "eventTypes": ["customer.updated"], "description": null})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let data = &body["responseData"];
    assert_eq!(data["url"], "https://crm.example/v2");
    assert_eq!(data["eventTypes"], json!(["customer.updated"]));
    assert_eq!(data["description"], json!(null));
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{one}/disable"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            body["responseData"]["enabled"].clone(),
            body["responseData"]["disabledReason"].clone()
        ),
        (json!(false), json!("admin"))
    );
    let (_, body) = call(
        &app,
        Method::PATCH,
        &one,
        OPERATOR,
        Some(json!({"enabled": true})),
    )
    .await;
    assert_eq!(body["responseData"]["enabled"], true);
    assert_eq!(body["responseData"]["disabledReason"], json!(null));

    // Rotation answers a new secret, once.
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{one}/rotate-secret"),
        OPERATOR,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rotated = body["responseData"]["secret"].as_str().unwrap();
    assert!(rotated.starts_with("whsec_") && rotated != secret);

    // Delete; then it is gone.
    let (status, _) = call(&app, Method::DELETE, &one, OPERATOR, None).await;
    assert_eq!(status, 200);
    let (status, body) = call(&app, Method::GET, &one, OPERATOR, None).await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = call(&app, Method::DELETE, &one, OPERATOR, None).await;
    assert_eq!(status, 404);
    let (status, _) = call(&app, Method::GET, &format!("{base}/abc"), OPERATOR, None).await;
    assert_eq!(status, 400);
}

async fn publisher_keys_reach_only_their_own_endpoints(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (demo_key, _) = publisher_key(&app, DEMO).await;
    let (other_key, _) = publisher_key(&app, OTHER).await;
    let body = json!({"url": "https://crm.example/hooks", "eventTypes": ["customer.registered"]});
    let (status, created) = call(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/webhooks"),
        &demo_key,
        Some(body.clone()),
    )
    .await;
    assert_eq!(status, 200, "{created}");
    let id = created["responseData"]["id"].as_i64().unwrap();
    // The other publisher's key: 404 for the publisher and for the endpoint, like unknown ones.
    for (method, path) in [
        (
            Method::GET,
            format!("/admin/api/publishers/{DEMO}/webhooks"),
        ),
        (
            Method::POST,
            format!("/admin/api/publishers/{DEMO}/webhooks"),
        ),
        (
            Method::GET,
            format!("/admin/api/publishers/{DEMO}/webhooks/{id}"),
        ),
        (
            Method::DELETE,
            format!("/admin/api/publishers/{DEMO}/webhooks/{id}"),
        ),
        (
            Method::POST,
            format!("/admin/api/publishers/{DEMO}/webhooks/{id}/rotate-secret"),
        ),
        (
            Method::GET,
            format!("/admin/api/publishers/{OTHER}/webhooks/{id}"),
        ),
        (
            Method::POST,
            format!("/admin/api/publishers/{OTHER}/webhooks/{id}/disable"),
        ),
    ] {
        let (status, answer) =
            call(&app, method.clone(), &path, &other_key, Some(body.clone())).await;
        assert_eq!(status, 404, "{method} {path}: {answer}");
    }
    let (status, list) = call(
        &app,
        Method::GET,
        &format!("/admin/api/publishers/{OTHER}/webhooks"),
        &other_key,
        None,
    )
    .await;
    assert_eq!(
        (status, list["responseData"]["webhooks"].clone()),
        (200, json!([]))
    );
    let (status, _) = call(
        &app,
        Method::GET,
        &format!("/admin/api/publishers/{DEMO}/webhooks/{id}"),
        &demo_key,
        None,
    )
    .await;
    assert_eq!(status, 200);
}
