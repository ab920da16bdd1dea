//! Bulk import of customers: over the admin API (JSON Lines and CSV) and the CLI; modes,
//! bad rows, re-runs, ids, scope, legacy hashes logging in, and 100,000 rows.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{DEMO, OPERATOR, OTHER, create_publisher, ok, publisher_key, request};
use crate::backend_tests;
use crate::cli::{enroll, run};
use crate::login::login;
use crate::support::{Backend, TestApp, json};

backend_tests!(
    jsonl_rows_import_and_bad_rows_are_reported_per_line,
    csv_imports_and_legacy_hashes_log_in,
    modes_insert_upsert_skip_and_the_same_file_twice,
    an_import_stopped_midway_reruns_without_duplicates,
    ids_are_kept_when_free_and_mapped_when_not,
    publisher_keys_import_into_their_own_publisher_only,
    the_cli_imports_a_file_and_stdin,
    a_hundred_thousand_rows_import,
    uploads_have_a_limit_of_their_own,
);

pub(crate) async fn spawn(backend: Backend) -> TestApp {
    // `server.body_limit` stays at its 64 KiB: uploads have `admin.import_body_limit`.
    TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await
}

/// An upload over `admin.import_body_limit` is refused with 413, in the envelope; other routes
/// keep `server.body_limit`.
async fn uploads_have_a_limit_of_their_own(backend: Backend) {
    let app = TestApp::spawn_with(backend, |f| {
        f.merge(("admin.operator_key", OPERATOR))
            .merge(("admin.import_body_limit", 4096))
            .merge(("server.body_limit", 1024))
    })
    .await;
    let rows: Vec<Value> = (0..20)
        .map(|i| row(&format!("limit{i}@example.com"), json!({})))
        .collect();
    let body = jsonl(&rows);
    assert!(body.len() > 1024 && body.len() < 4096, "{}", body.len());
    let report = import(&app, DEMO, OPERATOR, "insert", "application/x-ndjson", body).await;
    assert_eq!(report["inserted"], 20, "{report}");
    let big = jsonl(
        &(0..100)
            .map(|i| row(&format!("big{i}@example.com"), json!({})))
            .collect::<Vec<_>>(),
    );
    let r = request(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/imports?mode=insert"),
        OPERATOR,
    )
    .header("content-type", "application/x-ndjson")
    .body(big)
    .send()
    .await
    .unwrap();
    let (status, body) = json(r).await;
    assert_eq!((status, &body["code"]), (413, &json!("REQ0006")), "{body}");
    let r = request(&app, Method::POST, "/admin/api/keys", OPERATOR)
        .header("content-type", "application/json")
        .body(format!("{{\"label\": \"{}\"}}", "x".repeat(2000)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413);
}

pub(crate) fn row(email: &str, extra: Value) -> Value {
    let mut r = json!({"email": email, "locale": "en_US", "country": "US", "currency": "USD"});
    if let (Value::Object(a), Value::Object(b)) = (&mut r, extra) {
        a.extend(b);
    }
    r
}

pub(crate) fn jsonl(rows: &[Value]) -> String {
    rows.iter().map(|r| format!("{r}\n")).collect()
}

/// Posts an import and waits until it is no longer running; its report.
pub(crate) async fn import(
    app: &TestApp,
    publisher: &str,
    key: &str,
    mode: &str,
    kind: &str,
    body: String,
) -> Value {
    let r = request(
        app,
        Method::POST,
        &format!("/admin/api/publishers/{publisher}/imports?mode={mode}"),
        key,
    )
    .header("content-type", kind)
    .body(body)
    .send()
    .await
    .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 202, "{body}");
    let id = body["responseData"]["importId"]
        .as_str()
        .unwrap()
        .to_owned();
    wait(app, publisher, key, &id).await
}

