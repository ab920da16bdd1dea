//! `AdminStore` reads of customers: the keyset-paged list and its filters, answers of a page of
//! customers at once, and registrations per day; always one publisher's customers only.

use chrono::Utc;
use enroll::domain::{ConsentName, ConsentOwner, ConsentState, Country, CustomerId};
use enroll::store::{Customer, CustomerCursor, CustomerFilter, CustomerSearch};

use super::{P1, P2, answer, new_customer, pid, register, tick, two_publishers};
use crate::backend_tests;
use crate::consents::draft;
use crate::support::Backend;

backend_tests!(
    pages_are_newest_first_with_a_keyset_cursor,
    search_country_and_date_filters_narrow_the_list,
    consent_filters_read_the_current_answers,
    answers_of_a_page_and_registrations_per_day,
);

fn cursor(c: &Customer) -> CustomerCursor {
    CustomerCursor {
        created_at: c.created_at,
        id: c.id,
    }
}

fn ids(page: &[Customer]) -> Vec<CustomerId> {
    page.iter().map(|c| c.id).collect()
}

async fn list(
    store: &std::sync::Arc<dyn enroll::store::Store>,
    filter: &CustomerFilter,
) -> Vec<CustomerId> {
    ids(&store
        .customer_page(pid(P1), filter, None, 100)
        .await
        .unwrap())
}

async fn pages_are_newest_first_with_a_keyset_cursor(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(register(&store, P1, &format!("u{i}@example.com")).await);
        register(&store, P2, &format!("p2-u{i}@example.com")).await;
        tick().await;
    }
    made.reverse();
    let all = CustomerFilter::default();
    let mut seen = Vec::new();
    let mut after: Option<CustomerCursor> = None;
    loop {
        let page = store
            .customer_page(pid(P1), &all, after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some(cursor(last));
        seen.extend(page.iter().map(|c| c.id));
    }
    assert_eq!(seen, ids(&made));
    assert!(
        store
            .customer_page(pid(P2), &all, None, 100)
            .await
            .unwrap()
            .iter()
            .all(|c| c.publisher == pid(P2))
    );
    // A page starts right after its cursor's customer.
    let first = &made[0];
    let page = store
        .customer_page(pid(P1), &all, Some(&cursor(first)), 100)
        .await
        .unwrap();
    assert_eq!(ids(&page), ids(&made[1..]));
}

async fn search_country_and_date_filters_narrow_the_list(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let alice = register(&store, P1, "Alice@example.com").await;
    tick().await;
    let mut named = new_customer("bob@sample.org");
    named.first_name = Some("Alina".into());
    named.external_id = Some("EXT-9".into());
    named.country = enroll::domain::Country::parse("NL").unwrap();
    let bob = store
        .create_customer(pid(P1), &named, &crate::store_contract::how())
        .await
        .unwrap();
    tick().await;
    let mut last = new_customer("carl@sample.org");
    last.last_name = Some("Aliyev".into());
    let carl = store
        .create_customer(pid(P1), &last, &crate::store_contract::how())
        .await
        .unwrap();
    register(&store, P2, "alice@example.com").await;

    let search = |text: &str| CustomerFilter {
        search: CustomerSearch::new(text),
        ..Default::default()
    };
    // Email-key prefix or first/last-name prefix, case-insensitively; newest first.
    assert_eq!(
        list(&store, &search("ALI")).await,
        vec![carl.id, bob.id, alice.id]
    );
    assert_eq!(list(&store, &search("alice@")).await, vec![alice.id]);
    assert_eq!(list(&store, &search("EXT-9")).await, vec![bob.id]);
    assert_eq!(list(&store, &search("EXT")).await, Vec::<CustomerId>::new());
    assert_eq!(list(&store, &search("zzz")).await, Vec::<CustomerId>::new());

    let in_nl = CustomerFilter {
        country: Some(Country::parse("NL").unwrap()),
        ..Default::default()
    };
    assert_eq!(list(&store, &in_nl).await, vec![bob.id]);
    let from_bob = CustomerFilter {
        registered_from: Some(bob.created_at),
        ..Default::default()
    };
    assert_eq!(list(&store, &from_bob).await, vec![carl.id, bob.id]);
    let before_bob = CustomerFilter {
        registered_before: Some(bob.created_at),
        ..Default::default()
    };
    assert_eq!(list(&store, &before_bob).await, vec![alice.id]);
    let both = CustomerFilter {
        search: CustomerSearch::new("ali"),
        ..from_bob
    };
    assert_eq!(list(&store, &both).await, vec![carl.id, bob.id]);
}

