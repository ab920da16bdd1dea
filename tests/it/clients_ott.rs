//! Contract tests of the two Cleeng frontends, on both backends: JW Player's OTT web app
//! (github jwplayer/ott-web-app: `packages/common/src/services/integrations/cleeng/`,
//! `AccountController.ts`, `packages/ui-react` `Account.tsx` and `EditPassword.tsx`) and the
//! Cleeng MediaStore SDK (npm `@cleeng/mediastore-sdk` 5.x). Each call is made as the client
//! makes it (headers, bodies), and each answer is judged by the client's own logic, written
//! again here: what the user would see, not what the server meant.

use std::collections::BTreeMap;

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{OPERATOR, call};
use crate::backend_tests;
use crate::support::smtp::{Received, SmtpServer};
use crate::support::{Backend, CACHE_WAIT, TestApp};

backend_tests!(
    ott_register_restore_and_refresh,
    ott_login_errors_as_the_app_shows_them,
    ott_account_page_errors,
    ott_edit_password_feedback,
    ott_watch_history_round_trips_exactly,
    sdk_register_login_consents_and_capture,
);

const PUBLISHER: &str = "100000001";

/// The OTT web app's `CleengService` against one server, with its stored tokens.
struct Ott<'a> {
    app: &'a TestApp,
    jwt: Option<String>,
    refresh: Option<String>,
}

impl<'a> Ott<'a> {
    fn new(app: &'a TestApp) -> Self {
        Ott {
            app,
            jwt: None,
            refresh: None,
        }
    }

