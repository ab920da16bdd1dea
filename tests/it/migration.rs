//! Lazy migration from a Cleeng-compatible upstream: a second Enroll server plays the
//! upstream (it speaks the same API); a loopback listener that never answers plays a slow one.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, publisher_key};
use crate::backend_tests;
use crate::login::login;
use crate::passwords::{ask_reset, link, set_password, with_smtp};
use crate::support::{Backend, CACHE_WAIT, TestApp, json, registration};

backend_tests!(
    a_login_unknown_here_is_proven_upstream_once_and_the_customer_created,
    upstream_down_or_slow_is_a_wrong_password_and_creates_nothing,
    concurrent_first_logins_create_one_customer,
    a_reset_for_an_unknown_email_goes_upstream_and_migrates_the_customer,
    only_operators_set_the_upstream,
);

async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await
}

/// Points `publisher`'s migration at `url` (operator key).
async fn migrate_from(app: &TestApp, publisher: &str, url: &str, timeout: &str) {
    let (status, body) = call(
        app,
        Method::PATCH,
        &format!("/admin/api/publishers/{publisher}"),
        OPERATOR,
        Some(json!({"settings": {"migration": {"upstream_url": url, "timeout": timeout}}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(CACHE_WAIT).await;
}

async fn count(app: &TestApp, email: &str) -> i64 {
    app.db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customers WHERE email_key = '{email}'"
        ))
        .await
}

async fn login_in(
    app: &TestApp,
    publisher: &str,
    email: &str,
    password: &str,
) -> reqwest::Response {
    app.client
        .post(app.url("/auths"))
        .json(&json!({"email": email, "password": password, "publisherId": publisher}))
        .send()
        .await
        .unwrap()
}

async fn a_login_unknown_here_is_proven_upstream_once_and_the_customer_created(backend: Backend) {
    let upstream = spawn(backend).await;
    let mut body = registration("Old.Timer@example.com");
    body["firstName"] = "Olga".into();
    body["externalId"] = "crm-7".into();
    body["externalData"] = json!({"plan": "gold"});
    body["consents"] = json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
    ]);
    let r = upstream.register(&body).await;
    let (status, up) = json(r).await;
    assert_eq!(status, 200, "{up}");
    let upstream_id = up["responseData"]["customerId"].as_i64().unwrap();
    // Its answers' time (whole seconds) is then surely not the migration's.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // The same email at another publisher of the upstream, which is not migrating here.
    create_publisher(&upstream, OTHER).await;
    let mut other = registration("old.timer@example.com");
    other["publisherId"] = OTHER.into();
    other.as_object_mut().unwrap().remove("offerId");
    assert_eq!(upstream.register(&other).await.status(), 200);

    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    migrate_from(&app, DEMO, &upstream.address, "3s").await;

    // A wrong password upstream: the same 401 as here, and no customer.
    let r = login(&app, "old.timer@example.com", "wrong-pass1").await;
    let (status, b) = json(r).await;
    assert_eq!((status, &b["code"]), (401, &json!("USER0001")), "{b}");
    assert_eq!(count(&app, "old.timer@example.com").await, 0);

    // The right one: a customer here, answered as a normal login.
    let r = login(&app, "old.timer@example.com", "secret123").await;
    let (status, b) = json(r).await;
    assert_eq!(status, 200, "{b}");
    let me = crate::support::Customer::from_session(&b["responseData"]);
    assert_ne!(me.id, upstream_id.to_string(), "a new Enroll id");
    let shown = app.me(&me).await;
    assert_eq!(shown["email"], "Old.Timer@example.com");
    assert_eq!(shown["firstName"], "Olga");
    assert_eq!(
        (&shown["country"], &shown["locale"], &shown["currency"]),
        (&json!("GB"), &json!("en_GB"), &json!("GBP"))
    );
    assert_eq!(shown["externalId"], "crm-7");
    assert_eq!(shown["externalData"], json!({"plan": "gold"}));
    assert!(shown["lastLoginDate"].is_string(), "{shown}");
    // Its registration date and consent answers came along: the answers are in its history
    // marked imported (the upstream collected them: no receipt), and the required terms need
    // no new answer.
    let up_me = crate::support::Customer::from_session(
        &json(login(&upstream, "old.timer@example.com", "secret123").await)
            .await
            .1["responseData"],
    );
    assert_eq!(
        shown["regDate"],
        upstream.me(&up_me).await["regDate"],
        "{shown}"
    );
    let r = app
        .authed(
            Method::GET,
            &format!("/customers/{}/consents", me.id),
            &me.jwt,
        )
        .send()
        .await
        .unwrap();
    let (status, consents) = json(r).await;
    assert_eq!(status, 200, "{consents}");
    let terms: Vec<&Value> = consents["responseData"]["consents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["name"] == "terms" || c["name"] == "broadcaster_terms")
        .collect();
    assert_eq!(terms.len(), 2, "{consents}");
    // Each answered when the upstream says it was.
    let r = upstream
        .authed(
            Method::GET,
            &format!("/customers/{}/consents", up_me.id),
            &up_me.jwt,
        )
        .send()
        .await
        .unwrap();
    let (_, up_consents) = json(r).await;
    for c in terms {
        assert_eq!(
            (&c["state"], &c["needsUpdate"]),
            (&json!("accepted"), &json!(false)),
            "{c}"
        );
        let there = up_consents["responseData"]["consents"]
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["name"] == c["name"])
            .unwrap();
        assert!(there["date"].is_number(), "{there}");
        assert_eq!(c["date"], there["date"], "{c} {there}");
    }
    let imported = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {} AND imported \
             AND receipt_id IS NULL AND collection_point = 'import'",
            me.id
        ))
        .await;
    assert_eq!(imported, 2);
    let hash = app
        .db
        .text("SELECT password_hash FROM customers WHERE email_key = 'old.timer@example.com'")
        .await;
    assert!(hash.starts_with("$argon2id$v=19$"), "{hash}");
    assert_eq!(count(&app, "old.timer@example.com").await, 1);

    // The upstream is gone: the customer is Enroll's now, the upstream is never asked again.
    upstream.stop().await;
    assert_eq!(
        login(&app, "old.timer@example.com", "secret123")
            .await
            .status(),
        200
    );
    assert_eq!(
        login(&app, "old.timer@example.com", "wrong-pass1")
            .await
            .status(),
        401
    );
    // Another publisher here is not migrating: its unknown emails are only unknown.
    let r = login_in(&app, OTHER, "old.timer@example.com", "secret123").await;
    assert_eq!(r.status(), 401);
    assert_eq!(count(&app, "old.timer@example.com").await, 1);
}

