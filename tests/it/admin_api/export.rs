//! The CSV export: RFC 4180 quoting through a real CSV parser, neutralized formulas, filters,
//! and a list longer than one batch streamed whole.

use std::collections::HashSet;

use reqwest::Method;
use serde_json::json;

use super::large::insert_customers;
use super::{DEMO, OPERATOR, ok, publisher_key, register_in, request, spawn};
use crate::backend_tests;
use crate::support::{Backend, TestApp};

backend_tests!(
    export_round_trips_through_a_csv_parser,
    export_streams_more_than_one_batch_with_filters,
);

const EXPORT: &str = "/admin/api/publishers/100000001/customers.csv";

/// The export's header and rows, parsed; the raw text too.
async fn export(app: &TestApp, query: &str, key: &str) -> (Vec<String>, Vec<Vec<String>>, String) {
    let r = request(app, Method::GET, &format!("{EXPORT}{query}"), key)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("customers-100000001.csv")
    );
    let text = r.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let header = reader
        .headers()
        .unwrap()
        .iter()
        .map(str::to_owned)
        .collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_owned).collect())
        .collect();
    (header, rows, text)
}

async fn export_round_trips_through_a_csv_parser(backend: Backend) {
    let app = spawn(backend).await;
    let tricky = [
        ("comma@example.com", "Smith, John", "O\"Neil \"the\" Great"),
        ("newline@example.com", "Line\nBreak", "Carriage\r\nReturn"),
        (
            "formula@example.com",
            "=HYPERLINK(\"http://evil.example\",\"x\")",
            "+1+2",
        ),
        ("at@example.com", "@SUM(A1)", "-2"),
        ("plain@example.com", "Zoë", "Ünïcode"),
    ];
    let mut ids = Vec::new();
    for (email, first, last) in tricky {
        ids.push(
            register_in(
                &app,
                DEMO,
                email,
                json!({"firstName": first, "lastName": last}),
            )
            .await,
        );
    }
    let (key, _) = publisher_key(&app, DEMO).await;
    let (header, rows, text) = export(&app, "", &key).await;
    assert_eq!(
        header,
        [
            "id",
            "email",
            "firstName",
            "lastName",
            "country",
            "locale",
            "currency",
            "externalId",
            "registeredAt",
            "lastLoginAt",
            "registrationIp",
            "lastIp",
            "emailVerified",
            "birthDate",
            "companyName",
            "phoneNumber",
            "address",
            "address2",
            "city",
            "state",
            "postCode",
            "addressCountry",
            "customAnswers"
        ]
    );
    assert_eq!(rows.len(), tricky.len());
    assert!(
        text.ends_with("\r\n") && text.contains("\"Smith, John\""),
        "RFC 4180: CRLF, quoted fields"
    );
    for ((email, first, last), id) in tricky.iter().zip(&ids) {
        let row = rows.iter().find(|r| &r[0] == id).unwrap();
        let shown = |s: &str| {
            if s.starts_with(['=', '+', '-', '@']) {
                format!("'{s}")
            } else {
                s.to_owned()
            }
        };
        assert_eq!(row[1], *email);
        assert_eq!(row[2], shown(first), "first name of {email}");
        assert_eq!(row[3], shown(last), "last name of {email}");
        assert_eq!(
            (row[4].as_str(), row[5].as_str(), row[6].as_str()),
            ("GB", "en_GB", "GBP")
        );
        assert!(chrono::DateTime::parse_from_rfc3339(&row[8]).is_ok());
        assert_eq!(row[9], "");
    }
    // Newest first, like the list.
    let order: Vec<&String> = rows.iter().map(|r| &r[0]).collect();
    assert_eq!(order, ids.iter().rev().collect::<Vec<_>>());
    // The export is in the audit trail, with its filter.
    let audit = ok(&app, "/admin/api/audit", OPERATOR).await;
    assert_eq!(audit["entries"][0]["action"], "customer.export");
    assert_eq!(audit["entries"][0]["detail"], json!({"filter": {}}));
}

async fn export_streams_more_than_one_batch_with_filters(backend: Backend) {
    let app = spawn(backend).await;
    let real = register_in(&app, DEMO, "real@demo.example", json!({})).await;
    let hash = app
        .db
        .text(&format!(
            "SELECT password_hash FROM customers WHERE id = {real}"
        ))
        .await;
    // Two batches of 1,000 exactly (with the real one): the stream ends on a batch boundary.
    insert_customers(&app.db, DEMO, 1_999, 500_000_000, &hash).await;
    let (_, rows, _) = export(&app, "", OPERATOR).await;
    assert_eq!(rows.len(), 2_000);
    assert_eq!(
        rows.iter().map(|r| &r[0]).collect::<HashSet<_>>().len(),
        2_000,
        "no duplicates"
    );
    assert_eq!(rows[0][0], real);
    assert_eq!(rows[1][0], "500001999");
    assert_eq!(rows[1_999][0], "500000001");

    let (_, rows, _) = export(&app, "?country=NL", OPERATOR).await;
    assert_eq!(rows.len(), 199);
    assert!(rows.iter().all(|r| r[4] == "NL"));
    let (_, rows, _) = export(&app, "?registeredTo=2024-01-01T00:05:33Z", OPERATOR).await;
    assert_eq!(rows.len(), 998, "g/3 < 333: g = 1..998");
    let (_, rows, _) = export(&app, "?q=nobody@example.com&country=US", OPERATOR).await;
    assert!(rows.is_empty());
    let audit = ok(&app, "/admin/api/audit?limit=1", OPERATOR).await;
    assert_eq!(
        audit["entries"][0]["detail"],
        json!({"filter": {"search": true, "country": "US"}}),
        "the search text (often an email) is not kept"
    );
    let r = request(&app, Method::GET, &format!("{EXPORT}?country=UK"), OPERATOR)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
}
