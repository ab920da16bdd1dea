//! A publisher's consents through the admin API: every version, publishing, archiving.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Backend, json};

use super::{DEMO, call, ok, publisher_key, spawn};

backend_tests!(consents_list_publish_and_archive,);

async fn consents_list_publish_and_archive(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let path = format!("/admin/api/publishers/{DEMO}/consents");
    let list = ok(&app, &path, &key).await;
    let names: Vec<&str> = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["broadcaster_marketing", "broadcaster_terms"]);

    let publish = |body: Value| {
        let app = &app;
        let key = key.clone();
        let path = path.clone();
        async move { call(app, Method::POST, &path, &key, Some(body)).await }
    };
    let v2 = json!({"name": "broadcaster_terms", "label": "New terms", "value": "https://demo.example/terms-2", "required": true});
    let (status, body) = publish(v2.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["responseData"],
        json!({"name": "broadcaster_terms", "version": "2", "published": true})
    );
    let (_, body) = publish(v2).await;
    assert_eq!(
        body["responseData"],
        json!({"name": "broadcaster_terms", "version": "2", "published": false})
    );
    let (_, body) =
        publish(json!({"name": "newsletter", "label": "Weekly news", "enabledByDefault": true}))
            .await;
    assert_eq!(body["responseData"]["version"], "1");
    let (status, body) = publish(json!({"name": "terms", "label": "Mine"})).await;
    assert_eq!(status, 400, "a platform name: {body}");
    let (status, body) = publish(json!({"name": "bad name", "required": "yes"})).await;
    assert_eq!(status, 400);
    let fields: Vec<&str> = body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["name", "label", "required"]);

    // The public API sees the new version at once.
    let (_, public) = json(app.consents(DEMO).await).await;
    let terms = public["responseData"]["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_terms")
        .unwrap()
        .clone();
    assert_eq!(
        (terms["version"].as_str(), terms["label"].as_str()),
        (Some("2"), Some("New terms"))
    );

    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{path}/newsletter/archive"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Again: the same answer, and one audit line in all.
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{path}/newsletter/archive"),
        &key,
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM admin_audit WHERE action = 'consent.archive'")
            .await,
        1
    );
    let (status, body) = call(
        &app,
        Method::POST,
        &format!("{path}/nothing/archive"),
        &key,
        None,
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (404, Some("CON0001")));
    let (_, public) = json(app.consents(DEMO).await).await;
    assert!(
        !public.to_string().contains("newsletter"),
        "archived consents are no longer asked for"
    );

    let list = ok(&app, &path, &key).await;
    let terms = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_terms")
        .unwrap();
    assert_eq!(terms["currentVersion"], "2");
    assert_eq!(terms["versions"].as_array().unwrap().len(), 2);
    assert!(
        terms["versions"][0]["label"]
            .as_str()
            .unwrap()
            .contains("Terms and Conditions")
    );
    assert_eq!(terms["versions"][1]["required"], true);
    let news = list["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "newsletter")
        .unwrap();
    assert_eq!(
        (
            news["archived"].as_bool(),
            news["versions"][0]["enabledByDefault"].as_bool()
        ),
        (Some(true), Some(true))
    );
}
