//! The customer JWT (forgeries, expiry, tenant isolation) and `GET`/`PATCH /customers/{id}`.

use std::path::PathBuf;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::Method;
use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Backend, Customer, TestApp, assert_error, json, registration};

backend_tests!(
    tokens_are_checked,
    a_token_reaches_only_its_own_customer_and_publisher,
    profile_read_and_change,
    changing_the_email_needs_the_password_and_keeps_uniqueness,
    confirmation_passwords_share_the_login_failure_limit,
);

/// A server whose signing key the test knows (written to a PEM file).
async fn with_known_key(backend: Backend) -> (TestApp, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let pem = enroll::auth::jwt::generate_pem().unwrap();
    let path: PathBuf = dir.path().join("signing.pem");
    std::fs::write(&path, &pem).unwrap();
    let app = TestApp::spawn_with(backend, |f| f.merge(("jwt.keys", vec![path.clone()]))).await;
    (app, pem, dir)
}

fn kid(app_jwt: &str) -> String {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(app_jwt.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    header["kid"].as_str().unwrap().to_owned()
}

fn claims(customer: &str, publisher: &str, iss: &str, exp_in: i64) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({"customerId": customer, "publisherId": publisher, "iat": now, "exp": now + exp_in, "iss": iss, "jti": "t"})
}

fn sign(pem: &str, kid: &str, claims: &Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap()
}

async fn get_me(app: &TestApp, id: &str, token: &str) -> reqwest::Response {
    app.authed(Method::GET, &format!("/customers/{id}"), token)
        .send()
        .await
        .unwrap()
}

async fn tokens_are_checked(backend: Backend) {
    let (app, pem, _dir) = with_known_key(backend).await;
    let c = app.signed_up("t@example.com").await;
    let kid = kid(&c.jwt);
    assert_eq!(get_me(&app, &c.id, &c.jwt).await.status(), 200);
    assert_eq!(
        get_me(
            &app,
            &c.id,
            &sign(&pem, &kid, &claims(&c.id, "100000001", "enroll", 60))
        )
        .await
        .status(),
        200
    );

    let r = app
        .client
        .get(app.url(&format!("/customers/{}", c.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(r, 401, "AUTH0001").await["message"],
        "Missing required JWT"
    );
    let r = app
        .client
        .get(app.url(&format!("/customers/{}", c.id)))
        .header("authorization", "")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "AUTH0001").await;
    let r = app
        .client
        .get(app.url(&format!("/customers/{}", c.id)))
        .header("authorization", "Bearer ")
        .send()
        .await
        .unwrap();
    assert_error(r, 401, "AUTH0001").await;

    let expired = sign(&pem, &kid, &claims(&c.id, "100000001", "enroll", -120));
    assert_eq!(
        assert_error(get_me(&app, &c.id, &expired).await, 401, "AUTH0003").await["message"],
        "JWT token expired"
    );
    let wrong_iss = sign(&pem, &kid, &claims(&c.id, "100000001", "evil", 60));
    assert_eq!(
        assert_error(get_me(&app, &c.id, &wrong_iss).await, 401, "AUTH0002").await["message"],
        "Invalid JWT token"
    );
    let other_key = sign(
        &enroll::auth::jwt::generate_pem().unwrap(),
        &kid,
        &claims(&c.id, "100000001", "enroll", 60),
    );
    assert_error(get_me(&app, &c.id, &other_key).await, 401, "AUTH0002").await;
    let unknown_kid = sign(&pem, "nope", &claims(&c.id, "100000001", "enroll", 60));
    assert_error(get_me(&app, &c.id, &unknown_kid).await, 401, "AUTH0002").await;

    // alg: none
    let head = URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "JWT", "kid": kid}).to_string());
    let body = URL_SAFE_NO_PAD.encode(claims(&c.id, "100000001", "enroll", 60).to_string());
    for none in [format!("{head}.{body}."), format!("{head}.{body}")] {
        assert_error(get_me(&app, &c.id, &none).await, 401, "AUTH0002").await;
    }
    // HS256 "signed" with the public key, as text (PEM) and as raw bytes.
    let (_, jwks) = json(app.get("/.well-known/jwks.json").await).await;
    let x = URL_SAFE_NO_PAD
        .decode(jwks["keys"][0]["x"].as_str().unwrap())
        .unwrap();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.clone());
    for secret in [
        x.clone(),
        jwks["keys"][0]["x"].as_str().unwrap().as_bytes().to_vec(),
    ] {
        let forged = jsonwebtoken::encode(
            &header,
            &claims(&c.id, "100000001", "enroll", 60),
            &EncodingKey::from_secret(&secret),
        )
        .unwrap();
        assert_error(get_me(&app, &c.id, &forged).await, 401, "AUTH0002").await;
    }
    // A tampered payload with the original signature.
    let parts: Vec<_> = c.jwt.split('.').collect();
    let tampered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(claims("123456789", "100000001", "enroll", 60).to_string()),
        parts[2]
    );
    assert_error(get_me(&app, "123456789", &tampered).await, 401, "AUTH0002").await;
    assert_error(get_me(&app, &c.id, "garbage").await, 401, "AUTH0002").await;
    // No kid, other algorithms, missing claims.
    let mut no_kid = Header::new(Algorithm::EdDSA);
    no_kid.kid = None;
    let token = jsonwebtoken::encode(
        &no_kid,
        &claims(&c.id, "100000001", "enroll", 60),
        &EncodingKey::from_ed_pem(pem.as_bytes()).unwrap(),
    )
    .unwrap();
    assert_error(get_me(&app, &c.id, &token).await, 401, "AUTH0002").await;
    for alg in ["RS256", "ES256", "HS512"] {
        let head =
            URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "kid": kid}).to_string());
        let forged = format!("{head}.{}.{}", parts[1], parts[2]);
        assert_error(get_me(&app, &c.id, &forged).await, 401, "AUTH0002").await;
    }
    for missing in ["exp", "iss"] {
        let mut cl = claims(&c.id, "100000001", "enroll", 60);
        cl.as_object_mut().unwrap().remove(missing);
        assert_error(
            get_me(&app, &c.id, &sign(&pem, &kid, &cl)).await,
            401,
            "AUTH0002",
        )
        .await;
    }
    let r = app
        .client
        .get(app.url(&format!("/customers/{}", c.id)))
        .header("authorization", format!("BEARER {}", c.jwt))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the scheme is case-insensitive");
}

