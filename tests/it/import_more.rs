//! Bulk import, continued: a server killed midway leaves its import `interrupted` and the
//! same file re-runs without duplicates; an upsert that changes a password hash ends the
//! customer's sessions; capture answers in rows; on several writers (Postgres), a file's
//! repeats still apply in file order and a contested external id gives one customer.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::admin_api::{DEMO, OPERATOR};
use crate::backend_tests;
use crate::capture::{full, setting, status, with_capture};
use crate::import::{PASSWORD, fixtures, import, jsonl, row, spawn};
use crate::login::{login, refresh};
use crate::support::{Backend, Customer, ServerProcess, TestApp, TestDb, json};

backend_tests!(
    an_import_killed_midway_is_interrupted_and_the_same_file_completes_it,
    an_upsert_with_a_new_password_hash_ends_the_sessions,
    capture_answers_are_imported_as_registration_stores_them,
    repeats_across_batches_apply_in_file_order,
);

fn hash(name: &str) -> String {
    fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, h)| h)
        .unwrap_or_else(|| panic!("no fixture {name}"))
}

async fn report(client: &reqwest::Client, base: &str, id: &str) -> Value {
    let r = client
        .get(format!("{base}/admin/api/publishers/{DEMO}/imports/{id}"))
        .bearer_auth(OPERATOR)
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    body["responseData"].clone()
}

