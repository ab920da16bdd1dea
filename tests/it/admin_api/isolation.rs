//! A publisher key never reaches another publisher, route by route: the other's ids in the
//! path, its customers under the key's own path, and query parameters all answer 404.

use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::Backend;

use super::{
    DEMO, OPERATOR, OTHER, call, create_publisher, ok, publisher_key, register_in, request, spawn,
};

backend_tests!(publisher_keys_never_reach_another_publisher,);

async fn publisher_keys_never_reach_another_publisher(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let mine = register_in(&app, DEMO, "mine@demo.example", json!({})).await;
    let theirs = register_in(
        &app,
        OTHER,
        "theirs@other.example",
        json!({"externalId": "ext-theirs"}),
    )
    .await;
    let unknown_publisher = call(
        &app,
        Method::GET,
        "/admin/api/publishers/999999999",
        &key,
        None,
    )
    .await;
    assert_eq!(unknown_publisher.0, 404);

    let p = format!("/admin/api/publishers/{OTHER}");
    let routes = [
        (Method::GET, p.clone(), None),
        (
            Method::PATCH,
            p.clone(),
            Some(json!({"name": "taken over"})),
        ),
        (Method::GET, format!("{p}/consents"), None),
        (
            Method::POST,
            format!("{p}/consents"),
            Some(json!({"name": "x_terms", "label": "x"})),
        ),
        (
            Method::POST,
            format!("{p}/consents/broadcaster_terms/archive"),
            None,
        ),
        (Method::GET, format!("{p}/customers"), None),
        (Method::GET, format!("{p}/customers?q=theirs"), None),
        (Method::GET, format!("{p}/customers.csv"), None),
        (Method::GET, format!("{p}/customers/{theirs}"), None),
        (Method::DELETE, format!("{p}/customers/{theirs}"), None),
        // The other publisher's customer under the key's own publisher.
        (
            Method::GET,
            format!("/admin/api/publishers/{DEMO}/customers/{theirs}"),
            None,
        ),
        (
            Method::DELETE,
            format!("/admin/api/publishers/{DEMO}/customers/{theirs}"),
            None,
        ),
        (
            Method::GET,
            format!("/admin/api/audit?publisherId={OTHER}"),
            None,
        ),
    ];
    for (method, path, body) in routes {
        let mut r = request(&app, method.clone(), &path, &key);
        if let Some(b) = body {
            r = r.json(&b);
        }
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        assert_eq!(status, 404, "{method} {path}: {text}");
        assert!(
            !text.contains("theirs") && !text.contains(&theirs),
            "{method} {path}: {text}"
        );
        if path.starts_with(&p) {
            assert_eq!(
                serde_json::from_str::<Value>(&text).unwrap(),
                unknown_publisher.1,
                "{method} {path}: the same answer as for an unknown publisher"
            );
        }
    }
    // Query parameters never widen the scope.
    let page = ok(
        &app,
        &format!("/admin/api/publishers/{DEMO}/customers?publisherId={OTHER}"),
        &key,
    )
    .await;
    let ids: Vec<&str> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [mine.as_str()]);
    for q in ["theirs", "ext-theirs", "theirs@other.example"] {
        let page = ok(
            &app,
            &format!("/admin/api/publishers/{DEMO}/customers?q={q}"),
            &key,
        )
        .await;
        assert_eq!(page["customers"], json!([]), "q={q}");
    }
    let list = ok(&app, "/admin/api/publishers", &key).await;
    assert_eq!(list["publishers"].as_array().unwrap().len(), 1);
    assert_eq!(list["publishers"][0]["id"], 100000001);
    let audit = ok(&app, "/admin/api/audit", &key).await;
    for e in audit["entries"].as_array().unwrap() {
        assert_eq!(e["publisherId"], 100000001, "{e}");
    }
    // Nothing of theirs changed.
    let theirs_now = ok(&app, &format!("{p}/customers/{theirs}"), OPERATOR).await;
    assert_eq!(theirs_now["customer"]["email"], "theirs@other.example");
    assert_eq!(ok(&app, &p, OPERATOR).await["name"], "Publisher 200000002");
    let consents = ok(&app, &format!("{p}/consents"), OPERATOR).await;
    assert_eq!(consents["consents"], json!([]));
}
