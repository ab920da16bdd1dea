//! `CustomerStore` (customers, consent answers, refresh tokens) and the customer reads of
//! `AccountStore`: uniqueness per publisher, tenant isolation, append-only answers.

use super::email_key;
use enroll::domain::{ConsentOwner, ConsentState, CustomerId};
use enroll::store::{CustomerChanges, Rotation, StoreError, Taken};

use super::{P1, P2, answer, new_customer, pid, refresh, register, rotate, two_publishers};
use crate::backend_tests;
use crate::support::Backend;

backend_tests!(
    a_registration_stores_what_it_was_given,
    emails_and_external_ids_are_unique_per_publisher,
    a_customer_is_found_only_through_its_publisher,
    profile_changes_touch_only_the_given_fields,
    a_new_email_ends_the_sessions_of_the_old_one,
    consent_answers_are_appended_and_the_newest_counts,
    refresh_tokens_start_only_from_the_current_epoch,
    a_row_that_does_not_decode_is_corrupt_and_capture_is_stored_as_before,
    a_consent_row_that_does_not_decode_is_corrupt,
);

async fn a_registration_stores_what_it_was_given(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    crate::store_contract::platform_terms(&store).await;
    let mut new = new_customer("Ada@Example.com");
    new.external_id = Some("ext-1".into());
    new.external_data = Some(serde_json::json!({"plan": "gold"}));
    new.capture = Some(enroll::domain::capture::CaptureAnswers {
        birth_date: Some("1990-01-01".into()),
        ..Default::default()
    });
    new.consents = vec![answer(
        ConsentOwner::Platform,
        "terms",
        1,
        ConsentState::Accepted,
    )];
    let created = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    assert_eq!(created.publisher, pid(P1));
    assert_eq!(
        (created.email.as_str(), created.email_key.as_str()),
        ("Ada@Example.com", "ada@example.com")
    );
    assert_eq!(created.first_name.as_deref(), Some("Ada"));
    assert_eq!(created.last_name, None);
    assert_eq!(
        (
            created.locale.as_str(),
            created.country.as_str(),
            created.currency.as_str()
        ),
        ("en_GB", "GB", "GBP")
    );
    assert_eq!(created.external_id.as_deref(), Some("ext-1"));
    assert_eq!(created.external_data, new.external_data);
    assert_eq!(created.capture, new.capture);
    assert_eq!(created.registration_ip, Some("192.0.2.1".parse().unwrap()));
    assert_eq!(created.last_ip, created.registration_ip);
    assert_eq!(created.last_login_at, None);
    assert!(!created.email_verified);
    assert_eq!(
        store.customer(pid(P1), created.id).await.unwrap(),
        Some(created.clone())
    );
    let answers = store.consent_answers(pid(P1), created.id).await.unwrap();
    assert_eq!(answers.len(), 1);
    assert_eq!(answers[0].state, ConsentState::Accepted);
    // The first refresh token was stored with it.
    let rotated = rotate(&store, &new.refresh.hash, "rt-next").await;
    assert_eq!(
        rotated,
        Rotation::Rotated {
            customer: created.id,
            publisher: pid(P1),
            epoch: created.session_epoch
        }
    );
}

