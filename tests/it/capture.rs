//! Capture: the extra profile fields a publisher asks for, at and after registration.

use serde_json::{Value, json};

use crate::backend_tests;
use crate::support::{Backend, Customer, TestApp, assert_error, json, registration};

backend_tests!(
    capture_off_keeps_the_fixed_shape,
    capture_status_and_answers_round_trip,
    each_capture_field_is_validated,
    required_at_registration_refuses_missing_answers,
    the_cli_switches_features_on_for_a_running_server,
    a_publisher_key_switches_features_through_the_admin_api,
);

fn settings(capture: Value) -> Value {
    json!([{"id": 100000001, "name": "Demo Publisher", "offers": ["S100000001_US"],
            "settings": {"capture": capture},
            "consents": [{"name": "broadcaster_terms", "label": "Terms", "required": true}]}])
}

pub(crate) fn full() -> Value {
    json!({
        "first_name_last_name": "required", "birth_date": "required", "min_age": 18,
        "company_name": "optional", "phone_number": "optional", "address": "optional",
        "custom": [{"id": "custom_genre", "question": "Favourite genre?", "values": ["Drama", "Comedy", "News"], "required": true}]
    })
}

pub async fn with_capture(backend: Backend, capture: Value) -> TestApp {
    TestApp::spawn_with(backend, move |f| {
        f.merge(("publishers", settings(capture)))
            .merge(("admin.operator_key", crate::admin_api::OPERATOR))
    })
    .await
}

pub(crate) async fn status(app: &TestApp, c: &Customer) -> Value {
    let r = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}/capture/status", c.id),
            &c.jwt,
        )
        .send()
        .await
        .unwrap();
    let (code, body) = json(r).await;
    assert_eq!(code, 200, "{body}");
    body["responseData"].clone()
}

async fn put(app: &TestApp, c: &Customer, body: Value) -> reqwest::Response {
    app.authed(
        reqwest::Method::PUT,
        &format!("/customers/{}/capture", c.id),
        &c.jwt,
    )
    .json(&body)
    .send()
    .await
    .unwrap()
}

pub(crate) fn setting<'a>(status: &'a Value, key: &str) -> &'a Value {
    status["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("no {key} in {status}"))
}

/// A complete capture form for the `full()` settings.
fn answers_again() -> Value {
    json!({"firstName": "Ann", "lastName": "Lee", "birthDate": "1990-05-17", "phoneNumber": "+31201234567",
           "customAnswers": [{"questionId": "custom_genre", "value": "Drama"}]})
}

async fn capture_off_keeps_the_fixed_shape(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let c = app.signed_up("off@example.com").await;
    assert_eq!(
        status(&app, &c).await,
        json!({"isCaptureEnabled": false, "shouldCaptureBeDisplayed": false, "settings": []})
    );
    // Capture fields in a registration are ignored when capture is off.
    let mut body = registration("off2@example.com");
    body["birthDate"] = json!("not a date");
    assert_eq!(app.register(&body).await.status(), 200);
}

