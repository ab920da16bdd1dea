//! The publisher SQL both backends share, written once against the [`Backend`] trait like the
//! rest of `sql_*.rs`: the statements are the same for both; what differs (locking, `BEGIN
//! IMMEDIATE`, collation, migrations, error codes) is asked of the trait.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::Actor;
use super::backend::shared_sql;
use super::sql_events::{Events, consent_event, written};
use super::sql_proof::ProofBackfill;
use super::sql_publishing::Publishing;
use super::{
    ApplyReport, ConsentVersion, PoolStats, Published, Publisher, PublisherStore, StoreError,
};
use crate::domain::provisioning::{DeclaredPart, parse_consent_key};
use crate::domain::{
    ConsentDraft, ConsentName, ConsentOwner, ConsentVersionNumber, Declaration, OfferId,
    PublisherId, PublisherSettings,
};

pub(super) const PUBLISHER_COLUMNS: &str = "id, name, settings, created_at";
pub(super) const CONSENT_COLUMNS: &str = "owner, name, version, label, value, required, enabled_by_default, placeholder, archived, created_at, document_sha256, text_hash";

#[derive(sqlx::FromRow)]
pub(super) struct PublisherRow {
    id: i64,
    name: String,
    settings: Json<PublisherSettings>,
    created_at: DateTime<Utc>,
}

