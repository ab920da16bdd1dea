//! Logging in with imported password hashes: every accepted format verifies, a wrong password
//! is refused, and the first login replaces the hash with argon2id of the current parameters.

use crate::backend_tests;
use crate::login::login;
use crate::support::{Backend, TestApp, assert_error};

backend_tests!(
    every_legacy_format_logs_in_and_is_rehashed,
    argon2id_of_other_parameters_is_rehashed_at_login,
);

const PASSWORD: &str = "Legacy-pass 42!";

fn fixtures() -> Vec<(String, String)> {
    include_str!("../fixtures/legacy_hashes.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

async fn set_hash(app: &TestApp, id: &str, hash: &str) {
    let sql = format!("UPDATE customers SET password_hash = '{hash}' WHERE id = {id} RETURNING id");
    app.db.scalar(&sql).await;
}

async fn stored_hash(app: &TestApp, id: &str) -> String {
    app.db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {id}"
        ))
        .await
}

async fn every_legacy_format_logs_in_and_is_rehashed(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let current = app.signed_up("current@example.com").await;
    let current_hash = stored_hash(&app, &current.id).await;
    let params = &current_hash[..current_hash.rfind('$').unwrap()];
    let params = &params[..params.rfind('$').unwrap()];
    for (name, hash) in fixtures() {
        let email = format!("{name}@example.com");
        let c = app.signed_up(&email).await;
        set_hash(&app, &c.id, &hash).await;
        let wrong = login(&app, &email, "Legacy-pass 43!").await;
        assert_error(wrong, 401, "USER0001").await;
        assert_eq!(
            stored_hash(&app, &c.id).await,
            hash,
            "{name}: kept after a failure"
        );
        let right = login(&app, &email, PASSWORD).await;
        assert_eq!(right.status(), 200, "{name}");
        let now = stored_hash(&app, &c.id).await;
        assert!(
            now.starts_with(&format!("{params}$")),
            "{name}: rehashed as {now}"
        );
        let again = login(&app, &email, PASSWORD).await;
        assert_eq!(again.status(), 200, "{name}: the new hash verifies");
        assert_eq!(stored_hash(&app, &c.id).await, now, "{name}: rehashed once");
    }
}

async fn argon2id_of_other_parameters_is_rehashed_at_login(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("old-params@example.com").await;
    let current = stored_hash(&app, &c.id).await;
    let r = login(&app, "old-params@example.com", "secret123").await;
    assert_eq!(r.status(), 200);
    assert_eq!(
        stored_hash(&app, &c.id).await,
        current,
        "current parameters: kept"
    );
    let (_, old) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "argon2id")
        .unwrap();
    set_hash(&app, &c.id, &old).await;
    let r = login(&app, "old-params@example.com", PASSWORD).await;
    assert_eq!(r.status(), 200);
    let now = stored_hash(&app, &c.id).await;
    assert_ne!(now, old);
    assert_eq!(
        now[..now.rfind('$').unwrap()].rsplit_once('$').unwrap().0,
        current[..current.rfind('$').unwrap()]
            .rsplit_once('$')
            .unwrap()
            .0
    );
}
