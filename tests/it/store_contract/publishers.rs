//! `PublisherStore`: publishers, offers, consent versions and the config's declaration.

use enroll::domain::{ConsentOwner, Declaration, PublisherDeclaration, PublisherSettings};
use enroll::store::{Published, StoreError};

use super::{offer, pid};
use crate::backend_tests;
use crate::consents::draft;
use crate::support::{Backend, TestDb};

backend_tests!(
    migrations_are_idempotent_and_ping_answers,
    publishers_and_offers,
    consent_versions_are_sequential_and_unchanged_drafts_publish_nothing,
    consent_names_are_unique_across_platform_and_publishers,
    archived_consents_leave_the_current_list,
    concurrent_publications_get_distinct_versions,
    declarations_apply_only_what_changed,
);

async fn migrations_are_idempotent_and_ping_answers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    store.migrate().await.unwrap();
    store.ping().await.unwrap();
    assert!(store.publishers().await.unwrap().is_empty());
}

async fn publishers_and_offers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let id = pid("123456789");
    let settings = PublisherSettings {
        cors_origins: vec!["https://app.example.com".into()],
        require_consents_at_registration: true,
        ..Default::default()
    };
    let created = store
        .create_publisher(id, "Acme", &settings, &[offer("S123456789_US")])
        .await
        .unwrap();
    assert_eq!(
        (created.id, created.name.as_str(), &created.settings),
        (id, "Acme", &settings)
    );
    assert!(matches!(
        store.create_publisher(id, "Again", &settings, &[]).await,
        Err(StoreError::AlreadyExists(enroll::store::Taken::Publisher))
    ));
    // An offer must name its publisher, and a failed create leaves nothing behind.
    let other = pid("223456789");
    assert!(matches!(
        store
            .create_publisher(other, "Other", &settings, &[offer("S123456789_GB")])
            .await,
        Err(StoreError::Invalid(_))
    ));
    assert!(store.publisher(other).await.unwrap().is_none());

    store.add_offer(id, &offer("R123456789_NL")).await.unwrap();
    assert!(matches!(
        store.add_offer(id, &offer("R123456789_NL")).await,
        Err(StoreError::AlreadyExists(enroll::store::Taken::Offer))
    ));
    assert!(matches!(
        store.add_offer(other, &offer("S223456789_US")).await,
        Err(StoreError::NotFound(_))
    ));
    assert_eq!(
        store.offers(id).await.unwrap(),
        vec![offer("R123456789_NL"), offer("S123456789_US")]
    );
    assert_eq!(
        store
            .offer_publisher(&offer("S123456789_US"))
            .await
            .unwrap(),
        Some(id)
    );
    assert_eq!(
        store
            .offer_publisher(&offer("S999999999_US"))
            .await
            .unwrap(),
        None
    );

    let changed = PublisherSettings {
        cors_origins: vec![],
        ..settings.clone()
    };
    let updated = store
        .update_publisher(id, "Acme Ltd", &changed)
        .await
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), &updated.settings),
        ("Acme Ltd", &changed)
    );
    assert_eq!(store.publisher(id).await.unwrap().unwrap(), updated);
    assert!(matches!(
        store.update_publisher(other, "X", &changed).await,
        Err(StoreError::NotFound(_))
    ));

    store
        .create_publisher(other, "Other", &PublisherSettings::default(), &[])
        .await
        .unwrap();
    let ids: Vec<_> = store
        .publishers()
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(ids, vec![id, other]);
}

async fn consent_versions_are_sequential_and_unchanged_drafts_publish_nothing(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let id = pid("123456789");
    store
        .create_publisher(id, "Acme", &PublisherSettings::default(), &[])
        .await
        .unwrap();
    let owner = ConsentOwner::Publisher(id);
    let terms = draft("broadcaster_terms", "Terms v1", true);
    assert_eq!(
        store.publish_consent(owner, &terms).await.unwrap(),
        Published::New(super::v(1))
    );
    assert_eq!(
        store.publish_consent(owner, &terms).await.unwrap(),
        Published::Unchanged(super::v(1))
    );
    let v2 = draft("broadcaster_terms", "Terms v2", true);
    assert_eq!(
        store.publish_consent(owner, &v2).await.unwrap(),
        Published::New(super::v(2))
    );
    let optional = draft("broadcaster_terms", "Terms v2", false);
    assert_eq!(
        store.publish_consent(owner, &optional).await.unwrap(),
        Published::New(super::v(3))
    );
    store
        .publish_consent(owner, &draft("broadcaster_marketing", "News", false))
        .await
        .unwrap();
    store
        .publish_consent(ConsentOwner::Platform, &draft("terms", "Platform", true))
        .await
        .unwrap();

    let current = store.current_consents(id).await.unwrap();
    let seen: Vec<_> = current
        .iter()
        .map(|c| (c.owner.get(), c.name.as_str(), c.version.get(), c.required))
        .collect();
    assert_eq!(
        seen,
        vec![
            (0, "terms", 1, true),
            (123456789, "broadcaster_marketing", 1, false),
            (123456789, "broadcaster_terms", 3, false),
        ]
    );
    let all = store.consent_versions(owner).await.unwrap();
    let versions: Vec<_> = all
        .iter()
        .map(|c| (c.name.as_str(), c.version.get(), c.label.as_str()))
        .collect();
    assert_eq!(
        versions,
        vec![
            ("broadcaster_marketing", 1, "News"),
            ("broadcaster_terms", 1, "Terms v1"),
            ("broadcaster_terms", 2, "Terms v2"),
            ("broadcaster_terms", 3, "Terms v2"),
        ]
    );
    let unknown = ConsentOwner::Publisher(pid("999999999"));
    assert!(matches!(
        store.publish_consent(unknown, &terms).await,
        Err(StoreError::NotFound(_))
    ));
    // Another publisher sees the platform's consents, not this one's.
    let other = pid("223456789");
    store
        .create_publisher(other, "Other", &PublisherSettings::default(), &[])
        .await
        .unwrap();
    let names: Vec<_> = store
        .current_consents(other)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name.to_string())
        .collect();
    assert_eq!(names, ["terms"]);
}