    /// `performRequest`: always these three headers, `Authorization: ""` when not signed in
    /// (or not `authenticate`), the body `JSON.stringify`'d, and `resp.json()` whatever the
    /// status.
    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        authenticate: bool,
    ) -> Value {
        let token = if authenticate { self.jwt.clone() } else { None };
        let mut r = self
            .app
            .client
            .request(method, self.app.url(path))
            .header("Accept", "application/json")
            .header("Content-Type", "application/json")
            .header(
                "Authorization",
                token.map(|t| format!("Bearer {t}")).unwrap_or_default(),
            );
        if let Some(b) = body {
            r = r.body(b.to_string());
        }
        r.send().await.unwrap().json().await.unwrap()
    }

    /// `handleErrors`: the first error becomes the thrown `Error`'s message.
    fn handle_errors(response: &Value) -> Result<&Value, String> {
        match response["errors"].as_array().and_then(|e| e.first()) {
            Some(e) => Err(e.as_str().unwrap_or_default().to_owned()),
            None => Ok(&response["responseData"]),
        }
    }

    fn customer_id(&self) -> String {
        // jwtDecode(auth.jwt).customerId
        use base64::Engine;
        let jwt = self.jwt.as_deref().unwrap();
        let payload = jwt.split('.').nth(1).unwrap();
        let claims: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload)
                .unwrap(),
        )
        .unwrap();
        claims["customerId"].as_str().unwrap().to_owned()
    }

    /// `getUser`: the customer, then their consents.
    async fn get_user(&self) -> Result<(Value, Value), String> {
        let id = self.customer_id();
        let user = self
            .request(Method::GET, &format!("/customers/{id}"), None, true)
            .await;
        let user = Self::handle_errors(&user)?.clone();
        let consents = self
            .request(
                Method::GET,
                &format!("/customers/{id}/consents"),
                None,
                true,
            )
            .await;
        let consents = Self::handle_errors(&consents)?["consents"].clone();
        Ok((user, consents))
    }

    fn set_tokens(&mut self, auth: &Value) {
        self.jwt = Some(auth["jwt"].as_str().unwrap().to_owned());
        self.refresh = Some(auth["refreshToken"].as_str().unwrap().to_owned());
    }

    /// `CleengAccountService.register` then `AccountController.register`'s error mapping.
    async fn register(&mut self, email: &str, password: &str) -> Result<Value, &'static str> {
        let locales = self.request(Method::GET, "/locales", None, false).await;
        let locales = Self::handle_errors(&locales)
            .map_err(|_| "registration.failed_to_create")?
            .clone();
        // getCustomerIP() is undefined on the web: JSON.stringify leaves the key out.
        let payload = json!({
            "email": email, "password": password, "locale": locales["locale"],
            "country": locales["country"], "currency": locales["currency"], "publisherId": PUBLISHER,
        });
        let response = self
            .request(Method::POST, "/customers", Some(payload), false)
            .await;
        let auth = match Self::handle_errors(&response) {
            Ok(a) => a.clone(),
            Err(message) => {
                let m = message.to_lowercase();
                return Err(
                    if m.contains("customer already exists") || m.contains("account already exists")
                    {
                        "registration.user_exists"
                    } else if m.contains("please enter a valid e-mail address") {
                        "registration.field_is_not_valid_email"
                    } else if m.contains("invalid param password") {
                        "registration.invalid_password"
                    } else {
                        "registration.failed_to_create"
                    },
                );
            }
        };
        self.set_tokens(&auth);
        let (user, _) = self
            .get_user()
            .await
            .map_err(|_| "registration.failed_to_create")?;
        // updateCustomerConsents: `{id, consents}`, then the consents again.
        let consents = json!([
            {"name": "terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_marketing", "version": "1", "state": "declined"},
        ]);
        let id = user["id"].as_str().unwrap();
        let r = self
            .request(
                Method::PUT,
                &format!("/customers/{id}/consents"),
                Some(json!({"id": id, "consents": consents})),
                true,
            )
            .await;
        Self::handle_errors(&r).map_err(|_| "registration.failed_to_create")?;
        Ok(user)
    }

    /// `CleengAccountService.login` then `AccountController.login`'s error mapping.
    async fn login(&mut self, email: &str, password: &str) -> Result<Value, &'static str> {
        let payload = json!({"email": email, "password": password, "publisherId": PUBLISHER});
        let response = self
            .request(Method::POST, "/auths", Some(payload), false)
            .await;
        match Self::handle_errors(&response) {
            Ok(auth) => {
                let auth = auth.clone();
                self.set_tokens(&auth);
                let (user, _) = self
                    .get_user()
                    .await
                    .map_err(|_| "login.wrong_combination")?;
                Ok(user)
            }
            Err(message) if message.to_lowercase().contains("invalid param email") => {
                Err("login.wrong_email")
            }
            Err(_) => Err("login.wrong_combination"),
        }
    }

    /// `getNewTokens`: on these texts the app signs the user out.
    async fn refresh_tokens(&mut self) -> Result<(), &'static str> {
        let token = self.refresh.clone().unwrap_or_default();
        let response = self
            .request(
                Method::POST,
                "/auths/refresh_token",
                Some(json!({"refreshToken": token})),
                false,
            )
            .await;
        match Self::handle_errors(&response) {
            Ok(tokens) => {
                let tokens = tokens.clone();
                self.set_tokens(&tokens);
                Ok(())
            }
            Err(m)
                if m.contains("Refresh token is expired or does not exist")
                    || m.contains("Missing or invalid parameter") =>
            {
                Err("logout")
            }
            Err(_) => Err("kept"),
        }
    }

    /// `updateCustomer` with what `Account.tsx` submits; the form errors `translateErrors` makes.
    async fn update_customer(
        &self,
        fields: Value,
    ) -> Result<Value, BTreeMap<&'static str, &'static str>> {
        let id = self.customer_id();
        let mut params = json!({"id": id});
        for (k, v) in fields.as_object().unwrap() {
            params[k] = v.clone();
        }
        let response = self
            .request(
                Method::PATCH,
                &format!("/customers/{id}"),
                Some(params),
                true,
            )
            .await;
        Self::handle_errors(&response)
            .cloned()
            .map_err(|m| translate_errors(&[m]))
    }
}

/// `Account.tsx` `translateErrors`: each error split on commas, each trimmed piece compared
/// exactly.
fn translate_errors(errors: &[String]) -> BTreeMap<&'static str, &'static str> {
    let mut form = BTreeMap::new();
    for piece in errors.iter().flat_map(|e| e.split(',')) {
        match piece.trim() {
            "Invalid param email" => {
                form.insert("form", "account.errors.validation_error");
                form.insert("email", "account.errors.invalid_param_email");
            }
            "Customer email already exists" => {
                form.insert("form", "account.errors.validation_error");
                form.insert("email", "account.errors.email_exists");
            }
            "Please enter a valid e-mail address." => {
                form.insert("form", "account.errors.validation_error");
                form.insert("email", "account.errors.please_enter_valid_email");
            }
            "Invalid confirmationPassword" => {
                form.insert("form", "account.errors.validation_error");
                form.insert("confirmationPassword", "account.errors.invalid_password");
            }
            "firstName can have max 50 characters." => {
                form.insert("form", "account.errors.validation_error");
                form.insert("firstName", "account.errors.first_name_too_long");
            }
            "lastName can have max 50 characters." => {
                form.insert("form", "account.errors.validation_error");
                form.insert("lastName", "account.errors.last_name_too_long");
            }
            "Email update not supported" => {
                form.insert("form", "account.errors.email_update_not_supported");
            }
            "Wrong email/password combination" => {
                form.insert("form", "account.errors.wrong_combination");
            }
            _ => {
                form.entry("form").or_insert("account.errors.unknown_error");
            }
        }
    }
    form
}