pub(crate) async fn wait(app: &TestApp, publisher: &str, key: &str, id: &str) -> Value {
    let path = format!("/admin/api/publishers/{publisher}/imports/{id}");
    // A stall detector, not a time limit: the test fails only when no row is written for two
    // minutes (how fast a loaded machine imports is the benchmark's business).
    let mut until = Instant::now() + Duration::from_secs(120);
    let mut written = -1;
    loop {
        let report = ok(app, &path, key).await;
        if report["state"] != "running" {
            return report;
        }
        let now: i64 = ["inserted", "updated", "skipped", "failed"]
            .iter()
            .filter_map(|k| report[k].as_i64())
            .sum();
        if now != written {
            written = now;
            until = Instant::now() + Duration::from_secs(120);
        }
        assert!(
            Instant::now() < until,
            "the import made no progress for two minutes: {report}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn customers(app: &TestApp) -> i64 {
    app.db.scalar("SELECT COUNT(*) FROM customers").await
}

async fn jsonl_rows_import_and_bad_rows_are_reported_per_line(backend: Backend) {
    let app = spawn(backend).await;
    let body = jsonl(&[
        row(
            "ann@example.com",
            json!({
                "firstName": "Ann", "externalId": "legacy-1", "externalData": {"plan": "gold"},
                "registrationDate": "2019-05-06T07:08:09Z", "lastLogin": "2024-01-02T03:04:05Z",
                "emailVerified": true,
                "consents": [{"name": "terms", "version": 1, "state": "accepted", "date": "2019-05-06T07:08:09Z"}]
            }),
        ),
        row("not-an-email", json!({"country": "XX"})),
        json!({"email": "bob@example.com"}),
        row(
            "carl@example.com",
            json!({"passwordHash": "5f4dcc3b5aa765d61d8327deb882cf99"}),
        ),
        row(
            "dora@example.com",
            json!({"consents": [{"name": "nope", "version": 1, "state": "accepted"}]}),
        ),
    ]) + "{not json\n\n"
        + &jsonl(&[row("eve@example.com", json!({}))]);
    let report = import(&app, DEMO, OPERATOR, "insert", "application/x-ndjson", body).await;
    assert_eq!(report["state"], "done", "{report}");
    assert_eq!(report["rowsRead"], 7);
    assert_eq!(report["inserted"], 2);
    assert_eq!(report["failed"], 5);
    // Each new customer is announced once, marked imported, caused by the import's key; a
    // refused row announces nothing.
    let imported = app
        .db
        .scalar(
            "SELECT COUNT(*) FROM events WHERE type = 'customer.registered' \
             AND body LIKE '%\"imported\":true%' AND body LIKE '%\"operator\"%'",
        )
        .await;
    assert_eq!(imported, 2);
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM events WHERE body LIKE '%dora@example.com%'")
            .await,
        0
    );
    let errors: Vec<(i64, String)> = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_i64().unwrap(),
                e["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        (2, "country"),
        (2, "email"),
        (3, "country"),
        (3, "currency"),
        (3, "locale"),
        (4, "passwordHash"),
        (5, "consents"),
        (6, "row"),
    ];
    let expected: Vec<(i64, String)> = expected.iter().map(|(l, f)| (*l, f.to_string())).collect();
    assert_eq!(errors, expected, "{report}");
    assert!(
        report["errors"][5]["message"]
            .as_str()
            .unwrap()
            .contains("unknown password hash format")
    );
    // The imported customer as the admin API shows it; the consent is history marked imported.
    let ann = app
        .db
        .scalar("SELECT id FROM customers WHERE email_key = 'ann@example.com'")
        .await;
    let detail = ok(
        &app,
        &format!("/admin/api/publishers/{DEMO}/customers/{ann}"),
        OPERATOR,
    )
    .await;
    let c = &detail["customer"];
    assert_eq!(c["firstName"], "Ann", "{detail}");
    assert_eq!(c["externalId"], "legacy-1");
    assert_eq!(detail["externalData"], json!({"plan": "gold"}));
    assert_eq!(
        app.db
            .text(&format!(
                "SELECT password_hash FROM customers WHERE id = {ann}"
            ))
            .await,
        "!"
    );
    assert_eq!(
        app.db
            .scalar(&format!(
                "SELECT COUNT(*) FROM customer_consents WHERE customer_id = {ann} AND imported"
            ))
            .await,
        1
    );
    // No password: a login fails like a wrong password; no email was sent for any row.
    let r = login(&app, "ann@example.com", "anything1").await;
    assert_eq!(r.status(), 401);
    assert_eq!(app.db.scalar("SELECT COUNT(*) FROM outbox").await, 0);
}

pub(crate) const PASSWORD: &str = "Legacy-pass 42!";

pub(crate) fn fixtures() -> Vec<(String, String)> {
    include_str!("../fixtures/legacy_hashes.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split_once('\t'))
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect()
}

async fn csv_imports_and_legacy_hashes_log_in(backend: Backend) {
    let app = spawn(backend).await;
    let mut body = String::from("email,passwordHash,firstName,locale,country,currency,consents\n");
    for (name, hash) in fixtures() {
        body.push_str(&format!("{name}@example.com,\"{hash}\",\"Name, {name}\",en_US,US,USD,\"[{{\"\"name\"\":\"\"terms\"\",\"\"version\"\":1,\"\"state\"\":\"\"accepted\"\"}}]\"\n"));
    }
    body.push_str("short@example.com,,x\n");
    let report = import(&app, DEMO, OPERATOR, "insert", "text/csv", body).await;
    let n = fixtures().len() as i64;
    assert_eq!(report["inserted"], n, "{report}");
    assert_eq!(report["failed"], 1);
    assert_eq!(report["errors"][0]["line"], n + 2);
    for (name, hash) in fixtures() {
        let email = format!("{name}@example.com");
        assert_eq!(
            login(&app, &email, "Legacy-pass 43!").await.status(),
            401,
            "{name}"
        );
        assert_eq!(login(&app, &email, PASSWORD).await.status(), 200, "{name}");
        let now = app
            .db
            .text(&format!(
                "SELECT password_hash FROM customers WHERE email_key = '{email}'"
            ))
            .await;
        assert!(
            now.starts_with("$argon2id$v=19$") && now != hash,
            "{name}: {now}"
        );
        assert_eq!(
            app.db
                .text(&format!(
                    "SELECT first_name FROM customers WHERE email_key = '{email}'"
                ))
                .await,
            format!("Name, {name}")
        );
    }
}

async fn modes_insert_upsert_skip_and_the_same_file_twice(backend: Backend) {
    let app = spawn(backend).await;
    let first = jsonl(&[
        row(
            "a@example.com",
            json!({"firstName": "A1", "externalId": "ext-a"}),
        ),
        row("b@example.com", json!({"firstName": "B1"})),
    ]);
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        first.clone(),
    )
    .await;
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(2), Some(0)),
        "{r}"
    );
    // The same file again: every row an error, nothing duplicated.
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        first.clone(),
    )
    .await;
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(0), Some(2)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["field"], "email");
    let r = import(&app, DEMO, OPERATOR, "skip", "application/x-ndjson", first).await;
    assert_eq!(
        (r["skipped"].as_i64(), r["failed"].as_i64()),
        (Some(2), Some(0)),
        "{r}"
    );
    assert_eq!(customers(&app).await, 2);
    let second = jsonl(&[
        row(
            "A@example.com",
            json!({"lastName": "Last", "country": "GB", "currency": "GBP", "locale": "en_GB"}),
        ),
        row("c@example.com", json!({"firstName": "C1"})),
        row("d@example.com", json!({"externalId": "ext-a"})),
        row("c@example.com", json!({"firstName": "C2"})),
    ]);
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "upsert",
        "application/x-ndjson",
        second,
    )
    .await;
    assert_eq!(r["inserted"], 1, "{r}");
    assert_eq!(r["updated"], 2, "{r}");
    assert_eq!(r["failed"], 1, "{r}");
    assert_eq!(r["errors"][0]["field"], "externalId");
    let a = app.db.text("SELECT first_name || ' ' || last_name || ' ' || country FROM customers WHERE email_key = 'a@example.com'").await;
    assert_eq!(a, "A1 Last GB", "listed fields change, the others stay");
    let c = app
        .db
        .text("SELECT first_name FROM customers WHERE email_key = 'c@example.com'")
        .await;
    assert_eq!(
        c, "C2",
        "a repeated email in one file: the later row updates"
    );
    assert_eq!(customers(&app).await, 3);
}

