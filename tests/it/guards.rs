//! Per-publisher captcha (through a real siteverify server on loopback) and password policy.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::siteverify::Siteverify;
use crate::support::{Backend, TestApp, assert_error, registration};

backend_tests!(
    captcha_guards_registration_login_and_reset,
    weak_passwords_are_refused_by_score_and_by_list
);

fn publisher(settings: Value) -> Value {
    json!([{"id": 100000001, "name": "Demo Publisher", "offers": ["S100000001_US"], "settings": settings,
            "consents": [{"name": "broadcaster_terms", "label": "Terms", "required": true}]}])
}

async fn with_captcha(backend: Backend, verify: &Siteverify, extra: Value) -> TestApp {
    let mut captcha = json!({"provider": "turnstile", "secret": "s3cret", "siteverify_url": verify.url,
                             "routes": ["registration", "login", "password_reset"], "timeout": "300ms"});
    for (k, v) in extra.as_object().unwrap() {
        captcha[k] = v.clone();
    }
    let settings = json!({"captcha": captcha, "reset_url_default": "https://demo.example/reset"});
    TestApp::spawn_with(backend, move |f| {
        f.merge(("publishers", publisher(settings)))
    })
    .await
}

async fn captcha_guards_registration_login_and_reset(backend: Backend) {
    let verify = Siteverify::start().await;
    let app = with_captcha(backend, &verify, json!({})).await;
    let body = registration("cap@example.com");
    let r = assert_error(app.register(&body).await, 429, "CPT0001").await;
    assert_eq!(r["message"], "Captcha verification required");
    let mut sdk = body.clone();
    sdk["captchaValue"] = json!("");
    assert_error(app.register(&sdk).await, 429, "CPT0001").await;
    sdk["captchaValue"] = json!("forged");
    assert_eq!(
        assert_error(app.register(&sdk).await, 429, "CPT0002").await["message"],
        "Captcha verification failed"
    );
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM customers").await, 0);
    sdk["captchaValue"] = json!("good-token");
    assert_eq!(app.register(&sdk).await.status(), 200);
    let (secret, response, remote) = verify.requests().last().cloned().unwrap();
    assert_eq!(
        (secret.as_str(), response.as_str(), remote.as_deref()),
        ("s3cret", "good-token", Some("127.0.0.1"))
    );

    // Login: the header form is accepted too.
    let login =
        json!({"email": "cap@example.com", "password": "secret123", "publisherId": "100000001"});
    let r = app
        .client
        .post(app.url("/auths"))
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_error(r, 429, "CPT0001").await;
    let r = app
        .client
        .post(app.url("/auths"))
        .header("x-captcha-token", "good-token")
        .json(&login)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Password reset.
    let reset = json!({"customerEmail": "cap@example.com", "publisherId": "100000001", "captchaValue": "nope"});
    let r = app
        .client
        .put(app.url("/customers/passwords"))
        .json(&reset)
        .send()
        .await
        .unwrap();
    assert_error(r, 429, "CPT0002").await;

    // The provider too slow: fail closed by default…
    verify.set_slow(Some(std::time::Duration::from_secs(2)));
    let mut late = registration("late@example.com");
    late["captchaValue"] = json!("good-token");
    assert_error(app.register(&late).await, 429, "CPT0002").await;
    let text = app.get("/metrics").await.text().await.unwrap();
    assert!(
        text.contains("outcome=\"unavailable\""),
        "counted in metrics"
    );
    // …or open when the publisher says so.
    let open = with_captcha(backend, &verify, json!({"fail_open": true})).await;
    assert_eq!(open.register(&late).await.status(), 200);
    verify.set_slow(None);
}

async fn weak_passwords_are_refused_by_score_and_by_list(backend: Backend) {
    let settings = json!({"password_policy": {"min_score": 3, "reject_common": true}});
    let app = TestApp::spawn_with(backend, move |f| {
        f.merge(("publishers", publisher(settings)))
    })
    .await;
    let mut b = registration("jane.doe@example.com");
    for (password, why) in [
        ("password1", "in the list"),
        ("secret123", "low score"),
        ("janedoe2024", "made of the email"),
    ] {
        b["password"] = json!(password);
        let body = assert_error(app.register(&b).await, 400, "REQ0001").await;
        assert_eq!(
            (
                body["details"][0]["field"].as_str(),
                body["details"][0]["reason"].as_str()
            ),
            (Some("password"), Some("Weak")),
            "{why}"
        );
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("Invalid param password. ") && message.len() > 30,
            "a hint: {message}"
        );
    }
    b["password"] = json!("correct horse battery staple 7");
    assert_eq!(app.register(&b).await.status(), 200);
    // The base rule alone elsewhere: the demo config has no policy.
    let plain = TestApp::spawn(backend).await;
    let mut b = registration("p@example.com");
    b["password"] = json!("secret123");
    assert_eq!(plain.register(&b).await.status(), 200);
}
