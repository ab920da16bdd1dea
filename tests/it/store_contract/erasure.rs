//! `AdminStore::erase_customer`: the row stays as a tombstone, the consent history keeps its
//! answers without addresses, and everything else about the customer goes.

use sha2::Digest;

use enroll::domain::{ConsentOwner, ConsentState};
use enroll::store::{CodeCheck, CustomerFilter, Idempotency, IdempotencyRef, Rotation};

use super::{
    HOUR, P1, P2, answer, audit, mail, new_customer, pid, register, rotate, two_publishers,
};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    erasure_leaves_a_tombstone_and_forgets_the_rest,
    erasure_is_once_and_per_publisher,
);

async fn erasure_leaves_a_tombstone_and_forgets_the_rest(backend: Backend) {
    let (db, store) = two_publishers(backend).await;
    crate::store_contract::platform_terms(&store).await;
    let p = pid(P1);
    let key = IdempotencyRef {
        route: "POST /customers".into(),
        key: "k".into(),
    };
    store
        .idempotency_begin(p, &key, "body", HOUR, HOUR)
        .await
        .unwrap();
    let mut new = new_customer("zoe@example.com");
    new.external_id = Some("ext-zoe".into());
    new.idempotency = Some(key.clone());
    new.consents = vec![answer(
        ConsentOwner::Platform,
        "terms",
        1,
        ConsentState::Accepted,
    )];
    let c = store
        .create_customer(p, &new, &crate::store_contract::how())
        .await
        .unwrap();
    let keep = register(&store, P1, "kept@example.com").await;
    let m = mail("password_reset", Some(c.id), "zoe@example.com");
    store
        .request_password_reset(p, c.id, "reset", HOUR, 5, &m)
        .await
        .unwrap();
    store
        .store_email_code(p, &c.email_key, "code", HOUR, 5, &m)
        .await
        .unwrap();
    let failures = hex::encode(sha2::Sha256::digest(c.email_key.as_str().as_bytes()));
    assert_eq!(
        store
            .reserve_password_check(p, &failures, 1, 1)
            .await
            .unwrap(),
        Some(1)
    );

    assert!(
        store
            .erase_customer(p, c.id, &audit("customer.erase", Some(p)))
            .await
            .unwrap()
    );

    // Not found any more, by id, by email, in the list or as a token's owner.
    assert!(store.customer(p, c.id).await.unwrap().is_none());
    assert!(
        store
            .customer_by_email(p, &c.email_key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.customer_publisher(c.id).await.unwrap(), None);
    let listed = store
        .customer_page(p, &CustomerFilter::default(), None, 100)
        .await
        .unwrap();
    assert_eq!(
        listed.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![keep.id]
    );
    assert_eq!(
        rotate(&store, &new.refresh.hash, "next").await,
        Rotation::Refused
    );
    assert!(
        store
            .reset_token_customer(p, &c.email_key, "reset")
            .await
            .unwrap()
            .is_none()
    );
    // Its email, replays, codes and failure counters are gone.
    assert!(store.claim_mail(HOUR, 5).await.unwrap().is_none());
    assert_eq!(
        store
            .idempotency_begin(p, &key, "body", HOUR, HOUR)
            .await
            .unwrap(),
        Idempotency::Started
    );
    assert_eq!(
        store
            .check_email_code(p, &c.email_key, "code", 5)
            .await
            .unwrap(),
        CodeCheck::Missing
    );
    assert_eq!(
        store
            .reserve_password_check(p, &failures, 1, 1)
            .await
            .unwrap(),
        Some(1)
    );
    // The history keeps what was answered and when, without where from.
    let history = store.consent_history(p, c.id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(
        (
            history[0].name.as_str(),
            history[0].version.get(),
            history[0].state
        ),
        ("terms", 1, ConsentState::Accepted)
    );
    assert_eq!(
        (history[0].ip, history[0].user_agent.as_deref()),
        (None, None)
    );
    // The tombstone keeps its id (never reused) and nothing personal.
    let tombstone = format!(
        "SELECT COUNT(*) FROM customers WHERE id = {} AND email IS NULL AND password_hash IS NULL \
         AND registration_ip IS NULL AND external_id IS NULL AND erased_at IS NOT NULL",
        c.id.get()
    );
    assert_eq!(db.scalar(&tombstone).await, 1);
    let trail = store.audit_page(Some(p), None, 10).await.unwrap();
    assert_eq!(
        trail.first().map(|a| a.action.as_str()),
        Some("customer.erase")
    );
    // Others keep everything.
    assert!(store.customer(p, keep.id).await.unwrap().is_some());
    assert!(matches!(
        rotate(&store, "rt-kept@example.com", "kept-next").await,
        Rotation::Rotated { .. }
    ));
}

async fn erasure_is_once_and_per_publisher(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    let mut new = new_customer("yan@example.com");
    new.external_id = Some("ext-yan".into());
    let c = store
        .create_customer(p, &new, &crate::store_contract::how())
        .await
        .unwrap();
    let erase = audit("customer.erase", Some(p));
    assert!(!store.erase_customer(pid(P2), c.id, &erase).await.unwrap());
    assert!(store.customer(p, c.id).await.unwrap().is_some());
    assert!(store.erase_customer(p, c.id, &erase).await.unwrap());
    assert!(!store.erase_customer(p, c.id, &erase).await.unwrap());
    assert_eq!(store.audit_page(Some(p), None, 10).await.unwrap().len(), 1);
    // The address and external id are free again; the new customer gets a new id.
    let mut again = new_customer("yan@example.com");
    again.external_id = Some("ext-yan".into());
    again.refresh = super::refresh("rt-again");
    let back = store
        .create_customer(p, &again, &crate::store_contract::how())
        .await
        .unwrap();
    assert_ne!(back.id, c.id);
    assert!(store.end_sessions(p, back.id).await.unwrap());
    assert!(!store.end_sessions(p, c.id).await.unwrap());
}
