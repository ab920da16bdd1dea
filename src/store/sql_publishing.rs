//! Publication and provisioning steps the publisher and admin SQL share inside their
//! transactions: creating and updating publishers, offers, consent versions, archiving.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::backend::{Backend, Conn, shared_sql};
use super::sql::{CONSENT_COLUMNS, ConsentRow, PUBLISHER_COLUMNS, PublisherRow};
use super::{ConsentVersion, Published, Publisher, StoreError, Taken};
use crate::domain::{
    ConsentDraft, ConsentName, ConsentOwner, ConsentVersionNumber, OfferId, PublisherDeclaration,
    PublisherId, PublisherSettings,
};

/// Publication and provisioning steps, run inside the caller's locked transaction (the
/// admin SQL writes its audit line in the same one).
#[async_trait::async_trait]
pub(super) trait Publishing: Backend {
    /// Publishes a draft as the owner's next consent version unless the current one says the
    /// same (see [`PublisherStore::publish_consent`]).
    async fn publish_in(
        conn: &mut Conn<Self>,
        owner: ConsentOwner,
        draft: &ConsentDraft,
    ) -> Result<Published, StoreError>;

    /// Marks every version of a consent archived; false if none exists.
    async fn archive_in(
        conn: &mut Conn<Self>,
        owner: ConsentOwner,
        name: &ConsentName,
    ) -> Result<bool, StoreError>;

    /// Creates a publisher with its offers; `AlreadyExists` when the id or an offer is taken.
    async fn create_publisher_in(
        conn: &mut Conn<Self>,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        offers: &[OfferId],
        now: DateTime<Utc>,
    ) -> Result<Publisher, StoreError>;

    /// Replaces a publisher's name and settings; `NotFound` when it does not exist.
    async fn update_publisher_in(
        conn: &mut Conn<Self>,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        now: DateTime<Utc>,
    ) -> Result<Publisher, StoreError>;

    /// Creates or replaces a declared publisher and adds its offers.
    async fn upsert_publisher_in(
        conn: &mut Conn<Self>,
        p: &PublisherDeclaration,
    ) -> Result<(), StoreError>;

    /// Adds an offer to a publisher: `Invalid` when the offer names another publisher,
    /// `AlreadyExists` when taken, `NotFound` for an unknown publisher.
    async fn insert_offer(
        conn: &mut Conn<Self>,
        publisher: PublisherId,
        offer: &OfferId,
    ) -> Result<(), StoreError>;
}

