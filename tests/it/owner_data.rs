//! The customer's own-data export (`GET /customers/{id}/export`, the admin API's and the
//! dashboard's): every stored field, compared with the database row by row, and nothing of
//! anyone else. Self-service erasure is in `owner_data/erasure.rs`.

mod erasure;

use chrono::{DateTime, Utc};
use reqwest::Method;
use reqwest::header::{CACHE_CONTROL, CONTENT_DISPOSITION, COOKIE};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::admin_api::{DEMO, OPERATOR, OTHER, call, create_publisher, publisher_key, spawn};
use crate::backend_tests;
use crate::dashboard::Admin;
use crate::login::login;
use crate::support::{Backend, Customer, TestApp, TestDb, assert_error, json};

backend_tests!(export_holds_every_stored_field_and_nothing_of_another_customer);

/// Export and self-erasure are in the password-reset class (they hand out everything kept, or
/// check a password); the profile stays in the default class.
#[tokio::test]
async fn export_and_erasure_are_limited_like_password_resets() {
    let app = TestApp::spawn_with(Backend::Sqlite, |f| {
        f.merge(("limits.enabled", true))
            .merge(("limits.password_reset.rps", 2))
    })
    .await;
    let c = app.signed_up("limited@example.com").await;
    let (mut admitted, mut refused) = (0, 0);
    for i in 0..24 {
        let r = if i % 2 == 0 {
            export_with(&app, &c.id, &c.jwt).await
        } else {
            app.authed(Method::DELETE, &format!("/customers/{}", c.id), &c.jwt)
                .json(&json!({}))
                .send()
                .await
                .unwrap()
        };
        let (status, body) = json(r).await;
        match status {
            429 => {
                assert_eq!(body["code"], "RATE0001");
                refused += 1;
            }
            200 | 400 => admitted += 1,
            _ => panic!("{status} {body}"),
        }
    }
    assert!(
        refused > 0 && admitted >= 2,
        "{admitted} admitted, {refused} refused"
    );
    for _ in 0..24 {
        assert_eq!(app.me(&c).await["email"], "limited@example.com");
    }
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("rate_limit_total{") && l.contains("class=\"password_reset\"")),
        "{metrics}"
    );
}

/// Registers through the API with everything a customer can give, from `ip` with `agent`.
pub async fn register_full(app: &TestApp, email: &str, ip: &str, agent: &str) -> Customer {
    let body = json!({
        "email": email, "password": "secret123", "offerId": "S100000001_US",
        "locale": "en_GB", "country": "GB", "currency": "GBP", "firstName": "Ann", "lastName": "Lee",
        "externalId": format!("ext-{email}"), "externalData": {"plan": "gold", "n": 1}, "customerIP": ip,
        "consents": [
            {"name": "terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_terms", "version": "1", "state": "accepted"},
            {"name": "broadcaster_marketing", "version": "1", "state": "declined"}
        ]
    });
    let r = app
        .client
        .post(app.url("/customers"))
        .header("user-agent", agent)
        .json(&body)
        .send()
        .await
        .unwrap();
    let (status, out) = json(r).await;
    assert_eq!(status, 200, "{out}");
    Customer::from_session(&out["responseData"])
}

/// `GET /customers/{id}/export` with `jwt`.
pub async fn export_with(app: &TestApp, id: &str, jwt: &str) -> reqwest::Response {
    app.authed(Method::GET, &format!("/customers/{id}/export"), jwt)
        .send()
        .await
        .unwrap()
}

type ProfileRow = (
    Option<String>,
    bool,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<String>,
);

const PROFILE_SQL: &str = "SELECT email, email_verified, first_name, last_name, locale, country, currency, \
    external_id, CAST(external_data AS TEXT), registration_ip, last_ip, created_at, last_login_at, \
    CAST(capture AS TEXT) FROM customers WHERE id = $1";

type HistoryRow = (
    i64,
    i64,
    String,
    i32,
    String,
    Option<String>,
    Option<String>,
    DateTime<Utc>,
    bool,
);

const HISTORY_SQL: &str = "SELECT id, owner, name, version, state, ip, user_agent, at, imported \
    FROM customer_consents WHERE customer_id = $1 ORDER BY id";

/// The customer's row and consent history, read directly, and the history table's columns.
async fn stored(db: &TestDb, id: i64) -> (ProfileRow, Vec<HistoryRow>, Vec<String>) {
    if db.pg_name().is_some() {
        let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let p = sqlx::query_as(PROFILE_SQL).bind(id).fetch_one(&mut c).await;
        let h = sqlx::query_as(HISTORY_SQL).bind(id).fetch_all(&mut c).await;
        let cols = sqlx::query_scalar(
            "SELECT CAST(column_name AS TEXT) FROM information_schema.columns \
             WHERE table_name = 'customer_consents' AND table_schema = current_schema()",
        )
        .fetch_all(&mut c)
        .await;
        (p.unwrap(), h.unwrap(), cols.unwrap())
    } else {
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let p = sqlx::query_as(PROFILE_SQL).bind(id).fetch_one(&mut c).await;
        let h = sqlx::query_as(HISTORY_SQL).bind(id).fetch_all(&mut c).await;
        let cols = sqlx::query_scalar("SELECT name FROM pragma_table_info('customer_consents')")
            .fetch_all(&mut c)
            .await;
        (p.unwrap(), h.unwrap(), cols.unwrap())
    }
}

