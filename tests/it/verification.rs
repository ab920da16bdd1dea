//! Email verification: codes before registration and confirmation links after it, through a
//! real SMTP listener on loopback.

use std::time::Duration;

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::smtp::{Received, SmtpServer};
use crate::support::{Backend, TestApp, assert_error, json, registration};

backend_tests!(
    registration_needs_the_code_sent_to_the_address,
    wrong_expired_and_exhausted_codes_are_refused,
    codes_are_capped_per_address_and_not_sent_to_customers,
    without_verification_nothing_is_sent_and_customers_are_unverified,
    a_confirmation_link_verifies_the_address_once,
);

fn publisher(settings: Value) -> Value {
    json!([{"id": 100000001, "name": "Demo Publisher", "offers": ["S100000001_US"], "settings": settings,
            "consents": [{"name": "broadcaster_terms", "label": "Terms", "required": true}]}])
}

async fn app(backend: Backend, settings: Value, extra: &[(&str, Value)]) -> (TestApp, SmtpServer) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let extra: Vec<(String, Value)> = extra
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    let app = TestApp::spawn_with(backend, move |f| {
        let mut f = f
            .merge(("publishers", publisher(settings)))
            .merge(("mail.transport", "smtp"))
            .merge(("mail.smtp.host", "127.0.0.1"))
            .merge(("mail.smtp.port", port))
            .merge(("mail.smtp.tls", "none"));
        for (k, v) in extra {
            f = f.merge((k, v));
        }
        f
    })
    .await;
    (app, smtp)
}

async fn required(backend: Backend, extra: &[(&str, Value)]) -> (TestApp, SmtpServer) {
    app(backend, json!({"email_verification": "required"}), extra).await
}

async fn ask_code(app: &TestApp, email: &str) -> reqwest::Response {
    app.client
        .post(app.url("/customers/verification"))
        .json(&json!({"email": email, "publisherId": "100000001", "locale": "en_GB"}))
        .send()
        .await
        .unwrap()
}

/// The code in a verification email (the subject ends with it).
fn code(mail: &Received) -> String {
    let subject = mail.subject();
    let code = subject.rsplit(' ').next().unwrap().trim().to_owned();
    assert!(
        code.len() == 6 && code.bytes().all(|b| b.is_ascii_digit()),
        "{subject}"
    );
    assert!(mail.decoded().contains(&code), "the body has the code too");
    code
}

/// Erases a customer of the demo publisher through the store; whether there was one.
pub async fn erase(app: &TestApp, id: &str) -> bool {
    let audit = enroll::store::NewAudit {
        key_id: None,
        actor: "test".into(),
        publisher: None,
        action: "customer.erase".into(),
        detail: json!({}),
    };
    app.store
        .erase_customer(
            enroll::domain::PublisherId::parse("100000001").unwrap(),
            enroll::domain::CustomerId::parse(id).unwrap(),
            &audit,
        )
        .await
        .unwrap()
}

fn with_code(email: &str, code: &str) -> Value {
    let mut body = registration(email);
    body["verificationCode"] = json!(code);
    body
}

async fn verification_failed(response: reqwest::Response) -> Value {
    let body = assert_error(response, 400, "REQ0001").await;
    assert_eq!(body["message"], "Email verification failed.");
    assert_eq!(body["details"][0]["field"], "verificationCode");
    body
}

async fn registration_needs_the_code_sent_to_the_address(backend: Backend) {
    let (app, smtp) = required(backend, &[]).await;
    verification_failed(app.register(&registration("new@example.com")).await).await;
    let r = ask_code(&app, "New@Example.com").await;
    let (status, body) = json(r).await;
    assert_eq!((status, &body["responseData"]), (200, &json!({})), "{body}");
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, ["New@Example.com"]);
    let code = code(&mail);
    // The code is stored only as an HMAC.
    let stored = app.db.text("SELECT code_hash FROM email_codes").await;
    assert!(stored.len() == 64 && !stored.contains(&code));
    // A code belongs to its address.
    verification_failed(app.register(&with_code("other@example.com", &code)).await).await;

    let (status, body) = json(app.register(&with_code("new@example.com", &code)).await).await;
    assert_eq!(status, 200, "{body}");
    let c = crate::support::Customer::from_session(&body["responseData"]);
    assert_eq!(app.me(&c).await["emailVerified"], true);
    // Single use: the code was spent with the customer.
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM email_codes WHERE used_at IS NOT NULL")
            .await,
        1
    );
    let again = app
        .store
        .check_email_code(
            enroll::domain::PublisherId::parse("100000001").unwrap(),
            &enroll::domain::EmailKey::of("new@example.com"),
            &stored,
            5,
        )
        .await
        .unwrap();
    assert_eq!(again, enroll::store::CodeCheck::Missing);
    // Erasure drops the address's code record.
    erase(&app, &c.id).await;
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM email_codes").await, 0);
}

