//! Several server processes on one Postgres deliver each event once per endpoint between
//! them, and a server killed with SIGKILL loses nothing: the next one delivers it.

use std::time::Duration;

use serde_json::json;

use super::{Receiver, assert_clean};
use crate::admin_api::{DEMO, OPERATOR};
use crate::support::{Backend, ServerProcess, TestDb, json, registration};

async fn server(db: &TestDb) -> ServerProcess {
    ServerProcess::start(&[
        ("ENROLL_DATABASE__URL", db.url.clone()),
        ("ENROLL_ADMIN__OPERATOR_KEY", OPERATOR.into()),
        ("ENROLL_LIMITS__ENABLED", "false".into()),
        ("ENROLL_SERVER__OUTBOUND_ALLOW", "127.0.0.0/8".into()),
        ("ENROLL_EVENTS__POLL_INTERVAL", "20ms".into()),
        ("ENROLL_EVENTS__RETRY_BASE", "100ms".into()),
        ("ENROLL_EVENTS__RETRY_MAX", "300ms".into()),
        ("ENROLL_EVENTS__BATCH", "4".into()),
        // A killed worker's claims expire after 2 × timeout + 5 s.
        ("ENROLL_EVENTS__TIMEOUT", "1s".into()),
    ])
    .await
}

async fn subscribe(base: &str, receiver: &Receiver) {
    let r = reqwest::Client::new()
        .post(format!("{base}/admin/api/publishers/{DEMO}/webhooks"))
        .bearer_auth(OPERATOR)
        .json(&json!({"url": receiver.url, "eventTypes": ["customer.registered", "customer.logged_in"]}))
        .send()
        .await
        .unwrap();
    let (status, body) = json(r).await;
    assert_eq!(status, 200, "{body}");
    receiver.trust(body["responseData"]["secret"].as_str().unwrap());
}

async fn register(base: &str, email: String) {
    let r = reqwest::Client::new()
        .post(format!("{base}/customers"))
        .json(&registration(&email))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_on_one_postgres_deliver_each_event_once() {
    let db = TestDb::new(Backend::Postgres).await;
    let a = server(&db).await;
    let b = server(&db).await;
    let receiver = Receiver::start().await;
    subscribe(&a.address, &receiver).await;
    let mut registrations = Vec::new();
    for i in 0..24 {
        let base = if i % 2 == 0 { &a.address } else { &b.address };
        registrations.push(register(base, format!("replica{i}@example.com")));
    }
    futures_util::future::join_all(registrations).await;
    let got = receiver.wait_for(24).await;
    got.iter().for_each(assert_clean);
    let settled = receiver.settled().await;
    let mut ids: Vec<&str> = settled.iter().map(|g| g.id.as_str()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!((settled.len(), ids.len()), (24, 24), "each event once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_with_sigkill_loses_no_event() {
    let db = TestDb::new(Backend::Postgres).await;
    let mut a = server(&db).await;
    let receiver = Receiver::start().await;
    receiver.answer(503);
    subscribe(&a.address, &receiver).await;
    for i in 0..5 {
        register(&a.address, format!("killed{i}@example.com")).await;
    }
    // Mid-delivery: tries are failing and being retried when the process dies.
    for _ in 0..200 {
        if !receiver.requests().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    a.child.start_kill().unwrap();
    a.child.wait().await.unwrap();
    receiver.answer(200);
    let _b = server(&db).await;
    let got = receiver.wait_for(5).await;
    got.iter().for_each(assert_clean);
    let mut emails: Vec<String> = got
        .iter()
        .map(|g| g.event["data"]["email"].as_str().unwrap().to_owned())
        .collect();
    emails.sort();
    emails.dedup();
    assert_eq!(emails.len(), 5);
}