async fn capture_status_and_answers_round_trip(backend: Backend) {
    let app = with_capture(backend, full()).await;
    let c = app.signed_up("cap@example.com").await;
    let s = status(&app, &c).await;
    assert_eq!(s["isCaptureEnabled"], true);
    assert_eq!(s["shouldCaptureBeDisplayed"], true);
    let keys: Vec<&str> = s["settings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "firstNameLastName",
            "birthDate",
            "companyName",
            "phoneNumber",
            "address",
            "custom_genre"
        ]
    );
    assert_eq!(
        setting(&s, "birthDate"),
        &json!({"key": "birthDate", "enabled": true, "required": true, "answer": null})
    );
    assert_eq!(
        setting(&s, "custom_genre"),
        &json!({"key": "custom_genre", "enabled": true, "required": true, "question": "Favourite genre?",
                "value": "Drama;Comedy;News", "answer": null})
    );

    // What the Cleeng MediaStore SDK sends: every field, "" for the ones not shown.
    let answers = json!({
        "firstName": "Ann", "lastName": "O'Neil, Jr.", "address": "Main 1", "address2": "",
        "city": "Utrecht", "state": "", "postCode": "1234 AB", "email": "", "birthDate": "1990-05-17",
        "companyName": "", "phoneNumber": "+31 20 123 4567",
        "customAnswers": [{"questionId": "custom_genre", "question": "Favourite genre?", "value": "Drama"}]
    });
    let (code, body) = json(put(&app, &c, answers).await).await;
    assert_eq!(code, 200, "{body}");
    let s = &body["responseData"];
    assert_eq!(s["shouldCaptureBeDisplayed"], false);
    assert_eq!(
        setting(s, "firstNameLastName")["answer"],
        json!({"firstName": "Ann", "lastName": "O'Neil, Jr."})
    );
    assert_eq!(setting(s, "birthDate")["answer"], "1990-05-17");
    assert_eq!(setting(s, "phoneNumber")["answer"], "+31201234567");
    assert_eq!(setting(s, "companyName")["answer"], Value::Null);
    assert_eq!(
        setting(s, "address")["answer"],
        json!({"address": "Main 1", "address2": "", "city": "Utrecht", "state": "", "postCode": "1234 AB", "country": ""})
    );
    assert_eq!(setting(s, "custom_genre")["answer"], "Drama");
    assert_eq!(&status(&app, &c).await, s, "stored");
    let me = app.me(&c).await;
    assert_eq!(
        (me["firstName"].as_str(), me["lastName"].as_str()),
        (Some("Ann"), Some("O'Neil, Jr."))
    );
    // The answers reach the admin API and its CSV export.
    let admin = crate::admin_api::ok(
        &app,
        &format!("/admin/api/publishers/100000001/customers/{}", c.id),
        crate::admin_api::OPERATOR,
    )
    .await;
    let shown = admin.to_string();
    assert!(
        shown.contains("1990-05-17") && shown.contains("Utrecht"),
        "{shown}"
    );
    let csv = crate::admin_api::request(
        &app,
        reqwest::Method::GET,
        "/admin/api/publishers/100000001/customers.csv",
        crate::admin_api::OPERATOR,
    )
    .send()
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let row: Vec<String> = reader
        .records()
        .next()
        .unwrap()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let cell = |name: &str| row[header.iter().position(|h| h == name).unwrap()].clone();
    assert_eq!(cell("birthDate"), "1990-05-17");
    assert_eq!(cell("city"), "Utrecht");
    assert_eq!(
        cell("phoneNumber"),
        "'+31201234567",
        "a leading + is neutralized like a formula"
    );
    assert_eq!(cell("customAnswers"), r#"{"custom_genre":"Drama"}"#);
    // The dashboard shows them on the customer's page.
    let dash = crate::dashboard::Admin::sign_in(&app, crate::admin_api::OPERATOR).await;
    let (_, page) = dash.get(&format!("/admin/customers/{}", c.id)).await;
    assert!(
        page.contains("1990-05-17")
            && page.contains("Main 1, 1234 AB, Utrecht")
            && page.contains("custom_genre"),
        "{page}"
    );
    // Erasure drops the answers with the rest of the personal data.
    let (erased, _) = crate::admin_api::call(
        &app,
        reqwest::Method::DELETE,
        &format!("/admin/api/publishers/100000001/customers/{}", c.id),
        crate::admin_api::OPERATOR,
        None,
    )
    .await;
    assert_eq!(erased, 200);
    assert_eq!(
        app.db
            .scalar(&format!("SELECT COUNT(*) FROM customers WHERE id = {} AND capture IS NULL AND erased_at IS NOT NULL", c.id))
            .await,
        1
    );
    let c = app.signed_up("cap@example.com").await;
    assert_eq!(put(&app, &c, answers_again()).await.status(), 200);

    // Absent fields keep their answers; "" clears an optional one.
    let (code, body) = json(put(&app, &c, json!({"phoneNumber": ""})).await).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        setting(&body["responseData"], "phoneNumber")["answer"],
        Value::Null
    );
    assert_eq!(
        setting(&body["responseData"], "birthDate")["answer"],
        "1990-05-17"
    );
    // Clearing a required one is refused.
    let r = assert_error(
        put(&app, &c, json!({"birthDate": ""})).await,
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(r["details"][0]["field"], "birthDate");
    assert_eq!(r["details"][0]["reason"], "Missing");

    // The same fields at registration are stored with the customer.
    let mut body = registration("reg@example.com");
    body["firstName"] = json!("Reg");
    body["birthDate"] = json!("2000-01-31");
    body["companyName"] = json!("ACME");
    body["city"] = json!("Leeds");
    body["customAnswers"] = json!([{"questionId": "custom_genre", "value": "News"}]);
    let (code, body) = json(app.register(&body).await).await;
    assert_eq!(code, 200, "{body}");
    let r = Customer::from_session(&body["responseData"]);
    let s = status(&app, &r).await;
    assert_eq!(setting(&s, "birthDate")["answer"], "2000-01-31");
    assert_eq!(setting(&s, "companyName")["answer"], "ACME");
    assert_eq!(setting(&s, "address")["answer"]["city"], "Leeds");
    assert_eq!(
        setting(&s, "address")["answer"]["country"],
        "GB",
        "the customer's country"
    );
    assert_eq!(setting(&s, "custom_genre")["answer"], "News");
    assert_eq!(
        s["shouldCaptureBeDisplayed"], true,
        "the last name is still missing"
    );
    // Another customer's capture is out of reach.
    let r = put(
        &app,
        &Customer {
            id: r.id.clone(),
            ..c.clone()
        },
        json!({}),
    )
    .await;
    assert_error(r, 403, "AUTH0004").await;
}

