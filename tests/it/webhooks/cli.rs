//! `enroll webhook …`: the command line manages endpoints like the admin API, and a secret it
//! prints verifies the deliveries.

use super::{Receiver, assert_clean, spawn};
use crate::admin_api::DEMO;
use crate::backend_tests;
use crate::cli::run;
use crate::support::Backend;

backend_tests!(the_cli_manages_webhook_endpoints);

/// `enroll` on the test database; the receiver is on loopback, which the operator allows.
fn enroll(url: &str) -> tokio::process::Command {
    let mut cmd = crate::cli::enroll(url);
    cmd.env("ENROLL_SERVER__OUTBOUND_ALLOW", "127.0.0.0/8");
    cmd
}

async fn the_cli_manages_webhook_endpoints(backend: Backend) {
    let app = spawn(backend).await;
    let url = app.db.url.clone();
    let receiver = Receiver::start().await;
    let (ok, out, err) = run(enroll(&url).args([
        "webhook",
        "create",
        "--publisher",
        DEMO,
        "--url",
        &receiver.url,
        "--event",
        "customer.registered,customer.logged_in",
    ]))
    .await;
    assert!(ok, "{out}{err}");
    let secret = out.lines().find(|l| l.starts_with("whsec_")).unwrap();
    receiver.trust(secret);
    let id: String = out.split_whitespace().nth(2).unwrap().to_owned();
    app.signed_up("cli-hook@example.com").await;
    let got = receiver.wait_for(1).await;
    assert_clean(&got[0]);

    let (ok, out, _) = run(enroll(&url).args(["webhook", "list", "--publisher", DEMO])).await;
    assert!(
        ok && out.contains(&receiver.url) && !out.contains("whsec_"),
        "{out}"
    );
    let (ok, out, err) =
        run(enroll(&url).args(["webhook", "rotate-secret", "--publisher", DEMO, &id])).await;
    assert!(
        ok && out.trim().starts_with("whsec_") && out.trim() != secret,
        "{out}{err}"
    );
    let (ok, out, _) =
        run(enroll(&url).args(["webhook", "disable", "--publisher", DEMO, &id])).await;
    assert!(ok && out.contains("disabled"), "{out}");
    let (ok, out, _) = run(enroll(&url).args(["webhook", "list", "--publisher", DEMO])).await;
    assert!(ok && out.contains("no:admin"), "{out}");
    let (ok, _, err) = run(enroll(&url).args([
        "webhook",
        "create",
        "--publisher",
        DEMO,
        "--url",
        "ftp://x.example",
        "--event",
        "customer.nothing",
    ]))
    .await;
    assert!(!ok && err.contains("url"), "{err}");
    let (ok, out, _) =
        run(enroll(&url).args(["webhook", "delete", "--publisher", DEMO, &id])).await;
    assert!(ok && out.contains("deleted"), "{out}");
    let (ok, _, err) =
        run(enroll(&url).args(["webhook", "delete", "--publisher", DEMO, &id])).await;
    assert!(!ok && err.contains("not found"), "{err}");
}
