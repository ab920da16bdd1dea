//! Every URL a tenant stores is an http(s) URL when written, and rendered as a link only when
//! it is one: no `javascript:` link in the operator's dashboard.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::admin_api::{DEMO, OPERATOR, call, publisher_key, spawn};
use crate::backend_tests;
use crate::dashboard::Admin;
use crate::support::Backend;

backend_tests!(consent_links_are_http_urls, link_settings_are_http_urls);

const SCRIPTS: [&str; 6] = [
    "javascript:alert(document.cookie)",
    "JavaScript:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
];

async fn consent_links_are_http_urls(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let path = format!("/admin/api/publishers/{DEMO}/consents");
    let before = app.db.scalar("SELECT COUNT(*) FROM consent_versions").await;
    for value in SCRIPTS
        .iter()
        .chain(&["//evil.example/x", "ftp://example.com/terms"])
    {
        let body = json!({"name": "broadcaster_terms", "label": "Terms", "value": value});
        let (status, out) = call(&app, Method::POST, &path, &key, Some(body)).await;
        assert_eq!(
            (status, out["code"].as_str()),
            (400, Some("REQ0001")),
            "{value:?}: {out}"
        );
        assert!(
            out["message"].as_str().unwrap().contains("http(s) URL"),
            "{out}"
        );
    }
    // The dashboard's form refuses it too.
    let admin = Admin::sign_in(&app, OPERATOR).await;
    let (status, page) = admin
        .post(
            &format!("/admin/consents?publisher={DEMO}"),
            &[
                ("name", "broadcaster_terms"),
                ("label", "Terms"),
                ("value", "javascript:alert(1)"),
                ("csrf", admin.csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM consent_versions").await,
        before,
        "nothing published"
    );
    // An http(s) URL is fine, and an empty value.
    for value in ["", "https://demo.example/terms-2"] {
        let body =
            json!({"name": "broadcaster_terms", "label": format!("Terms {value}"), "value": value});
        let (status, out) = call(&app, Method::POST, &path, &key, Some(body)).await;
        assert_eq!(status, 200, "{out}");
    }

    // A value stored before this rule (or written around it) is shown as text, not as a link.
    crate::admin_api::exec(
        &app.db,
        "UPDATE consent_versions SET value = 'javascript:alert(1)' WHERE name = 'broadcaster_marketing'",
    )
    .await;
    let (status, page) = admin
        .get(&format!("/admin/consents?publisher={DEMO}"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("javascript:alert(1)"), "the text is shown");
    assert!(!page.contains("href=\"javascript:"), "but never as a link");
    assert!(
        page.contains("href=\"https://demo.example/terms-2\""),
        "{page}"
    );
}

async fn link_settings_are_http_urls(backend: Backend) {
    let app = spawn(backend).await;
    let path = format!("/admin/api/publishers/{DEMO}");
    for setting in ["reset_url_default", "confirm_url_default"] {
        for value in SCRIPTS {
            let (status, out) = call(
                &app,
                Method::PATCH,
                &path,
                OPERATOR,
                Some(json!({"settings": { setting: value }})),
            )
            .await;
            assert_eq!(status, 400, "{setting} = {value:?}: {out}");
        }
        let (status, out) = call(
            &app,
            Method::PATCH,
            &path,
            OPERATOR,
            Some(json!({"settings": { setting: "https://app.example/reset" }})),
        )
        .await;
        assert_eq!(status, 200, "{out}");
    }
}
