//! JWT keys: the development key shared through the database, and rotation by configuration.

use std::sync::Arc;

use reqwest::Method;

use crate::backend_tests;
use crate::support::{Backend, TestApp, TestDb, json};

backend_tests!(replicas_share_the_generated_key, configured_keys_rotate);

async fn kids(app: &TestApp) -> Vec<String> {
    let (_, jwks) = json(app.get("/.well-known/jwks.json").await).await;
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect()
}

async fn replicas_share_the_generated_key(backend: Backend) {
    let db = Arc::new(TestDb::new(backend).await);
    let (a, b) = tokio::join!(
        TestApp::spawn_on(db.clone(), |f| f),
        TestApp::spawn_on(db.clone(), |f| f)
    );
    assert_eq!(kids(&a).await.len(), 1);
    assert_eq!(kids(&a).await, kids(&b).await, "one key for every replica");
    let c = a.signed_up("r@example.com").await;
    let r = b
        .authed(Method::GET, &format!("/customers/{}", c.id), &c.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "a token from one replica works on the other"
    );
}

async fn configured_keys_rotate(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, enroll::auth::jwt::generate_pem().unwrap()).unwrap();
        path
    };
    let (old, new) = (write("old.pem"), write("new.pem"));
    let db = Arc::new(TestDb::new(backend).await);
    let before = TestApp::spawn_on(db.clone(), |f| f.merge(("jwt.keys", vec![old.clone()]))).await;
    let c = before.signed_up("k@example.com").await;
    before.stop().await;
    let after = TestApp::spawn_on(db.clone(), |f| {
        f.merge(("jwt.keys", format!("{},{}", new.display(), old.display())))
    })
    .await;
    assert_eq!(kids(&after).await.len(), 2);
    let r = after
        .authed(Method::GET, &format!("/customers/{}", c.id), &c.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        200,
        "tokens signed by the previous key still verify"
    );
    let fresh = after.signed_up("k2@example.com").await;
    let header = fresh.jwt.split('.').next().unwrap().to_owned();
    assert_ne!(
        header,
        c.jwt.split('.').next().unwrap(),
        "the first configured key signs"
    );

    let bad = dir.path().join("missing.pem");
    let settings = enroll::Settings::from_figment(
        crate::support::base_figment(&db).merge(("jwt.keys", vec![bad])),
    )
    .unwrap();
    let err = enroll::Application::build(settings)
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.starts_with("jwt.keys: cannot read"), "{err}");
}