async fn a_token_reaches_only_its_own_customer_and_publisher(backend: Backend) {
    let (app, pem, _dir) = with_known_key(backend).await;
    let other = enroll::domain::PublisherId::parse("200000002").unwrap();
    app.store
        .create_publisher(other, "Other", &Default::default(), &[])
        .await
        .unwrap();
    let a = app.signed_up("a@example.com").await;
    let b = app.signed_up("b@example.com").await;
    let mut body = registration("x@example.com");
    body.as_object_mut().unwrap().remove("offerId");
    body["publisherId"] = json!("200000002");
    let (_, x) = json(app.register(&body).await).await;
    let x = Customer::from_session(&x["responseData"]);

    for (path, method) in [
        (format!("/customers/{}", b.id), Method::GET),
        (format!("/customers/{}", b.id), Method::PATCH),
        (format!("/customers/{}/consents", b.id), Method::GET),
        (format!("/customers/{}/consents", b.id), Method::PUT),
        (format!("/customers/{}/capture/status", b.id), Method::GET),
        (format!("/customers/{}", x.id), Method::GET),
    ] {
        let r = app
            .authed(method.clone(), &path, &a.jwt)
            .json(&json!({"consents": []}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(r, 403, "AUTH0004").await["message"],
            "Access denied",
            "{method} {path}"
        );
    }
    // A validly signed token naming another publisher for a customer reaches nothing.
    let forged = sign(
        &pem,
        &kid(&a.jwt),
        &claims(&a.id, "200000002", "enroll", 60),
    );
    assert_error(get_me(&app, &a.id, &forged).await, 403, "AUTH0004").await;
    let forged = sign(
        &pem,
        &kid(&a.jwt),
        &claims(&x.id, "100000001", "enroll", 60),
    );
    assert_error(get_me(&app, &x.id, &forged).await, 403, "AUTH0004").await;
    let r = app
        .authed(Method::GET, "/customers/12ab", &a.jwt)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(r, 400, "REQ0003").await["message"],
        "Invalid param customerId"
    );
}