async fn emails_and_external_ids_are_unique_per_publisher(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let mut first = new_customer("alice@example.com");
    first.external_id = Some("ext-1".into());
    store
        .create_customer(pid(P1), &first, &crate::store_contract::how())
        .await
        .unwrap();

    // The same address in other letters is the same key.
    let mut again = new_customer(" ALICE@example.com");
    again.refresh = refresh("rt-again");
    match store
        .create_customer(pid(P1), &again, &crate::store_contract::how())
        .await
    {
        Err(StoreError::AlreadyExists(Taken::Email)) => {}
        other => panic!("expected a conflict on the email, got {other:?}"),
    }
    let mut same_external = new_customer("bob@example.com");
    same_external.external_id = Some("ext-1".into());
    match store
        .create_customer(pid(P1), &same_external, &crate::store_contract::how())
        .await
    {
        Err(StoreError::AlreadyExists(Taken::ExternalId)) => {}
        other => panic!("expected a conflict on the external id, got {other:?}"),
    }
    // A refused registration leaves nothing behind.
    assert!(
        store
            .customer_by_email(pid(P1), &email_key("bob@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    // Another publisher has its own customers: the same email and external id are free there.
    let mut elsewhere = new_customer("alice@example.com");
    elsewhere.external_id = Some("ext-1".into());
    elsewhere.refresh = refresh("rt-elsewhere");
    let other = store
        .create_customer(pid(P2), &elsewhere, &crate::store_contract::how())
        .await
        .unwrap();
    assert_eq!(other.publisher, pid(P2));
}

async fn a_customer_is_found_only_through_its_publisher(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    crate::store_contract::platform_terms(&store).await;
    let c = register(&store, P1, "carol@example.com").await;
    let (p1, p2) = (pid(P1), pid(P2));
    assert!(store.customer(p1, c.id).await.unwrap().is_some());
    assert!(store.customer(p2, c.id).await.unwrap().is_none());
    assert!(
        store
            .customer_by_email(p1, &c.email_key)
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .customer_by_email(p2, &c.email_key)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.customer_publisher(c.id).await.unwrap(), Some(p1));
    assert_eq!(
        store
            .customer_publisher(CustomerId::random())
            .await
            .unwrap(),
        None
    );

    let changes = CustomerChanges {
        first_name: Some(Some("Mallory".into())),
        ..Default::default()
    };
    assert!(matches!(
        store.update_customer(p2, c.id, &changes).await,
        Err(StoreError::NotFound(_))
    ));
    let answers = [answer(
        ConsentOwner::Platform,
        "terms",
        1,
        ConsentState::Accepted,
    )];
    assert!(matches!(
        store
            .append_consents(p2, c.id, &answers, &crate::store_contract::how())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(matches!(
        store
            .add_refresh_token(p2, c.id, &refresh("rt-p2"), c.session_epoch)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(!store.end_sessions(p2, c.id).await.unwrap());
    // Nothing of that reached the customer.
    store
        .append_consents(p1, c.id, &answers, &crate::store_contract::how())
        .await
        .unwrap();
    assert!(store.consent_answers(p2, c.id).await.unwrap().is_empty());
    assert_eq!(store.consent_answers(p1, c.id).await.unwrap().len(), 1);
    let same = store.customer(p1, c.id).await.unwrap().unwrap();
    assert_eq!(
        (same.first_name, same.session_epoch),
        (c.first_name, c.session_epoch)
    );
}

async fn profile_changes_touch_only_the_given_fields(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let mut new = new_customer("dan@example.com");
    new.last_name = Some("Brown".into());
    new.external_data = Some(serde_json::json!({"a": 1}));
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let taken = register(&store, P1, "erin@example.com").await;

    let changes = CustomerChanges {
        first_name: Some(Some("Daniel".into())),
        last_name: Some(None),
        country: Some(enroll::domain::Country::parse("NL").unwrap()),
        ..Default::default()
    };
    let changed = store
        .update_customer(pid(P1), c.id, &changes)
        .await
        .unwrap();
    assert_eq!(changed.first_name.as_deref(), Some("Daniel"));
    assert_eq!(changed.last_name, None);
    assert_eq!(changed.country.as_str(), "NL");
    assert_eq!(
        (changed.locale, changed.currency),
        (c.locale.clone(), c.currency.clone())
    );
    assert_eq!(changed.external_data, c.external_data);
    assert_eq!(
        (changed.email, changed.session_epoch),
        (c.email.clone(), c.session_epoch)
    );
    assert_eq!(
        store
            .customer(pid(P1), c.id)
            .await
            .unwrap()
            .unwrap()
            .country
            .as_str(),
        "NL"
    );

    let to_taken = CustomerChanges {
        email: Some((taken.email.clone(), taken.email_key.clone())),
        ..Default::default()
    };
    match store.update_customer(pid(P1), c.id, &to_taken).await {
        Err(StoreError::AlreadyExists(Taken::Email)) => {}
        other => panic!("expected a conflict on the email, got {other:?}"),
    }
    assert!(matches!(
        store
            .update_customer(pid(P1), CustomerId::random(), &changes)
            .await,
        Err(StoreError::NotFound(_))
    ));
}

async fn a_new_email_ends_the_sessions_of_the_old_one(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let new = new_customer("fay@example.com");
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    // The same key written differently moves nothing.
    let recased = CustomerChanges {
        email: Some(("FAY@example.com".into(), email_key("FAY@example.com"))),
        ..Default::default()
    };
    let same = store
        .update_customer(pid(P1), c.id, &recased)
        .await
        .unwrap();
    assert_eq!(
        (same.email.as_str(), same.session_epoch),
        ("FAY@example.com", c.session_epoch)
    );

    let moved = CustomerChanges {
        email: Some((
            "fay@elsewhere.example".into(),
            email_key("fay@elsewhere.example"),
        )),
        ..Default::default()
    };
    let after = store.update_customer(pid(P1), c.id, &moved).await.unwrap();
    assert_eq!(after.email_key.as_str(), "fay@elsewhere.example");
    assert_eq!(after.session_epoch, c.session_epoch.next());
    assert!(!after.email_verified);
    assert_eq!(
        rotate(&store, &new.refresh.hash, "rt-next").await,
        Rotation::Refused
    );
    assert!(
        store
            .customer_by_email(pid(P1), &email_key("fay@example.com"))
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        store
            .customer_by_email(pid(P1), &email_key("fay@elsewhere.example"))
            .await
            .unwrap()
            .map(|c| c.id),
        Some(c.id)
    );
}

async fn consent_answers_are_appended_and_the_newest_counts(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "gus@example.com").await;
    let mine = ConsentOwner::Publisher(pid(P1));
    let p = pid(P1);
    // Each answer is bound to the text of the version it answers: the versions exist.
    for (owner, d) in [
        (mine, crate::consents::draft("news", "News v1", false)),
        (mine, crate::consents::draft("news", "News v2", false)),
        (
            ConsentOwner::Platform,
            crate::consents::draft("terms", "Terms", true),
        ),
    ] {
        store.publish_consent(owner, &d).await.unwrap();
    }
    store
        .append_consents(
            p,
            c.id,
            &[
                answer(mine, "news", 1, ConsentState::Accepted),
                answer(ConsentOwner::Platform, "terms", 1, ConsentState::Accepted),
            ],
            &crate::store_contract::how(),
        )
        .await
        .unwrap();
    store
        .append_consents(
            p,
            c.id,
            &[answer(mine, "news", 2, ConsentState::Declined)],
            &crate::store_contract::how(),
        )
        .await
        .unwrap();
    let current: Vec<_> = store
        .consent_answers(p, c.id)
        .await
        .unwrap()
        .into_iter()
        .map(|a| (a.owner.get(), a.name.to_string(), a.version.get(), a.state))
        .collect();
    assert_eq!(
        current,
        vec![
            (0, "terms".to_owned(), 1, ConsentState::Accepted),
            (123456789, "news".to_owned(), 2, ConsentState::Declined),
        ]
    );
    // The history keeps every answer, oldest first, with where it came from.
    let history = store.consent_history(p, c.id).await.unwrap();
    let seen: Vec<_> = history
        .iter()
        .map(|h| (h.name.as_str(), h.version.get(), h.state))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("news", 1, ConsentState::Accepted),
            ("terms", 1, ConsentState::Accepted),
            ("news", 2, ConsentState::Declined),
        ]
    );
    assert!(history.windows(2).all(|w| w[0].id < w[1].id));
    assert!(
        history
            .iter()
            .all(|h| h.ip == Some("192.0.2.7".parse().unwrap()))
    );
    assert!(
        history
            .iter()
            .all(|h| h.user_agent.as_deref() == Some("agent/1"))
    );
    assert!(
        store
            .consent_history(pid(P2), c.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn refresh_tokens_start_only_from_the_current_epoch(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let c = register(&store, P1, "hal@example.com").await;
    let p = pid(P1);
    store
        .add_refresh_token(p, c.id, &refresh("rt-1"), c.session_epoch)
        .await
        .unwrap();
    assert!(matches!(
        store
            .add_refresh_token(p, c.id, &refresh("rt-2"), c.session_epoch.next())
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert!(store.end_sessions(p, c.id).await.unwrap());
    assert!(matches!(
        store
            .add_refresh_token(p, c.id, &refresh("rt-3"), c.session_epoch)
            .await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(rotate(&store, "rt-1", "rt-1b").await, Rotation::Refused);
    let epoch = store
        .customer(p, c.id)
        .await
        .unwrap()
        .unwrap()
        .session_epoch;
    assert_eq!(epoch, c.session_epoch.next());
    store
        .add_refresh_token(p, c.id, &refresh("rt-4"), epoch)
        .await
        .unwrap();
    assert!(matches!(
        rotate(&store, "rt-4", "rt-4b").await,
        Rotation::Rotated { .. }
    ));
}

async fn a_row_that_does_not_decode_is_corrupt_and_capture_is_stored_as_before(backend: Backend) {
    let (db, store) = two_publishers(backend).await;
    let mut new = new_customer("gus@example.com");
    new.capture = Some(enroll::domain::capture::CaptureAnswers {
        phone_number: Some("+31201234567".into()),
        birth_date: Some("1990-01-01".into()),
        ..Default::default()
    });
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    // The document as every version stored it: the answers' JSON object, keys sorted.
    let cast = if db.pg_name().is_some() { "::text" } else { "" };
    let doc = db
        .text(&format!(
            "SELECT capture{cast} FROM customers WHERE id = {}",
            c.id
        ))
        .await;
    let doc: serde_json::Value = serde_json::from_str(&doc).unwrap();
    assert_eq!(
        doc,
        serde_json::json!({"birthDate": "1990-01-01", "phoneNumber": "+31201234567"})
    );
    let set = |column: &str, value: &str| {
        format!(
            "UPDATE customers SET {column} = {value} WHERE id = {} RETURNING id",
            c.id
        )
    };
    let capture = format!("'{doc}'");
    for (column, bad, good) in [
        ("locale", "'en GB!'", "'en_GB'"),
        ("country", "''", "'GB'"),
        ("currency", "NULL", "'GBP'"),
        ("last_ip", "'not an address'", "'192.0.2.1'"),
        ("capture", "'{\"birthDate\": 5}'", capture.as_str()),
        ("session_epoch", "-1", "0"),
    ] {
        assert_eq!(db.scalar(&set(column, bad)).await, c.id.get());
        match store.customer(pid(P1), c.id).await {
            Err(StoreError::Corrupt(why)) => assert!(why.contains(&c.id.to_string()), "{why}"),
            other => panic!("{column} = {bad}: {other:?}"),
        }
        assert_eq!(db.scalar(&set(column, good)).await, c.id.get());
    }
    assert_eq!(
        store.customer(pid(P1), c.id).await.unwrap(),
        Some(c.clone())
    );
    // A code a later release's tables no longer hold (HRK, withdrawn in 2023) was valid when
    // it was written: its customer still reads.
    assert_eq!(db.scalar(&set("currency", "'HRK'")).await, c.id.get());
    let read = store.customer(pid(P1), c.id).await.unwrap().unwrap();
    assert_eq!(read.currency.as_str(), "HRK");
}

async fn a_consent_row_that_does_not_decode_is_corrupt(backend: Backend) {
    let (db, store) = two_publishers(backend).await;
    crate::store_contract::platform_terms(&store).await;
    let mut new = new_customer("hal@example.com");
    new.consents = vec![answer(
        ConsentOwner::Platform,
        "terms",
        1,
        ConsentState::Accepted,
    )];
    let c = store
        .create_customer(pid(P1), &new, &crate::store_contract::how())
        .await
        .unwrap();
    let history = store.consent_history(pid(P1), c.id).await.unwrap();
    assert_eq!(history[0].ip, Some("192.0.2.7".parse().unwrap()));
    let set = |value: &str| {
        format!(
            "UPDATE customer_consents SET {value} WHERE customer_id = {} RETURNING customer_id",
            c.id
        )
    };
    assert_eq!(db.scalar(&set("ip = 'nowhere'")).await, c.id.get());
    assert!(matches!(
        store.consent_history(pid(P1), c.id).await,
        Err(StoreError::Corrupt(_))
    ));
    assert_eq!(db.scalar(&set("version = 0")).await, c.id.get());
    assert!(matches!(
        store.consent_answers(pid(P1), c.id).await,
        Err(StoreError::Corrupt(_))
    ));
}
