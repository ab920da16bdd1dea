//! `AccountStore` password resets and the email outbox: single-use links, the hourly limit,
//! claims that hand each email to one sender, and payloads purged once sent.

use std::time::Duration;

use enroll::domain::CustomerId;
use enroll::store::Rotation;

use super::{HOUR, P1, P2, mail, new_customer, pid, register, rotate, tick, two_publishers};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    reset_links_are_limited_per_hour_and_belong_to_one_customer,
    a_reset_link_works_once_and_ends_every_session,
    expired_reset_links_find_nobody,
    the_outbox_hands_each_email_to_one_claimant,
    sent_email_is_purged_and_failures_retry_until_given_up,
);

const MINUTE: Duration = Duration::from_secs(60);

async fn reset_links_are_limited_per_hour_and_belong_to_one_customer(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "gail@example.com").await;
    let other = register(&store, P1, "hugo@example.com").await;
    let m = mail("password_reset", Some(c.id), "gail@example.com");
    let p = pid(P1);
    assert!(
        store
            .request_password_reset(p, c.id, "r1", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        store
            .request_password_reset(p, c.id, "r2", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_password_reset(p, c.id, "r3", HOUR, 2, &m)
            .await
            .unwrap()
    );
    // Nothing is stored for another publisher's customer or nobody.
    assert!(
        !store
            .request_password_reset(pid(P2), c.id, "r4", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_password_reset(p, CustomerId::random(), "r5", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert_eq!(store.outbox_backlog(5).await.unwrap().pending, 2);

    let found = store
        .reset_token_customer(p, &c.email_key, "r1")
        .await
        .unwrap();
    assert_eq!(found.map(|f| f.id), Some(c.id));
    for (publisher, key, token) in [
        (p, c.email_key.as_str(), "r3"),
        (p, other.email_key.as_str(), "r1"),
        (pid(P2), c.email_key.as_str(), "r1"),
    ] {
        assert!(
            store
                .reset_token_customer(publisher, &super::email_key(key), token)
                .await
                .unwrap()
                .is_none(),
            "{publisher} {key} {token}"
        );
    }
}

async fn a_reset_link_works_once_and_ends_every_session(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let new = new_customer("ida@example.com");
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let p = pid(P1);
    let m = mail("password_reset", Some(c.id), "ida@example.com");
    store
        .request_password_reset(p, c.id, "r1", HOUR, 5, &m)
        .await
        .unwrap();
    store
        .request_password_reset(p, c.id, "r2", HOUR, 5, &m)
        .await
        .unwrap();
    let changed = mail("password_changed", Some(c.id), "ida@example.com");
    assert!(
        store
            .reset_password(p, c.id, "r1", "new-hash", &changed)
            .await
            .unwrap()
    );
    let after = store.customer(p, c.id).await.unwrap().unwrap();
    assert_eq!(after.password_hash, "new-hash");
    assert_eq!(after.session_epoch, c.session_epoch.next());
    assert_eq!(
        rotate(&store, &new.refresh.hash, "next").await,
        Rotation::Refused
    );
    // Used once; the other outstanding link died with it.
    assert!(
        !store
            .reset_password(p, c.id, "r1", "again", &changed)
            .await
            .unwrap()
    );
    assert!(
        store
            .reset_token_customer(p, &c.email_key, "r2")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        !store
            .reset_password(p, c.id, "r2", "again", &changed)
            .await
            .unwrap()
    );
    assert_eq!(
        store
            .customer(p, c.id)
            .await
            .unwrap()
            .unwrap()
            .password_hash,
        "new-hash"
    );
    // Two links asked for and one "password changed" email are queued.
    assert_eq!(store.outbox_backlog(5).await.unwrap().pending, 3);
}

async fn expired_reset_links_find_nobody(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "jo@example.com").await;
    let m = mail("password_reset", Some(c.id), "jo@example.com");
    let p = pid(P1);
    assert!(
        store
            .request_password_reset(p, c.id, "r1", Duration::ZERO, 5, &m)
            .await
            .unwrap()
    );
    tick().await;
    assert!(
        store
            .reset_token_customer(p, &c.email_key, "r1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(!store.reset_password(p, c.id, "r1", "x", &m).await.unwrap());
}

async fn the_outbox_hands_each_email_to_one_claimant(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "kim@example.com").await;
    let first = mail("password_reset", Some(c.id), "kim@example.com");
    store
        .request_password_reset(pid(P1), c.id, "r1", HOUR, 5, &first)
        .await
        .unwrap();
    tick().await;
    let second = mail("password_changed", Some(c.id), "kim@example.com");
    store
        .request_password_reset(pid(P1), c.id, "r2", HOUR, 5, &second)
        .await
        .unwrap();

    let backlog = store.outbox_backlog(5).await.unwrap();
    assert_eq!((backlog.pending, backlog.given_up), (2, 0));
    assert!(backlog.oldest.is_some());
    // Oldest first; a claimed email is leased, so the next claim gets the other one.
    let a = store.claim_mail(MINUTE, 5).await.unwrap().unwrap();
    assert_eq!(
        (a.kind.as_str(), &a.message, a.attempts),
        ("password_reset", &first.message, 1)
    );
    assert_eq!(a.customer, Some(c.id.get()));
    let b = store.claim_mail(MINUTE, 5).await.unwrap().unwrap();
    assert_eq!(b.message, second.message);
    assert!(store.claim_mail(MINUTE, 5).await.unwrap().is_none());

    // Replicas racing for one due email: exactly one gets it.
    store
        .mail_failed(a.id, "timeout", Duration::ZERO)
        .await
        .unwrap();
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.claim_mail(MINUTE, 5).await })
        })
        .collect();
    let mut won = Vec::new();
    for r in racers {
        if let Some(m) = r.await.unwrap().unwrap() {
            won.push(m.id);
        }
    }
    assert_eq!(won, vec![a.id]);
}

