//! `AdminStore` keys, dashboard sessions and the audit trail: every change with its audit line
//! in one transaction, and none for a change that changed nothing.

use chrono::Utc;
use enroll::domain::AdminKeyId;
use enroll::domain::{ConsentOwner, PublisherSettings};
use enroll::store::{AuditCursor, NewAdminKey, NewAdminSession, Published, StoreError};

use super::{P1, P2, audit, pid, two_publishers};
use crate::backend_tests;
use crate::consents::draft;
use crate::support::Backend;

backend_tests!(
    admin_keys_are_scoped_and_revocation_ends_their_sessions,
    dashboard_sessions_live_until_they_expire_or_end,
    publisher_and_consent_changes_write_their_audit_line,
    audit_pages_are_newest_first_and_per_publisher,
);

fn new_key(hash: &str, publisher: Option<&str>) -> NewAdminKey {
    NewAdminKey {
        hash: hash.into(),
        publisher: publisher.map(pid),
        label: format!("label {hash}"),
    }
}

fn session(hash: &str, key_id: Option<AdminKeyId>, operator: Option<&str>) -> NewAdminSession {
    NewAdminSession {
        hash: hash.into(),
        key_id,
        operator_key_hash: operator.map(str::to_owned),
        csrf_hash: format!("csrf-{hash}"),
        expires_at: Utc::now() + chrono::Duration::hours(1),
    }
}

