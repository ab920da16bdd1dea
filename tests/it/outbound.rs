//! Where the server connects is the operator's choice: the outbound policy
//! (`server.outbound_allow`) over real loopback servers, publisher keys and the captcha
//! `siteverify_url`, and the captcha secret that never follows a changed destination.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use crate::admin_api::{DEMO, OPERATOR, call, publisher_key};
use crate::backend_tests;
use crate::cli::{enroll, run};
use crate::support::siteverify::{GOOD_TOKEN, Siteverify};
use crate::support::{
    Backend, CACHE_WAIT, ServerProcess, TestApp, TestDb, assert_error, registration,
};

backend_tests!(
    publisher_keys_cannot_choose_where_the_server_connects,
    the_captcha_secret_never_follows_a_new_destination,
    siteverify_on_refused_addresses_is_never_contacted,
    the_cli_keeps_the_secret_rule_and_refusals_are_logged,
);

/// A server on `addr` that counts requests, answering each with a passing siteverify JSON or,
/// when `redirect_to` is given, with a 307 to it.
struct Target {
    base: String,
    hits: Arc<AtomicUsize>,
}

impl Target {
    async fn start(addr: &str, redirect_to: Option<String>) -> Target {
        let listener = TcpListener::bind(addr).await.unwrap();
        let local = listener.local_addr().unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let counter = hits.clone();
        let app = Router::new().fallback(move || {
            let counter = counter.clone();
            let redirect_to = redirect_to.clone();
            async move {
                counter.fetch_add(1, Ordering::SeqCst);
                match redirect_to {
                    Some(to) => (StatusCode::TEMPORARY_REDIRECT, [(header::LOCATION, to)], "")
                        .into_response(),
                    None => axum::Json(json!({"success": true, "score": 0.9})).into_response(),
                }
            }
        });
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        let base = match local {
            std::net::SocketAddr::V4(a) => format!("http://{a}"),
            std::net::SocketAddr::V6(a) => format!("http://[{}]:{}", a.ip(), a.port()),
        };
        Target { base, hits }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }

    fn port(&self) -> u16 {
        self.base.rsplit(':').next().unwrap().parse().unwrap()
    }
}

fn demo_publisher(settings: Value) -> Value {
    json!([{"id": 100000001, "name": "Demo Publisher", "offers": ["S100000001_US"], "settings": settings,
            "consents": [{"name": "broadcaster_terms", "label": "Terms", "required": true}]}])
}

fn captcha(url: &str, secret: &str) -> Value {
    json!({"provider": "turnstile", "secret": secret, "siteverify_url": url, "timeout": "1s"})
}

async fn register_with_captcha(app: &TestApp, email: &str) -> reqwest::Response {
    let mut body = registration(email);
    body["captchaValue"] = json!(GOOD_TOKEN);
    app.register(&body).await
}

const PATH: &str = "/admin/api/publishers/100000001";

async fn patch(app: &TestApp, key: &str, settings: Value) -> (u16, Value) {
    call(
        app,
        Method::PATCH,
        PATH,
        key,
        Some(json!({ "settings": settings })),
    )
    .await
}

async fn stored_captcha(app: &TestApp) -> enroll::captcha::CaptchaSettings {
    let id = enroll::domain::PublisherId::parse(DEMO).unwrap();
    let p = app.store.publisher(id).await.unwrap().unwrap();
    p.settings.captcha.expect("a captcha block")
}

