//! Password reset end to end through a real SMTP listener, and the outbox.

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::login::{login, refresh};
use crate::support::smtp::{Received, SmtpServer};
use crate::support::{Backend, TestApp, assert_error, json, registration};

backend_tests!(
    reset_end_to_end_through_smtp,
    unknown_emails_get_the_same_answer_and_no_mail,
    reset_urls_must_be_allowed_origins,
    at_most_three_reset_emails_an_hour,
    expired_and_reused_tokens_are_refused,
    failed_deliveries_are_retried_and_survive_a_restart,
    the_file_transport_writes_eml_files,
);

pub async fn with_smtp(backend: Backend) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, move |f| smtp_settings(f, port)).await;
    (app, smtp)
}

fn smtp_settings(f: figment::Figment, port: u16) -> figment::Figment {
    f.merge(("mail.transport", "smtp"))
        .merge(("mail.smtp.host", "127.0.0.1"))
        .merge(("mail.smtp.port", port))
        .merge(("mail.smtp.tls", "none"))
        .merge(("mail.from", "Demo <no-reply@demo.example>"))
}

pub async fn ask_reset(app: &TestApp, email: &str, reset_url: Value) -> reqwest::Response {
    let body = json!({"customerEmail": email, "publisherId": "100000001", "resetUrl": reset_url});
    app.client
        .put(app.url("/customers/passwords"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

pub async fn set_password(
    app: &TestApp,
    email: &str,
    token: &str,
    password: &str,
) -> reqwest::Response {
    let body = json!({"customerEmail": email, "offerId": "S100000001_US", "resetPasswordToken": token, "newPassword": password});
    app.client
        .patch(app.url("/customers/passwords"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// The link in a reset email, and its token.
pub fn link(mail: &Received) -> (url::Url, String) {
    let text = mail.decoded();
    let start = text.find("http").unwrap();
    let end = text[start..].find(char::is_whitespace).unwrap() + start;
    let url = url::Url::parse(&text[start..end]).unwrap();
    let token = url
        .query_pairs()
        .find(|(k, _)| k == "resetPasswordToken")
        .unwrap()
        .1
        .into_owned();
    (url, token)
}

async fn reset_end_to_end_through_smtp(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    let c = app.signed_up("Reset.Me@Example.com").await;
    // Typed differently (full-width, other case): the mail still goes to the stored address.
    let r = ask_reset(
        &app,
        "ＲＥＳＥＴ.me@example.com",
        json!("http://localhost:3000/reset"),
    )
    .await;
    let (status, body) = json(r).await;
    assert_eq!(
        (status, body),
        (200, json!({"responseData": {}, "errors": []}))
    );
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, vec!["Reset.Me@Example.com".to_owned()]);
    assert_eq!(mail.from, "no-reply@demo.example");
    assert!(
        mail.subject().contains("Demo Publisher"),
        "{}",
        mail.subject()
    );
    assert!(mail.data.contains("text/html") && mail.data.contains("text/plain"));
    let (url, token) = link(&mail);
    assert_eq!(url.origin().ascii_serialization(), "http://localhost:3000");
    assert_eq!(url.path(), "/reset");
    let q: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(
        (q["email"].as_str(), q["publisherId"].as_str()),
        ("Reset.Me@Example.com", "100000001")
    );
    assert!(token.len() >= 22);
    let stored = app.db.text("SELECT hash FROM password_resets").await;
    assert_ne!(stored, token, "reset tokens are stored hashed");

    let weak = assert_error(
        set_password(&app, "reset.me@example.com", &token, "short").await,
        400,
        "REQ0001",
    )
    .await;
    assert!(
        weak["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid param password. "),
        "lower case: the OTT web app matches it case-sensitively"
    );
    assert_eq!(weak["details"][0]["field"], "newPassword");
    let (status, _) =
        json(set_password(&app, "reset.me@example.com", &token, "brandnew42").await).await;
    assert_eq!(status, 200);
    assert_eq!(
        login(&app, "reset.me@example.com", "brandnew42")
            .await
            .status(),
        200
    );
    assert_error(
        login(&app, "reset.me@example.com", "secret123").await,
        401,
        "USER0001",
    )
    .await;
    assert_error(refresh(&app, &c.refresh).await, 401, "AUTH0005").await;
    let changed = smtp.wait_for(2).await.remove(1);
    assert!(
        changed.subject().contains("was changed"),
        "{}",
        changed.subject()
    );
    assert_eq!(changed.to, vec!["Reset.Me@Example.com".to_owned()]);
    let body = assert_error(
        set_password(&app, "reset.me@example.com", &token, "another42").await,
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(body["message"], "resetPasswordToken is not valid");
    // Sent rows keep no payload (it held the link).
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NOT NULL AND payload IS NULL")
            .await,
        2
    );
}

async fn unknown_emails_get_the_same_answer_and_no_mail(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    let mut b = registration("nl@example.com");
    b["locale"] = json!("nl_NL");
    assert_eq!(app.register(&b).await.status(), 200);
    let (s1, b1) = json(ask_reset(&app, "nobody@example.com", json!("")).await).await;
    let (s2, b2) = json(ask_reset(&app, "nl@example.com", json!(null)).await).await;
    assert_eq!(
        (s1, &b1),
        (s2, &b2),
        "the same answer whether the customer exists or not"
    );
    let mails = smtp.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
    assert_eq!(mails[0].to, vec!["nl@example.com".to_owned()]);
    assert!(
        mails[0].subject().starts_with("Stel je wachtwoord"),
        "the customer's language: {}",
        mails[0].subject()
    );
    let (url, _) = link(&mails[0]);
    assert_eq!(
        url.path(),
        "/reset-password",
        "the publisher's default reset URL"
    );
}

async fn reset_urls_must_be_allowed_origins(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("publishers", json!([{"id": 100000001, "name": "Demo", "offers": ["S100000001_US"],
            "settings": {"reset_url_origins": ["https://app.example.com", "http://app.example.org", "http://localhost:3000"]}}])))
    })
    .await;
    for bad in [
        "https://evil.example/reset",
        "https://app.example.com.evil.example/reset",
        "https://app.example.com:8443/reset",
        "http://app.example.com/reset",
        "http://app.example.org/reset",
        "javascript:alert(1)",
        "not a url",
        "https://user:pw@app.example.com/reset",
    ] {
        let body = assert_error(
            ask_reset(&app, "a@example.com", json!(bad)).await,
            400,
            "REQ0001",
        )
        .await;
        assert_eq!(body["message"], "Invalid param resetUrl", "{bad}");
    }
    for good in [
        "https://app.example.com/reset?x=1",
        "http://localhost:3000/r",
    ] {
        assert_eq!(
            ask_reset(&app, "a@example.com", json!(good)).await.status(),
            200,
            "{good}"
        );
    }
    // No default configured and none given.
    assert_error(
        ask_reset(&app, "a@example.com", json!("")).await,
        400,
        "REQ0001",
    )
    .await;
}

async fn at_most_three_reset_emails_an_hour(backend: Backend) {
    let (app, smtp) = with_smtp(backend).await;
    app.signed_up("many@example.com").await;
    for _ in 0..5 {
        assert_eq!(
            ask_reset(&app, "many@example.com", json!(""))
                .await
                .status(),
            200
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    smtp.wait_for(3).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(smtp.received().len(), 3);
}

async fn expired_and_reused_tokens_are_refused(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, move |f| {
        smtp_settings(f, port).merge(("auth.reset_token_ttl", "1s"))
    })
    .await;
    app.signed_up("exp@example.com").await;
    ask_reset(&app, "exp@example.com", json!("")).await;
    let (_, token) = link(&smtp.wait_for(1).await[0]);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let body = assert_error(
        set_password(&app, "exp@example.com", &token, "brandnew42").await,
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(body["message"], "resetPasswordToken is not valid");
    assert_error(
        set_password(&app, "exp@example.com", "made-up", "brandnew42").await,
        400,
        "REQ0001",
    )
    .await;
    // A valid token for another customer's email is not valid for this one.
    app.signed_up("other@example.com").await;
    ask_reset(&app, "other@example.com", json!("")).await;
    let (_, other) = link(&smtp.wait_for(2).await[1]);
    assert_error(
        set_password(&app, "exp@example.com", &other, "brandnew42").await,
        400,
        "REQ0001",
    )
    .await;
}

async fn failed_deliveries_are_retried_and_survive_a_restart(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    smtp.refuse_next(2);
    let app = TestApp::spawn_with(backend, move |f| smtp_settings(f, port)).await;
    app.signed_up("retry@example.com").await;
    ask_reset(&app, "retry@example.com", json!("")).await;
    smtp.wait_for(1).await;
    assert_eq!(smtp.attempts(), 3, "two refusals, then accepted");
    assert_eq!(
        app.db
            .scalar("SELECT CAST(attempts AS BIGINT) FROM outbox")
            .await,
        3
    );

    // Refused while the service stops: the next process sends it.
    smtp.refuse_next(1000);
    ask_reset(&app, "retry@example.com", json!("")).await;
    for _ in 0..100 {
        if smtp.attempts() > 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let db = app.db.clone();
    app.stop().await;
    smtp.refuse_next(0);
    let again = TestApp::spawn_on(db, move |f| smtp_settings(f, port)).await;
    smtp.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 2, "sent once, nothing lost");
    assert_eq!(
        again
            .db
            .scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL")
            .await,
        0
    );
}

async fn the_file_transport_writes_eml_files(backend: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_owned();
    let app = TestApp::spawn_with(backend, move |f| f.merge(("mail.dir", path))).await;
    app.signed_up("file@example.com").await;
    ask_reset(&app, "file@example.com", json!("")).await;
    for _ in 0..100 {
        if std::fs::read_dir(dir.path()).unwrap().count() > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let entry = std::fs::read_dir(dir.path())
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    assert_eq!(entry.path().extension().unwrap(), "eml");
    let text = std::fs::read_to_string(entry.path()).unwrap();
    assert!(
        text.contains("To: file@example.com")
            && text.contains("Subject: Reset your Demo Publisher password"),
        "{text}"
    );
}
