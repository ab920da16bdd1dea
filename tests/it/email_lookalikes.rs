//! Addresses that a person cannot tell apart are one account: a domain that is the same after
//! UTS #46 (IDNA) processing is the same domain, and invisible characters are refused — on
//! registration, login and email changes.

use reqwest::Method;
use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, TestApp, assert_error, json, registration};

backend_tests!(
    look_alike_domains_are_the_same_account,
    invisible_characters_are_refused,
    email_changes_obey_the_same_key
);

async fn look_alike_domains_are_the_same_account(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("alice@example.com").await;
    for look_alike in [
        "alice@example\u{3002}com", // ideographic full stop
        "alice@example\u{FF0E}com", // full-width full stop
        "alice@example\u{FF61}com", // half-width ideographic full stop
        "alice@EXAMPLE.com",
        "alice@xn--exmple-cua.com", // punycode of another domain: a different account
    ] {
        let r = app.register(&registration(look_alike)).await;
        if look_alike.starts_with("alice@xn--") {
            assert_eq!(r.status(), 200, "{look_alike:?} is another domain");
            continue;
        }
        let body = assert_error(r, 422, "USER0002").await;
        assert_eq!(
            body["message"], "Customer already exists.",
            "{look_alike:?}"
        );
    }
    // A Unicode domain and its punycode spelling are one domain.
    app.signed_up("bob@b\u{fc}cher.de").await;
    let r = app.register(&registration("bob@xn--bcher-kva.de")).await;
    assert_error(r, 422, "USER0002").await;

    // Login finds the account under any spelling of the same domain.
    let (status, body) = json(
        app.client
            .post(app.url("/auths"))
            .json(
                &json!({"email": "alice@example\u{3002}com", "password": "secret123",
                          "publisherId": "100000001"}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE email_key LIKE 'alice@%'")
            .await,
        2,
        "alice@example.com and the other domain, nothing else"
    );
}

async fn invisible_characters_are_refused(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    for bad in [
        "carol@exam\u{AD}ple.com",   // soft hyphen
        "carol@example\u{200B}.com", // zero-width space
        "carol@exa\u{200D}mple.com", // zero-width joiner
        "carol@exa\u{FE0F}mple.com", // variation selector
        "carol@example.com\u{2060}", // word joiner at the end
        "car\u{200C}ol@example.com", // zero-width non-joiner in the local part
        "carol@\u{202E}moc.elpmaxe", // right-to-left override
        "\u{FEFF}carol@example.com", // byte order mark
    ] {
        let r = app.register(&registration(bad)).await;
        let body = assert_error(r, 400, "REQ0001").await;
        assert_eq!(
            body["message"], "Invalid param email. Please enter a valid e-mail address.",
            "{bad:?}"
        );
    }
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM customers").await, 0);
    // The plain address is still free.
    app.signed_up("carol@example.com").await;
}

async fn email_changes_obey_the_same_key(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    app.signed_up("dave@example.com").await;
    let erin = app.signed_up("erin@example.com").await;
    let path = format!("/customers/{}", erin.id);
    let patch = |email: &'static str| {
        app.authed(Method::PATCH, &path, &erin.jwt)
            .json(&json!({"email": email, "confirmationPassword": "secret123"}))
            .send()
    };
    let r = patch("dave@example\u{3002}com").await.unwrap();
    assert_eq!(
        r.status(),
        422,
        "a look-alike of another customer's address"
    );
    let r = patch("dave@exam\u{AD}ple.com").await.unwrap();
    assert_eq!(r.status(), 400, "an invisible character");
    let me = app.me(&erin).await;
    assert_eq!(
        me["email"], "erin@example.com",
        "refused changes change nothing"
    );
}