fn at(v: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(v.as_str().unwrap_or_else(|| panic!("a time: {v}")))
        .unwrap()
        .with_timezone(&Utc)
}

fn json_text(text: &Option<String>) -> Value {
    text.as_deref()
        .map_or(Value::Null, |t| serde_json::from_str(t).unwrap())
}

fn camel(name: &str) -> String {
    let mut parts = name.split('_');
    let mut out = parts.next().unwrap().to_owned();
    for p in parts {
        out.push_str(&p[..1].to_uppercase());
        out.push_str(&p[1..]);
    }
    out
}

/// The document without its making time (two exports differ only there).
fn timeless(mut doc: Value) -> Value {
    doc.as_object_mut().unwrap().remove("exportedAt");
    doc
}

async fn export_holds_every_stored_field_and_nothing_of_another_customer(backend: Backend) {
    let app = spawn(backend).await;
    // Capture on, so the customer has answers stored.
    let (status, body) = call(
        &app,
        Method::PATCH,
        &format!("/admin/api/publishers/{DEMO}"),
        OPERATOR,
        Some(json!({"settings": {"capture": {"company_name": "optional"}}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let a = register_full(&app, "ann@example.com", "81.2.69.142", "ann-agent/1").await;
    let b = register_full(&app, "bob@example.com", "81.2.69.160", "bob-agent/2").await;
    // A changed answer, a login and capture answers: more stored fields.
    let r = app
        .authed(Method::PUT, &format!("/customers/{}/consents", a.id), &a.jwt)
        .header("user-agent", "ann-agent/3")
        .json(&json!({"consents": [{"name": "broadcaster_marketing", "version": "1", "state": "accepted"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        json(login(&app, "ann@example.com", "secret123").await)
            .await
            .0,
        200
    );
    let r = app
        .authed(Method::PUT, &format!("/customers/{}/capture", a.id), &a.jwt)
        .json(&json!({"companyName": "Acme"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let r = export_with(&app, &a.id, &a.jwt).await;
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store", "personal data");
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    let doc = body["responseData"].clone();
    assert_eq!(doc["format"], "enroll.customer-export/1");
    assert_eq!(
        doc["publisher"],
        json!({"id": DEMO, "name": "Demo Publisher"})
    );

    // The profile, field by field against the row.
    let id: i64 = a.id.parse().unwrap();
    let (row, history, columns) = stored(&app.db, id).await;
    let p = &doc["profile"];
    assert_eq!(p["id"], a.id);
    assert_eq!(p["email"], json!(row.0));
    assert_eq!(p["emailVerified"], json!(row.1));
    assert_eq!(p["firstName"], json!(row.2));
    assert_eq!(p["lastName"], json!(row.3));
    assert_eq!(p["locale"], json!(row.4));
    assert_eq!(p["country"], json!(row.5));
    assert_eq!(p["currency"], json!(row.6));
    assert_eq!(p["externalId"], json!(row.7));
    assert_eq!(p["externalData"], json_text(&row.8));
    assert_eq!(p["externalData"], json!({"plan": "gold", "n": 1}));
    assert_eq!(p["registrationIp"], json!(row.9));
    assert_eq!(p["registrationIp"], "81.2.69.142");
    assert_eq!(p["lastIp"], json!(row.10));
    assert_eq!(at(&p["registeredAt"]), row.11);
    assert_eq!(at(&p["lastLoginAt"]), row.12.unwrap());
    assert_eq!(doc["capture"], json_text(&row.13));
    assert_eq!(doc["capture"]["companyName"], "Acme");
    let fields: Vec<&String> = p.as_object().unwrap().keys().collect();
    assert_eq!(fields.len(), 14, "{fields:?}");

    // The history: every row, every column (whatever the schema holds), every value.
    let entries = doc["consentHistory"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    assert_eq!(history.len(), 4);
    let mut expected: Vec<String> = columns
        .iter()
        .filter(|c| *c != "customer_id")
        .map(|c| camel(c))
        .collect();
    expected.sort();
    for (entry, h) in entries.iter().zip(&history) {
        let mut keys: Vec<String> = entry.as_object().unwrap().keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, expected, "every stored column of {entry}");
        assert_eq!(entry["id"], json!(h.0));
        assert_eq!(entry["owner"], json!(h.1));
        assert_eq!(entry["name"], json!(h.2));
        assert_eq!(entry["version"], json!(h.3));
        assert_eq!(entry["state"], json!(h.4));
        assert_eq!(entry["ip"], json!(h.5));
        assert_eq!(entry["userAgent"], json!(h.6));
        assert_eq!(at(&entry["at"]), h.7);
        assert_eq!(entry["imported"], json!(h.8));
    }
    assert_eq!(entries[3]["userAgent"], "ann-agent/3");
    assert_eq!(entries[0]["ip"], "81.2.69.142");
    // Current answers.
    let marketing = doc["consents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "broadcaster_marketing")
        .unwrap();
    assert_eq!(marketing["state"], "accepted");
    assert_eq!(marketing["version"], "1");
    // Registration and login: two live sessions.
    let live = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM refresh_tokens WHERE customer_id = {id} AND used_at IS NULL AND revoked_at IS NULL"
        ))
        .await;
    assert_eq!((doc["sessions"]["live"].as_i64(), live), (Some(2), 2));

    // The receipts: one per change (registration and each PUT), newest first, as stored.
    let receipts = doc["receipts"].as_array().unwrap();
    let stored_receipts = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM consent_receipts WHERE customer_id = {id}"
        ))
        .await;
    assert!(!receipts.is_empty(), "{doc}");
    assert_eq!(i64::try_from(receipts.len()).unwrap(), stored_receipts);
    let newest = app
        .db
        .text(&format!(
            "SELECT jws FROM consent_receipts WHERE customer_id = {id} ORDER BY seq DESC LIMIT 1"
        ))
        .await;
    assert_eq!(receipts[0]["jws"], json!(newest));

    // The customer's events, as stored, in order.
    let events = doc["events"].as_array().unwrap();
    let stored_events = app
        .db
        .scalar(&format!(
            "SELECT COUNT(*) FROM events WHERE customer_id = {id}"
        ))
        .await;
    assert_eq!(i64::try_from(events.len()).unwrap(), stored_events);
    assert_eq!(events[0]["type"], "customer.registered", "{events:?}");
    assert!(
        events
            .iter()
            .all(|e| e["customerId"].to_string().contains(&a.id))
    );

    // Nothing of the other customer.
    let text = doc.to_string();
    for theirs in [
        b.id.as_str(),
        "bob@example.com",
        "81.2.69.160",
        "bob-agent/2",
    ] {
        assert!(!text.contains(theirs), "{theirs} in {text}");
    }
    // Another customer's token: 403, whichever way round.
    assert_error(export_with(&app, &a.id, &b.jwt).await, 403, "AUTH0004").await;
    assert_error(export_with(&app, &b.id, &a.jwt).await, 403, "AUTH0004").await;
    let (_, theirs) = json(export_with(&app, &b.id, &b.jwt).await).await;
    assert_eq!(
        theirs["responseData"]["profile"]["email"],
        "bob@example.com"
    );
    assert!(!theirs.to_string().contains("ann@example.com"));

    // The admin API gives the same document, to keys that reach the publisher only.
    let path = format!("/admin/api/publishers/{DEMO}/customers/{}/export", a.id);
    let (status, admin) = call(&app, Method::GET, &path, OPERATOR, None).await;
    assert_eq!(status, 200, "{admin}");
    assert_eq!(
        timeless(admin["responseData"].clone()),
        timeless(doc.clone())
    );
    let (demo_key, _) = publisher_key(&app, DEMO).await;
    let (status, _) = call(&app, Method::GET, &path, &demo_key, None).await;
    assert_eq!(status, 200);
    create_publisher(&app, OTHER).await;
    let (other_key, _) = publisher_key(&app, OTHER).await;
    let (status, body) = call(&app, Method::GET, &path, &other_key, None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("REQ0003")));
    let elsewhere = format!("/admin/api/publishers/{OTHER}/customers/{}/export", a.id);
    let (status, _) = call(&app, Method::GET, &elsewhere, OPERATOR, None).await;
    assert_eq!(status, 404, "a customer of another publisher");

    // The dashboard: a link on the customer's page, and the same document as a download.
    let admin = Admin::sign_in(&app, OPERATOR).await;
    let (_, page) = admin
        .get(&format!("/admin/customers/{}?publisher={DEMO}", a.id))
        .await;
    assert!(page.contains(&format!("/admin/customers/{}/export", a.id)));
    let r = app
        .client
        .get(app.url(&format!(
            "/admin/customers/{}/export?publisher={DEMO}",
            a.id
        )))
        .header(COOKIE, format!("enroll_admin={}", admin.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()[CACHE_CONTROL], "no-store");
    let disposition = r.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        disposition,
        format!("attachment; filename=\"customer-{}.json\"", a.id)
    );
    let file: Value = r.json().await.unwrap();
    assert_eq!(timeless(file), timeless(doc));
    let theirs = Admin::sign_in(&app, &other_key).await;
    let (status, _) = theirs
        .get(&format!("/admin/customers/{}/export", a.id))
        .await;
    assert_eq!(status, 404, "another publisher's dashboard session");

    // Admin and dashboard reads are in the audit trail; the customer's own is not.
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM admin_audit WHERE action = 'customer.data_export' \
                 AND CAST(detail AS TEXT) LIKE '%{}%'",
                a.id
            ))
            .await,
        3
    );
}
