//! `GET /publishers/{publisherId}/consents`.

use enroll::domain::{ConsentDraft, ConsentName, ConsentOwner, PublisherId};

use crate::backend_tests;
use crate::support::{Backend, CACHE_WAIT, TestApp, assert_error, json};

backend_tests!(
    demo_publisher_has_three_consents,
    malformed_and_unknown_publishers,
    a_new_version_is_served_within_the_cache_ttl,
    a_publisher_created_later_is_visible,
);

pub fn draft(name: &str, label: &str, required: bool) -> ConsentDraft {
    ConsentDraft {
        name: ConsentName::parse(name).unwrap(),
        label: label.into(),
        value: String::new(),
        required,
        enabled_by_default: false,
        placeholder: String::new(),
        document_sha256: None,
    }
}

pub fn demo() -> PublisherId {
    PublisherId::parse("100000001").unwrap()
}

async fn demo_publisher_has_three_consents(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let (status, body) = json(app.consents("100000001").await).await;
    assert_eq!(status, 200);
    assert_eq!(body["errors"], serde_json::json!([]));
    let consents = body["responseData"]["consents"].as_array().unwrap();
    let summary: Vec<_> = consents
        .iter()
        .map(|c| {
            (
                c["broadcasterId"].as_i64().unwrap(),
                c["name"].as_str().unwrap(),
                c["version"].as_str().unwrap(),
                c["required"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (0, "terms", "1", true),
            (100000001, "broadcaster_terms", "1", true),
            (100000001, "broadcaster_marketing", "1", false),
        ]
    );
    let terms = &consents[1];
    assert_eq!(terms["value"], "https://demo.example/terms");
    assert!(
        terms["label"]
            .as_str()
            .unwrap()
            .contains("Terms and Conditions")
    );
    assert_eq!(terms["enabledByDefault"], false);
    assert_eq!(terms["placeholder"], "");
}

async fn malformed_and_unknown_publishers(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in ["12345", "abc", "1000000011", "0000000001", "%20100000001"] {
        let body = assert_error(app.consents(bad).await, 400, "REQ0003").await;
        assert_eq!(body["message"], "Invalid param publisherId", "{bad}");
    }
    let body = assert_error(app.consents("999999999").await, 404, "REQ0003").await;
    assert_eq!(body["message"], "Invalid param publisherId");
    assert_eq!(body["details"][0]["reason"], "NotFound");
}

async fn a_new_version_is_served_within_the_cache_ttl(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let _ = app.consents("100000001").await; // warm the cache
    let owner = ConsentOwner::Publisher(demo());
    let published = app
        .store
        .publish_consent(owner, &draft("broadcaster_terms", "New terms", true))
        .await
        .unwrap();
    assert_eq!(published.version().get(), 2);
    tokio::time::sleep(CACHE_WAIT).await;
    let (_, body) = json(app.consents("100000001").await).await;
    let terms = &body["responseData"]["consents"][1];
    assert_eq!(
        (terms["name"].as_str(), terms["version"].as_str()),
        (Some("broadcaster_terms"), Some("2"))
    );
    assert_eq!(terms["label"], "New terms");
}

async fn a_publisher_created_later_is_visible(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    assert_error(app.consents("100000002").await, 404, "REQ0003").await;
    let id = PublisherId::parse("100000002").unwrap();
    app.store
        .create_publisher(id, "Second", &Default::default(), &[])
        .await
        .unwrap();
    app.store
        .publish_consent(
            ConsentOwner::Publisher(id),
            &draft("second_terms", "Terms", true),
        )
        .await
        .unwrap();
    tokio::time::sleep(CACHE_WAIT).await;
    let (status, body) = json(app.consents("100000002").await).await;
    assert_eq!(status, 200);
    let names: Vec<_> = body["responseData"]["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        names,
        ["terms", "second_terms"],
        "the platform's consents, then its own"
    );
}
