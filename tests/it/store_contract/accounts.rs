//! `AccountStore` sign-in: logins under the session epoch, the password-check budget,
//! refresh-token rotation and "sign out everywhere".

use std::sync::Arc;
use std::time::Duration;

use enroll::domain::{CustomerId, PublisherId};
use enroll::store::{Rotation, Store, StoreError};

use super::{HOUR, P1, P2, new_customer, pid, refresh, register, rotate, tick, two_publishers};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    a_login_is_recorded_only_under_the_checked_epoch,
    password_checks_are_reserved_up_to_the_limit,
    concurrent_reservations_never_pass_the_limit,
    a_refresh_token_rotates_once,
    a_token_used_long_ago_revokes_its_family,
    expired_and_unknown_tokens_are_refused,
    ending_sessions_revokes_tokens_and_bumps_the_epoch,
);

/// Reserves one password check of (publisher, key) in `hour`.
async fn reserve(
    store: &Arc<dyn Store>,
    publisher: PublisherId,
    key: &str,
    hour: i64,
    limit: i64,
) -> Option<i64> {
    store
        .reserve_password_check(publisher, key, hour, limit)
        .await
        .unwrap()
}

async fn a_login_is_recorded_only_under_the_checked_epoch(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "ann@example.com").await;
    let p = pid(P1);
    store
        .record_login(
            p,
            c.id,
            "198.51.100.9".parse().unwrap(),
            &refresh("rt-login"),
            c.session_epoch,
        )
        .await
        .unwrap();
    let after = store.customer(p, c.id).await.unwrap().unwrap();
    assert_eq!(after.last_ip, Some("198.51.100.9".parse().unwrap()));
    assert_eq!(after.registration_ip, c.registration_ip);
    assert!(after.last_login_at.is_some());
    assert!(matches!(
        rotate(&store, "rt-login", "rt-login-2").await,
        Rotation::Rotated { .. }
    ));
    // A password reset meanwhile (a new epoch) or another publisher: nothing is recorded.
    let stale = store
        .record_login(
            p,
            c.id,
            "203.0.113.1".parse().unwrap(),
            &refresh("rt-stale"),
            c.session_epoch.next(),
        )
        .await;
    assert!(matches!(stale, Err(StoreError::NotFound(_))), "{stale:?}");
    let other = store
        .record_login(
            pid(P2),
            c.id,
            "203.0.113.1".parse().unwrap(),
            &refresh("rt-other"),
            c.session_epoch,
        )
        .await;
    assert!(matches!(other, Err(StoreError::NotFound(_))), "{other:?}");
    let unchanged = store.customer(p, c.id).await.unwrap().unwrap();
    assert_eq!(unchanged.last_ip, Some("198.51.100.9".parse().unwrap()));
    assert_eq!(rotate(&store, "rt-stale", "x").await, Rotation::Refused);
}

async fn password_checks_are_reserved_up_to_the_limit(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let (p1, p2) = (pid(P1), pid(P2));
    let hour = 480_000;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(reserve(&store, p1, "key-a", hour, 3).await);
    }
    assert_eq!(seen, vec![Some(1), Some(2), Some(3), None]);
    // A right password gives its reservation back.
    store
        .release_password_check(p1, "key-a", hour)
        .await
        .unwrap();
    assert_eq!(reserve(&store, p1, "key-a", hour, 3).await, Some(3));
    // Other keys, publishers and hours count apart; a limit of 0 admits nothing.
    assert_eq!(reserve(&store, p1, "key-b", hour, 3).await, Some(1));
    assert_eq!(reserve(&store, p2, "key-a", hour, 3).await, Some(1));
    assert_eq!(reserve(&store, p1, "key-a", hour + 1, 3).await, Some(1));
    assert_eq!(reserve(&store, p1, "key-c", hour, 0).await, None);
    // Releasing what was never reserved leaves nothing below zero.
    store
        .release_password_check(p1, "key-d", hour)
        .await
        .unwrap();
    assert_eq!(reserve(&store, p1, "key-d", hour, 3).await, Some(1));
    // Purging drops the buckets of hours before the one given.
    store.purge(hour + 1, HOUR).await.unwrap();
    assert_eq!(reserve(&store, p1, "key-a", hour, 3).await, Some(1));
    assert_eq!(reserve(&store, p1, "key-a", hour + 1, 3).await, Some(2));
}

async fn concurrent_reservations_never_pass_the_limit(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.reserve_password_check(pid(P1), "k", 7, 5).await })
        })
        .collect();
    let mut granted = Vec::new();
    for t in tasks {
        if let Some(n) = t.await.unwrap().unwrap() {
            granted.push(n);
        }
    }
    granted.sort();
    assert_eq!(granted, vec![1, 2, 3, 4, 5]);
}