async fn sent_email_is_purged_and_failures_retry_until_given_up(backend: Backend) {
    let (db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "lee@example.com").await;
    for (i, kind) in ["password_reset", "password_changed"]
        .into_iter()
        .enumerate()
    {
        let m = mail(kind, Some(c.id), "lee@example.com");
        store
            .request_password_reset(pid(P1), c.id, &format!("r{i}"), HOUR, 5, &m)
            .await
            .unwrap();
        tick().await;
    }
    let sent = store.claim_mail(MINUTE, 2).await.unwrap().unwrap();
    store.mail_sent(sent.id).await.unwrap();
    // Sent: never claimed again, and the message (it may hold a reset link) is gone.
    assert_eq!(
        db.scalar(&format!(
            "SELECT COUNT(*) FROM outbox WHERE id = {} AND payload IS NULL",
            sent.id
        ))
        .await,
        1
    );
    let failing = store.claim_mail(MINUTE, 2).await.unwrap().unwrap();
    assert_ne!(failing.id, sent.id);
    store
        .mail_failed(failing.id, "550 no such user", Duration::ZERO)
        .await
        .unwrap();
    // A failure is retried when due, counting its tries.
    let retried = store.claim_mail(MINUTE, 2).await.unwrap().unwrap();
    assert_eq!((retried.id, retried.attempts), (failing.id, 2));
    store
        .mail_failed(failing.id, "550 no such user", Duration::ZERO)
        .await
        .unwrap();
    // Out of tries: given up, not claimed.
    assert!(store.claim_mail(MINUTE, 2).await.unwrap().is_none());
    let backlog = store.outbox_backlog(2).await.unwrap();
    assert_eq!((backlog.pending, backlog.given_up), (0, 1));
    // A failure reported after a send changes nothing.
    store
        .mail_failed(sent.id, "late", Duration::ZERO)
        .await
        .unwrap();
    assert!(store.claim_mail(MINUTE, 5).await.unwrap().map(|m| m.id) != Some(sent.id));
}
