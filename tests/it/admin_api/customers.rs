//! The customer list (keyset pages, search, each filter) and one customer's detail.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::{Value, json};

use super::large::{insert_customers, walk};
use super::{DEMO, OPERATOR, call, exec, ok, publisher_key, register_in, request, spawn};
use crate::backend_tests;
use crate::support::{Backend, TestApp, assert_error};

backend_tests!(
    pages_walk_every_customer_once_newest_first,
    bad_parameters_are_named,
    search_and_each_filter,
    detail_shows_the_full_consent_history,
);

const LIST: &str = "/admin/api/publishers/100000001/customers";

async fn ids(app: &TestApp, query: &str) -> Vec<String> {
    let page = ok(app, &format!("{LIST}?{query}"), OPERATOR).await;
    let mut ids: Vec<String> = page["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    ids.sort();
    ids
}

fn sorted(mut v: Vec<&String>) -> Vec<String> {
    v.sort();
    v.into_iter().cloned().collect()
}

async fn pages_walk_every_customer_once_newest_first(backend: Backend) {
    let app = spawn(backend).await;
    let real = register_in(&app, DEMO, "real@demo.example", json!({})).await;
    let hash = app
        .db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {real}"
        ))
        .await;
    insert_customers(&app.db, DEMO, 23, 400_000_000, &hash).await;
    let expected: Vec<String> = std::iter::once(real)
        .chain((1..=23).rev().map(|g| (400_000_000 + g).to_string()))
        .collect();
    for limit in [1, 7, 24, 500] {
        let all = walk(&app, LIST, limit).await;
        assert_eq!(all, expected, "limit {limit}");
    }
    let all = walk(&app, &format!("{LIST}?country=US"), 4).await;
    assert_eq!(
        all.len(),
        21,
        "23 fixture rows less the two in NL (the real one is in GB)"
    );
    assert_eq!(all.iter().collect::<HashSet<_>>().len(), all.len());
    let page = ok(&app, LIST, OPERATOR).await;
    assert!(page["nextCursor"].is_null(), "one page holds them all");
    let c = &page["customers"][1];
    assert_eq!(
        (
            c["email"].as_str(),
            c["firstName"].as_str(),
            c["lastName"].as_str(),
            c["externalId"].as_str()
        ),
        (
            Some("user23@fixture.example"),
            Some("First23"),
            Some("Last23"),
            Some("ext-23")
        )
    );
    assert_eq!(
        (c["country"].as_str(), c["registrationIp"].as_str()),
        (Some("US"), Some("192.0.2.1"))
    );
    assert!(c["lastLoginAt"].is_null());
    // A publisher key pages its own publisher the same way.
    let (key, _) = publisher_key(&app, DEMO).await;
    let (status, body) = call(&app, Method::GET, &format!("{LIST}?limit=2"), &key, None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["responseData"]["customers"].as_array().unwrap().len(),
        2
    );
}

async fn bad_parameters_are_named(backend: Backend) {
    let app = spawn(backend).await;
    for (query, name) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=many", "limit"),
        ("cursor=nonsense", "cursor"),
        ("country=UK", "country"),
        ("registeredFrom=yesterday", "registeredFrom"),
        ("registeredTo=2024-13-01", "registeredTo"),
        ("consent=broadcaster_terms", "consentState"),
        ("consentState=accepted", "consent"),
        (
            "consent=broadcaster_terms&consentState=maybe",
            "consentState",
        ),
        ("needsUpdate=yes", "needsUpdate"),
        ("q=a%00b", "q"),
    ] {
        let r = request(&app, Method::GET, &format!("{LIST}?{query}"), OPERATOR)
            .send()
            .await
            .unwrap();
        let body = assert_error(r, 400, "REQ0002").await;
        assert_eq!(
            body["message"],
            format!("Invalid query param {name}"),
            "{query}"
        );
    }
    let r = request(
        &app,
        Method::GET,
        "/admin/api/publishers/12/customers",
        OPERATOR,
    )
    .send()
    .await
    .unwrap();
    assert_error(r, 400, "REQ0003").await;
    let r = request(&app, Method::GET, &format!("{LIST}/12"), OPERATOR)
        .send()
        .await
        .unwrap();
    assert_error(r, 400, "REQ0003").await;
    let r = request(&app, Method::GET, &format!("{LIST}/123456789"), OPERATOR)
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 404, "REQ0003").await;
    assert_eq!(body["message"], "Invalid param customerId");
}