async fn a_refresh_token_rotates_once(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let new = new_customer("bea@example.com");
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let first = rotate(&store, &new.refresh.hash, "rt-2").await;
    assert_eq!(
        first,
        Rotation::Rotated {
            customer: c.id,
            publisher: pid(P1),
            epoch: c.session_epoch
        }
    );
    // A second tab presenting the same token moments later is refused, nothing more.
    assert_eq!(
        rotate(&store, &new.refresh.hash, "rt-2b").await,
        Rotation::Refused
    );
    // The successor works, once.
    assert!(matches!(
        rotate(&store, "rt-2", "rt-3").await,
        Rotation::Rotated { .. }
    ));
    assert!(matches!(
        rotate(&store, "rt-3", "rt-4").await,
        Rotation::Rotated { .. }
    ));
}

async fn a_token_used_long_ago_revokes_its_family(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let new = new_customer("cy@example.com");
    store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let grace = Duration::from_millis(1);
    assert!(matches!(
        store
            .rotate_refresh_token(&new.refresh.hash, "rt-2", HOUR, grace)
            .await
            .unwrap(),
        Rotation::Rotated { .. }
    ));
    tick().await;
    assert_eq!(
        store
            .rotate_refresh_token(&new.refresh.hash, "rt-x", HOUR, grace)
            .await
            .unwrap(),
        Rotation::FamilyRevoked
    );
    // The thief's replay revoked the living successor too.
    assert_eq!(
        store
            .rotate_refresh_token("rt-2", "rt-3", HOUR, grace)
            .await
            .unwrap(),
        Rotation::Refused
    );
}

async fn expired_and_unknown_tokens_are_refused(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "dee@example.com").await;
    let mut expired = refresh("rt-expired");
    expired.expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    store
        .add_refresh_token(pid(P1), c.id, &expired, c.session_epoch)
        .await
        .unwrap();
    let mut family_over = refresh("rt-family-over");
    family_over.family_expires_at = chrono::Utc::now() - chrono::Duration::seconds(1);
    store
        .add_refresh_token(pid(P1), c.id, &family_over, c.session_epoch)
        .await
        .unwrap();
    for hash in ["rt-expired", "rt-family-over", "never-issued"] {
        assert_eq!(
            store
                .rotate_refresh_token(hash, &format!("{hash}-next"), HOUR, HOUR)
                .await
                .unwrap(),
            Rotation::Refused,
            "{hash}"
        );
    }
    // A successor never outlives its family.
    let mut short = refresh("rt-short");
    short.family_expires_at = chrono::Utc::now() + chrono::Duration::milliseconds(300);
    store
        .add_refresh_token(pid(P1), c.id, &short, c.session_epoch)
        .await
        .unwrap();
    assert!(matches!(
        rotate(&store, "rt-short", "rt-short-2").await,
        Rotation::Rotated { .. }
    ));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        rotate(&store, "rt-short-2", "rt-short-3").await,
        Rotation::Refused
    );
}

async fn ending_sessions_revokes_tokens_and_bumps_the_epoch(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let new = new_customer("eve@example.com");
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let other = register(&store, P1, "fred@example.com").await;
    store
        .request_password_reset(
            pid(P1),
            c.id,
            "reset-1",
            HOUR,
            5,
            &super::mail("password_reset", Some(c.id), "eve@example.com"),
        )
        .await
        .unwrap();
    assert!(store.end_sessions(pid(P1), c.id).await.unwrap());
    let after = store.customer(pid(P1), c.id).await.unwrap().unwrap();
    assert_eq!(after.session_epoch, c.session_epoch.next());
    assert_eq!(
        rotate(&store, &new.refresh.hash, "rt-2").await,
        Rotation::Refused
    );
    // Outstanding reset links die with the sessions.
    assert!(
        store
            .reset_token_customer(pid(P1), &c.email_key, "reset-1")
            .await
            .unwrap()
            .is_none()
    );
    // Other customers keep theirs.
    assert!(matches!(
        rotate(&store, "rt-fred@example.com", "rt-f2").await,
        Rotation::Rotated { .. }
    ));
    assert_eq!(
        store
            .customer(pid(P1), other.id)
            .await
            .unwrap()
            .unwrap()
            .session_epoch,
        other.session_epoch
    );
    assert!(
        !store
            .end_sessions(pid(P1), CustomerId::random())
            .await
            .unwrap()
    );
}