async fn profile_read_and_change(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("p@example.com").await;
    let (status, body) = json(get_me(&app, &c.id, &c.jwt).await).await;
    assert_eq!(status, 200);
    let me = &body["responseData"];
    assert_eq!(me["id"], c.id.as_str());
    assert_eq!(
        (
            me["email"].as_str(),
            me["country"].as_str(),
            me["locale"].as_str(),
            me["currency"].as_str()
        ),
        (
            Some("p@example.com"),
            Some("GB"),
            Some("en_GB"),
            Some("GBP")
        )
    );
    assert_eq!(
        (me["firstName"].as_str(), me["externalId"].as_str()),
        (Some(""), Some(""))
    );
    assert!(me["lastLoginDate"].is_null());
    assert_eq!(me["lastUserIp"], "127.0.0.1");
    let reg = me["regDate"].as_str().unwrap();
    assert!(
        chrono::NaiveDateTime::parse_from_str(reg, "%Y-%m-%d %H:%M:%S").is_ok(),
        "{reg}"
    );

    let patch = json!({"firstName": "Pat", "lastName": "Doe", "country": "NL", "locale": "nl_NL", "externalData": {"a": 1}});
    let (status, body) = json(
        app.authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
            .json(&patch)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let me = &body["responseData"];
    assert_eq!(
        (
            me["firstName"].as_str(),
            me["lastName"].as_str(),
            me["country"].as_str()
        ),
        (Some("Pat"), Some("Doe"), Some("NL"))
    );
    assert_eq!(me["externalData"], json!({"a": 1}));
    // Absent fields stay; "" clears an optional one.
    let (_, body) = json(
        app.authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
            .json(&json!({"firstName": ""}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let me = &body["responseData"];
    assert_eq!(
        (me["firstName"].as_str(), me["lastName"].as_str()),
        (Some(""), Some("Doe"))
    );
    let r = app
        .authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
        .json(&json!({"country": ""}))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(
        body["details"][0]["reason"], "Missing",
        "a required field cannot be cleared"
    );
    let bad = json!({"country": "UK", "locale": "zz", "firstName": "x".repeat(51)});
    let r = app
        .authed(Method::PATCH, &format!("/customers/{}", c.id), &c.jwt)
        .json(&bad)
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(body["details"].as_array().unwrap().len(), 3);
    let (_, body) = json(get_me(&app, &c.id, &c.jwt).await).await;
    assert_eq!(
        body["responseData"]["country"], "NL",
        "a refused PATCH changes nothing"
    );
}

async fn changing_the_email_needs_the_password_and_keeps_uniqueness(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("old@example.com").await;
    app.signed_up("taken@example.com").await;
    let path = format!("/customers/{}", c.id);
    let patch = |body: Value| app.authed(Method::PATCH, &path, &c.jwt).json(&body).send();
    let body = assert_error(
        patch(json!({"email": "new@example.com"})).await.unwrap(),
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(body["message"], "Invalid confirmationPassword");
    let body = assert_error(
        patch(json!({"email": "new@example.com", "confirmationPassword": "wrong123"}))
            .await
            .unwrap(),
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(body["message"], "Invalid confirmationPassword");
    let body = assert_error(
        patch(json!({"email": "bad", "confirmationPassword": "secret123"}))
            .await
            .unwrap(),
        400,
        "REQ0001",
    )
    .await;
    // Comma-separated: the OTT web app's account page compares each piece exactly.
    assert_eq!(
        body["message"],
        "Invalid param email, Please enter a valid e-mail address."
    );
    for taken in ["taken@example.com", "TAKEN@example.com"] {
        let r = patch(json!({"email": taken, "confirmationPassword": "secret123"}))
            .await
            .unwrap();
        let body = assert_error(r, 422, "USER0002").await;
        assert_eq!(body["message"], "Customer email already exists");
    }
    let (status, body) = json(
        patch(json!({"email": "New@example.com", "confirmationPassword": "secret123"}))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["responseData"]["email"].as_str()),
        (200, Some("New@example.com"))
    );
    assert_error(
        app.register(&registration("new@example.com")).await,
        422,
        "USER0002",
    )
    .await;
    assert_eq!(
        app.register(&registration("old@example.com"))
            .await
            .status(),
        200,
        "the old address is free again"
    );
}

async fn confirmation_passwords_share_the_login_failure_limit(backend: Backend) {
    use crate::login::{evaluated_and_throttled, failures_per_hour, login};
    let app = TestApp::spawn_with(backend, failures_per_hour(4)).await;
    let c = app.signed_up("oracle@example.com").await;
    let path = format!("/customers/{}", c.id);
    let patch = |body: Value| app.authed(Method::PATCH, &path, &c.jwt).json(&body).send();
    // A stolen JWT guessing the password at full speed, in parallel.
    let guesses = (0..20).map(|i| {
        patch(json!({"email": "thief@example.com", "confirmationPassword": format!("guess{i:04}")}))
    });
    let responses: Vec<_> = futures_util::future::join_all(guesses)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let (checked, throttled) = evaluated_and_throttled(responses, 400).await;
    assert!((1..=4).contains(&checked), "{checked} guesses evaluated");
    assert_eq!(checked + throttled, 20);
    // The right password is no longer evaluated, here or at login: one budget.
    let r = patch(json!({"email": "thief@example.com", "confirmationPassword": "secret123"}))
        .await
        .unwrap();
    assert_error(r, 429, "RATE0001").await;
    assert_error(
        login(&app, "oracle@example.com", "secret123").await,
        429,
        "RATE0001",
    )
    .await;
    // Changes that check no password go on.
    let r = patch(json!({"firstName": "Still"})).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(app.me(&c).await["email"], "oracle@example.com");

    // And the other way round: failed logins use up the budget of confirmationPassword.
    let d = app.signed_up("second@example.com").await;
    for _ in 0..4 {
        assert_eq!(
            login(&app, "SECOND@example.com", "guess1234")
                .await
                .status(),
            401
        );
    }
    let r = app
        .authed(Method::PATCH, &format!("/customers/{}", d.id), &d.jwt)
        .json(&json!({"email": "moved@example.com", "confirmationPassword": "secret123"}))
        .send()
        .await
        .unwrap();
    let retry: u64 = r.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry));
    assert_error(r, 429, "RATE0001").await;
    // A third customer is untouched.
    let e = app.signed_up("third@example.com").await;
    let r = app
        .authed(Method::PATCH, &format!("/customers/{}", e.id), &e.jwt)
        .json(&json!({"email": "third.moved@example.com", "confirmationPassword": "secret123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}