async fn wrong_expired_and_exhausted_codes_are_refused(backend: Backend) {
    let (app, smtp) = required(backend, &[]).await;
    ask_code(&app, "tries@example.com").await;
    let good = code(&smtp.wait_for(1).await[0]);
    let wrong = if good == "000000" { "000001" } else { "000000" };
    // A wrong code fails, and no customer is stored.
    let body =
        verification_failed(app.register(&with_code("tries@example.com", wrong)).await).await;
    assert_eq!(body["details"][0]["reason"], "InvalidValue");
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM customers").await, 0);
    // Five wrong tries in all kill the code, even for the right one afterwards.
    for _ in 0..4 {
        verification_failed(app.register(&with_code("tries@example.com", wrong)).await).await;
    }
    verification_failed(app.register(&with_code("tries@example.com", &good)).await).await;
    // A new code works again.
    ask_code(&app, "tries@example.com").await;
    let fresh = code(&smtp.wait_for(2).await[1]);
    assert_eq!(
        app.register(&with_code("tries@example.com", &fresh))
            .await
            .status(),
        200
    );

    // Expired: a server whose codes live one second.
    let (short, smtp) = required(backend, &[("auth.verification_code_ttl", json!("1s"))]).await;
    ask_code(&short, "late@example.com").await;
    let late = code(&smtp.wait_for(1).await[0]);
    tokio::time::sleep(Duration::from_millis(1300)).await;
    verification_failed(short.register(&with_code("late@example.com", &late)).await).await;
    assert_eq!(short.db.scalar("SELECT COUNT(*) FROM customers").await, 0);
}