async fn admin_keys_are_scoped_and_revocation_ends_their_sessions(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let operator = store
        .create_admin_key(&new_key("h-op", None), &audit("key.create", None))
        .await
        .unwrap();
    let scoped = store
        .create_admin_key(
            &new_key("h-p1", Some(P1)),
            &audit("key.create", Some(pid(P1))),
        )
        .await
        .unwrap();
    assert_eq!(
        (operator.publisher, scoped.publisher),
        (None, Some(pid(P1)))
    );
    assert!(matches!(
        store
            .create_admin_key(
                &new_key("h-x", Some("999999999")),
                &audit("key.create", None)
            )
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .create_admin_key(&new_key("h-p1", None), &audit("key.create", None))
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    let all: Vec<_> = store
        .admin_keys(None)
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.id)
        .collect();
    assert_eq!(all, vec![operator.id, scoped.id]);
    assert_eq!(
        store.admin_keys(Some(pid(P1))).await.unwrap(),
        vec![scoped.clone()]
    );
    assert!(store.admin_keys(Some(pid(P2))).await.unwrap().is_empty());
    assert_eq!(
        store.admin_key_by_hash("h-p1").await.unwrap(),
        Some(scoped.clone())
    );
    assert_eq!(store.admin_key_by_hash("h-none").await.unwrap(), None);

    store
        .create_admin_session(&session("s1", Some(scoped.id), None))
        .await
        .unwrap();
    let revoked = store
        .revoke_admin_key(scoped.id, &audit("key.revoke", None))
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(store.admin_session("s1").await.unwrap().is_none());
    assert_eq!(
        store.admin_key_by_hash("h-p1").await.unwrap(),
        Some(revoked.clone())
    );
    // Revoking again changes nothing and writes no line; an unknown key is None.
    assert_eq!(
        store
            .revoke_admin_key(scoped.id, &audit("key.revoke", None))
            .await
            .unwrap(),
        Some(revoked)
    );
    assert_eq!(
        store
            .revoke_admin_key(AdminKeyId::stored(-1), &audit("key.revoke", None))
            .await
            .unwrap(),
        None
    );

    let trail = store.audit_page(None, None, 10).await.unwrap();
    let seen: Vec<_> = trail
        .iter()
        .map(|a| (a.action.as_str(), a.publisher))
        .collect();
    // The revocation's line gets the key's publisher.
    assert_eq!(
        seen,
        vec![
            ("key.revoke", Some(pid(P1))),
            ("key.create", Some(pid(P1))),
            ("key.create", None)
        ]
    );
    assert_eq!(trail[1].detail["keyId"], serde_json::json!(scoped.id));
    assert_eq!(trail[1].actor, "cli");
}

async fn dashboard_sessions_live_until_they_expire_or_end(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let key = store
        .create_admin_key(&new_key("h1", Some(P1)), &audit("key.create", None))
        .await
        .unwrap();
    store
        .create_admin_session(&session("s-key", Some(key.id), None))
        .await
        .unwrap();
    store
        .create_admin_session(&session("s-op", None, Some("op-hash")))
        .await
        .unwrap();
    let with_key = store.admin_session("s-key").await.unwrap().unwrap();
    assert_eq!(
        (with_key.key, with_key.csrf_hash.as_str()),
        (Some(key.clone()), "csrf-s-key")
    );
    let op = store.admin_session("s-op").await.unwrap().unwrap();
    assert_eq!(
        (op.key, op.operator_key_hash.as_deref()),
        (None, Some("op-hash"))
    );

    assert!(matches!(
        store
            .create_admin_session(&session("s-bad", Some(AdminKeyId::stored(-1)), None))
            .await,
        Err(StoreError::NotFound(_))
    ));
    for (key_id, operator) in [(Some(key.id), Some("op-hash")), (None, None)] {
        assert!(matches!(
            store
                .create_admin_session(&session("s-bad", key_id, operator))
                .await,
            Err(StoreError::Invalid(_))
        ));
    }
    let mut expired = session("s-old", Some(key.id), None);
    expired.expires_at = Utc::now() - chrono::Duration::seconds(1);
    store.create_admin_session(&expired).await.unwrap();
    assert!(store.admin_session("s-old").await.unwrap().is_none());
    assert_eq!(store.purge_admin_sessions().await.unwrap(), 1);

    assert!(store.delete_admin_session("s-key").await.unwrap());
    assert!(!store.delete_admin_session("s-key").await.unwrap());
    assert!(store.admin_session("s-key").await.unwrap().is_none());
    assert!(store.admin_session("s-op").await.unwrap().is_some());
}

async fn publisher_and_consent_changes_write_their_audit_line(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let id = pid("323456789");
    let settings = PublisherSettings::default();
    let created = store
        .admin_create_publisher(
            id,
            "Three",
            &settings,
            &[super::offer("S323456789_US")],
            &audit("publisher.create", Some(id)),
        )
        .await
        .unwrap();
    assert_eq!(created.name, "Three");
    assert_eq!(
        store
            .offer_publisher(&super::offer("S323456789_US"))
            .await
            .unwrap(),
        Some(id)
    );
    assert!(matches!(
        store
            .admin_create_publisher(
                id,
                "Again",
                &settings,
                &[],
                &audit("publisher.create", Some(id))
            )
            .await,
        Err(StoreError::AlreadyExists(_))
    ));
    // A refused create (the offer is another publisher's) leaves neither publisher nor line.
    let four = pid("423456789");
    assert!(
        store
            .admin_create_publisher(
                four,
                "Four",
                &settings,
                &[super::offer("S323456789_GB")],
                &audit("publisher.create", Some(four))
            )
            .await
            .is_err()
    );
    assert!(store.publisher(four).await.unwrap().is_none());
    let updated = store
        .admin_update_publisher(
            id,
            "Three Ltd",
            &settings,
            &audit("publisher.update", Some(id)),
        )
        .await
        .unwrap();
    assert_eq!(store.publisher(id).await.unwrap(), Some(updated));
    assert!(matches!(
        store
            .admin_update_publisher(four, "X", &settings, &audit("publisher.update", Some(four)))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let owner = ConsentOwner::Publisher(id);
    let news = draft("news", "News", false);
    let publish = audit("consent.publish", Some(id));
    assert_eq!(
        store
            .admin_publish_consent(owner, &news, &publish)
            .await
            .unwrap(),
        Published::New(super::v(1))
    );
    assert_eq!(
        store
            .admin_publish_consent(owner, &news, &publish)
            .await
            .unwrap(),
        Published::Unchanged(super::v(1))
    );
    let archive = audit("consent.archive", Some(id));
    assert!(
        store
            .admin_archive_consent(owner, &news.name, &archive)
            .await
            .unwrap()
    );
    assert!(
        store
            .admin_archive_consent(owner, &news.name, &archive)
            .await
            .unwrap()
    );
    assert!(
        !store
            .admin_archive_consent(owner, &draft("none", "x", false).name, &archive)
            .await
            .unwrap()
    );
    store
        .record_audit(&audit("customers.export", Some(id)))
        .await
        .unwrap();

    let trail = store.audit_page(Some(id), None, 20).await.unwrap();
    let actions: Vec<_> = trail.iter().rev().map(|a| a.action.as_str()).collect();
    assert_eq!(
        actions,
        [
            "publisher.create",
            "publisher.update",
            "consent.publish",
            "consent.archive",
            "customers.export"
        ]
    );
    // The publication's line says which version it made.
    assert_eq!(trail[2].detail["version"], serde_json::json!(1));
    assert_eq!(trail[2].detail["by"], serde_json::json!("test"));
}

async fn audit_pages_are_newest_first_and_per_publisher(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    for (i, p) in [Some(P1), Some(P2), None, Some(P1), Some(P1)]
        .into_iter()
        .enumerate()
    {
        store
            .record_audit(&audit(&format!("a{i}"), p.map(pid)))
            .await
            .unwrap();
    }
    let first = store.audit_page(None, None, 2).await.unwrap();
    let names = |page: &[enroll::store::AuditEntry]| {
        page.iter().map(|a| a.action.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(&first), ["a4", "a3"]);
    let next = store
        .audit_page(None, Some(AuditCursor(first[1].id)), 2)
        .await
        .unwrap();
    assert_eq!(names(&next), ["a2", "a1"]);
    let last = store
        .audit_page(None, Some(AuditCursor(next[1].id)), 2)
        .await
        .unwrap();
    assert_eq!(names(&last), ["a0"]);
    assert!(
        store
            .audit_page(None, Some(AuditCursor(last[0].id)), 2)
            .await
            .unwrap()
            .is_empty()
    );

    let p1 = store.audit_page(Some(pid(P1)), None, 10).await.unwrap();
    assert_eq!(names(&p1), ["a4", "a3", "a0"]);
    let p1_next = store
        .audit_page(Some(pid(P1)), Some(AuditCursor(p1[0].id)), 1)
        .await
        .unwrap();
    assert_eq!(names(&p1_next), ["a3"]);
    assert_eq!(
        names(&store.audit_page(Some(pid(P2)), None, 10).await.unwrap()),
        ["a1"]
    );
}