async fn each_capture_field_is_validated(backend: Backend) {
    let app = with_capture(backend, full()).await;
    let c = app.signed_up("val@example.com").await;
    let ok = json!({"firstName": "A", "lastName": "B", "birthDate": "1990-01-01",
                    "customAnswers": [{"questionId": "custom_genre", "value": "News"}]});
    let cases = [
        (
            "birthDate",
            json!("1990-13-01"),
            "Invalid param birthDate. Use the format YYYY-MM-DD",
        ),
        (
            "birthDate",
            json!("2999-01-01"),
            "Invalid param birthDate. The date is in the future",
        ),
        (
            "phoneNumber",
            json!("0612345678"),
            "Invalid param phoneNumber. Use the international format E.164, like +31201234567",
        ),
        ("postCode", json!("x".repeat(21)), "Invalid param postCode"),
        (
            "firstName",
            json!("x".repeat(51)),
            "Invalid param firstName",
        ),
        ("country", json!("UK"), "Invalid param country"),
    ];
    for (field, value, message) in cases {
        let mut body = ok.clone();
        body[field] = value;
        let r = assert_error(put(&app, &c, body).await, 400, "REQ0001").await;
        assert_eq!(r["details"][0]["field"], field, "{r}");
        assert_eq!(r["message"], message, "{r}");
    }
    // Too young for the minimum age.
    let today = chrono::Utc::now().date_naive();
    let young = today.with_year(today.year() - 17).unwrap_or(today);
    let mut body = ok.clone();
    body["birthDate"] = json!(young.format("%Y-%m-%d").to_string());
    let r = assert_error(put(&app, &c, body).await, 400, "REQ0001").await;
    assert_eq!(
        r["message"],
        "Invalid param birthDate. The customer must be at least 18 years old"
    );
    // Custom answers: not an allowed value, an unknown question.
    let mut body = ok.clone();
    body["customAnswers"] = json!([{"questionId": "custom_genre", "value": "Horror"}]);
    let r = assert_error(put(&app, &c, body).await, 400, "REQ0001").await;
    assert_eq!(r["details"][0]["field"], "customAnswers");
    let mut body = ok.clone();
    body["customAnswers"] = json!([{"questionId": "custom_nope", "value": "x"}]);
    assert_error(put(&app, &c, body).await, 400, "REQ0001").await;
    // Every missing required answer is named.
    let r = assert_error(put(&app, &c, json!({})).await, 400, "REQ0001").await;
    let fields: Vec<&str> = r["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["firstName", "lastName", "birthDate", "customAnswers"]
    );
    // Nothing was stored by the refused requests.
    assert_eq!(status(&app, &c).await["shouldCaptureBeDisplayed"], true);
    assert_eq!(put(&app, &c, ok).await.status(), 200);
}

use chrono::Datelike;

async fn required_at_registration_refuses_missing_answers(backend: Backend) {
    let mut capture = full();
    capture["required_at_registration"] = json!(true);
    capture["address"] = json!("required");
    let app = with_capture(backend, capture).await;
    let r = assert_error(
        app.register(&registration("req@example.com")).await,
        400,
        "REQ0001",
    )
    .await;
    let fields: Vec<&str> = r["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "firstName",
            "lastName",
            "birthDate",
            "address",
            "city",
            "postCode",
            "customAnswers"
        ]
    );
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM customers").await, 0);
    let mut body = registration("req@example.com");
    for (k, v) in [
        ("firstName", "Ann"),
        ("lastName", "Lee"),
        ("birthDate", "1980-02-29"),
        ("address", "High St 1"),
        ("city", "York"),
        ("postCode", "YO1 7HH"),
    ] {
        body[k] = json!(v);
    }
    body["customAnswers"] = json!([{"questionId": "custom_genre", "value": "Comedy"}]);
    let (code, body) = json(app.register(&body).await).await;
    assert_eq!(code, 200, "{body}");
    let c = Customer::from_session(&body["responseData"]);
    assert_eq!(status(&app, &c).await["shouldCaptureBeDisplayed"], false);
}