async fn codes_are_capped_per_address_and_not_sent_to_customers(backend: Backend) {
    let (app, smtp) = required(backend, &[("auth.verification_codes_per_hour", json!(2))]).await;
    // One at a time (each email is queued after the answer), then two more over the cap.
    assert_eq!(ask_code(&app, "cap@example.com").await.status(), 200);
    smtp.wait_for(1).await;
    assert_eq!(ask_code(&app, "cap@example.com").await.status(), 200);
    let mails = smtp.wait_for(2).await;
    for _ in 0..2 {
        assert_eq!(ask_code(&app, "cap@example.com").await.status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        smtp.received().len(),
        2,
        "two codes an hour for one address"
    );
    // Only the newest code works.
    let (first, newest) = (code(&mails[0]), code(&mails[1]));
    if first != newest {
        verification_failed(app.register(&with_code("cap@example.com", &first)).await).await;
    }
    assert_eq!(
        app.register(&with_code("cap@example.com", &newest))
            .await
            .status(),
        200
    );
    // An address that has an account gets the same answer and no email.
    assert_eq!(ask_code(&app, "cap@example.com").await.status(), 200);
    // Bad input is still refused.
    let r = app
        .client
        .post(app.url("/customers/verification"))
        .json(&json!({"email": "not-an-email", "publisherId": "100000001"}))
        .send()
        .await
        .unwrap();
    let body = assert_error(r, 400, "REQ0001").await;
    assert_eq!(body["details"][0]["field"], "email");
    let r = app
        .client
        .post(app.url("/customers/verification"))
        .json(&json!({"email": "a@example.com", "publisherId": "999999999"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(smtp.received().len(), 2);
}

async fn without_verification_nothing_is_sent_and_customers_are_unverified(backend: Backend) {
    let (app, smtp) = app(backend, json!({}), &[]).await;
    assert_eq!(ask_code(&app, "off@example.com").await.status(), 200);
    let c = app.signed_up("off@example.com").await;
    assert_eq!(app.me(&c).await["emailVerified"], false);
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(smtp.received().is_empty());
    // A code given anyway is ignored.
    assert_eq!(
        app.register(&with_code("off2@example.com", "123456"))
            .await
            .status(),
        200
    );
}

async fn a_confirmation_link_verifies_the_address_once(backend: Backend) {
    let settings = json!({"reset_url_origins": ["https://demo.example"]});
    let (app, smtp) = app(backend, settings, &[]).await;
    let c = app.signed_up("confirm@example.com").await;
    let path = format!("/customers/{}/email/confirmation", c.id);
    let ask = |body: Value| {
        app.authed(reqwest::Method::POST, &path, &c.jwt)
            .json(&body)
            .send()
    };
    // No default link and none given; a foreign origin.
    let r = assert_error(ask(json!({})).await.unwrap(), 400, "REQ0001").await;
    assert_eq!(r["details"][0]["field"], "confirmUrl");
    let r = ask(json!({"confirmUrl": "https://evil.example/c"}))
        .await
        .unwrap();
    assert_error(r, 400, "REQ0001").await;
    // Someone else's customer id.
    let other = app.signed_up("other@example.com").await;
    let r = app
        .authed(reqwest::Method::POST, &path, &other.jwt)
        .json(&json!({"confirmUrl": "https://demo.example/confirm"}))
        .send()
        .await
        .unwrap();
    assert_error(r, 403, "AUTH0004").await;

    let r = ask(json!({"confirmUrl": "https://demo.example/confirm"}))
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let mail = smtp.wait_for(1).await.remove(0);
    assert_eq!(mail.to, ["confirm@example.com"]);
    let text = mail.decoded();
    let start = text.find("https://demo.example/confirm?token=").unwrap();
    let end = text[start..].find(char::is_whitespace).unwrap() + start;
    let link = url::Url::parse(&text[start..end]).unwrap();
    let token = link
        .query_pairs()
        .find(|(k, _)| k == "token")
        .unwrap()
        .1
        .into_owned();

    // A wrong token, then the right one through Enroll's own page, then again.
    let r = app
        .client
        .post(app.url("/customers/email/confirmation"))
        .json(&json!({"token": "nope"}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(r, 400, "REQ0001").await["details"][0]["field"],
        "token"
    );
    let page = app
        .get(&format!("/customers/email/confirmation?token={token}"))
        .await;
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("confirmed"));
    assert_eq!(app.me(&c).await["emailVerified"], true);
    let again = app
        .get(&format!("/customers/email/confirmation?token={token}"))
        .await;
    assert_eq!(again.status(), 400);
    assert!(
        again.text().await.unwrap().contains("Link not valid"),
        "an HTML page, not JSON"
    );

    // A new address is unverified again, and an old link does not verify it.
    assert_eq!(
        ask(json!({"confirmUrl": "https://demo.example/confirm"}))
            .await
            .unwrap()
            .status(),
        200,
        "already verified: nothing to send"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(smtp.received().len(), 1);
    let r = app
        .authed(
            reqwest::Method::PATCH,
            &format!("/customers/{}", c.id),
            &c.jwt,
        )
        .json(&json!({"email": "moved@example.com", "confirmationPassword": "secret123"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // The email change ended every session: the customer signs in again with the new address.
    assert_error(ask(json!({})).await.unwrap(), 401, "AUTH0002").await;
    let r = crate::login::login(&app, "moved@example.com", "secret123").await;
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let c = crate::support::Customer::from_session(&body["responseData"]);
    assert_eq!(app.me(&c).await["emailVerified"], false);
    let r = app
        .authed(reqwest::Method::POST, &path, &c.jwt)
        .json(&json!({"confirmUrl": "https://demo.example/confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let second = smtp.wait_for(2).await.remove(1);
    assert_eq!(second.to, ["moved@example.com"]);
    let (status, body) = json(
        app.client
            .post(app.url("/customers/email/confirmation"))
            .json(&json!({"token": second_token(&second)}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["responseData"]["emailVerified"], true);
    assert_eq!(body["responseData"]["customerId"], c.id);
    // Erasure drops the customer's confirmation links too.
    let erased = erase(&app, &c.id).await;
    assert!(erased);
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM email_confirmations WHERE customer_id = {}",
                c.id
            ))
            .await,
        0
    );
}

fn second_token(mail: &Received) -> String {
    let text = mail.decoded();
    let start = text.find("token=").unwrap() + "token=".len();
    let end = text[start..]
        .find(|ch: char| ch.is_whitespace() || ch == '"' || ch == '&')
        .unwrap()
        + start;
    text[start..end].to_owned()
}