shared_sql! {
    impl Publishing for B {
        async fn create_publisher_in(
            conn: &mut Conn<Self>,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
            offers: &[OfferId],
            now: DateTime<Utc>,
        ) -> Result<Publisher, StoreError> {
            let sql = format!(
                "INSERT INTO publishers (id, name, settings, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $4) RETURNING {PUBLISHER_COLUMNS}"
            );
            let row: PublisherRow = sqlx::query_as(&sql)
                .bind(id.get())
                .bind(name)
                .bind(Json(settings))
                .bind(now)
                .fetch_one(&mut *conn)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::AlreadyExists(_) => StoreError::AlreadyExists(Taken::Publisher),
                    other => other,
                })?;
            for offer in offers {
                Self::insert_offer(&mut *conn, id, offer).await?;
            }
            row.try_into()
        }

        async fn update_publisher_in(
            conn: &mut Conn<Self>,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
            now: DateTime<Utc>,
        ) -> Result<Publisher, StoreError> {
            let sql = format!(
                "UPDATE publishers SET name = $2, settings = $3, updated_at = $4 WHERE id = $1 \
                 RETURNING {PUBLISHER_COLUMNS}"
            );
            let row: Option<PublisherRow> = sqlx::query_as(&sql)
                .bind(id.get())
                .bind(name)
                .bind(Json(settings))
                .bind(now)
                .fetch_optional(&mut *conn)
                .await?;
            row.ok_or_else(|| StoreError::NotFound(format!("publisher {id}")))?
                .try_into()
        }

        async fn publish_in(
            conn: &mut Conn<Self>,
            owner: ConsentOwner,
            draft: &ConsentDraft,
        ) -> Result<Published, StoreError> {
            if let ConsentOwner::Publisher(p) = owner {
                let exists: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM publishers WHERE id = $1")
                        .bind(p.get())
                        .fetch_optional(&mut *conn)
                        .await?;
                if exists.is_none() {
                    return Err(StoreError::NotFound(format!("publisher {p}")));
                }
            }
            // A name is unique across the platform's and the publishers' consents.
            let clash_sql = match owner {
                ConsentOwner::Platform => {
                    "SELECT owner FROM consent_versions WHERE name = $1 AND owner <> 0 LIMIT 1"
                }
                ConsentOwner::Publisher(_) => {
                    "SELECT owner FROM consent_versions WHERE name = $1 AND owner = 0 LIMIT 1"
                }
            };
            let clash: Option<i64> = sqlx::query_scalar(clash_sql)
                .bind(draft.name.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            if let Some(other) = clash {
                let side = if other == 0 {
                    "the platform".to_owned()
                } else {
                    format!("publisher {other}")
                };
                return Err(StoreError::Invalid(format!(
                    "consent name {} is already used by {side} (names are unique across the platform and each publisher)",
                    draft.name
                )));
            }
            let sql = format!(
                "SELECT {} FROM consent_versions WHERE owner = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
                CONSENT_COLUMNS
            );
            let current: Option<ConsentRow> = sqlx::query_as(&sql)
                .bind(owner.get())
                .bind(draft.name.as_str())
                .fetch_optional(&mut *conn)
                .await?;
            let current = current.map(ConsentVersion::try_from).transpose()?;
            if let Some(c) = &current
                && !c.archived
                && c.matches(draft)
            {
                return Ok(Published::Unchanged(c.version));
            }
            let version = current.map_or(ConsentVersionNumber::FIRST, |c| c.version.next());
            let text_hash = crate::domain::proof::ConsentText {
                owner,
                name: draft.name.as_str(),
                version,
                label: &draft.label,
                value: &draft.value,
                required: draft.required,
                document_sha256: draft.document_sha256.as_deref(),
            }
            .hash();
            sqlx::query(
                "INSERT INTO consent_versions (owner, name, version, label, value, required, \
                 enabled_by_default, placeholder, archived, created_at, document_sha256, text_hash) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9, $10, $11)",
            )
            .bind(owner.get())
            .bind(draft.name.as_str())
            .bind(version.get())
            .bind(&draft.label)
            .bind(&draft.value)
            .bind(draft.required)
            .bind(draft.enabled_by_default)
            .bind(&draft.placeholder)
            .bind(Utc::now())
            .bind(&draft.document_sha256)
            .bind(&text_hash)
            .execute(&mut *conn)
            .await?;
            Ok(Published::New(version))
        }

        async fn archive_in(
            conn: &mut Conn<Self>,
            owner: ConsentOwner,
            name: &ConsentName,
        ) -> Result<bool, StoreError> {
            let done = sqlx::query(
                "UPDATE consent_versions SET archived = TRUE WHERE owner = $1 AND name = $2",
            )
            .bind(owner.get())
            .bind(name.as_str())
            .execute(&mut *conn)
            .await?;
            Ok(B::rows_affected(&done) > 0)
        }

        async fn upsert_publisher_in(
            conn: &mut Conn<Self>,
            p: &PublisherDeclaration,
        ) -> Result<(), StoreError> {
            let now = Utc::now();
            sqlx::query(
                "INSERT INTO publishers (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name, settings = excluded.settings, \
                 updated_at = excluded.updated_at",
            )
            .bind(p.id.get())
            .bind(&p.name)
            .bind(Json(&p.settings))
            .bind(now)
            .execute(&mut *conn)
            .await?;
            for offer in &p.offers {
                sqlx::query("INSERT INTO offers (id, publisher_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                    .bind(offer.as_str())
                    .bind(p.id.get())
                    .bind(now)
                    .execute(&mut *conn)
                    .await?;
                let owner: i64 =
                    sqlx::query_scalar("SELECT publisher_id FROM offers WHERE id = $1")
                        .bind(offer.as_str())
                        .fetch_one(&mut *conn)
                        .await?;
                if owner != p.id.get() {
                    return Err(StoreError::Invalid(format!(
                        "offer {offer} belongs to publisher {owner}"
                    )));
                }
            }
            Ok(())
        }

        async fn insert_offer(
            conn: &mut Conn<Self>,
            publisher: PublisherId,
            offer: &OfferId,
        ) -> Result<(), StoreError> {
            if offer.publisher() != publisher {
                return Err(StoreError::Invalid(format!(
                    "offer {offer} names publisher {}",
                    offer.publisher()
                )));
            }
            sqlx::query("INSERT INTO offers (id, publisher_id, created_at) VALUES ($1, $2, $3)")
                .bind(offer.as_str())
                .bind(publisher.get())
                .bind(Utc::now())
                .execute(&mut *conn)
                .await
                .map_err(|e| match StoreError::from(e) {
                    StoreError::AlreadyExists(_) => StoreError::AlreadyExists(Taken::Offer),
                    StoreError::Database(e)
                        if e.as_database_error()
                            .is_some_and(|d| d.is_foreign_key_violation()) =>
                    {
                        StoreError::NotFound(format!("publisher {publisher}"))
                    }
                    other => other,
                })?;
            Ok(())
        }
    }
}
