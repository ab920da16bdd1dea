//! The Customer Accounts dashboard over HTTP: sign-in, sessions in the database, cookies,
//! CSRF, publisher isolation, pages with 100,000 customers. The browser test is in
//! `dashboard_browser.rs`.

use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use reqwest::{Client, StatusCode, redirect};
use serde_json::json;

use crate::admin_api::large::insert_customers;
use crate::admin_api::{DEMO, OPERATOR, OTHER, create_publisher, publisher_key, register_in};
use crate::backend_tests;
use crate::support::{Backend, TestApp};

backend_tests!(
    sign_in_sessions_cookies_and_csrf,
    a_publisher_session_sees_only_its_publisher,
    sessions_end_with_their_key,
    pages_stay_right_with_a_hundred_thousand_customers,
);

pub async fn spawn(backend: Backend) -> TestApp {
    TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await
}

/// A browser-like client that does not follow redirects and sends the cookies it is given.
pub struct Admin<'a> {
    app: &'a TestApp,
    http: Client,
    pub cookie: String,
    pub csrf: String,
}

fn set_cookies(r: &reqwest::Response) -> Vec<String> {
    r.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

fn cookie_value(set: &[String], name: &str) -> Option<String> {
    set.iter()
        .find_map(|c| c.strip_prefix(&format!("{name}=")))
        .map(|rest| rest.split(';').next().unwrap().to_owned())
}

/// The value of `name="csrf"` in a page.
fn csrf_in(page: &str) -> String {
    let at = page
        .find("name=\"csrf\" value=\"")
        .expect("a form with a CSRF token")
        + 19;
    page[at..at + page[at..].find('"').unwrap()].to_owned()
}

impl<'a> Admin<'a> {
    /// Signs in through the form; panics unless it works.
    pub async fn sign_in(app: &'a TestApp, key: &str) -> Admin<'a> {
        let (status, location, admin) = Self::try_sign_in(app, key).await;
        assert_eq!(
            (status, location.as_deref()),
            (StatusCode::SEE_OTHER, Some("/admin/customers"))
        );
        let mut admin = admin;
        let page = admin.get("/admin/customers").await;
        assert_eq!(page.0, StatusCode::OK, "{}", page.1);
        admin.csrf = csrf_in(&page.1);
        admin
    }

    pub async fn try_sign_in(
        app: &'a TestApp,
        key: &str,
    ) -> (StatusCode, Option<String>, Admin<'a>) {
        let http = Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap();
        let form = http.get(app.url("/admin/login")).send().await.unwrap();
        let login_cookie = cookie_value(&set_cookies(&form), "enroll_admin_login").unwrap();
        let csrf = csrf_in(&form.text().await.unwrap());
        let r = http
            .post(app.url("/admin/login"))
            .header(COOKIE, format!("enroll_admin_login={login_cookie}"))
            .form(&[("key", key), ("csrf", &csrf)])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r
            .headers()
            .get(LOCATION)
            .map(|l| l.to_str().unwrap().to_owned());
        let cookie = cookie_value(&set_cookies(&r), "enroll_admin").unwrap_or_default();
        (
            status,
            location,
            Admin {
                app,
                http,
                cookie,
                csrf: String::new(),
            },
        )
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let r = self
            .http
            .get(self.app.url(path))
            .header(COOKIE, format!("enroll_admin={}", self.cookie))
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r.headers().get(LOCATION).cloned();
        let body = r.text().await.unwrap();
        match location {
            Some(l) => (status, format!("-> {}", l.to_str().unwrap())),
            None => (status, body),
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> (StatusCode, String) {
        let r = self
            .http
            .post(self.app.url(path))
            .header(COOKIE, format!("enroll_admin={}", self.cookie))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status();
        let location = r.headers().get(LOCATION).cloned();
        let body = r.text().await.unwrap();
        match location {
            Some(l) => (status, format!("-> {}", l.to_str().unwrap())),
            None => (status, body),
        }
    }
}

async fn sign_in_sessions_cookies_and_csrf(backend: Backend) {
    let app = spawn(backend).await;
    register_in(&app, DEMO, "ann@example.com", json!({"firstName": "Ann"})).await;
    let http = Client::builder()
        .redirect(redirect::Policy::none())
        .build()
        .unwrap();
    // Signed out: every page leads to the sign-in form.
    for path in [
        "/admin",
        "/admin/customers",
        "/admin/consents",
        "/admin/audit",
    ] {
        let r = http.get(app.url(path)).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(r.headers()[LOCATION], "/admin/login");
    }
    let form = http.get(app.url("/admin/login")).send().await.unwrap();
    assert_eq!(form.status(), 200);
    let set = set_cookies(&form);
    assert!(
        set[0].contains("HttpOnly")
            && set[0].contains("SameSite=Strict")
            && set[0].contains("Secure"),
        "{set:?}"
    );
    // A wrong key; a form without the matching sign-in cookie.
    let (status, _, _) = Admin::try_sign_in(&app, "not-a-key").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let r = http
        .post(app.url("/admin/login"))
        .form(&[("key", OPERATOR), ("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(r.text().await.unwrap().contains("expired"), "an HTML page");

    // The operator key signs in; the session is stored only as a hash.
    let (status, _, admin) = Admin::try_sign_in(&app, OPERATOR).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(admin.cookie.len() >= 40);
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM admin_sessions").await,
        1
    );
    let stored = app.db.text("SELECT hash FROM admin_sessions").await;
    assert_ne!(stored, admin.cookie);
    let admin = Admin::sign_in(&app, OPERATOR).await;
    let (status, page) = admin.get("/admin/customers").await;
    assert_eq!(status, 200);
    assert!(
        page.contains("ann@example.com") && page.contains("registrations-chart"),
        "{page}"
    );
    assert!(page.contains("Demo Publisher"), "the publisher picker");

    // Forms need the session's CSRF token.
    let before = app.db.scalar("SELECT COUNT(*) FROM consent_versions").await;
    let publish = [
        ("name", "broadcaster_terms"),
        ("label", "New terms"),
        ("value", ""),
    ];
    let (status, _) = admin
        .post("/admin/consents?publisher=100000001", &publish)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = admin
        .post(
            "/admin/consents?publisher=100000001",
            &[publish.as_slice(), &[("csrf", "0".repeat(64).as_str())]].concat(),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM consent_versions").await,
        before
    );
    let (status, location) = admin
        .post(
            "/admin/consents?publisher=100000001",
            &[publish.as_slice(), &[("csrf", admin.csrf.as_str())]].concat(),
        )
        .await;
    assert_eq!(
        (status, location.as_str()),
        (
            StatusCode::SEE_OTHER,
            "-> /admin/consents?publisher=100000001&done=published"
        )
    );
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM consent_versions").await,
        before + 1
    );
    let (_, audit) = admin.get("/admin/audit?publisher=100000001").await;
    assert!(
        audit.contains("consent.publish") && audit.contains("operator (config)"),
        "{audit}"
    );
    assert!(
        app.db
            .scalar("SELECT COUNT(*) FROM admin_audit WHERE action = 'dashboard.sign_in'")
            .await
            >= 2
    );

    // Signing out ends the session everywhere.
    let (status, _) = admin.post("/admin/logout", &[("csrf", &admin.csrf)]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(admin.get("/admin/customers").await.1, "-> /admin/login");
    assert_eq!(
        app.db.scalar("SELECT COUNT(*) FROM admin_sessions").await,
        1
    );
}

async fn a_publisher_session_sees_only_its_publisher(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let mine = register_in(&app, DEMO, "mine@example.com", json!({})).await;
    let theirs = register_in(&app, OTHER, "theirs@example.com", json!({})).await;
    let (key, _) = publisher_key(&app, DEMO).await;
    let admin = Admin::sign_in(&app, &key).await;
    let (_, page) = admin.get("/admin/customers").await;
    assert!(page.contains("mine@example.com") && !page.contains("theirs@example.com"));
    assert!(
        !page.contains("publisher-picker"),
        "no picker for a publisher key"
    );
    for path in [
        format!("/admin/customers?publisher={OTHER}"),
        format!("/admin/customers.csv?publisher={OTHER}"),
        format!("/admin/consents?publisher={OTHER}"),
        format!("/admin/audit?publisher={OTHER}"),
        format!("/admin/customers/{theirs}"),
        format!("/admin/customers/{theirs}?publisher={DEMO}"),
        format!("/admin/customers/{theirs}?publisher={OTHER}"),
    ] {
        let (status, body) = admin.get(&path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
        assert!(!body.contains("theirs@example.com"), "{path}");
    }
    for (path, form) in [
        (
            format!("/admin/customers/{theirs}/erase"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/customers/{theirs}/erase?publisher={OTHER}"),
            vec![("confirm", "yes")],
        ),
        (
            format!("/admin/consents?publisher={OTHER}"),
            vec![("name", "x_terms"), ("label", "X")],
        ),
    ] {
        let form: Vec<(&str, &str)> = form
            .into_iter()
            .chain([("csrf", admin.csrf.as_str())])
            .collect();
        let (status, _) = admin.post(&path, &form).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM customers WHERE id = {theirs} AND erased_at IS NULL"
            ))
            .await,
        1
    );
    // Its own customer opens, exports and erases.
    let (status, detail) = admin.get(&format!("/admin/customers/{mine}")).await;
    assert_eq!(status, 200);
    assert!(detail.contains("mine@example.com"));
    let csv = admin.get("/admin/customers.csv").await.1;
    assert!(csv.contains("mine@example.com") && !csv.contains("theirs"));
    let (status, _) = admin
        .post(
            &format!("/admin/customers/{mine}/erase"),
            &[("csrf", &admin.csrf)],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "the box must be ticked");
    let (status, _) = admin
        .post(
            &format!("/admin/customers/{mine}/erase"),
            &[("csrf", admin.csrf.as_str()), ("confirm", "yes")],
        )
        .await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(
        app.db
            .scalar(&format!("SELECT COUNT(*) FROM customers WHERE id = {mine} AND erased_at IS NOT NULL AND email IS NULL"))
            .await,
        1
    );
}

async fn sessions_end_with_their_key(backend: Backend) {
    let app = spawn(backend).await;
    let (key, id) = publisher_key(&app, DEMO).await;
    let admin = Admin::sign_in(&app, &key).await;
    let operator = Admin::sign_in(&app, OPERATOR).await;
    // Revoking the key ends its session at once.
    let r = crate::admin_api::request(
        &app,
        reqwest::Method::POST,
        &format!("/admin/api/keys/{id}/revoke"),
        OPERATOR,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(admin.get("/admin/customers").await.1, "-> /admin/login");
    assert_eq!(operator.get("/admin/customers").await.0, StatusCode::OK);
    // A replica with another operator key does not honour the old key's sessions.
    let other = TestApp::spawn_on(app.db.clone(), |f| {
        f.merge(("admin.operator_key", "a-different-operator-key-0123456789"))
    })
    .await;
    let moved = Admin {
        app: &other,
        http: Client::builder()
            .redirect(redirect::Policy::none())
            .build()
            .unwrap(),
        cookie: operator.cookie.clone(),
        csrf: String::new(),
    };
    assert_eq!(moved.get("/admin/customers").await.1, "-> /admin/login");
    // The same operator key on another replica shares the session (it lives in the database).
    let replica = TestApp::spawn_on(app.db.clone(), |f| {
        f.merge(("admin.operator_key", OPERATOR))
    })
    .await;
    let shared = Admin {
        app: &replica,
        http: Client::new(),
        cookie: operator.cookie.clone(),
        csrf: String::new(),
    };
    assert_eq!(shared.get("/admin/customers").await.0, StatusCode::OK);
}

async fn pages_stay_right_with_a_hundred_thousand_customers(backend: Backend) {
    let app = spawn(backend).await;
    let publisher = "300000003";
    create_publisher(&app, publisher).await;
    let real = register_in(&app, publisher, "real@fixture.example", json!({})).await;
    let hash = app
        .db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {real}"
        ))
        .await;
    insert_customers(&app.db, publisher, 100_000, 300_000_000, &hash).await;
    let admin = Admin::sign_in(&app, OPERATOR).await;
    let (status, first) = admin
        .get(&format!("/admin/customers?publisher={publisher}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(first.matches("data-customer=").count(), 50);
    assert!(first.contains("real@fixture.example") && first.contains("user100000@fixture.example"));
    // Follow "next" three times, then "previous" once: back on the second page.
    let next_of = |page: &str| {
        let at = page
            .find("id=\"next\"")
            .map(|i| page[..i].rfind("href=\"").unwrap() + 6)?;
        Some(page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&"))
    };
    let prev_of = |page: &str| {
        let at = page
            .find("id=\"previous\"")
            .map(|i| page[..i].rfind("href=\"").unwrap() + 6)?;
        Some(page[at..at + page[at..].find('"').unwrap()].replace("&amp;", "&"))
    };
    assert!(prev_of(&first).is_none());
    let second = admin.get(&next_of(&first).unwrap()).await.1;
    let third = admin.get(&next_of(&second).unwrap()).await.1;
    assert!(
        third.contains("user99900@fixture.example") && !third.contains("user99950@"),
        "page 3 holds 99901..=99950 less one"
    );
    let back = admin.get(&prev_of(&third).unwrap()).await.1;
    assert_eq!(back.matches("data-customer=").collect::<Vec<_>>().len(), 50);
    assert!(back.contains("user99950@fixture.example"));
    let first_again = admin.get(&prev_of(&second).unwrap()).await.1;
    assert!(first_again.contains("real@fixture.example"));
    // Search and a filter on the big publisher.
    let (_, found) = admin
        .get(&format!(
            "/admin/customers?publisher={publisher}&q=user4242%40"
        ))
        .await;
    assert_eq!(found.matches("data-customer=").count(), 1, "{found}");
    let (_, nl) = admin
        .get(&format!(
            "/admin/customers?publisher={publisher}&country=NL"
        ))
        .await;
    assert_eq!(nl.matches(">NL<").count(), 50);
    // A bad filter is shown on the page, not a server error.
    let (status, bad) = admin
        .get(&format!(
            "/admin/customers?publisher={publisher}&country=XX"
        ))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("Invalid query param country"));
}