/// `EditPassword.tsx`: the feedback for a failed `changePasswordWithToken` (case-sensitive
/// `includes`, first match wins); `None` shows nothing at all.
fn edit_password_feedback(message: &str) -> Option<(&'static str, &'static str)> {
    if message.contains("invalid param password") {
        Some(("password", "reset.invalid_password"))
    } else if message.contains("resetPasswordToken is not valid") {
        Some(("form", "reset.invalid_reset_link"))
    } else if message.contains("score does not match standards") {
        Some(("form", "reset.password_strength"))
    } else if message.contains("password could not be set") {
        Some(("form", "reset.invalid_token"))
    } else {
        None
    }
}

async fn ott_register_restore_and_refresh(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ott = Ott::new(&app);
    // The page loads: publisher consents with `Authorization: ""`.
    let consents = ott
        .request(
            Method::GET,
            &format!("/publishers/{PUBLISHER}/consents"),
            None,
            false,
        )
        .await;
    assert!(
        !Ott::handle_errors(&consents).unwrap()["consents"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let user = ott
        .register("Ott.Viewer@example.com", "ottpass123")
        .await
        .unwrap();
    assert_eq!(user["email"], "Ott.Viewer@example.com");
    let (_, consents) = ott.get_user().await.unwrap();
    assert!(
        consents
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["needsUpdate"] == false),
        "{consents}"
    );
    // The same email again: the register form's "user exists".
    let mut other = Ott::new(&app);
    assert_eq!(
        other
            .register("ott.viewer@EXAMPLE.com", "ottpass123")
            .await
            .unwrap_err(),
        "registration.user_exists"
    );
    assert_eq!(
        other
            .register("not-an-email", "ottpass123")
            .await
            .unwrap_err(),
        "registration.field_is_not_valid_email"
    );
    assert_eq!(
        other
            .register("weak@example.com", "short")
            .await
            .unwrap_err(),
        "registration.invalid_password"
    );
    // Capture status after sign-in, then a refresh: rotated, and the old one signs out.
    let status = ott
        .request(
            Method::GET,
            &format!("/customers/{}/capture/status", ott.customer_id()),
            None,
            true,
        )
        .await;
    assert_eq!(
        Ott::handle_errors(&status).unwrap()["isCaptureEnabled"],
        false
    );
    let used = ott.refresh.clone();
    ott.refresh_tokens().await.unwrap();
    assert_ne!(ott.refresh, used);
    ott.get_user().await.unwrap();
    let mut stale = Ott::new(&app);
    stale.refresh = Some("not-a-token".into());
    assert_eq!(stale.refresh_tokens().await.unwrap_err(), "logout");
    // loadUserData with a broken stored token: "Invalid JWT token" signs out.
    stale.jwt = Some(format!("{}x", ott.jwt.clone().unwrap()));
    let err = stale.get_user().await.unwrap_err();
    assert!(err.contains("Invalid JWT token"), "{err}");
}

async fn ott_login_errors_as_the_app_shows_them(backend: Backend) {
    let app = crate::admin_api::spawn(backend).await;
    crate::admin_api::create_publisher(&app, "200000002").await;
    let mut ott = Ott::new(&app);
    ott.register("login.me@example.com", "ottpass123")
        .await
        .unwrap();
    let mut again = Ott::new(&app);
    assert_eq!(
        again
            .login("LOGIN.me@example.com", "ottpass123")
            .await
            .unwrap()["email"],
        "login.me@example.com"
    );
    assert_eq!(
        again
            .login("login.me@example.com", "wrongpass1")
            .await
            .unwrap_err(),
        "login.wrong_combination"
    );
    assert_eq!(
        again
            .login("nobody@example.com", "ottpass123")
            .await
            .unwrap_err(),
        "login.wrong_combination"
    );
    // A customer of another publisher is unknown here, exactly like a wrong password.
    crate::admin_api::register_in(&app, "200000002", "elsewhere@example.com", json!({})).await;
    assert_eq!(
        again
            .login("elsewhere@example.com", "secret123")
            .await
            .unwrap_err(),
        "login.wrong_combination"
    );
}

async fn ott_account_page_errors(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ott = Ott::new(&app);
    ott.register("account@example.com", "ottpass123")
        .await
        .unwrap();
    Ott::new(&app)
        .register("taken@example.com", "ottpass123")
        .await
        .unwrap();
    // "About you": names (51 characters pass the app's own check only if it is bypassed, as
    // another frontend would).
    let long = "x".repeat(51);
    let form = ott
        .update_customer(json!({"firstName": long, "lastName": ""}))
        .await
        .unwrap_err();
    assert_eq!(
        form.get("firstName"),
        Some(&"account.errors.first_name_too_long"),
        "{form:?}"
    );
    assert_eq!(form.get("form"), Some(&"account.errors.validation_error"));
    let form = ott
        .update_customer(json!({"firstName": "Ann", "lastName": long}))
        .await
        .unwrap_err();
    assert_eq!(
        form.get("lastName"),
        Some(&"account.errors.last_name_too_long"),
        "{form:?}"
    );
    let user = ott
        .update_customer(json!({"firstName": "x".repeat(50), "lastName": "Ö'Brien"}))
        .await
        .unwrap();
    assert_eq!(user["lastName"], "Ö'Brien");
    // "Email": `{email, confirmationPassword}`.
    let form = ott
        .update_customer(json!({"email": "not-an-email", "confirmationPassword": "ottpass123"}))
        .await
        .unwrap_err();
    assert_eq!(
        form.get("email"),
        Some(&"account.errors.please_enter_valid_email"),
        "{form:?}"
    );
    assert_eq!(form.get("form"), Some(&"account.errors.validation_error"));
    let form = ott
        .update_customer(
            json!({"email": "TAKEN@example.com", "confirmationPassword": "ottpass123"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        form.get("email"),
        Some(&"account.errors.email_exists"),
        "{form:?}"
    );
    let form = ott
        .update_customer(json!({"email": "new@example.com", "confirmationPassword": "wrongpass1"}))
        .await
        .unwrap_err();
    assert_eq!(
        form.get("confirmationPassword"),
        Some(&"account.errors.invalid_password"),
        "{form:?}"
    );
    let user = ott
        .update_customer(json!({"email": "new@example.com", "confirmationPassword": "ottpass123"}))
        .await
        .unwrap();
    assert_eq!(user["email"], "new@example.com");
    // Registration keeps the texts its own (lower-cased substring) matching knows.
    assert_eq!(
        Ott::new(&app)
            .register("New@example.com", "ottpass123")
            .await
            .unwrap_err(),
        "registration.user_exists"
    );
}

fn reset_token(mail: &Received) -> (String, String) {
    let text = mail.decoded();
    let start = text.find("http").unwrap();
    let end = text[start..].find(char::is_whitespace).unwrap() + start;
    let url = url::Url::parse(&text[start..end]).unwrap();
    let q: BTreeMap<_, _> = url.query_pairs().into_owned().collect();
    (q["email"].clone(), q["resetPasswordToken"].clone())
}

async fn ott_edit_password_feedback(backend: Backend) {
    let smtp = SmtpServer::start().await;
    let port = smtp.port;
    let app = TestApp::spawn_with(backend, move |f| {
        f.merge(("admin.operator_key", OPERATOR))
            .merge(("mail.transport", "smtp"))
            .merge(("mail.smtp.host", "127.0.0.1"))
            .merge(("mail.smtp.port", port))
            .merge(("mail.smtp.tls", "none"))
    })
    .await;
    let mut ott = Ott::new(&app);
    ott.register("forgot@example.com", "ottpass123")
        .await
        .unwrap();
    // resetPassword: `{customerEmail, resetUrl: "", publisherId}` (the Account page's resend).
    let r = ott
        .request(
            Method::PUT,
            "/customers/passwords",
            Some(json!({"customerEmail": "forgot@example.com", "resetUrl": "", "publisherId": PUBLISHER})),
            false,
        )
        .await;
    Ott::handle_errors(&r).unwrap();
    let (email, token) = reset_token(&smtp.wait_for(1).await.remove(0));
    // changePasswordWithResetToken, as EditPassword.tsx calls it.
    let change = |token: String, password: &str| {
        let body = json!({"customerEmail": email, "newPassword": password,
                          "resetPasswordToken": token, "newPasswordConfirmation": password,
                          "publisherId": PUBLISHER});
        let ott = &ott;
        async move {
            let r = ott
                .request(Method::PATCH, "/customers/passwords", Some(body), false)
                .await;
            Ott::handle_errors(&r)
                .map(|_| ())
                .map_err(|m| edit_password_feedback(&m))
        }
    };
    assert_eq!(
        change("not-the-token".into(), "newpass123").await,
        Err(Some(("form", "reset.invalid_reset_link")))
    );
    assert_eq!(
        change(token.clone(), "abcdefgh").await,
        Err(Some(("password", "reset.invalid_password")))
    );
    assert_eq!(
        change(token.clone(), "short1").await,
        Err(Some(("password", "reset.invalid_password")))
    );
    // The publisher's policy refuses it: the strength message, not the rule's.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{PUBLISHER}"),
        OPERATOR,
        Some(json!({"settings": {"password_policy": {"min_score": 3, "reject_common": true}}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tokio::time::sleep(CACHE_WAIT).await;
    assert_eq!(
        change(token.clone(), "password1").await,
        Err(Some(("form", "reset.password_strength")))
    );
    assert_eq!(
        change(token.clone(), "quartz-lantern-mosaic-91").await,
        Ok(())
    );
    assert_eq!(
        change(token, "quartz-lantern-mosaic-92").await,
        Err(Some(("form", "reset.invalid_reset_link"))),
        "single use"
    );
    Ott::new(&app)
        .login("forgot@example.com", "quartz-lantern-mosaic-91")
        .await
        .unwrap();
}

async fn ott_watch_history_round_trips_exactly(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let mut ott = Ott::new(&app);
    let user = ott
        .register("history@example.com", "ottpass123")
        .await
        .unwrap();
    assert_eq!(user["externalData"], json!({}));
    let id = ott.customer_id();
    // updateWatchHistory then updateFavorites, each `{id, externalData: {...stored, key}}`.
    let history = r#"[{"mediaid":"dwEE1oBP","progress":0.9836065573829491},{"mediaid":"x1","progress":0.1},{"mediaid":"x2","progress":1e-7},{"mediaid":"x3","progress":0.30000000000000004}]"#;
    let body = format!(r#"{{"id":"{id}","externalData":{{"history":{history}}}}}"#);
    let send = |body: String| {
        app.client
            .patch(app.url(&format!("/customers/{id}")))
            .header(
                "Authorization",
                format!("Bearer {}", ott.jwt.clone().unwrap()),
            )
            .header("Content-Type", "application/json")
            .body(body)
            .send()
    };
    let text = send(body).await.unwrap().text().await.unwrap();
    assert!(text.contains("0.9836065573829491"), "{text}");
    assert!(text.contains("0.30000000000000004"), "{text}");
    let sent: Value = serde_json::from_str(history).unwrap();
    let check = |external: &Value| {
        let got = external["history"].as_array().unwrap();
        for (a, b) in got.iter().zip(sent.as_array().unwrap()) {
            assert_eq!(a["mediaid"], b["mediaid"]);
            // The value JavaScript's JSON.parse reads (Postgres may spell 1e-7 0.0000001).
            assert_eq!(a["progress"].as_f64(), b["progress"].as_f64(), "{a} {b}");
        }
        assert_eq!(got.len(), 4);
    };
    let stored: Value = serde_json::from_str(&text).unwrap();
    check(&stored["responseData"]["externalData"]);
    // A session restore reads it back from the database, and favourites keep the history.
    let (user, _) = ott.get_user().await.unwrap();
    check(&user["externalData"]);
    let mut external = user["externalData"].clone();
    external["favorites"] = json!([{"mediaid": "fav1"}]);
    external["big"] = serde_json::from_str("9007199254740993").unwrap();
    let text = send(json!({"id": id, "externalData": external}).to_string())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("9007199254740993"), "{text}");
    let (user, _) = ott.get_user().await.unwrap();
    check(&user["externalData"]);
    assert_eq!(user["externalData"]["big"].to_string(), "9007199254740993");
    assert_eq!(user["externalData"]["favorites"][0]["mediaid"], "fav1");
}

/// The SDK's judgement of `POST /customers`: a body without `code` is a success; else by code.
fn sdk_register_outcome(body: &Value) -> &'static str {
    match body["code"].as_str() {
        None => "success",
        Some("USER0002") => "register-form.error.customer-exists",
        Some("REQ0001") if body["errors"][0] == "Email verification failed." => {
            "register-form.error.email-verification-failed"
        }
        Some("CPT0002") => "register-form.error.captcha-verification-failed",
        Some(_) => "register-form.error.general",
    }
}

async fn sdk_register_login_consents_and_capture(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let consents: Value = app
        .client
        .get(app.url(&format!("/publishers/{PUBLISHER}/consents")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(consents["errors"].as_array().unwrap().is_empty());
    let unknown: Value = app
        .client
        .get(app.url("/publishers/999999999/consents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // The SDK's consents reducer: "noPublisherId" when the error includes this text.
    assert!(
        unknown["errors"][0]
            .as_str()
            .unwrap()
            .contains("Invalid param publisherId")
    );
    // `/locales` fed straight into the register body, with `captchaValue: ""`.
    let locales: Value = app
        .client
        .get(app.url("/locales"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let l = &locales["responseData"];
    let register = |email: &str| {
        json!({"email": email, "password": "sdkpass123", "publisherId": PUBLISHER, "locale": l["locale"],
               "country": l["country"], "currency": l["currency"], "captchaValue": ""})
    };
    let r: Value = app
        .register(&register("sdk@example.com"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(sdk_register_outcome(&r), "success", "{r}");
    let jwt = r["responseData"]["jwt"].as_str().unwrap().to_owned();
    let id = r["responseData"]["customerId"].as_i64().unwrap();
    let r: Value = app
        .register(&register("SDK@example.com"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(
        sdk_register_outcome(&r),
        "register-form.error.customer-exists"
    );
    let r: Value = app.register(&register("bad")).await.json().await.unwrap();
    assert_eq!(sdk_register_outcome(&r), "register-form.error.general");
    // After sign-up: PUT consents `{consents}`, GET consents, capture status.
    let authed = |m: Method, p: String| app.authed(m, &p, &jwt);
    let put = authed(Method::PUT, format!("/customers/{id}/consents"))
        .json(&json!({"consents": [{"name": "terms", "version": "1", "state": "accepted"},
                                   {"name": "broadcaster_terms", "version": "1", "state": "accepted"}]}))
        .send().await.unwrap();
    assert_eq!(put.status(), 200);
    let got: Value = authed(Method::GET, format!("/customers/{id}/consents"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(got["errors"].as_array().unwrap().is_empty());
    let capture: Value = authed(Method::GET, format!("/customers/{id}/capture/status"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(capture["responseData"]["shouldCaptureBeDisplayed"], false);
    // Login: exactly 200 is a success; 401 or 422 "wrong email or password".
    let login = |email: &str, password: &str| {
        app.client
            .post(app.url("/auths"))
            .json(&json!({"email": email, "password": password, "publisherId": PUBLISHER}))
            .send()
    };
    assert_eq!(
        login("sdk@example.com", "sdkpass123")
            .await
            .unwrap()
            .status(),
        200
    );
    assert!(matches!(
        login("sdk@example.com", "wrongpass1")
            .await
            .unwrap()
            .status()
            .as_u16(),
        401 | 422
    ));
    // Reset request with `resetUrl: ""`: no `message`, so `{status, ...}` without errors.
    let r = app
        .client
        .put(app.url("/customers/passwords"))
        .json(
            &json!({"publisherId": PUBLISHER, "customerEmail": "sdk@example.com", "resetUrl": ""}),
        )
        .send()
        .await
        .unwrap();
    let body: Value = r.json().await.unwrap();
    assert!(
        body.get("message").is_none() && body["errors"].as_array().unwrap().is_empty(),
        "{body}"
    );
    // A stale token: the SDK's checks look for "JWT" in the error.
    let r: Value = app
        .authed(Method::GET, &format!("/customers/{id}/consents"), "stale")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(r["errors"][0].as_str().unwrap().contains("JWT"), "{r}");
}