async fn an_import_stopped_midway_reruns_without_duplicates(backend: Backend) {
    let app = spawn(backend).await;
    let rows: Vec<Value> = (0..2500)
        .map(|i| {
            row(
                &format!("user{i}@example.com"),
                json!({"externalId": format!("x{i}")}),
            )
        })
        .collect();
    // A run that stopped after its first batches: those rows are in, the rest is not.
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        jsonl(&rows[..1700]),
    )
    .await;
    assert_eq!(r["inserted"], 1700);
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "skip",
        "application/x-ndjson",
        jsonl(&rows),
    )
    .await;
    assert_eq!(
        (r["inserted"].as_i64(), r["skipped"].as_i64()),
        (Some(800), Some(1700)),
        "{r}"
    );
    assert_eq!(customers(&app).await, 2500);
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        jsonl(&rows),
    )
    .await;
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(0), Some(2500))
    );
    assert_eq!(customers(&app).await, 2500);
    let dup = app.db.scalar("SELECT COUNT(*) FROM (SELECT email_key FROM customers GROUP BY email_key HAVING COUNT(*) > 1) d").await;
    assert_eq!(dup, 0);
}

async fn ids_are_kept_when_free_and_mapped_when_not(backend: Backend) {
    let app = spawn(backend).await;
    let taken = app.signed_up("taken@example.com").await.id;
    let body = jsonl(&[
        row("kept@example.com", json!({"id": "123456789"})),
        row("moved@example.com", json!({"id": taken.clone()})),
        row("fresh@example.com", json!({})),
        row("bad-id@example.com", json!({"id": "12"})),
    ]);
    let r = import(&app, DEMO, OPERATOR, "insert", "application/x-ndjson", body).await;
    assert_eq!(r["inserted"], 3, "{r}");
    assert_eq!(r["errors"][0]["field"], "id");
    let ids = r["ids"].as_array().unwrap();
    assert_eq!(ids.len(), 2, "{r}");
    assert_eq!(
        ids[0],
        json!({"line": 1, "oldId": "123456789", "customerId": "123456789"})
    );
    assert_eq!(ids[1]["line"], 2);
    assert_eq!(ids[1]["oldId"], taken);
    assert_ne!(ids[1]["customerId"], taken);
    let moved = app
        .db
        .scalar("SELECT id FROM customers WHERE email_key = 'moved@example.com'")
        .await;
    assert_eq!(ids[1]["customerId"], moved.to_string());
}