/// A listener on loopback that accepts connections and never answers.
async fn silent_listener() -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (format!("http://{addr}"), task)
}

async fn upstream_down_or_slow_is_a_wrong_password_and_creates_nothing(backend: Backend) {
    let app = spawn(backend).await;
    // Nothing listens there.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    migrate_from(&app, DEMO, &format!("http://{closed}"), "3s").await;
    let r = login(&app, "gone@example.com", "secret123").await;
    let (status, b) = json(r).await;
    assert_eq!((status, &b["code"]), (401, &json!("USER0001")), "{b}");
    assert_eq!(count(&app, "gone@example.com").await, 0);

    // It accepts and never answers: the publisher's timeout ends the wait.
    let (slow, task) = silent_listener().await;
    migrate_from(&app, DEMO, &slow, "300ms").await;
    let r = login(&app, "slow@example.com", "secret123").await;
    let (status, b) = json(r).await;
    assert_eq!((status, &b["code"]), (401, &json!("USER0001")), "{b}");
    assert_eq!(count(&app, "slow@example.com").await, 0);
    task.abort();

    // The outbound policy applies: loopback is not allowed here, so nothing is contacted.
    let strict = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR))
            .merge(("server.outbound_allow", Vec::<String>::new()))
    })
    .await;
    let upstream = spawn(backend).await;
    assert_eq!(
        upstream
            .register(&registration("policy@example.com"))
            .await
            .status(),
        200
    );
    migrate_from(&strict, DEMO, &upstream.address, "3s").await;
    assert_eq!(
        login(&strict, "policy@example.com", "secret123")
            .await
            .status(),
        401
    );
    assert_eq!(count(&strict, "policy@example.com").await, 0);
    // Known customers log in as ever.
    strict.signed_up("local@example.com").await;
    assert_eq!(
        login(&strict, "local@example.com", "secret123")
            .await
            .status(),
        200
    );
}