async fn post(client: &reqwest::Client, base: &str, mode: &str, body: String) -> String {
    let r = client
        .post(format!(
            "{base}/admin/api/publishers/{DEMO}/imports?mode={mode}"
        ))
        .bearer_auth(OPERATOR)
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 202, "{body}");
    body["responseData"]["importId"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn an_import_killed_midway_is_interrupted_and_the_same_file_completes_it(backend: Backend) {
    const ROWS: usize = 6_000;
    let db = TestDb::new(backend).await;
    let env = [
        ("ENROLL_DATABASE__URL", db.url.clone()),
        ("ENROLL_ADMIN__OPERATOR_KEY", OPERATOR.to_owned()),
        ("ENROLL_ADMIN__IMPORT_STALE_AFTER", "5s".to_owned()),
        ("ENROLL_LIMITS__ENABLED", "false".to_owned()),
    ];
    let rows: Vec<Value> = (0..ROWS)
        .map(|i| {
            row(
                &format!("kill{i}@example.com"),
                json!({"externalId": format!("k{i}")}),
            )
        })
        .collect();
    let file = jsonl(&rows);
    let client = reqwest::Client::new();
    let mut server = ServerProcess::start(&env).await;
    let id = post(&client, &server.address, "insert", file.clone()).await;
    // Killed (SIGKILL: no shutdown of any kind) once some batches are in.
    let until = Instant::now() + Duration::from_secs(120);
    loop {
        let r = report(&client, &server.address, &id).await;
        if r["state"] != "running" {
            let log = server.log.lock().unwrap().join("\n");
            panic!("finished before the kill: {r}\n{log}");
        }
        if r["rowsRead"].as_i64().unwrap() > 0 {
            break;
        }
        assert!(Instant::now() < until, "no progress: {r}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.kill().await.unwrap();
    let written = db.scalar("SELECT COUNT(*) FROM customers").await;
    assert!(written > 0 && written < ROWS as i64, "{written}");
    assert_eq!(
        db.text(&format!("SELECT state FROM imports WHERE id = '{id}'"))
            .await,
        "running",
        "nothing marked it yet"
    );

    // Restarted: the import shows it was interrupted (at start-up, or when its heartbeat
    // is found stale on reading it).
    let server = ServerProcess::start(&env).await;
    let until = Instant::now() + Duration::from_secs(30);
    let r = loop {
        let r = report(&client, &server.address, &id).await;
        if r["state"] != "running" {
            break r;
        }
        assert!(Instant::now() < until, "still running: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(r["state"], "interrupted", "{r}");
    assert!(r["finishedAt"].is_string(), "{r}");
    assert!(
        r["message"]
            .as_str()
            .unwrap()
            .contains("run the same file again"),
        "{r}"
    );

    // The same file again (skip): every row once, no duplicate.
    let again = post(&client, &server.address, "skip", file).await;
    let until = Instant::now() + Duration::from_secs(300);
    let r = loop {
        let r = report(&client, &server.address, &again).await;
        if r["state"] != "running" {
            break r;
        }
        assert!(Instant::now() < until, "the re-run did not finish: {r}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    if r["state"] != "done" {
        let log = server.log.lock().unwrap().join("\n");
        panic!("the re-run did not finish: {r}\n{log}");
    }
    assert_eq!(r["failed"], 0, "{r}");
    assert_eq!(r["skipped"].as_i64().unwrap(), written, "{r}");
    assert_eq!(
        r["inserted"].as_i64().unwrap() + r["skipped"].as_i64().unwrap(),
        ROWS as i64
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM customers").await,
        ROWS as i64
    );
    let dup = db
        .scalar("SELECT COUNT(*) FROM (SELECT email_key FROM customers GROUP BY email_key HAVING COUNT(*) > 1) d")
        .await;
    assert_eq!(dup, 0);
}

async fn an_upsert_with_a_new_password_hash_ends_the_sessions(backend: Backend) {
    let app = spawn(backend).await;
    let c = app.signed_up("keep@example.com").await;
    // Fields but no hash: the customer stays signed in.
    let upsert = |extra: Value| jsonl(&[row("keep@example.com", extra)]);
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        upsert(json!({"firstName": "Kim"})),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    let (status, b) = json(refresh(&app, &c.refresh).await).await;
    assert_eq!(status, 200, "{b}");
    let next = Customer {
        id: c.id.clone(),
        jwt: b["responseData"]["jwt"].as_str().unwrap().to_owned(),
        refresh: b["responseData"]["refreshToken"]
            .as_str()
            .unwrap()
            .to_owned(),
    };
    assert_eq!(app.me(&next).await["firstName"], "Kim");
    // The same hash again changes nothing either.
    let stored = app
        .db
        .text("SELECT password_hash FROM customers WHERE email_key = 'keep@example.com'")
        .await;
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        upsert(json!({"passwordHash": stored})),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    assert_eq!(app.me(&next).await["firstName"], "Kim");
    // A new hash: every session ends, as a password reset ends them.
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        upsert(json!({"passwordHash": hash("bcrypt-2b")})),
    )
    .await;
    assert_eq!(r["updated"], 1, "{r}");
    let (status, b) = json(refresh(&app, &next.refresh).await).await;
    assert_eq!((status, &b["code"]), (401, &json!("AUTH0005")), "{b}");
    let r = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}", c.id),
            &next.jwt,
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        login(&app, "keep@example.com", "secret123").await.status(),
        401
    );
    assert_eq!(
        login(&app, "keep@example.com", PASSWORD).await.status(),
        200
    );
}

async fn capture_answers_are_imported_as_registration_stores_them(backend: Backend) {
    let app = with_capture(backend, full()).await;
    let good = row(
        "cap@example.com",
        json!({"passwordHash": hash("bcrypt-2b"), "firstName": "Ann", "lastName": "Lee",
               "birthDate": "1990-05-17", "companyName": "Acme", "phoneNumber": "+31201234567",
               "address": "1 Main St", "city": "Leeds", "postCode": "LS1 1AA",
               "customAnswers": [{"questionId": "custom_genre", "value": "Drama"}]}),
    );
    let bad = row(
        "badcap@example.com",
        json!({"birthDate": "2020-01-01", "customAnswers": [{"questionId": "custom_genre", "value": "Jazz"}]}),
    );
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        jsonl(&[good, bad]),
    )
    .await;
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    let fields: Vec<&str> = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["birthDate", "customAnswers"], "{r}");
    // CSV: `customAnswers` as a JSON text.
    let csv = "email,locale,country,currency,companyName,customAnswers\n\
               csv@example.com,en_US,US,USD,Initech,\"[{\"\"questionId\"\":\"\"custom_genre\"\",\"\"value\"\":\"\"News\"\"}]\"\n";
    let r = import(&app, DEMO, OPERATOR, "insert", "text/csv", csv.to_owned()).await;
    assert_eq!(r["inserted"], 1, "{r}");
    let stored = app
        .db
        .text("SELECT CAST(capture AS TEXT) FROM customers WHERE email_key = 'csv@example.com'")
        .await;
    let stored: Value = serde_json::from_str(&stored).unwrap();
    assert_eq!(stored["companyName"], "Initech");
    assert_eq!(stored["custom"]["custom_genre"], "News");

    let (status, b) = json(login(&app, "cap@example.com", PASSWORD).await).await;
    assert_eq!(status, 200, "{b}");
    let c = Customer::from_session(&b["responseData"]);
    let s = status_of(&app, &c).await;
    assert_eq!(setting(&s, "birthDate")["answer"], "1990-05-17");
    assert_eq!(setting(&s, "companyName")["answer"], "Acme");
    assert_eq!(setting(&s, "phoneNumber")["answer"], "+31201234567");
    assert_eq!(setting(&s, "address")["answer"]["city"], "Leeds");
    assert_eq!(setting(&s, "address")["answer"]["country"], "US");
    assert_eq!(setting(&s, "custom_genre")["answer"], "Drama");
}

async fn status_of(app: &crate::support::TestApp, c: &Customer) -> Value {
    status(app, c).await
}

/// More rows than a batch (1,000) and than a writer's share, so on Postgres two writers take
/// batches at once: an email repeated 1,500 rows later is still written after its first row
/// (upsert: the later row's fields win), and two new rows contesting one external id make one
/// customer and one row error, whichever writer gets there first.
async fn repeats_across_batches_apply_in_file_order(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR))
            .merge(("admin.import_writers", 2))
    })
    .await;
    const N: usize = 1500;
    let mut rows: Vec<Value> = (0..N)
        .map(|i| {
            row(
                &format!("repeat{i}@example.com"),
                json!({"firstName": "first"}),
            )
        })
        .collect();
    rows.push(row(
        "contest-a@example.com",
        json!({"externalId": "contested"}),
    ));
    rows.extend((0..N).map(|i| {
        row(
            &format!("repeat{i}@example.com"),
            json!({"firstName": "second"}),
        )
    }));
    rows.push(row(
        "contest-b@example.com",
        json!({"externalId": "contested"}),
    ));
    let report = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        jsonl(&rows),
    )
    .await;
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(
        (
            report["inserted"].as_i64(),
            report["updated"].as_i64(),
            report["failed"].as_i64()
        ),
        (Some(N as i64 + 1), Some(N as i64), Some(1)),
        "{report}"
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["field"], "externalId", "{report}");
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE first_name = 'second'")
            .await,
        N as i64
    );
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE first_name = 'first'")
            .await,
        0
    );
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE external_id = 'contested'")
            .await,
        1
    );
    // One registration event per new customer, none for the updates.
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM events WHERE type = 'customer.registered'")
            .await,
        N as i64 + 1
    );
}

