//! 100,000 customers in one publisher, inserted with SQL (one precomputed password hash):
//! the first page and every deep page come back right, and search and filters stay on the
//! indexes (no timing assertions).

use std::collections::HashSet;

use serde_json::json;

use super::{OPERATOR, create_publisher, exec, ok, register_in, spawn};
use crate::backend_tests;
use crate::support::{Backend, TestDb};

backend_tests!(a_hundred_thousand_customers_page_correctly);

/// Inserts customers `first_id + g` for g in 1..=n: email `user{g}@fixture.example`, names
/// `First{g}`/`Last{g}`, country NL for every tenth else US, external id `ext-{g}`, registered
/// at 2024-01-01 plus g/3 seconds (so three share each second: ties go by id).
pub async fn insert_customers(db: &TestDb, publisher: &str, n: u32, first_id: i64, hash: &str) {
    let columns = "id, publisher_id, email, email_key, password_hash, first_name, last_name, locale, \
                   country, currency, external_id, registration_ip, last_ip, created_at";
    let values = |created_at: &str| {
        format!(
            "{first_id} + g, {publisher}, 'user' || g || '@fixture.example', 'user' || g || '@fixture.example', \
             '{hash}', 'First' || g, 'Last' || g, 'en_US', CASE WHEN g % 10 = 0 THEN 'NL' ELSE 'US' END, 'USD', \
             'ext-' || g, '192.0.2.1', '192.0.2.1', {created_at}"
        )
    };
    let sql = if db.pg_name().is_some() {
        format!(
            "INSERT INTO customers ({columns}) SELECT {} FROM generate_series(1, {n}) AS s(g)",
            values("timestamptz '2024-01-01 00:00:00+00' + (g / 3) * interval '1 second'")
        )
    } else {
        // The same text form sqlx writes (RFC 3339), so times compare as text.
        format!(
            "WITH RECURSIVE s(g) AS (SELECT 1 UNION ALL SELECT g + 1 FROM s WHERE g < {n}) \
             INSERT INTO customers ({columns}) SELECT {} FROM s",
            values(
                "strftime('%Y-%m-%dT%H:%M:%S', '2024-01-01 00:00:00', '+' || (g / 3) || ' seconds') || '+00:00'"
            )
        )
    };
    exec(db, &sql).await;
}

/// The ids of every page of a list, walked with `limit`.
pub async fn walk(app: &crate::support::TestApp, path: &str, limit: u32) -> Vec<String> {
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit={limit}&cursor={c}"),
            None => format!("{path}{sep}limit={limit}"),
        };
        let page = ok(app, &url, OPERATOR).await;
        let customers = page["customers"].as_array().unwrap();
        assert!(customers.len() <= limit as usize);
        ids.extend(
            customers
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page["nextCursor"].as_str() {
            Some(c) => {
                assert_eq!(
                    customers.len(),
                    limit as usize,
                    "only the last page is short"
                );
                cursor = Some(c.to_owned());
            }
            None => break,
        }
    }
    ids
}

async fn a_hundred_thousand_customers_page_correctly(backend: Backend) {
    const N: u32 = 100_000;
    const BASE: i64 = 300_000_000;
    let publisher = "300000003";
    let app = spawn(backend).await;
    create_publisher(&app, publisher).await;
    let real = register_in(&app, publisher, "real@fixture.example", json!({})).await;
    let hash = app
        .db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {real}"
        ))
        .await;
    insert_customers(&app.db, publisher, N, BASE, &hash).await;
    let path = format!("/admin/api/publishers/{publisher}/customers");
    // Newest first: the real registration (now), then g = N, N-1, … (ties by id, descending).
    let expected: Vec<String> = std::iter::once(real.clone())
        .chain((1..=i64::from(N)).rev().map(|g| (BASE + g).to_string()))
        .collect();

    let first = ok(&app, &path, OPERATOR).await;
    let ids: Vec<&str> = first["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 50, "the default page size");
    assert_eq!(
        ids,
        expected[..50]
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>()
    );
    assert_eq!(first["customers"][1]["email"], "user100000@fixture.example");
    assert_eq!(
        first["customers"][1]["registeredAt"],
        "2024-01-01T09:15:33Z"
    );

    let all = walk(&app, &path, 500).await;
    assert_eq!(all.len(), expected.len());
    assert_eq!(
        all.iter().collect::<HashSet<_>>().len(),
        all.len(),
        "no duplicates"
    );
    assert_eq!(all, expected, "every deep page in order, nothing left out");

    // Search and filters on the big publisher.
    let found = ok(&app, &format!("{path}?q=USER5000&limit=500"), OPERATOR).await;
    let mut emails: Vec<&str> = found["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["email"].as_str().unwrap())
        .collect();
    emails.sort();
    let mut want: Vec<String> = std::iter::once(5000)
        .chain(50_000..=50_009)
        .map(|g| format!("user{g}@fixture.example"))
        .collect();
    want.sort();
    assert_eq!(emails, want);
    let found = ok(&app, &format!("{path}?q=last9999"), OPERATOR).await;
    assert_eq!(
        found["customers"].as_array().unwrap().len(),
        11,
        "9999 and 99990-99999"
    );
    let found = ok(&app, &format!("{path}?q=ext-77777"), OPERATOR).await;
    assert_eq!(found["customers"][0]["id"], (BASE + 77_777).to_string());
    let nl = ok(&app, &format!("{path}?country=NL&limit=3"), OPERATOR).await;
    let ids: Vec<&str> = nl["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = [100_000, 99_990, 99_980]
        .iter()
        .map(|g| (BASE + g).to_string())
        .collect();
    assert_eq!(ids, want);
    let deep = ok(
        &app,
        &format!("{path}?registeredTo=2024-01-01T00:00:02Z"),
        OPERATOR,
    )
    .await;
    let ids: Vec<&str> = deep["customers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let want: Vec<String> = [5, 4, 3, 2, 1]
        .iter()
        .map(|g| (BASE + g).to_string())
        .collect();
    assert_eq!(ids, want, "registered in the first two seconds: g < 6");
    let pending = ok(&app, &format!("{path}?needsUpdate=true&limit=2"), OPERATOR).await;
    assert_eq!(pending["customers"].as_array().unwrap().len(), 2);
}