async fn publisher_keys_cannot_choose_where_the_server_connects(backend: Backend) {
    let verify = Siteverify::start().await;
    let evil = Siteverify::start().await;
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR)).merge((
            "publishers",
            demo_publisher(json!({"captcha": captcha(&verify.url, "operator-secret")})),
        ))
    })
    .await;
    let (key, _) = publisher_key(&app, DEMO).await;

    // Every way a publisher key might aim the server elsewhere is refused with 403.
    let attempts = [
        // a full captcha block with a secret of its own
        json!({"captcha": {"provider": "turnstile", "secret": "mine", "siteverify_url": evil.url}}),
        // the same without a secret (would carry the operator's)
        json!({"captcha": {"provider": "turnstile", "siteverify_url": evil.url}}),
        // the same URL spelt differently is still another one
        json!({"captcha": {"provider": "turnstile", "secret": "mine",
                           "siteverify_url": evil.url.replace("127.0.0.1", "localhost")}}),
        // dropping the operator's URL (back to the provider's public endpoint); settings are a
        // merge patch, so dropping is a null (leaving the key out keeps the operator's URL)
        json!({"captcha": {"provider": "turnstile", "secret": "mine", "siteverify_url": null}}),
        // with a provider change
        json!({"captcha": {"provider": "hcaptcha", "secret": "mine", "siteverify_url": evil.url}}),
        // a non-string value
        json!({"captcha": {"provider": "turnstile", "secret": "mine", "siteverify_url": ["x"]}}),
    ];
    for settings in attempts {
        let r = app
            .client
            .patch(app.url(PATH))
            .bearer_auth(&key)
            .json(&json!({ "settings": settings }))
            .send()
            .await
            .unwrap();
        let body = assert_error(r, 403, "AUTH0004").await;
        assert_eq!(
            body["details"][0]["field"], "settings.captcha.siteverify_url",
            "{settings}: {body}"
        );
    }
    // A key written with a JSON escape is the same key.
    let raw = format!(
        r#"{{"settings":{{"captcha":{{"provider":"turnstile","secret":"mine","siteverify\u005furl":"{}"}}}}}}"#,
        evil.url
    );
    let r = app
        .client
        .patch(app.url(PATH))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(raw)
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "AUTH0004").await;
    // Differently cased keys are not settings at all.
    for settings in [
        json!({"captcha": {"provider": "turnstile", "secret": "mine", "siteverify_url": verify.url,
                           "SiteVerify_URL": evil.url}}),
        json!({"Captcha": {"provider": "turnstile", "secret": "mine", "siteverify_url": evil.url}}),
    ] {
        let (status, body) = patch(&app, &key, settings.clone()).await;
        assert_eq!(status, 400, "{settings}: {body}");
        assert_eq!(body["code"], "REQ0001");
    }
    let stored = stored_captcha(&app).await;
    assert_eq!(
        (
            stored.siteverify_url.as_deref(),
            stored.secret.as_str(),
            stored.provider.as_str()
        ),
        (Some(verify.url.as_str()), "operator-secret", "turnstile")
    );
    assert_eq!(
        register_with_captcha(&app, "a@example.com").await.status(),
        200
    );
    assert!(evil.requests().is_empty(), "the other URL never contacted");
    assert_eq!(verify.requests().len(), 1);

    // What stays the publisher's own: other captcha settings, a provider change at the
    // operator's URL with the new provider's secret, and turning captcha off.
    let (status, body) = patch(
        &app,
        &key,
        json!({"captcha": {"provider": "turnstile", "siteverify_url": verify.url, "min_score": 0.3,
                           "routes": ["registration", "login"]}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = patch(
        &app,
        &key,
        json!({"captcha": {"provider": "hcaptcha", "secret": "publisher-hcaptcha", "siteverify_url": verify.url}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(stored_captcha(&app).await.secret, "publisher-hcaptcha");

    // The operator may point it anywhere (with the secret for that place).
    let (status, body) = patch(
        &app,
        OPERATOR,
        json!({"captcha": {"provider": "turnstile", "secret": "for-the-other", "siteverify_url": evil.url}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(CACHE_WAIT).await;
    assert_eq!(
        register_with_captcha(&app, "b@example.com").await.status(),
        200
    );
    assert_eq!(evil.requests()[0].0, "for-the-other");
    let (status, _) = patch(&app, &key, json!({"captcha": null})).await;
    assert_eq!(status, 200, "a publisher may turn its captcha off");
}

async fn the_captcha_secret_never_follows_a_new_destination(backend: Backend) {
    let first = Siteverify::start().await;
    let second = Siteverify::start().await;
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR)).merge((
            "publishers",
            demo_publisher(json!({"captcha": captcha(&first.url, "the-secret")})),
        ))
    })
    .await;
    let (key, _) = publisher_key(&app, DEMO).await;

    // Even the operator cannot move the stored secret: a new URL or provider needs a new one.
    for (who, settings) in [
        (
            OPERATOR,
            json!({"captcha": {"provider": "turnstile", "siteverify_url": second.url}}),
        ),
        (
            OPERATOR,
            json!({"captcha": {"provider": "turnstile", "secret": "", "siteverify_url": second.url}}),
        ),
        (
            OPERATOR,
            json!({"captcha": {"provider": "hcaptcha", "siteverify_url": first.url}}),
        ),
        (
            key.as_str(),
            json!({"captcha": {"provider": "recaptcha_v3", "siteverify_url": first.url}}),
        ),
    ] {
        let (status, body) = patch(&app, who, settings.clone()).await;
        assert_eq!(status, 400, "{settings}: {body}");
        assert_eq!(body["details"][0]["field"], "settings.captcha", "{body}");
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("secret is required when provider or siteverify_url changes"),
            "{body}"
        );
    }
    let stored = stored_captcha(&app).await;
    assert_eq!(
        (stored.siteverify_url.as_deref(), stored.provider.as_str()),
        (Some(first.url.as_str()), "turnstile")
    );

    // Same destination, other settings: kept (by a publisher key too).
    let (status, body) = patch(
        &app,
        &key,
        json!({"captcha": {"provider": "turnstile", "siteverify_url": first.url, "min_score": 0.9,
                           "fail_open": false, "timeout": "2s"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        !body.to_string().contains("the-secret"),
        "never shown: {body}"
    );
    tokio::time::sleep(CACHE_WAIT).await;
    assert_eq!(
        register_with_captcha(&app, "c@example.com").await.status(),
        200
    );
    assert!(second.requests().is_empty());
    assert_eq!(first.requests().last().unwrap().0, "the-secret");

    // A new destination with its secret: the new place sees only the new secret.
    let (status, body) = patch(
        &app,
        OPERATOR,
        json!({"captcha": {"provider": "turnstile", "siteverify_url": second.url, "secret": "second-secret"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(CACHE_WAIT).await;
    assert_eq!(
        register_with_captcha(&app, "d@example.com").await.status(),
        200
    );
    let seen: Vec<String> = second.requests().into_iter().map(|r| r.0).collect();
    assert_eq!(seen, vec!["second-secret".to_owned()]);
}

/// A server whose allow list does not cover loopback (`10.0.0.0/8`), and `fail_open` as given.
async fn refusing(backend: Backend, url: &str, fail_open: bool) -> TestApp {
    let mut block = captcha(url, "never-sent");
    block["fail_open"] = json!(fail_open);
    TestApp::spawn_with(backend, move |f| {
        f.merge(("server.outbound_allow", "10.0.0.0/8"))
            .merge(("publishers", demo_publisher(json!({ "captcha": block }))))
    })
    .await
}

async fn siteverify_on_refused_addresses_is_never_contacted(backend: Backend) {
    let v4 = Target::start("127.0.0.1:0", None).await;
    let v6 = Target::start("[::1]:0", None).await;
    let port = v4.port();
    for (n, url) in [
        format!("http://127.0.0.1:{port}/siteverify"),
        // a name that resolves to loopback
        format!("http://localhost:{port}/siteverify"),
        // IPv4-mapped IPv6 (a dual-stack socket reaches 127.0.0.1 through it)
        format!("http://[::ffff:127.0.0.1]:{port}/siteverify"),
        // the integer form of 127.0.0.1
        format!("http://2130706433:{port}/siteverify"),
        format!("{}/siteverify", v6.base),
    ]
    .into_iter()
    .enumerate()
    {
        let app = refusing(backend, &url, false).await;
        let r = register_with_captcha(&app, &format!("closed{n}@example.com")).await;
        assert_error(r, 429, "CPT0002").await;
        app.stop().await;
        if n < 2 {
            let open = refusing(backend, &url, true).await;
            assert_eq!(
                register_with_captcha(&open, &format!("open{n}@example.com"))
                    .await
                    .status(),
                200,
                "fail_open admits when the provider cannot be asked ({url})"
            );
            open.stop().await;
        }
        assert_eq!((v4.hits(), v6.hits()), (0, 0), "{url} was contacted");
    }
    // ::1 is refused even where 127.0.0.0/8 is allowed (the tests' own setting).
    let app = TestApp::spawn_with(backend, |f| {
        f.merge((
            "publishers",
            demo_publisher(json!({"captcha": captcha(&format!("{}/siteverify", v6.base), "s")})),
        ))
    })
    .await;
    assert_error(
        register_with_captcha(&app, "v6@example.com").await,
        429,
        "CPT0002",
    )
    .await;
    assert_eq!(v6.hits(), 0);
    // The control: an allowed address is reached, so the refusals above are the policy's.
    let app = TestApp::spawn_with(backend, |f| {
        f.merge((
            "publishers",
            demo_publisher(
                json!({"captcha": captcha(&format!("http://localhost:{port}/siteverify"), "s")}),
            ),
        ))
    })
    .await;
    assert_eq!(
        register_with_captcha(&app, "ok@example.com").await.status(),
        200
    );
    assert_eq!(v4.hits(), 1);
    // Redirects are not followed by siteverify: a 3xx to a refused address leaves it alone.
    let hidden = Target::start("127.0.0.2:0", None).await;
    let redirector =
        Target::start("127.0.0.1:0", Some(format!("{}/siteverify", hidden.base))).await;
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("server.outbound_allow", "127.0.0.1/32")).merge((
            "publishers",
            demo_publisher(
                json!({"captcha": captcha(&format!("{}/siteverify", redirector.base), "s")}),
            ),
        ))
    })
    .await;
    assert_error(
        register_with_captcha(&app, "r@example.com").await,
        429,
        "CPT0002",
    )
    .await;
    assert_eq!((redirector.hits(), hidden.hits()), (1, 0));
}

async fn the_cli_keeps_the_secret_rule_and_refusals_are_logged(backend: Backend) {
    let db = TestDb::new(backend).await;
    let verify = Siteverify::start().await;
    let other = Siteverify::start().await;
    let server = ServerProcess::start(&[
        ("ENROLL_DATABASE__URL", db.url.clone()),
        ("ENROLL_CACHE__TTL", "200ms".into()),
        ("ENROLL_LIMITS__ENABLED", "false".into()),
        (
            "ENROLL_SERVER__OUTBOUND_ALLOW",
            "10.0.0.0/8, fd00::/8".into(),
        ),
    ])
    .await;
    let update = |sets: &[String]| {
        let mut cmd = enroll(&db.url);
        cmd.args(["publisher", "update", "--id", DEMO]);
        for s in sets {
            cmd.args(["--set", s]);
        }
        cmd
    };
    let block = captcha(&verify.url, "cli-secret");
    let (ok, _, err) = run(&mut update(&[format!("captcha={block}")])).await;
    assert!(ok, "{err}");
    for sets in [
        vec![format!("captcha.siteverify_url={}", other.url)],
        vec!["captcha.siteverify_url=null".to_owned()],
        vec!["captcha.provider=hcaptcha".to_owned()],
        vec![
            "captcha.secret=".to_owned(),
            format!("captcha.siteverify_url={}", other.url),
        ],
    ] {
        let (ok, _, err) = run(&mut update(&sets)).await;
        assert!(!ok, "{sets:?}");
        assert!(
            err.contains("secret is required when provider or siteverify_url changes"),
            "{sets:?}: {err}"
        );
    }
    let (ok, _, err) = run(&mut update(&["captcha.min_score=0.7".to_owned()])).await;
    assert!(ok, "{err}");
    // A new place and its secret, in two --sets of one command.
    let (ok, _, err) = run(&mut update(&[
        format!("captcha.siteverify_url={}", other.url),
        "captcha.secret=other-secret".to_owned(),
    ]))
    .await;
    assert!(ok, "{err}");
    let (ok, out, _) = run(enroll(&db.url).args(["publisher", "show", "--id", DEMO])).await;
    assert!(ok);
    assert!(out.contains(&other.url), "{out}");
    assert!(!out.contains("secret\""), "{out}");

    // This server does not allow loopback: the registration fails closed, nothing is sent,
    // and the log says why, without the secret.
    tokio::time::sleep(CACHE_WAIT).await;
    let mut body = registration("cli@example.com");
    body["captchaValue"] = json!(GOOD_TOKEN);
    let r = reqwest::Client::new()
        .post(format!("{}/customers", server.address))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_error(r, 429, "CPT0002").await;
    assert!(verify.requests().is_empty() && other.requests().is_empty());
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let logs = server.log.lock().unwrap().join("\n");
    let line = logs
        .lines()
        .find(|l| l.contains("the outbound policy refuses it"))
        .unwrap_or_else(|| panic!("no refusal logged:\n{logs}"));
    assert!(line.contains("127.0.0.1 is a loopback address"), "{line}");
    assert!(line.contains("server.outbound_allow"), "{line}");
    for secret in ["cli-secret", "other-secret", GOOD_TOKEN] {
        assert!(!logs.contains(secret), "{secret} logged");
    }
}

/// An error with all its causes.
fn chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn the_outbound_client_checks_every_redirect_hop() {
    use enroll::outbound::{Outbound, Redirects};
    // Only 127.0.0.2 is allowed; the targets listen on 127.0.0.1 and ::1.
    let policy = Outbound::new(vec!["127.0.0.2/32".parse().unwrap()]);
    let client = policy.client(Redirects::Follow(5)).unwrap();
    let refused = Target::start("127.0.0.1:0", None).await;
    let allowed = Target::start("127.0.0.2:0", None).await;
    let port = refused.port();
    for to in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
    ] {
        let hop = Target::start("127.0.0.2:0", Some(to.clone())).await;
        let error = client
            .get(&format!("{}/start", hop.base))
            .unwrap()
            .send()
            .await
            .expect_err(&to);
        let text = chain(&error);
        assert!(text.contains("outbound request refused"), "{to}: {text}");
        assert_eq!((hop.hits(), refused.hits()), (1, 0), "{to}");
    }
    // Asked directly: refused before anything is sent (literal) or at resolution (name).
    assert!(client.get(&format!("http://127.0.0.1:{port}/")).is_err());
    assert!(
        client
            .get(&format!("http://[::ffff:7f00:1]:{port}/"))
            .is_err()
    );
    assert!(client.get("http://[::1]/").is_err());
    assert!(
        client
            .get("http://169.254.169.254/latest/meta-data/")
            .is_err()
    );
    let error = client
        .get(&format!("http://localhost:{port}/"))
        .unwrap()
        .send()
        .await
        .unwrap_err();
    assert!(
        chain(&error).contains("localhost resolves only to addresses that are not public"),
        "{}",
        chain(&error)
    );
    assert_eq!(refused.hits(), 0);
    // The control: a hop to an allowed address is followed.
    let hop = Target::start("127.0.0.2:0", Some(format!("{}/end", allowed.base))).await;
    let r = client
        .get(&format!("{}/start", hop.base))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(allowed.hits(), 1);
    // With no redirects, a 3xx is the answer.
    let single = policy.client(Redirects::None).unwrap();
    let r = single
        .get(&format!("{}/start", hop.base))
        .unwrap()
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 307);
    assert_eq!(allowed.hits(), 1);
}