async fn publisher_keys_import_into_their_own_publisher_only(backend: Backend) {
    let app = spawn(backend).await;
    create_publisher(&app, OTHER).await;
    let (key, _) = publisher_key(&app, OTHER).await;
    let body = jsonl(&[row("own@example.com", json!({}))]);
    let r = import(
        &app,
        OTHER,
        &key,
        "insert",
        "application/x-ndjson",
        body.clone(),
    )
    .await;
    assert_eq!(r["inserted"], 1);
    let refused = request(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{DEMO}/imports"),
        &key,
    )
    .header("content-type", "application/x-ndjson")
    .body(body.clone())
    .send()
    .await
    .unwrap();
    assert_eq!(refused.status(), 404);
    let id = r["importId"].as_str().unwrap();
    let other = request(
        &app,
        Method::GET,
        &format!("/admin/api/publishers/{DEMO}/imports/{id}"),
        OPERATOR,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(
        other.status(),
        404,
        "an import is read under its own publisher"
    );
    let wrong_type = request(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{OTHER}/imports"),
        &key,
    )
    .header("content-type", "application/json")
    .body(body)
    .send()
    .await
    .unwrap();
    assert_eq!(wrong_type.status(), 415);
    let bad_mode = request(
        &app,
        Method::POST,
        &format!("/admin/api/publishers/{OTHER}/imports?mode=merge"),
        &key,
    )
    .header("content-type", "text/csv")
    .body("email\n")
    .send()
    .await
    .unwrap();
    assert_eq!(bad_mode.status(), 400);
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customers WHERE publisher_id = 100000001")
            .await,
        0
    );
}

