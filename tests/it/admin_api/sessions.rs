//! Dashboard sessions in the store (no HTTP yet): create, look up, expire, end, purge, and
//! revoking a key ends its sessions.

use chrono::{Duration, Utc};
use enroll::domain::AdminKeyId;
use enroll::store::{NewAdminKey, NewAdminSession, NewAudit, StoreError};
use serde_json::json;

use crate::backend_tests;
use crate::support::{Backend, TestDb};

backend_tests!(sessions_live_expire_and_end_with_their_key);

fn audit() -> NewAudit {
    NewAudit {
        key_id: None,
        actor: "test".into(),
        publisher: None,
        action: "key.create".into(),
        detail: json!({}),
    }
}

fn session(hash: &str, key_id: AdminKeyId, ttl: Duration) -> NewAdminSession {
    NewAdminSession {
        hash: hash.into(),
        key_id: Some(key_id),
        operator_key_hash: None,
        csrf_hash: format!("csrf-{hash}"),
        expires_at: Utc::now() + ttl,
    }
}

async fn sessions_live_expire_and_end_with_their_key(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let key = store
        .create_admin_key(
            &NewAdminKey {
                hash: "key-hash".into(),
                publisher: None,
                label: "dashboard".into(),
            },
            &audit(),
        )
        .await
        .unwrap();
    store
        .create_admin_session(&session("live", key.id, Duration::hours(8)))
        .await
        .unwrap();
    store
        .create_admin_session(&session("old", key.id, Duration::seconds(-1)))
        .await
        .unwrap();
    assert!(matches!(
        store
            .create_admin_session(&session(
                "orphan",
                AdminKeyId::stored(key.id.get() + 100),
                Duration::hours(1)
            ))
            .await,
        Err(StoreError::NotFound(_))
    ));

    let live = store
        .admin_session("live")
        .await
        .unwrap()
        .expect("a live session");
    let live_key = live.key.clone().expect("a stored key");
    assert_eq!(
        (live_key.id, live_key.label.as_str()),
        (key.id, "dashboard")
    );
    assert_eq!(live.csrf_hash, "csrf-live");
    assert!(live_key.revoked_at.is_none() && live_key.publisher.is_none());
    assert!(live.operator_key_hash.is_none());
    assert!(live.expires_at > Utc::now() + Duration::hours(7));
    assert!(
        store.admin_session("old").await.unwrap().is_none(),
        "expired"
    );
    assert!(store.admin_session("nothing").await.unwrap().is_none());

    assert_eq!(store.purge_admin_sessions().await.unwrap(), 1);
    assert_eq!(db.scalar("SELECT COUNT(*) FROM admin_sessions").await, 1);
    assert!(store.delete_admin_session("live").await.unwrap());
    assert!(!store.delete_admin_session("live").await.unwrap());
    assert!(store.admin_session("live").await.unwrap().is_none());

    store
        .create_admin_session(&session("again", key.id, Duration::hours(1)))
        .await
        .unwrap();
    let revoked = store
        .revoke_admin_key(key.id, &audit())
        .await
        .unwrap()
        .unwrap();
    assert!(revoked.revoked_at.is_some());
    assert!(
        store.admin_session("again").await.unwrap().is_none(),
        "revoking a key ends its sessions"
    );
    assert!(
        store
            .revoke_admin_key(AdminKeyId::stored(key.id.get() + 100), &audit())
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        db.scalar("SELECT COUNT(*) FROM admin_audit WHERE action = 'key.create'")
            .await,
        2
    );
}