async fn the_cli_switches_features_on_for_a_running_server(backend: Backend) {
    use crate::cli::{enroll, run};
    let app = TestApp::spawn(backend).await;
    let url = app.db.url.clone();
    let c = app.signed_up("cli@example.com").await;
    assert_eq!(status(&app, &c).await["isCaptureEnabled"], false);
    let (ok, out, err) = run(enroll(&url).args([
        "publisher",
        "update",
        "--id",
        "100000001",
        "--set",
        "capture.birth_date=required",
        "--set",
        "capture.min_age=16",
        "--set",
        "email_verification=required",
        "--set",
        r#"captcha={"provider": "turnstile", "secret": "cli-s3cret", "routes": ["login"]}"#,
    ]))
    .await;
    assert!(ok, "{out}{err}");
    // Shown with the secret blanked.
    let (ok, out, err) = run(enroll(&url).args(["publisher", "show", "--id", "100000001"])).await;
    assert!(ok, "{err}");
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["settings"]["capture"]["min_age"], 16);
    assert!(shown["settings"]["captcha"].get("secret").is_none());
    assert!(!out.contains("cli-s3cret"));
    // Mistakes are refused with the key named, and change nothing.
    for bad in [
        "capture.birth_dat=required",
        "capture.min_age=200",
        "email_verification=maybe",
    ] {
        let (ok, _, err) =
            run(enroll(&url).args(["publisher", "update", "--id", "100000001", "--set", bad]))
                .await;
        assert!(!ok, "{bad}");
        assert!(
            err.contains(bad.split('=').next().unwrap().rsplit('.').next().unwrap())
                || err.contains("unknown"),
            "{bad}: {err}"
        );
    }
    tokio::time::sleep(crate::support::CACHE_WAIT).await;
    let s = status(&app, &c).await;
    assert_eq!(
        (
            s["isCaptureEnabled"].as_bool(),
            s["shouldCaptureBeDisplayed"].as_bool()
        ),
        (Some(true), Some(true))
    );
    let r = assert_error(
        app.register(&registration("after@example.com")).await,
        400,
        "REQ0001",
    )
    .await;
    assert_eq!(r["message"], "Email verification failed.");
    // Switched off again.
    let (ok, _, err) = run(enroll(&url).args([
        "publisher",
        "update",
        "--id",
        "100000001",
        "--set",
        "email_verification=null",
    ]))
    .await;
    assert!(ok, "{err}");
    tokio::time::sleep(crate::support::CACHE_WAIT).await;
    assert_eq!(
        app.register(&registration("after@example.com"))
            .await
            .status(),
        200
    );
}

async fn a_publisher_key_switches_features_through_the_admin_api(backend: Backend) {
    use crate::admin_api::{call, publisher_key};
    let app = with_capture(backend, json!({})).await;
    let c = app.signed_up("api@example.com").await;
    let (key, _) = publisher_key(&app, "100000001").await;
    let change = json!({"settings": {
        "email_verification": "required",
        "capture": {"company_name": "required", "required_at_registration": false},
        "password_policy": {"min_score": 3}
    }});
    let (code, body) = call(
        &app,
        reqwest::Method::PATCH,
        "/admin/api/publishers/100000001",
        &key,
        Some(change),
    )
    .await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(
        body["responseData"]["settings"]["email_verification"],
        "required"
    );
    // A bad capture setting is refused with its key named.
    let (code, body) = call(
        &app,
        reqwest::Method::PATCH,
        "/admin/api/publishers/100000001",
        &key,
        Some(json!({"settings": {"capture": {"min_age": 18}}})),
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body["message"].as_str().unwrap().contains("capture"),
        "{body}"
    );
    tokio::time::sleep(crate::support::CACHE_WAIT).await;
    let s = status(&app, &c).await;
    assert_eq!(setting(&s, "companyName")["required"], true);
    let mut body = registration("new@example.com");
    assert_error(app.register(&body).await, 400, "REQ0001").await;
    body["password"] = json!("correct horse battery staple 42");
    let r = assert_error(app.register(&body).await, 400, "REQ0001").await;
    assert_eq!(
        r["message"], "Email verification failed.",
        "the password passes; the code is missing"
    );
}