fn accept(marketing: &str) -> Value {
    json!([
        {"name": "terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
        {"name": "broadcaster_marketing", "version": "1", "state": marketing}
    ])
}

async fn search_and_each_filter(backend: Backend) {
    let app = spawn(backend).await;
    let alice = register_in(
        &app,
        DEMO,
        "Alice@Example.com",
        json!({"firstName": "Alice", "lastName": "Zed", "consents": accept("accepted")}),
    )
    .await;
    let bob = register_in(&app, DEMO, "zed@example.com",
        json!({"firstName": "Bob", "lastName": "Alison", "country": "NL", "locale": "nl_NL", "currency": "EUR",
               "consents": accept("declined")})).await;
    let carol = register_in(
        &app,
        DEMO,
        "carol@example.com",
        json!({"externalId": "ali"}),
    )
    .await;
    let dave = register_in(
        &app,
        DEMO,
        "dave@example.com",
        json!({"firstName": "DAVE", "externalId": "ext-ali-1"}),
    )
    .await;
    exec(
        &app.db,
        &format!(
            "UPDATE customers SET created_at = '2020-06-15T12:00:00+00:00' WHERE id = {carol}"
        ),
    )
    .await;

    // Search: email prefix, first or last name prefix (any case), or the exact external id.
    assert_eq!(ids(&app, "q=ali").await, sorted(vec![&alice, &bob, &carol]));
    assert_eq!(
        ids(&app, "q=ALI").await,
        sorted(vec![&alice, &bob]),
        "the external id is exact"
    );
    assert_eq!(ids(&app, "q=dav").await, vec![dave.clone()]);
    assert_eq!(
        ids(&app, "q=%20alice@example.COM%20").await,
        vec![alice.clone()]
    );
    assert_eq!(
        ids(&app, "q=ext-ali").await,
        Vec::<String>::new(),
        "external ids are not prefixes"
    );
    assert_eq!(ids(&app, "q=ext-ali-1").await, vec![dave.clone()]);
    assert_eq!(ids(&app, "q=nobody").await, Vec::<String>::new());

    assert_eq!(ids(&app, "country=NL").await, vec![bob.clone()]);
    assert_eq!(
        ids(&app, "country=GB").await,
        sorted(vec![&alice, &carol, &dave])
    );

    assert_eq!(
        ids(&app, "registeredTo=2020-06-15").await,
        vec![carol.clone()],
        "the whole day"
    );
    assert_eq!(
        ids(&app, "registeredTo=2020-06-14").await,
        Vec::<String>::new()
    );
    assert_eq!(
        ids(&app, "registeredFrom=2020-06-16").await,
        sorted(vec![&alice, &bob, &dave])
    );
    assert_eq!(
        ids(
            &app,
            "registeredFrom=2020-06-15T12:00:00Z&registeredTo=2020-06-15T12:00:01Z"
        )
        .await,
        vec![carol.clone()]
    );
    assert_eq!(
        ids(&app, "registeredFrom=2020-06-15T12:00:01%2B00:00")
            .await
            .len(),
        3
    );

    let marketing = |state: &str| format!("consent=broadcaster_marketing&consentState={state}");
    assert_eq!(ids(&app, &marketing("accepted")).await, vec![alice.clone()]);
    assert_eq!(
        ids(&app, &marketing("declined")).await,
        sorted(vec![&bob, &carol, &dave]),
        "never answered counts as declined"
    );
    assert_eq!(
        ids(&app, "consent=terms&consentState=accepted").await,
        sorted(vec![&alice, &bob])
    );
    assert_eq!(
        ids(&app, "consent=unknown_one&consentState=accepted").await,
        Vec::<String>::new()
    );

    assert_eq!(
        ids(&app, "needsUpdate=true").await,
        sorted(vec![&carol, &dave])
    );
    assert_eq!(
        ids(&app, "needsUpdate=false").await,
        sorted(vec![&alice, &bob])
    );
    assert_eq!(
        ids(&app, "needsUpdate=true&country=GB&q=car").await,
        vec![carol.clone()],
        "filters combine"
    );

    // A newer answer replaces the older one; a new version asks everyone again.
    let jwt_alice = {
        let (_, body) =
            crate::support::json(crate::login::login(&app, "alice@example.com", "secret123").await)
                .await;
        body["responseData"]["jwt"].as_str().unwrap().to_owned()
    };
    let r = app
        .authed(Method::PUT, &format!("/customers/{alice}/consents"), &jwt_alice)
        .json(&json!({"consents": [{"name": "broadcaster_marketing", "version": "1", "state": "declined"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        ids(&app, &marketing("accepted")).await,
        Vec::<String>::new()
    );
    let (status, _) = call(
        &app,
        Method::POST,
        "/admin/api/publishers/100000001/consents",
        OPERATOR,
        Some(json!({"name": "broadcaster_terms", "label": "Terms v2", "required": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&app, "needsUpdate=true").await.len(), 4);
    assert_eq!(ids(&app, "needsUpdate=false").await, Vec::<String>::new());
}

async fn detail_shows_the_full_consent_history(backend: Backend) {
    let app = spawn(backend).await;
    let body = json!({
        "email": "hist@example.com", "password": "secret123", "offerId": "S100000001_US",
        "locale": "en_GB", "country": "GB", "currency": "GBP", "firstName": "Hist",
        "customerIP": "81.2.69.142", "externalData": {"plan": "gold"},
        "consents": accept("accepted")
    });
    let (status, out) = crate::support::json(app.register(&body).await).await;
    assert_eq!(status, 200, "{out}");
    let c = crate::support::Customer::from_session(&out["responseData"]);
    let r = app
        .authed(Method::PUT, &format!("/customers/{}/consents", c.id), &c.jwt)
        .header("user-agent", "enroll-tests/1")
        .json(&json!({"consents": [{"name": "broadcaster_marketing", "version": "1", "state": "declined"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (key, _) = publisher_key(&app, DEMO).await;
    let (status, detail) = call(&app, Method::GET, &format!("{LIST}/{}", c.id), &key, None).await;
    assert_eq!(status, 200, "{detail}");
    let d = &detail["responseData"];
    assert_eq!(d["customer"]["id"], c.id.as_str());
    assert_eq!(d["customer"]["email"], "hist@example.com");
    assert_eq!(d["customer"]["firstName"], "Hist");
    assert_eq!(d["customer"]["registrationIp"], "81.2.69.142");
    assert_eq!(d["externalData"], json!({"plan": "gold"}));

    let history = d["history"].as_array().unwrap();
    assert_eq!(
        history.len(),
        4,
        "every row: three at sign-up and the change"
    );
    for row in history {
        assert!(!row["ip"].as_str().unwrap().is_empty(), "{row}");
        assert!(chrono::DateTime::parse_from_rfc3339(row["at"].as_str().unwrap()).is_ok());
        assert_eq!(row["version"], "1");
    }
    let last = &history[3];
    assert_eq!(
        (
            last["name"].as_str(),
            last["state"].as_str(),
            last["userAgent"].as_str(),
            last["broadcasterId"].as_i64()
        ),
        (
            Some("broadcaster_marketing"),
            Some("declined"),
            Some("enroll-tests/1"),
            Some(100000001)
        )
    );
    assert_eq!(
        (
            history[0]["name"].as_str(),
            history[0]["broadcasterId"].as_i64()
        ),
        (Some("terms"), Some(0))
    );

    let current = d["consents"].as_array().unwrap();
    assert_eq!(current.len(), 3);
    let marketing = current
        .iter()
        .find(|x| x["name"] == "broadcaster_marketing")
        .unwrap();
    assert_eq!(
        (
            marketing["state"].as_str(),
            marketing["needsUpdate"].as_bool()
        ),
        (Some("declined"), Some(false))
    );
    let terms = current
        .iter()
        .find(|x| x["name"] == "broadcaster_terms")
        .unwrap();
    assert_eq!(
        (
            terms["state"].as_str(),
            terms["required"].as_bool(),
            terms["newestVersion"].as_str()
        ),
        (Some("accepted"), Some(true), Some("1"))
    );
}