async fn the_cli_imports_a_file_and_stdin(backend: Backend) {
    let app = spawn(backend).await;
    let url = app.db.url.clone();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("customers.csv");
    std::fs::write(&file, "email,locale,country,currency,id\ncli@example.com,en_US,US,USD,234567891\nbad,en_US,US,USD,\n").unwrap();
    let (ok, out, err) = run(enroll(&url)
        .args(["import", "customers", "--publisher", DEMO])
        .arg(&file))
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        out.contains("2 rows read, 1 inserted, 0 updated, 0 skipped, 1 with errors"),
        "{out}"
    );
    assert!(out.contains("line 2: id 234567891 -> 234567891"), "{out}");
    assert!(out.contains("line 3: email:"), "{out}");
    let mut cmd = enroll(&url);
    cmd.args([
        "import",
        "customers",
        "--publisher",
        DEMO,
        "--mode",
        "upsert",
        "-",
    ])
    .stdin(std::process::Stdio::piped())
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        use tokio::io::AsyncWriteExt;
        let mut stdin = child.stdin.take().unwrap();
        let line = row("cli@example.com", json!({"firstName": "Piped"}));
        stdin
            .write_all(format!("{line}\n").as_bytes())
            .await
            .unwrap();
    }
    let out = child.wait_with_output().await.unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("1 updated"), "{text}");
    assert_eq!(
        app.db
            .text("SELECT first_name FROM customers WHERE id = 234567891")
            .await,
        "Piped"
    );
    let (ok, _, err) =
        run(enroll(&url).args(["import", "customers", "--publisher", "999999999", "-"])).await;
    assert!(!ok && err.contains("no publisher 999999999"), "{err}");
}

async fn a_hundred_thousand_rows_import(backend: Backend) {
    let app = spawn(backend).await;
    // One precomputed hash (argon2 per row would take hours).
    let (_, hash) = fixtures()
        .into_iter()
        .find(|(n, _)| n == "argon2id")
        .unwrap();
    let mut body = String::with_capacity(100_000 * 200);
    for i in 0..100_000 {
        body.push_str(&format!(
            "{{\"email\":\"bulk{i}@example.com\",\"passwordHash\":\"{hash}\",\"locale\":\"en_US\",\"country\":\"US\",\"currency\":\"USD\",\"externalId\":\"b{i}\",\"consents\":[{{\"name\":\"terms\",\"version\":1,\"state\":\"accepted\"}}]}}\n"
        ));
    }
    let started = Instant::now();
    let r = import(&app, DEMO, OPERATOR, "insert", "application/x-ndjson", body).await;
    let took = started.elapsed();
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(100_000), Some(0)),
        "{r}"
    );
    assert_eq!(customers(&app).await, 100_000);
    assert_eq!(
        app.db
            .scalar("SELECT COUNT(*) FROM customer_consents WHERE imported")
            .await,
        100_000
    );
    eprintln!("100,000 rows imported in {took:?} on {backend:?}");
    assert_eq!(
        login(&app, "bulk99999@example.com", PASSWORD)
            .await
            .status(),
        200
    );
}