async fn consent_names_are_unique_across_platform_and_publishers(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let id = pid("123456789");
    store
        .create_publisher(id, "Acme", &PublisherSettings::default(), &[])
        .await
        .unwrap();
    store
        .publish_consent(ConsentOwner::Platform, &draft("terms", "Platform", true))
        .await
        .unwrap();
    let clash = store
        .publish_consent(ConsentOwner::Publisher(id), &draft("terms", "Mine", true))
        .await;
    assert!(matches!(clash, Err(StoreError::Invalid(_))), "{clash:?}");
    store
        .publish_consent(ConsentOwner::Publisher(id), &draft("mine", "Mine", true))
        .await
        .unwrap();
    let clash = store
        .publish_consent(ConsentOwner::Platform, &draft("mine", "Platform", true))
        .await;
    assert!(matches!(clash, Err(StoreError::Invalid(_))), "{clash:?}");
}

async fn archived_consents_leave_the_current_list(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let id = pid("123456789");
    store
        .create_publisher(id, "Acme", &PublisherSettings::default(), &[])
        .await
        .unwrap();
    let owner = ConsentOwner::Publisher(id);
    let news = draft("news", "News", false);
    store.publish_consent(owner, &news).await.unwrap();
    assert!(store.archive_consent(owner, &news.name).await.unwrap());
    assert!(
        !store
            .archive_consent(owner, &draft("nothing", "x", false).name)
            .await
            .unwrap()
    );
    assert!(store.current_consents(id).await.unwrap().is_empty());
    assert!(
        store
            .consent_versions(owner)
            .await
            .unwrap()
            .iter()
            .all(|c| c.archived)
    );
    // Publishing it again revives it as a new version.
    assert_eq!(
        store.publish_consent(owner, &news).await.unwrap(),
        Published::New(super::v(2))
    );
    assert_eq!(store.current_consents(id).await.unwrap().len(), 1);
}

async fn concurrent_publications_get_distinct_versions(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                store
                    .publish_consent(
                        ConsentOwner::Platform,
                        &draft("terms", &format!("Label {i}"), true),
                    )
                    .await
            })
        })
        .collect();
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap().version().get());
    }
    versions.sort();
    assert_eq!(versions, (1..=10).collect::<Vec<_>>());
}

fn declaration(label: &str, with_marketing: bool) -> Declaration {
    let mut consents = vec![draft("broadcaster_terms", label, true)];
    if with_marketing {
        consents.push(draft("broadcaster_marketing", "News", false));
    }
    Declaration {
        platform_consents: vec![draft("terms", "Platform terms", true)],
        publishers: vec![PublisherDeclaration {
            id: pid("123456789"),
            name: "Acme".into(),
            settings: PublisherSettings::default(),
            offers: vec![offer("S123456789_US")],
            consents,
        }],
    }
}

async fn declarations_apply_only_what_changed(backend: Backend) {
    let db = TestDb::new(backend).await;
    let store = db.store().await;
    let id = pid("123456789");
    let first = store
        .apply_declaration(&declaration("Terms", true))
        .await
        .unwrap();
    assert_eq!(first.applied.len(), 4);
    assert_eq!(first.published.len(), 3);
    assert_eq!(
        store
            .offer_publisher(&offer("S123456789_US"))
            .await
            .unwrap(),
        Some(id)
    );

    let again = store
        .apply_declaration(&declaration("Terms", true))
        .await
        .unwrap();
    assert_eq!(
        again,
        Default::default(),
        "an unchanged declaration does nothing"
    );

    // A change made elsewhere (CLI, admin) survives an unchanged declaration.
    let owner = ConsentOwner::Publisher(id);
    store
        .publish_consent(
            owner,
            &draft("broadcaster_marketing", "Edited by CLI", false),
        )
        .await
        .unwrap();
    store
        .apply_declaration(&declaration("Terms", true))
        .await
        .unwrap();
    let current = store.current_consents(id).await.unwrap();
    assert!(
        current
            .iter()
            .any(|c| c.label == "Edited by CLI" && c.version.get() == 2)
    );

    // Only the changed part is applied; a consent dropped from the file is archived.
    let changed = store
        .apply_declaration(&declaration("Terms v2", false))
        .await
        .unwrap();
    assert_eq!(
        changed.applied,
        vec!["consent:123456789:broadcaster_terms".to_owned()]
    );
    assert_eq!(changed.published.len(), 1);
    assert_eq!(changed.archived.len(), 1);
    let current = store.current_consents(id).await.unwrap();
    let seen: Vec<_> = current
        .iter()
        .map(|c| (c.name.as_str(), c.version.get(), c.label.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("terms", 1, "Platform terms"),
            ("broadcaster_terms", 2, "Terms v2")
        ]
    );
}
