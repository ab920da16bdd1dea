//! Publishers and consents declared in config, applied at start-up.

use std::sync::Arc;

use enroll::domain::ConsentOwner;

use crate::backend_tests;
use crate::consents::{demo, draft};
use crate::support::{Backend, TestApp, TestDb, base_figment, json};

backend_tests!(
    a_restart_with_the_same_config_publishes_nothing,
    a_changed_label_publishes_a_new_version_once_across_replicas,
    a_bad_declaration_stops_start_up,
);

async fn versions(app: &TestApp) -> Vec<(String, String)> {
    let (_, body) = json(app.consents("100000001").await).await;
    body["responseData"]["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["version"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_restart_with_the_same_config_publishes_nothing(backend: Backend) {
    let first = TestApp::spawn(backend).await;
    let db = first.db.clone();
    // A change through the CLI path (the store) must survive restarts.
    first
        .store
        .publish_consent(
            ConsentOwner::Publisher(demo()),
            &draft("broadcaster_marketing", "From the CLI", false),
        )
        .await
        .unwrap();
    first.stop().await;
    let second = TestApp::spawn_on(db, |f| f).await;
    let expected: Vec<(String, String)> = [
        ("terms", "1"),
        ("broadcaster_terms", "1"),
        ("broadcaster_marketing", "2"),
    ]
    .iter()
    .map(|(n, v)| (n.to_string(), v.to_string()))
    .collect();
    assert_eq!(versions(&second).await, expected);
    let (_, body) = json(second.consents("100000001").await).await;
    assert_eq!(body["responseData"]["consents"][2]["label"], "From the CLI");
}

async fn a_changed_label_publishes_a_new_version_once_across_replicas(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    TestApp::spawn_on(db.clone(), |f| f).await.stop().await;
    // Two replicas start together with an edited config: exactly one new version.
    let edit = |f: figment::Figment| f.merge(("publishers", edited_publishers()));
    let (a, b) = tokio::join!(
        TestApp::spawn_on(db.clone(), edit),
        TestApp::spawn_on(db.clone(), edit)
    );
    let got = versions(&a).await;
    assert_eq!(got, versions(&b).await);
    assert_eq!(
        got,
        vec![
            ("terms".to_owned(), "1".to_owned()),
            ("broadcaster_terms".to_owned(), "2".to_owned()),
            ("broadcaster_marketing".to_owned(), "1".to_owned()),
        ]
    );
    let all = a
        .store
        .consent_versions(ConsentOwner::Publisher(demo()))
        .await
        .unwrap();
    assert_eq!(
        all.iter()
            .filter(|c| c.name.as_str() == "broadcaster_terms")
            .count(),
        2
    );
}

fn edited_publishers() -> serde_json::Value {
    serde_json::json!([{
        "id": 100000001,
        "name": "Demo Publisher",
        "offers": ["S100000001_US"],
        "settings": {"cors_origins": ["http://localhost:3000"]},
        "consents": [
            {"name": "broadcaster_terms", "label": "Edited terms", "value": "https://demo.example/terms", "required": true},
            {"name": "broadcaster_marketing", "label": "Yes, I want to receive news and offers from Demo Publisher", "required": false}
        ]
    }])
}

async fn a_bad_declaration_stops_start_up(backend: Backend) {
    let db = TestDb::new(backend).await;
    let clash = serde_json::json!([{
        "id": 100000001, "name": "Demo", "offers": ["S100000002_US"],
    }]);
    let err =
        enroll::Settings::from_figment(base_figment(&db).merge(("publishers", clash))).unwrap_err();
    assert!(
        err.contains("S100000002_US names publisher 100000002"),
        "{err}"
    );
    let bad_name = serde_json::json!([{"id": 100000001, "name": "Demo", "consents": [{"name": "terms", "label": "x"}]}]);
    let err = enroll::Settings::from_figment(base_figment(&db).merge(("publishers", bad_name)))
        .unwrap_err();
    assert!(err.contains("terms is already a platform consent"), "{err}");
}
