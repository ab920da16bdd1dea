//! `OwnerDataStore`: the export's generic read of the consent history (every column, typed
//! JSON, one publisher's customers only) and the count of live sessions.

use enroll::domain::{ConsentOwner, ConsentState};
use serde_json::json;

use super::{
    P1, P2, answer, how, new_customer, pid, platform_terms, register, rotate, two_publishers,
};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(history_rows_hold_every_column_of_one_publishers_customer);

async fn history_rows_hold_every_column_of_one_publishers_customer(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    // Answers are bound to the versions they answer: publish them first.
    platform_terms(&store).await;
    store
        .publish_consent(
            ConsentOwner::Platform,
            &crate::consents::draft("news", "News", false),
        )
        .await
        .unwrap();
    let mut new = new_customer("rows@example.com");
    new.consents = vec![
        answer(ConsentOwner::Platform, "terms", 1, ConsentState::Accepted),
        answer(ConsentOwner::Platform, "news", 1, ConsentState::Declined),
    ];
    let c = store.create_customer(p, &new, &how()).await.unwrap();
    let rows = store.consent_history_rows(p, c.id).await.unwrap();
    assert_eq!(rows.len(), 2);
    let first = &rows[0];
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "at",
            "collection_point",
            "entry_hash",
            "id",
            "imported",
            "ip",
            "name",
            "owner",
            "prev_hash",
            "receipt_id",
            "request_id",
            "route",
            "state",
            "text_hash",
            "user_agent",
            "version"
        ]
    );
    assert_eq!(first["owner"], json!(0));
    assert_eq!(first["name"], json!("terms"));
    assert_eq!(first["version"], json!(1));
    assert_eq!(first["state"], json!("accepted"));
    assert_eq!(first["ip"], json!("192.0.2.7"));
    assert_eq!(first["user_agent"], json!("agent/1"));
    assert_eq!(
        first["imported"],
        json!(false),
        "a boolean on both backends"
    );
    let at = first["at"].as_str().unwrap();
    assert!(
        at.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(at).is_ok(),
        "{at}"
    );
    assert!(rows[0]["id"].as_i64().unwrap() < rows[1]["id"].as_i64().unwrap());
    assert_eq!(rows[1]["state"], json!("declined"));
    // Not through another publisher.
    assert!(
        store
            .consent_history_rows(pid(P2), c.id)
            .await
            .unwrap()
            .is_empty()
    );

    // The registration's refresh token is one live session; a rotated one is still one.
    assert_eq!(store.live_sessions(p, c.id).await.unwrap(), 1);
    rotate(&store, &new.refresh.hash, "next").await;
    assert_eq!(store.live_sessions(p, c.id).await.unwrap(), 1);
    assert_eq!(store.live_sessions(pid(P2), c.id).await.unwrap(), 0);
    let other = register(&store, P1, "other@example.com").await;
    assert_eq!(store.live_sessions(p, other.id).await.unwrap(), 1);
    assert!(store.end_sessions(p, c.id).await.unwrap());
    assert_eq!(store.live_sessions(p, c.id).await.unwrap(), 0);
}
