//! `VerificationStore`: codes sent before registration (tries, expiry, the hourly limit, spent
//! by the registration) and confirmation links after it (single use, current address only).

use std::time::Duration;

use super::email_key;
use enroll::domain::CustomerId;
use enroll::store::{CodeCheck, CustomerChanges, StoreError};

use super::{HOUR, P1, P2, mail, new_customer, pid, register, tick, two_publishers};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    a_code_is_checked_with_a_budget_of_tries,
    codes_expire_and_are_limited_per_hour,
    a_code_is_spent_by_the_registration_it_verifies,
    a_confirmation_link_verifies_the_current_address_once,
    confirmation_links_are_limited_and_stay_with_their_publisher,
);

async fn a_code_is_checked_with_a_budget_of_tries(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let key = email_key("mo@example.com");
    let m = mail("email_code", None, "mo@example.com");
    let p = pid(P1);
    assert!(
        store
            .store_email_code(p, &key, "code-1", HOUR, 5, &m)
            .await
            .unwrap()
    );
    assert_eq!(
        store.check_email_code(p, &key, "code-1", 2).await.unwrap(),
        CodeCheck::Valid
    );
    // Checking does not spend it; a wrong code counts one try.
    assert_eq!(
        store.check_email_code(p, &key, "code-1", 2).await.unwrap(),
        CodeCheck::Valid
    );
    assert_eq!(
        store.check_email_code(p, &key, "nope", 2).await.unwrap(),
        CodeCheck::Wrong
    );
    assert_eq!(
        store.check_email_code(p, &key, "nope", 2).await.unwrap(),
        CodeCheck::Wrong
    );
    assert_eq!(
        store.check_email_code(p, &key, "code-1", 2).await.unwrap(),
        CodeCheck::TooManyTries
    );
    // A new code resets the tries.
    assert!(
        store
            .store_email_code(p, &key, "code-2", HOUR, 5, &m)
            .await
            .unwrap()
    );
    assert_eq!(
        store.check_email_code(p, &key, "code-1", 2).await.unwrap(),
        CodeCheck::Wrong
    );
    assert_eq!(
        store.check_email_code(p, &key, "code-2", 2).await.unwrap(),
        CodeCheck::Valid
    );
    // Codes belong to one publisher's address.
    assert_eq!(
        store
            .check_email_code(pid(P2), &key, "code-2", 2)
            .await
            .unwrap(),
        CodeCheck::Missing
    );
    assert_eq!(
        store
            .check_email_code(p, &email_key("other@example.com"), "code-2", 2)
            .await
            .unwrap(),
        CodeCheck::Missing
    );
}

async fn codes_expire_and_are_limited_per_hour(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let key = email_key("ned@example.com");
    let m = mail("email_code", None, "ned@example.com");
    let p = pid(P1);
    assert!(
        store
            .store_email_code(p, &key, "c1", Duration::ZERO, 2, &m)
            .await
            .unwrap()
    );
    tick().await;
    assert_eq!(
        store.check_email_code(p, &key, "c1", 5).await.unwrap(),
        CodeCheck::Expired
    );
    assert!(
        store
            .store_email_code(p, &key, "c2", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .store_email_code(p, &key, "c3", HOUR, 2, &m)
            .await
            .unwrap()
    );
    // The refused one replaced nothing and queued nothing.
    assert_eq!(
        store.check_email_code(p, &key, "c2", 5).await.unwrap(),
        CodeCheck::Valid
    );
    assert_eq!(store.outbox_backlog(5).await.unwrap().pending, 2);
    // Another publisher counts its own sends to the same address.
    assert!(
        store
            .store_email_code(pid(P2), &key, "c4", HOUR, 2, &m)
            .await
            .unwrap()
    );
}

async fn a_code_is_spent_by_the_registration_it_verifies(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let p = pid(P1);
    let mut new = new_customer("ola@example.com");
    let m = mail("email_code", None, "ola@example.com");
    store
        .store_email_code(p, &new.email_key, "code", HOUR, 5, &m)
        .await
        .unwrap();

    new.verification = Some("wrong".into());
    assert!(matches!(
        store
            .create_customer(p, &new, &crate::store_contract::how())
            .await,
        Err(StoreError::VerificationFailed)
    ));
    assert!(
        store
            .customer_by_email(p, &new.email_key)
            .await
            .unwrap()
            .is_none()
    );
    // A failed registration leaves the code for another try.
    assert_eq!(
        store
            .check_email_code(p, &new.email_key, "code", 5)
            .await
            .unwrap(),
        CodeCheck::Valid
    );

    new.verification = Some("code".into());
    let c = store
        .create_customer(p, &new, &crate::store_contract::how())
        .await
        .unwrap();
    assert!(c.email_verified);
    assert_eq!(
        store
            .check_email_code(p, &new.email_key, "code", 5)
            .await
            .unwrap(),
        CodeCheck::Missing
    );
    // A code sent for one publisher verifies nothing at another.
    let mut elsewhere = new_customer("ola@example.com");
    elsewhere.verification = Some("code".into());
    assert!(matches!(
        store
            .create_customer(pid(P2), &elsewhere, &crate::store_contract::how())
            .await,
        Err(StoreError::VerificationFailed)
    ));
}

async fn a_confirmation_link_verifies_the_current_address_once(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "pia@example.com").await;
    let p = pid(P1);
    let m = mail("email_confirmation", Some(c.id), "pia@example.com");
    assert!(
        store
            .request_email_confirmation(p, c.id, "t1", HOUR, 5, &m)
            .await
            .unwrap()
    );
    assert_eq!(store.confirm_email("t1").await.unwrap(), Some((p, c.id)));
    assert!(
        store
            .customer(p, c.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    assert_eq!(store.confirm_email("t1").await.unwrap(), None);
    assert_eq!(store.confirm_email("never-sent").await.unwrap(), None);

    // A link for an address the customer has since left confirms nothing.
    assert!(
        store
            .request_email_confirmation(p, c.id, "t2", HOUR, 5, &m)
            .await
            .unwrap()
    );
    let moved = CustomerChanges {
        email: Some(("pia@new.example".into(), email_key("pia@new.example"))),
        ..Default::default()
    };
    store.update_customer(p, c.id, &moved).await.unwrap();
    assert_eq!(store.confirm_email("t2").await.unwrap(), None);
    assert!(
        !store
            .customer(p, c.id)
            .await
            .unwrap()
            .unwrap()
            .email_verified
    );
    // An expired link likewise.
    assert!(
        store
            .request_email_confirmation(p, c.id, "t3", Duration::ZERO, 5, &m)
            .await
            .unwrap()
    );
    tick().await;
    assert_eq!(store.confirm_email("t3").await.unwrap(), None);
}

async fn confirmation_links_are_limited_and_stay_with_their_publisher(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "quinn@example.com").await;
    let m = mail("email_confirmation", Some(c.id), "quinn@example.com");
    let p = pid(P1);
    assert!(
        store
            .request_email_confirmation(p, c.id, "t1", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        store
            .request_email_confirmation(p, c.id, "t2", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_email_confirmation(p, c.id, "t3", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_email_confirmation(pid(P2), c.id, "t4", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert!(
        !store
            .request_email_confirmation(p, CustomerId::random(), "t5", HOUR, 2, &m)
            .await
            .unwrap()
    );
    assert_eq!(store.confirm_email("t3").await.unwrap(), None);
    assert_eq!(store.confirm_email("t4").await.unwrap(), None);
    assert_eq!(store.outbox_backlog(5).await.unwrap().pending, 2);
}
