//! The `enroll` binary: CLI commands, start-up errors, graceful shutdown.

use std::time::Duration;

use tokio::process::Command;

use crate::backend_tests;
use crate::support::{Backend, CACHE_WAIT, ServerProcess, TestApp, json, repo};

backend_tests!(
    cli_manages_publishers_and_consents_of_a_running_server,
    cli_manages_admin_keys_of_a_running_server,
);

pub fn enroll(db_url: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_enroll"));
    cmd.arg("--config")
        .arg(repo().join("config/enroll.toml"))
        .env("ENROLL_DATABASE__URL", db_url)
        .env("ENROLL_LOG__LEVEL", "warn")
        .env_remove("RUST_LOG")
        .kill_on_drop(true)
        .current_dir(repo());
    cmd
}

pub async fn run(cmd: &mut Command) -> (bool, String, String) {
    let out = cmd.output().await.unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn cli_manages_publishers_and_consents_of_a_running_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.db.url.clone();
    let (ok, out, err) = run(enroll(&url).args([
        "publisher",
        "create",
        "--id",
        "123456789",
        "--name",
        "Acme",
        "--offer",
        "S123456789_US",
    ]))
    .await;
    assert!(ok, "{out}{err}");
    let (ok, _, err) =
        run(enroll(&url).args(["publisher", "create", "--id", "123456789", "--name", "Acme"]))
            .await;
    assert!(!ok);
    assert!(err.contains("already exists"), "{err}");
    let (ok, _, err) =
        run(enroll(&url).args(["publisher", "create", "--id", "12345", "--name", "Bad"])).await;
    assert!(!ok && err.contains("nine digits"), "{err}");
    let (ok, out, _) = run(enroll(&url).args(["publisher", "list"])).await;
    assert!(ok);
    assert!(
        out.contains("100000001") && out.contains("123456789") && out.contains("S123456789_US"),
        "{out}"
    );

    let set = [
        "consent",
        "set",
        "--publisher",
        "123456789",
        "--name",
        "acme_terms",
        "--label",
        "Acme terms",
        "--required",
    ];
    let (ok, out, err) = run(enroll(&url).args(set)).await;
    assert!(ok && out.contains("version 1"), "{out}{err}");
    let (ok, out, _) = run(enroll(&url).args(set)).await;
    assert!(ok && out.contains("nothing published"), "{out}");
    let (ok, out, _) = run(enroll(&url).args([
        "consent",
        "set",
        "--publisher",
        "platform",
        "--name",
        "terms",
        "--label",
        "New platform terms",
        "--required",
    ]))
    .await;
    assert!(ok && out.contains("version 2"), "{out}");
    let (ok, _, err) = run(enroll(&url).args([
        "consent",
        "set",
        "--publisher",
        "123456789",
        "--name",
        "terms",
        "--label",
        "x",
    ]))
    .await;
    assert!(!ok && err.contains("already used by the platform"), "{err}");

    tokio::time::sleep(CACHE_WAIT).await;
    let (status, body) = json(app.consents("123456789").await).await;
    assert_eq!(
        status, 200,
        "a publisher created by the CLI is visible to the running server"
    );
    let consents = &body["responseData"]["consents"];
    assert_eq!(
        (
            consents[0]["name"].as_str(),
            consents[0]["version"].as_str()
        ),
        (Some("terms"), Some("2"))
    );
    assert_eq!(
        (
            consents[1]["name"].as_str(),
            consents[1]["required"].as_bool()
        ),
        (Some("acme_terms"), Some(true))
    );
}

async fn admin_me(app: &TestApp, key: &str) -> (u16, serde_json::Value) {
    let r = app
        .client
        .get(app.url("/admin/api/me"))
        .bearer_auth(key)
        .send()
        .await
        .unwrap();
    json(r).await
}