impl TryFrom<PublisherRow> for Publisher {
    type Error = StoreError;
    fn try_from(r: PublisherRow) -> Result<Self, StoreError> {
        Ok(Publisher {
            id: PublisherId::from_i64(r.id).map_err(StoreError::Corrupt)?,
            name: r.name,
            settings: r.settings.0,
            created_at: r.created_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct ConsentRow {
    owner: i64,
    name: String,
    version: i32,
    label: String,
    value: String,
    required: bool,
    enabled_by_default: bool,
    placeholder: String,
    archived: bool,
    created_at: DateTime<Utc>,
    document_sha256: Option<String>,
    text_hash: Option<String>,
}

impl TryFrom<ConsentRow> for ConsentVersion {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        let mut v = ConsentVersion {
            owner: ConsentOwner::from_i64(r.owner).map_err(StoreError::Corrupt)?,
            name: ConsentName::parse(&r.name).map_err(StoreError::Corrupt)?,
            version: ConsentVersionNumber::new(r.version).map_err(StoreError::Corrupt)?,
            label: r.label,
            value: r.value,
            required: r.required,
            enabled_by_default: r.enabled_by_default,
            placeholder: r.placeholder,
            archived: r.archived,
            created_at: r.created_at,
            document_sha256: r.document_sha256,
            text_hash: String::new(),
        };
        // Stored at publication (or by the start-up backfill); computed here only for a
        // version an old replica published after the backfill ran.
        v.text_hash = r.text_hash.unwrap_or_else(|| v.text().hash());
        Ok(v)
    }
}

pub(super) fn offer_from_row(id: String) -> Result<OfferId, StoreError> {
    OfferId::parse(&id).map_err(StoreError::Corrupt)
}

pub(super) fn rows_into<R, T>(rows: Vec<R>) -> Result<Vec<T>, StoreError>
where
    T: TryFrom<R, Error = StoreError>,
{
    rows.into_iter().map(T::try_from).collect()
}

shared_sql! {
    impl PublisherStore for B {
        async fn migrate(&self) -> Result<(), StoreError> {
            self.run_migrations().await?;
            self.backfill_proof().await
        }

        async fn ping(&self) -> Result<(), StoreError> {
            sqlx::query("SELECT 1").execute(self.pool()).await?;
            Ok(())
        }

        fn pool_stats(&self) -> PoolStats {
            super::backend::pool_stats(self.pool().raw())
        }

        async fn create_publisher(
            &self,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
            offers: &[OfferId],
        ) -> Result<Publisher, StoreError> {
            let mut tx = self.pool().begin().await?;
            let created =
                Self::create_publisher_in(&mut *tx, id, name, settings, offers, Utc::now()).await?;
            tx.commit().await?;
            Ok(created)
        }

        async fn update_publisher(
            &self,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
        ) -> Result<Publisher, StoreError> {
            let mut conn = self.pool().acquire().await?;
            Self::update_publisher_in(&mut *conn, id, name, settings, Utc::now()).await
        }

        async fn publisher(&self, id: PublisherId) -> Result<Option<Publisher>, StoreError> {
            let sql = format!("SELECT {} FROM publishers WHERE id = $1", PUBLISHER_COLUMNS);
            let row: Option<PublisherRow> = sqlx::query_as(&sql)
                .bind(id.get())
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn publishers(&self) -> Result<Vec<Publisher>, StoreError> {
            let sql = format!("SELECT {} FROM publishers ORDER BY id", PUBLISHER_COLUMNS);
            let rows: Vec<PublisherRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
            rows_into(rows)
        }

        async fn add_offer(
            &self,
            publisher: PublisherId,
            offer: &OfferId,
        ) -> Result<(), StoreError> {
            let mut conn = self.pool().acquire().await?;
            Self::insert_offer(&mut *conn, publisher, offer).await
        }

        async fn offers(&self, publisher: PublisherId) -> Result<Vec<OfferId>, StoreError> {
            let ids: Vec<String> =
                sqlx::query_scalar("SELECT id FROM offers WHERE publisher_id = $1 ORDER BY id")
                    .bind(publisher.get())
                    .fetch_all(self.pool())
                    .await?;
            ids.into_iter().map(offer_from_row).collect()
        }

        async fn offer_publisher(
            &self,
            offer: &OfferId,
        ) -> Result<Option<PublisherId>, StoreError> {
            let id: Option<i64> =
                sqlx::query_scalar("SELECT publisher_id FROM offers WHERE id = $1")
                    .bind(offer.as_str())
                    .fetch_optional(self.pool())
                    .await?;
            id.map(|id| PublisherId::from_i64(id).map_err(StoreError::Corrupt))
                .transpose()
        }

        async fn publish_consent(
            &self,
            owner: ConsentOwner,
            draft: &ConsentDraft,
        ) -> Result<Published, StoreError> {
            let mut tx = self.begin_locked().await?;
            let published = Self::publish_in(&mut *tx, owner, draft).await?;
            if let Published::New(version) = published {
                let event = consent_event("consent.published", owner, &draft.name, Some(version.get()), Actor::System);
                Self::emit(&mut *tx, event, Utc::now()).await?;
            }
            tx.commit().await?;
            if let Published::New(_) = published {
                written(self.new_events(), "consent.published");
            }
            Ok(published)
        }

        async fn archive_consent(
            &self,
            owner: ConsentOwner,
            name: &ConsentName,
        ) -> Result<bool, StoreError> {
            let mut tx = self.begin_locked().await?;
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM consent_versions WHERE owner = $1 AND name = $2 AND NOT archived",
            )
            .bind(owner.get())
            .bind(name.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let archived = Self::archive_in(&mut *tx, owner, name).await?;
            if archived && live > 0 {
                let event = consent_event("consent.archived", owner, name, None, Actor::System);
                Self::emit(&mut *tx, event, Utc::now()).await?;
            }
            tx.commit().await?;
            if archived && live > 0 {
                written(self.new_events(), "consent.archived");
            }
            Ok(archived)
        }

        async fn current_consents(
            &self,
            publisher: PublisherId,
        ) -> Result<Vec<ConsentVersion>, StoreError> {
            let sql = format!(
                "SELECT {} FROM consent_versions c WHERE owner IN (0, $1) AND NOT archived \
                 AND version = (SELECT MAX(version) FROM consent_versions m WHERE m.owner = c.owner AND m.name = c.name) \
                 ORDER BY owner, required DESC, name",
                CONSENT_COLUMNS
            );
            let rows: Vec<ConsentRow> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .fetch_all(self.pool())
                .await?;
            rows_into(rows)
        }

        async fn consent_versions(
            &self,
            owner: ConsentOwner,
        ) -> Result<Vec<ConsentVersion>, StoreError> {
            let sql = format!(
                "SELECT {} FROM consent_versions WHERE owner = $1 ORDER BY name, version",
                CONSENT_COLUMNS
            );
            let rows: Vec<ConsentRow> = sqlx::query_as(&sql)
                .bind(owner.get())
                .fetch_all(self.pool())
                .await?;
            rows_into(rows)
        }

        async fn apply_declaration(
            &self,
            declaration: &Declaration,
        ) -> Result<ApplyReport, StoreError> {
            let mut tx = self.begin_locked().await?;
            let known: Vec<(String, String)> =
                sqlx::query_as("SELECT item, fingerprint FROM config_state")
                    .fetch_all(&mut *tx)
                    .await?;
            let known: HashMap<String, String> = known.into_iter().collect();
            let items = declaration.items();
            let mut report = ApplyReport::default();
            for item in &items {
                if known.get(&item.key) == Some(&item.fingerprint) {
                    continue;
                }
                match item.part {
                    DeclaredPart::Publisher(p) => Self::upsert_publisher_in(&mut *tx, p).await?,
                    DeclaredPart::Consent(owner, draft) => {
                        if let Published::New(v) = Self::publish_in(&mut *tx, owner, draft).await? {
                            let event = consent_event("consent.published", owner, &draft.name, Some(v.get()), Actor::System);
                            Self::emit(&mut *tx, event, Utc::now()).await?;
                            report.published.push((owner, draft.name.clone(), v));
                        }
                    }
                }
                sqlx::query(
                    "INSERT INTO config_state (item, fingerprint, applied_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (item) DO UPDATE SET fingerprint = excluded.fingerprint, applied_at = excluded.applied_at",
                )
                .bind(&item.key)
                .bind(&item.fingerprint)
                .bind(Utc::now())
                .execute(&mut *tx)
                .await?;
                report.applied.push(item.key.clone());
            }
            // A consent the file declared before but no longer does is archived; a
            // publisher dropped from the file keeps its data (tenants are never deleted).
            let declared: HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
            let mut gone: Vec<&String> = known
                .keys()
                .filter(|k| !declared.contains(k.as_str()))
                .collect();
            gone.sort();
            for key in gone {
                if let Some((owner, name)) = parse_consent_key(key)
                    && Self::archive_in(&mut *tx, owner, &name).await?
                {
                    let event = consent_event("consent.archived", owner, &name, None, Actor::System);
                    Self::emit(&mut *tx, event, Utc::now()).await?;
                    report.archived.push((owner, name));
                }
                sqlx::query("DELETE FROM config_state WHERE item = $1")
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            report.published.iter().for_each(|_| written(self.new_events(), "consent.published"));
            report.archived.iter().for_each(|_| written(self.new_events(), "consent.archived"));
            Ok(report)
        }
    }
}