async fn consent_filters_read_the_current_answers(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    let mine = ConsentOwner::Publisher(pid(P1));
    store
        .publish_consent(ConsentOwner::Platform, &draft("terms", "Terms", true))
        .await
        .unwrap();
    store
        .publish_consent(mine, &draft("news", "News", false))
        .await
        .unwrap();
    let a = register(&store, P1, "a@example.com").await;
    let b = register(&store, P1, "b@example.com").await;
    let c = register(&store, P1, "c@example.com").await;
    let both = [
        answer(ConsentOwner::Platform, "terms", 1, ConsentState::Accepted),
        answer(mine, "news", 1, ConsentState::Accepted),
    ];
    for customer in [&a, &b] {
        store
            .append_consents(pid(P1), customer.id, &both, &crate::store_contract::how())
            .await
            .unwrap();
    }
    // B changed its mind: the newest answer is the one that counts.
    store
        .append_consents(
            pid(P1),
            b.id,
            &[answer(mine, "news", 1, ConsentState::Declined)],
            &crate::store_contract::how(),
        )
        .await
        .unwrap();

    let news = ConsentName::parse("news").unwrap();
    let with = |state| CustomerFilter {
        consent: Some((news.clone(), state)),
        ..Default::default()
    };
    let mut accepted = list(&store, &with(ConsentState::Accepted)).await;
    accepted.sort();
    assert_eq!(accepted, vec![a.id]);
    // Never answered counts as declined.
    let mut declined = list(&store, &with(ConsentState::Declined)).await;
    declined.sort();
    let mut expected = vec![b.id, c.id];
    expected.sort();
    assert_eq!(declined, expected);

    let needs = |v| CustomerFilter {
        needs_update: Some(v),
        ..Default::default()
    };
    assert_eq!(list(&store, &needs(true)).await, vec![c.id]);
    let mut current = list(&store, &needs(false)).await;
    current.sort();
    let mut expected = vec![a.id, b.id];
    expected.sort();
    assert_eq!(current, expected);
    // A new version of a consent makes everyone who answered an older one need an update.
    store
        .publish_consent(mine, &draft("news", "News v2", false))
        .await
        .unwrap();
    assert_eq!(list(&store, &needs(true)).await.len(), 3);
    assert!(list(&store, &needs(false)).await.is_empty());
}

async fn answers_of_a_page_and_registrations_per_day(backend: Backend) {
    let (_db, store) = two_publishers(backend).await;
    crate::store_contract::platform_terms(&store).await;
    let a = register(&store, P1, "a@example.com").await;
    let b = register(&store, P1, "b@example.com").await;
    let quiet = register(&store, P1, "q@example.com").await;
    let stranger = register(&store, P2, "s@example.com").await;
    let terms = answer(ConsentOwner::Platform, "terms", 1, ConsentState::Accepted);
    for c in [&a, &b] {
        store
            .append_consents(
                pid(P1),
                c.id,
                std::slice::from_ref(&terms),
                &crate::store_contract::how(),
            )
            .await
            .unwrap();
    }
    store
        .append_consents(
            pid(P2),
            stranger.id,
            std::slice::from_ref(&terms),
            &crate::store_contract::how(),
        )
        .await
        .unwrap();
    let declined = answer(ConsentOwner::Platform, "terms", 1, ConsentState::Declined);
    store
        .append_consents(pid(P1), b.id, &[declined], &crate::store_contract::how())
        .await
        .unwrap();

    let mut answers: Vec<_> = store
        .consent_answers_of(pid(P1), &[a.id, b.id, quiet.id, stranger.id])
        .await
        .unwrap()
        .into_iter()
        .map(|(id, r)| (id, r.state))
        .collect();
    answers.sort_by_key(|(id, _)| *id);
    let mut expected = vec![
        (a.id, ConsentState::Accepted),
        (b.id, ConsentState::Declined),
    ];
    expected.sort_by_key(|(id, _)| *id);
    assert_eq!(answers, expected);
    assert!(
        store
            .consent_answers_of(pid(P1), &[])
            .await
            .unwrap()
            .is_empty()
    );

    let since = Utc::now() - chrono::Duration::days(1);
    let today = Utc::now().date_naive();
    assert_eq!(
        store.registrations_per_day(pid(P1), since).await.unwrap(),
        vec![(today, 3)]
    );
    assert_eq!(
        store.registrations_per_day(pid(P2), since).await.unwrap(),
        vec![(today, 1)]
    );
    let tomorrow = Utc::now() + chrono::Duration::days(1);
    assert!(
        store
            .registrations_per_day(pid(P1), tomorrow)
            .await
            .unwrap()
            .is_empty()
    );
}
