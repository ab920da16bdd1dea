//! The dashboard in headless Chromium (through ChromeDriver): sign in, search a customer, open
//! it, publish a consent version and see `needsUpdate` move; a screenshot of the Customer
//! Accounts page is saved as a test artifact under `target/test-artifacts/`.

use serde_json::json;

use crate::admin_api::{DEMO, OPERATOR, register_in};
use crate::backend_tests;
use crate::support::browser::Browser;
use crate::support::{Backend, TestApp, json, repo};

backend_tests!(dashboard_in_a_real_browser);

async fn needs_update(app: &TestApp, email: &str) -> bool {
    let login = json!({"email": email, "password": "secret123", "publisherId": DEMO});
    let (status, body) = json(
        app.client
            .post(app.url("/auths"))
            .json(&login)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let c = crate::support::Customer::from_session(&body["responseData"]);
    let r = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}/consents", c.id),
            &c.jwt,
        )
        .send()
        .await
        .unwrap();
    let (_, body) = json(r).await;
    body["responseData"]["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_terms")
        .unwrap()["needsUpdate"]
        .as_bool()
        .unwrap()
}

async fn dashboard_in_a_real_browser(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await;
    let answers = json!({"consents": [
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_marketing", "version": "1", "state": "declined"}]});
    let mut ids = Vec::new();
    for (email, first) in [
        ("alice@example.com", "Alice"),
        ("bob@example.com", "Bob"),
        ("carol@example.com", "Carol"),
    ] {
        let mut extra = answers.clone();
        extra["firstName"] = json!(first);
        ids.push(register_in(&app, DEMO, email, extra).await);
    }
    assert!(!needs_update(&app, "alice@example.com").await);

    let browser = Browser::start().await;
    // Sign in.
    browser.goto(&app.url("/admin")).await;
    assert!(browser.url().await.ends_with("/admin/login"));
    browser.type_into("#key", OPERATOR).await;
    browser.click_to_load("#sign-in").await;
    assert!(
        browser.url().await.contains("/admin/customers"),
        "{}",
        browser.url().await
    );
    assert_eq!(browser.count("#customers tbody tr[data-customer]").await, 3);
    assert_eq!(browser.count("#registrations-chart rect").await, 30);
    assert!(browser.text("#customers").await.contains("up to date"));

    // Search a customer and open it.
    browser.type_into("#q", "bob").await;
    browser.click_to_load("#apply").await;
    assert!(
        browser.url().await.contains("q=bob"),
        "{}",
        browser.url().await
    );
    assert_eq!(browser.count("#customers tbody tr[data-customer]").await, 1);
    assert!(browser.text("#customers").await.contains("bob@example.com"));
    browser
        .click_to_load("#customers tbody tr[data-customer] a")
        .await;
    assert_eq!(browser.text("#customer-email").await, "bob@example.com");
    assert!(browser.text("#history").await.contains("broadcaster_terms"));
    assert!(
        browser
            .url()
            .await
            .contains(&format!("/admin/customers/{}", ids[1]))
    );

    // Publish a new version of the publisher's terms.
    browser.goto(&app.url("/admin/consents")).await;
    let version = |text: String| text.trim().to_owned();
    assert_eq!(
        version(
            browser
                .text("tr[data-consent=\"broadcaster_terms\"] .version")
                .await
        ),
        "1"
    );
    browser
        .type_into("#consent-name", "broadcaster_terms")
        .await;
    browser
        .type_into(
            "#consent-label",
            "I accept the new Terms and Conditions of Demo Publisher",
        )
        .await;
    browser
        .type_into("#consent-value", "https://demo.example/terms-v2")
        .await;
    browser.click("#consent-required").await;
    browser.click_to_load("#publish-button").await;
    assert!(
        browser
            .text("#flash")
            .await
            .contains("new version was published")
    );
    assert_eq!(
        version(
            browser
                .text("tr[data-consent=\"broadcaster_terms\"] .version")
                .await
        ),
        "2"
    );

    // Every customer now owes an answer: the table and the customer API say so.
    browser.goto(&app.url("/admin/customers")).await;
    let table = browser.text("#customers").await;
    assert_eq!(
        table.matches("needsUpdate: broadcaster_terms").count(),
        3,
        "{table}"
    );
    tokio::time::sleep(crate::support::CACHE_WAIT).await;
    assert!(needs_update(&app, "alice@example.com").await);
    // Filter on it.
    browser.select("#needs-update", "true").await;
    browser.click_to_load("#apply").await;
    assert_eq!(browser.count("#customers tbody tr[data-customer]").await, 3);

    // The artifact: the Customer Accounts page.
    let png = browser.screenshot().await;
    assert!(png.starts_with(b"\x89PNG"));
    let dir = repo().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    let name = match backend {
        Backend::Sqlite => "customer-accounts-sqlite.png",
        Backend::Postgres => "customer-accounts-postgres.png",
    };
    std::fs::write(dir.join(name), png).unwrap();
    browser.close().await;
}