async fn cli_manages_admin_keys_of_a_running_server(backend: Backend) {
    let app = TestApp::spawn(backend).await;
    let url = app.db.url.clone();
    let created = |out: &str| {
        let mut lines = out.lines();
        let id: i64 = lines
            .next()
            .and_then(|l| l.split_whitespace().nth(3))
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("created ... key <id>: {out}"));
        (id, lines.next().unwrap().trim().to_owned())
    };
    let (ok, out, err) =
        run(enroll(&url).args(["key", "create", "--operator", "--label", "ops"])).await;
    assert!(ok, "{out}{err}");
    assert!(out.starts_with("created operator key "), "{out}");
    assert!(err.contains("cannot be shown again"), "{err}");
    let (operator_id, operator_key) = created(&out);
    let (ok, out, err) = run(enroll(&url).args([
        "key",
        "create",
        "--publisher",
        "100000001",
        "--label",
        "demo desk",
    ]))
    .await;
    assert!(ok, "{out}{err}");
    assert!(
        out.starts_with("created key ") && out.contains("for publisher 100000001"),
        "{out}"
    );
    let publisher_line = out.lines().next().unwrap().to_owned();
    let publisher_id: i64 = publisher_line
        .split_whitespace()
        .nth(2)
        .unwrap()
        .parse()
        .unwrap();
    let publisher_key = out.lines().nth(1).unwrap().trim().to_owned();
    assert_ne!(operator_key, publisher_key);

    for (args, expect) in [
        (&["key", "create"][..], "--operator"),
        (
            &["key", "create", "--operator", "--publisher", "100000001"],
            "cannot be used with",
        ),
        (
            &["key", "create", "--publisher", "999999999"],
            "publisher 999999999 not found",
        ),
        (&["key", "revoke", "424242"], "key 424242 not found"),
    ] {
        let (ok, _, err) = run(enroll(&url).args(args)).await;
        assert!(!ok && err.contains(expect), "{args:?}: {err}");
    }

    // The running server takes both keys at once.
    let (status, me) = admin_me(&app, &operator_key).await;
    assert_eq!(
        (status, me["responseData"]["scope"].as_str()),
        (200, Some("operator")),
        "{me}"
    );
    let (status, me) = admin_me(&app, &publisher_key).await;
    assert_eq!(
        (
            status,
            me["responseData"]["publisherId"].as_i64(),
            me["responseData"]["label"].as_str()
        ),
        (200, Some(100000001), Some("demo desk"))
    );

    let (ok, out, _) = run(enroll(&url).args(["key", "list"])).await;
    assert!(ok);
    assert!(
        out.contains("operator") && out.contains("100000001") && out.contains("demo desk"),
        "{out}"
    );
    assert!(
        !out.contains(&operator_key) && !out.contains(&publisher_key),
        "keys are never listed"
    );
    let (ok, out, _) = run(enroll(&url).args(["key", "list", "--publisher", "100000001"])).await;
    assert!(
        ok && out.lines().count() == 2,
        "a header and one key: {out}"
    );

    let (ok, out, err) = run(enroll(&url).args(["key", "revoke", &publisher_id.to_string()])).await;
    assert!(
        ok && out.contains(&format!("revoked key {publisher_id}")),
        "{out}{err}"
    );
    let (status, _) = admin_me(&app, &publisher_key).await;
    assert_eq!(status, 401, "a revoked key stops working at once");
    let (status, _) = admin_me(&app, &operator_key).await;
    assert_eq!(status, 200);
    let (_, out, _) = run(enroll(&url).args(["key", "list"])).await;
    let revoked = out
        .lines()
        .find(|l| l.starts_with(&format!("{publisher_id} ")))
        .unwrap();
    assert!(
        !revoked.contains(" - "),
        "the revoked key shows when: {revoked}"
    );
    let listed = out
        .lines()
        .find(|l| l.starts_with(&format!("{operator_id} ")))
        .unwrap();
    assert!(
        listed.contains(" - "),
        "the live key has no revocation time: {listed}"
    );

    let audit = app
        .db
        .scalar("SELECT COUNT(*) FROM admin_audit WHERE actor = 'cli'")
        .await;
    assert_eq!(audit, 3, "two creations and a revocation");
}

#[tokio::test]
async fn a_bad_setting_stops_start_up_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    for (key, value, expect) in [
        ("ENROLL_LOG__FORMAT", "xml", "log.format"),
        ("ENROLL_SERVER__ADDR", "nowhere", "server.addr"),
        ("ENROLL_DATABASE__URL", "mysql://x", "database.url"),
        (
            "ENROLL_GEOIP__DATABASE",
            "/nonexistent.mmdb",
            "geoip.database",
        ),
        (
            "ENROLL_SERVER__TRUSTED_PROXIES",
            "10.0.0.0/99",
            "server.trusted_proxies",
        ),
    ] {
        let (ok, _, err) = run(enroll(&url)
            .env(key, value)
            .env("ENROLL_SERVER__ADDR", "127.0.0.1:0")
            .env(key, value)
            .arg("serve"))
        .await;
        assert!(!ok, "{key}={value} must stop start-up");
        let lines: Vec<_> = err.lines().filter(|l| !l.trim().is_empty()).collect();
        assert_eq!(lines.len(), 1, "one line: {err}");
        assert!(
            lines[0].starts_with("enroll: ") && lines[0].contains(expect),
            "{key}: {err}"
        );
    }
}

#[tokio::test]
async fn serve_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/x.db", dir.path().display());
    let mut server = ServerProcess::start(&[("ENROLL_DATABASE__URL", url.clone())]).await;
    let addr = server.address.trim_start_matches("http://").to_owned();
    let body = reqwest::get(format!("{}/locales?customerIP=81.2.69.142", server.address))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.contains("\"GB\""), "{body}");
    let (ok, _, err) = run(enroll(&url)
        .env("ENROLL_SERVER__ADDR", &addr)
        .arg("healthcheck"))
    .await;
    assert!(ok, "healthcheck against a live server: {err}");
    let pid = server.child.id().unwrap().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap()
            .success()
    );
    let status = tokio::time::timeout(Duration::from_secs(10), server.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));
    let (ok, _, _) = run(enroll(&url)
        .env("ENROLL_SERVER__ADDR", &addr)
        .arg("healthcheck"))
    .await;
    assert!(!ok, "healthcheck fails once the server is gone");
}