async fn concurrent_first_logins_create_one_customer(backend: Backend) {
    let upstream = spawn(backend).await;
    assert_eq!(
        upstream
            .register(&registration("twice@example.com"))
            .await
            .status(),
        200
    );
    let app = spawn(backend).await;
    migrate_from(&app, DEMO, &upstream.address, "5s").await;
    let logins: Vec<_> = (0..4)
        .map(|_| login(&app, "twice@example.com", "secret123"))
        .collect();
    let answers = futures_util::future::join_all(logins).await;
    let mut ids = Vec::new();
    for r in answers {
        let (status, b) = json(r).await;
        assert_eq!(status, 200, "{b}");
        ids.push(b["responseData"]["customerId"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one customer: {ids:?}");
    assert_eq!(count(&app, "twice@example.com").await, 1);
}

async fn a_reset_for_an_unknown_email_goes_upstream_and_migrates_the_customer(backend: Backend) {
    let (upstream, smtp) = with_smtp(backend).await;
    assert_eq!(
        upstream
            .register(&registration("forgot@example.com"))
            .await
            .status(),
        200
    );
    let app = spawn(backend).await;
    migrate_from(&app, DEMO, &upstream.address, "3s").await;
    let r = ask_reset(
        &app,
        "forgot@example.com",
        json!("http://localhost:3000/reset"),
    )
    .await;
    assert_eq!(r.status(), 200);
    // The upstream sent its own reset email, linking to the page the request named.
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, vec!["forgot@example.com".to_owned()]);
    let (url, token) = link(&mail);
    assert_eq!(url.path(), "/reset");
    assert_eq!(count(&app, "forgot@example.com").await, 0);
    // A wrong token: as any invalid one.
    let r = set_password(&app, "forgot@example.com", "not-the-token", "newpass123").await;
    let (status, b) = json(r).await;
    assert_eq!((status, &b["code"]), (400, &json!("REQ0001")), "{b}");
    assert_eq!(count(&app, "forgot@example.com").await, 0);
    // The upstream's token sets the password there, and the customer is migrated with it.
    let r = set_password(&app, "forgot@example.com", &token, "newpass123").await;
    let (status, b) = json(r).await;
    assert_eq!(status, 200, "{b}");
    assert_eq!(count(&app, "forgot@example.com").await, 1);
    upstream.stop().await;
    assert_eq!(
        login(&app, "forgot@example.com", "newpass123")
            .await
            .status(),
        200
    );
    assert_eq!(
        login(&app, "forgot@example.com", "secret123")
            .await
            .status(),
        401
    );
}

async fn only_operators_set_the_upstream(backend: Backend) {
    let app = spawn(backend).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let change = json!({"settings": {"migration": {"upstream_url": "https://ms.example.com"}}});
    let path = format!("/admin/api/publishers/{DEMO}");
    let (status, b) = call(&app, Method::PATCH, &path, &key, Some(change.clone())).await;
    assert_eq!(status, 403, "{b}");
    let bad = json!({"settings": {"migration": {"upstream_url": "ftp://ms.example.com"}}});
    let (status, b) = call(&app, Method::PATCH, &path, OPERATOR, Some(bad)).await;
    assert_eq!(status, 400, "{b}");
    assert!(b["message"].as_str().unwrap().contains("migration"), "{b}");
    let (status, b) = call(&app, Method::PATCH, &path, OPERATOR, Some(change)).await;
    assert_eq!(status, 200, "{b}");
    let shown: &Value = &b["responseData"]["settings"]["migration"];
    assert_eq!(shown["upstream_url"], "https://ms.example.com");
}