/// Postgres only (SQLite's one writer checks and inserts with nobody in between): a customer
/// another transaction creates after an import batch checked for existing customers, but
/// before the batch inserts, fails the batch's plain insert. The batch goes again with
/// `ON CONFLICT DO NOTHING`: its other rows are written, the beaten one is the row error it
/// would have been, and the import does not fail.
#[tokio::test]
async fn postgres_a_row_beaten_between_check_and_insert_is_a_row_error() {
    use sqlx::{Connection, Executor};
    let app = spawn(Backend::Postgres).await;
    let mut other = sqlx::PgConnection::connect(&app.db.url).await.unwrap();
    other.execute("BEGIN").await.unwrap();
    other
        .execute(
            "INSERT INTO customers (id, publisher_id, email, email_key, password_hash, locale, country, \
             currency, created_at) VALUES (987654321, 100000001, 'beaten@example.com', \
             'beaten@example.com', '!', 'en_GB', 'GB', 'GBP', now())",
        )
        .await
        .unwrap();
    let rows = vec![
        row("first@example.com", json!({})),
        row("beaten@example.com", json!({})),
        row("last@example.com", json!({})),
    ];
    let importing = {
        let body = jsonl(&rows);
        let app = &app;
        async move { import(app, DEMO, OPERATOR, "insert", "application/x-ndjson", body).await }
    };
    // The uncommitted row is invisible to the batch's checks; its insert then waits on the
    // row's unique index entry (for this transaction). Commit once it waits, so it fails.
    let commit = async {
        let started = Instant::now();
        loop {
            let waiting: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                 AND wait_event_type = 'Lock' AND wait_event = 'transactionid'",
            )
            .fetch_one(&mut other)
            .await
            .unwrap();
            if waiting > 0 {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let rows: Vec<(Option<String>, Option<String>, Option<String>)> = sqlx::query_as(
                    "SELECT wait_event_type, wait_event, left(query, 80) FROM pg_stat_activity WHERE datname = current_database()",
                )
                .fetch_all(&mut other)
                .await
                .unwrap();
                panic!("the import's insert never waited on the uncommitted customer: {rows:?}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        other.execute("COMMIT").await.unwrap();
    };
    let (report, ()) = tokio::join!(importing, commit);
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(
        (report["inserted"].as_i64(), report["failed"].as_i64()),
        (Some(2), Some(1)),
        "{report}"
    );
    let errors = report["errors"].as_array().unwrap();
    assert_eq!(errors.len(), 1, "{report}");
    assert_eq!(errors[0]["line"], 2, "{report}");
    assert_eq!(errors[0]["field"], "email", "{report}");
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE email_key = 'beaten@example.com'")
            .await,
        1
    );
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE id <> 987654321")
            .await,
        2
    );
}
