//! The OpenAPI document against the real server: schemathesis (PyPI) generates requests from
//! `/openapi.json` — valid and invalid bodies, parameters and headers — for every operation,
//! and checks each real answer: no 5xx, every status documented, the documented content type,
//! the body valid against the documented schema, documented headers present.
//! `scripts/test` installs schemathesis (a venv under target/); `TEST_SCHEMATHESIS` points
//! elsewhere. `TEST_SCHEMATHESIS_SEED` picks another seed (a number, or `random`).

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use crate::admin_api::OPERATOR;
use crate::support::{Backend, TestApp, json, registration};

/// The demo publisher of config/enroll.toml, which the document's examples use.
const PUBLISHER: &str = "100000001";
/// Cases per operation and phase: the whole run stays around a minute per backend.
const MAX_EXAMPLES: &str = "10";
/// The run is killed (and the test fails) past this.
const HARD_TIMEOUT: Duration = Duration::from_secs(300);
/// A fixed seed keeps CI repeatable; TEST_SCHEMATHESIS_SEED explores others.
const SEED: &str = "20261130";

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("TEST_SCHEMATHESIS").filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    // target/<profile>/enroll → target/schemathesis/bin/schemathesis (where scripts/test puts it)
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_enroll"));
    let target = bin.parent().and_then(|p| p.parent()).expect("target dir");
    let path = target.join("schemathesis/bin/schemathesis");
    assert!(
        path.exists(),
        "schemathesis is required for the OpenAPI check and is not at {} \
         (run the tests with scripts/test, which installs it, or set TEST_SCHEMATHESIS)",
        path.display()
    );
    path
}

/// Customer routes get the customer's token and id, admin routes the operator key and the
/// demo publisher; schemathesis fuzzes everything else.
fn config(app: &TestApp, jwt: &str, customer: &str) -> String {
    format!(
        r#"base-url = "{base}"

[[operations]]
include-path-regex = '^/customers/\{{customerId\}}'
headers = {{ Authorization = "Bearer {jwt}" }}
parameters = {{ "path.customerId" = "{customer}" }}

[[operations]]
include-path-regex = '^/admin/api'
headers = {{ Authorization = "Bearer {OPERATOR}" }}
parameters = {{ "path.publisherId" = "{PUBLISHER}" }}
"#,
        base = app.address
    )
}

async fn fuzzing_finds_no_server_error_and_no_schema_violation(backend: Backend) {
    let bin = schemathesis();
    let app = TestApp::spawn_with(backend, |f| f.merge(("admin.operator_key", OPERATOR))).await;
    // The account of the document's login example.
    let (status, body) = json(app.register(&registration("alice@example.com")).await).await;
    assert_eq!(status, 200, "{body}");
    let jwt = body["responseData"]["jwt"].as_str().unwrap().to_owned();
    let customer = body["responseData"]["customerId"].to_string();

    let dir = tempfile::tempdir().unwrap();
    let config_file = dir.path().join("schemathesis.toml");
    std::fs::write(&config_file, config(&app, &jwt, &customer)).unwrap();
    let seed = match std::env::var("TEST_SCHEMATHESIS_SEED").ok().as_deref() {
        None | Some("") => SEED.to_owned(),
        Some("random") => rand::random::<u32>().to_string(),
        Some(seed) => seed.to_owned(),
    };
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.arg("--config-file")
        .arg(&config_file)
        .arg("run")
        .arg(app.url("/openapi.json"))
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_schema_conformance,response_headers_conformance",
            "--phases",
            "examples,coverage,fuzzing",
            "--max-examples",
            MAX_EXAMPLES,
            "--seed",
            &seed,
            // One worker: the machine has two cores, and the server needs one.
            "--workers",
            "1",
            "--request-timeout",
            "20",
        ])
        .current_dir(dir.path())
        .env("NO_COLOR", "1")
        .env("SCHEMATHESIS_TELEMETRY", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let out = tokio::time::timeout(HARD_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("schemathesis ran longer than {HARD_TIMEOUT:?} (seed {seed})"))
        .expect("schemathesis ran");
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "schemathesis found problems ({:?}, seed {seed}):\n{report}",
        out.status
    );
    // Not a run that tested nothing: every operation of the document was tested.
    let count = |label: &str| {
        report
            .lines()
            .find_map(|l| l.trim().strip_prefix(label))
            .and_then(|rest| rest.trim().split('/').next_back()?.parse::<usize>().ok())
    };
    let (tested, total) = (count("Tested:"), count("Selected:"));
    assert!(
        tested.is_some() && tested == total && tested >= Some(37),
        "tested {tested:?} of {total:?} operations:\n{report}"
    );
    app.stop().await;
}

crate::backend_tests!(fuzzing_finds_no_server_error_and_no_schema_violation);
