//! Firebase scrypt hashes: imported with the project's parameters (a header over HTTP, flags on
//! the CLI), verified at login, rehashed to argon2id; the reference vector of firebase/scrypt.

use reqwest::Method;
use serde_json::{Value, json};

use crate::admin_api::{DEMO, OPERATOR, request};
use crate::backend_tests;
use crate::cli::{enroll, run};
use crate::import::{import, jsonl, row, spawn};
use crate::login::login;
use crate::support::{Backend, json};

backend_tests!(
    firebase_hashes_import_over_http_and_log_in,
    the_cli_takes_the_firebase_parameters,
);

fn fixture() -> Value {
    serde_json::from_str(include_str!("../fixtures/firebase_scrypt.json")).unwrap()
}

fn header(f: &Value) -> String {
    format!(
        "signer_key={}, salt_separator={}, rounds={}, mem_cost={}",
        f["signer_key"].as_str().unwrap(),
        f["salt_separator"].as_str().unwrap(),
        f["rounds"],
        f["mem_cost"]
    )
}

async fn stored_hash(app: &crate::support::TestApp, email: &str) -> String {
    app.db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE email_key = '{email}'"
        ))
        .await
}

async fn firebase_hashes_import_over_http_and_log_in(backend: Backend) {
    let app = spawn(backend).await;
    let f = fixture();
    let user = |email: &str, salt: Value| {
        row(
            email,
            json!({"passwordHash": f["hash"], "passwordSalt": salt}),
        )
    };
    let body = jsonl(&[
        user("fire@example.com", f["salt"].clone()),
        user("nosalt@example.com", Value::Null),
    ]);
    let path = format!("/admin/api/publishers/{DEMO}/imports?mode=insert");
    // Without the project's parameters a bare Firebase hash is an unknown format.
    let r = import(
        &app,
        DEMO,
        OPERATOR,
        "insert",
        "application/x-ndjson",
        body.clone(),
    )
    .await;
    assert_eq!(r["failed"], 2, "{r}");
    assert_eq!(r["errors"][0]["field"], "passwordHash", "{r}");
    // Bad parameters: 400 before anything is read.
    let bad = header(&f).replace("rounds=8", "rounds=0");
    let resp = request(&app, Method::POST, &path, OPERATOR)
        .header("content-type", "application/x-ndjson")
        .header("firebase-scrypt", bad)
        .body(body.clone())
        .send()
        .await
        .unwrap();
    let (status, b) = json(resp).await;
    assert_eq!((status, &b["code"]), (400, &json!("REQ0001")), "{b}");
    assert!(b["message"].as_str().unwrap().contains("rounds"), "{b}");
    // With them: verified at login, then argon2id.
    let resp = request(&app, Method::POST, &path, OPERATOR)
        .header("content-type", "application/x-ndjson")
        .header("firebase-scrypt", header(&f))
        .body(body)
        .send()
        .await
        .unwrap();
    let (status, b) = json(resp).await;
    assert_eq!(status, 202, "{b}");
    let id = b["responseData"]["importId"].as_str().unwrap();
    let r = crate::import::wait(&app, DEMO, OPERATOR, id).await;
    assert_eq!(
        (r["inserted"].as_i64(), r["failed"].as_i64()),
        (Some(1), Some(1)),
        "{r}"
    );
    assert_eq!(r["errors"][0]["field"], "passwordSalt", "{r}");
    let before = stored_hash(&app, "fire@example.com").await;
    assert!(before.starts_with("$firebase-scrypt$m=14,r=8$"), "{before}");
    assert_eq!(
        login(&app, "fire@example.com", "user2password")
            .await
            .status(),
        401
    );
    assert_eq!(stored_hash(&app, "fire@example.com").await, before);
    let password = f["password"].as_str().unwrap();
    assert_eq!(
        login(&app, "fire@example.com", password).await.status(),
        200
    );
    let after = stored_hash(&app, "fire@example.com").await;
    assert!(after.starts_with("$argon2id$v=19$"), "{after}");
    assert_eq!(
        login(&app, "fire@example.com", password).await.status(),
        200
    );
}

async fn the_cli_takes_the_firebase_parameters(backend: Backend) {
    let app = spawn(backend).await;
    let f = fixture();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("users.csv");
    std::fs::write(
        &file,
        format!(
            "email,locale,country,currency,passwordHash,passwordSalt\nclifire@example.com,en_US,US,USD,{},{}\n",
            f["hash"].as_str().unwrap(),
            f["salt"].as_str().unwrap()
        ),
    )
    .unwrap();
    let url = app.db.url.clone();
    let (ok, out, err) = run(enroll(&url)
        .args(["import", "customers", "--publisher", DEMO])
        .args(["--firebase-signer-key", f["signer_key"].as_str().unwrap()])
        .args([
            "--firebase-salt-separator",
            f["salt_separator"].as_str().unwrap(),
        ])
        .args(["--firebase-rounds", "8", "--firebase-mem-cost", "14"])
        .arg(&file))
    .await;
    assert!(ok, "{out}{err}");
    assert!(out.contains("1 inserted"), "{out}");
    let password = f["password"].as_str().unwrap();
    assert_eq!(
        login(&app, "clifire@example.com", password).await.status(),
        200
    );
    // A parameter missing: refused before anything is read.
    let (ok, _, err) = run(enroll(&url)
        .args(["import", "customers", "--publisher", DEMO])
        .args(["--firebase-signer-key", f["signer_key"].as_str().unwrap()])
        .arg(&file))
    .await;
    assert!(!ok && err.contains("firebase"), "{err}");
}
