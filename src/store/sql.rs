//! The SQL both backends share, written once against the [`Backend`](super::backend::Backend)
//! trait: `impl_store!(PgStore)` writes every store trait for a type that implements it. The
//! statements are the same for both; what differs (locking, `BEGIN IMMEDIATE`, collation,
//! migrations, error codes) is asked of the trait. The impls stay in macros only because
//! sqlx's executor and codec bounds cannot be named once for a generic database: each
//! expansion is checked against one concrete driver.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::{ConsentVersion, Publisher, StoreError};
use crate::domain::{ConsentName, ConsentOwner, OfferId, PublisherId, PublisherSettings};

pub(super) const PUBLISHER_COLUMNS: &str = "id, name, settings, created_at";
pub(super) const CONSENT_COLUMNS: &str = "owner, name, version, label, value, required, enabled_by_default, placeholder, archived, created_at";

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
}

impl TryFrom<ConsentRow> for ConsentVersion {
    type Error = StoreError;
    fn try_from(r: ConsentRow) -> Result<Self, StoreError> {
        Ok(ConsentVersion {
            owner: ConsentOwner::from_i64(r.owner).map_err(StoreError::Corrupt)?,
            name: ConsentName::parse(&r.name).map_err(StoreError::Corrupt)?,
            version: r.version,
            label: r.label,
            value: r.value,
            required: r.required,
            enabled_by_default: r.enabled_by_default,
            placeholder: r.placeholder,
            archived: r.archived,
            created_at: r.created_at,
        })
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

/// Writes `impl Store for $store` (every store trait) for a type that implements
/// [`Backend`](super::backend::Backend).
macro_rules! impl_store {
    ($store:ty) => {
        $crate::store::sql::impl_publisher_store!($store);

        $crate::store::sql_admin::impl_admin_store!($store);
    };
}

/// Writes `impl PublisherStore for $store`, and the publication helpers (`publish_in`,
/// `archive_in`, `insert_offer`) the admin impl uses too.
macro_rules! impl_publisher_store {
    ($store:ty) => {
        impl $store {
            async fn publish_in(
                conn: &mut $crate::store::backend::Conn<Self>,
                owner: $crate::domain::ConsentOwner,
                draft: &$crate::domain::ConsentDraft,
            ) -> Result<$crate::store::Published, $crate::store::StoreError> {
                use $crate::domain::ConsentOwner;
                use $crate::store::{Published, StoreError};
                if let ConsentOwner::Publisher(p) = owner {
                    let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM publishers WHERE id = $1")
                        .bind(p.get())
                        .fetch_optional(&mut *conn)
                        .await?;
                    if exists.is_none() {
                        return Err(StoreError::NotFound(format!("publisher {p}")));
                    }
                }
                // A name is unique across the platform's and the publishers' consents.
                let clash_sql = match owner {
                    ConsentOwner::Platform => "SELECT owner FROM consent_versions WHERE name = $1 AND owner <> 0 LIMIT 1",
                    ConsentOwner::Publisher(_) => "SELECT owner FROM consent_versions WHERE name = $1 AND owner = 0 LIMIT 1",
                };
                let clash: Option<i64> = sqlx::query_scalar(clash_sql)
                    .bind(draft.name.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                if let Some(other) = clash {
                    let side = if other == 0 { "the platform".to_owned() } else { format!("publisher {other}") };
                    return Err(StoreError::Invalid(format!(
                        "consent name {} is already used by {side} (names are unique across the platform and each publisher)",
                        draft.name
                    )));
                }
                let sql = format!(
                    "SELECT {} FROM consent_versions WHERE owner = $1 AND name = $2 ORDER BY version DESC LIMIT 1",
                    $crate::store::sql::CONSENT_COLUMNS
                );
                let current: Option<$crate::store::sql::ConsentRow> = sqlx::query_as(&sql)
                    .bind(owner.get())
                    .bind(draft.name.as_str())
                    .fetch_optional(&mut *conn)
                    .await?;
                let current = current.map($crate::store::ConsentVersion::try_from).transpose()?;
                if let Some(c) = &current {
                    if !c.archived && c.matches(draft) {
                        return Ok(Published::Unchanged(c.version));
                    }
                }
                let version = current.map_or(1, |c| c.version + 1);
                sqlx::query(
                    "INSERT INTO consent_versions (owner, name, version, label, value, required, \
                     enabled_by_default, placeholder, archived, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, FALSE, $9)",
                )
                .bind(owner.get())
                .bind(draft.name.as_str())
                .bind(version)
                .bind(&draft.label)
                .bind(&draft.value)
                .bind(draft.required)
                .bind(draft.enabled_by_default)
                .bind(&draft.placeholder)
                .bind(chrono::Utc::now())
                .execute(&mut *conn)
                .await?;
                Ok(Published::New(version))
            }

            async fn archive_in(
                conn: &mut $crate::store::backend::Conn<Self>,
                owner: $crate::domain::ConsentOwner,
                name: &$crate::domain::ConsentName,
            ) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query("UPDATE consent_versions SET archived = TRUE WHERE owner = $1 AND name = $2")
                    .bind(owner.get())
                    .bind(name.as_str())
                    .execute(&mut *conn)
                    .await?;
                Ok(done.rows_affected() > 0)
            }

            async fn upsert_publisher_in(
                conn: &mut $crate::store::backend::Conn<Self>,
                p: &$crate::domain::PublisherDeclaration,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                sqlx::query(
                    "INSERT INTO publishers (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, settings = excluded.settings, \
                     updated_at = excluded.updated_at",
                )
                .bind(p.id.get())
                .bind(&p.name)
                .bind(sqlx::types::Json(&p.settings))
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
                    let owner: i64 = sqlx::query_scalar("SELECT publisher_id FROM offers WHERE id = $1")
                        .bind(offer.as_str())
                        .fetch_one(&mut *conn)
                        .await?;
                    if owner != p.id.get() {
                        return Err(StoreError::Invalid(format!("offer {offer} belongs to publisher {owner}")));
                    }
                }
                Ok(())
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::PublisherStore for $store {
            async fn migrate(&self) -> Result<(), $crate::store::StoreError> {
                $crate::store::backend::Backend::run_migrations(self).await
            }

            async fn ping(&self) -> Result<(), $crate::store::StoreError> {
                sqlx::query("SELECT 1").execute($crate::store::backend::Backend::pool(self)).await?;
                Ok(())
            }

            fn pool_stats(&self) -> $crate::store::PoolStats {
                $crate::store::backend::pool_stats($crate::store::backend::Backend::pool(self))
            }

            async fn create_publisher(
                &self,
                id: $crate::domain::PublisherId,
                name: &str,
                settings: &$crate::domain::PublisherSettings,
                offers: &[$crate::domain::OfferId],
            ) -> Result<$crate::store::Publisher, $crate::store::StoreError> {
                let mut tx = $crate::store::backend::Backend::pool(self).begin().await?;
                let sql = format!(
                    "INSERT INTO publishers (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING {}",
                    $crate::store::sql::PUBLISHER_COLUMNS
                );
                let row: $crate::store::sql::PublisherRow = sqlx::query_as(&sql)
                    .bind(id.get())
                    .bind(name)
                    .bind(sqlx::types::Json(settings))
                    .bind(chrono::Utc::now())
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| match $crate::store::StoreError::from(e) {
                        $crate::store::StoreError::AlreadyExists(_) => $crate::store::StoreError::AlreadyExists(format!("publisher {id}")),
                        other => other,
                    })?;
                for offer in offers {
                    Self::insert_offer(&mut *tx, id, offer).await?;
                }
                tx.commit().await?;
                row.try_into()
            }

            async fn update_publisher(
                &self,
                id: $crate::domain::PublisherId,
                name: &str,
                settings: &$crate::domain::PublisherSettings,
            ) -> Result<$crate::store::Publisher, $crate::store::StoreError> {
                let sql = format!(
                    "UPDATE publishers SET name = $2, settings = $3, updated_at = $4 WHERE id = $1 RETURNING {}",
                    $crate::store::sql::PUBLISHER_COLUMNS
                );
                let row: Option<$crate::store::sql::PublisherRow> = sqlx::query_as(&sql)
                    .bind(id.get())
                    .bind(name)
                    .bind(sqlx::types::Json(settings))
                    .bind(chrono::Utc::now())
                    .fetch_optional($crate::store::backend::Backend::pool(self))
                    .await?;
                row.ok_or_else(|| $crate::store::StoreError::NotFound(format!("publisher {id}")))?
                    .try_into()
            }

            async fn publisher(
                &self,
                id: $crate::domain::PublisherId,
            ) -> Result<Option<$crate::store::Publisher>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM publishers WHERE id = $1", $crate::store::sql::PUBLISHER_COLUMNS);
                let row: Option<$crate::store::sql::PublisherRow> =
                    sqlx::query_as(&sql).bind(id.get()).fetch_optional($crate::store::backend::Backend::pool(self)).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn publishers(&self) -> Result<Vec<$crate::store::Publisher>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM publishers ORDER BY id", $crate::store::sql::PUBLISHER_COLUMNS);
                let rows: Vec<$crate::store::sql::PublisherRow> = sqlx::query_as(&sql).fetch_all($crate::store::backend::Backend::pool(self)).await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn add_offer(
                &self,
                publisher: $crate::domain::PublisherId,
                offer: &$crate::domain::OfferId,
            ) -> Result<(), $crate::store::StoreError> {
                let mut conn = $crate::store::backend::Backend::pool(self).acquire().await?;
                Self::insert_offer(&mut *conn, publisher, offer).await
            }

            async fn offers(
                &self,
                publisher: $crate::domain::PublisherId,
            ) -> Result<Vec<$crate::domain::OfferId>, $crate::store::StoreError> {
                let ids: Vec<String> = sqlx::query_scalar("SELECT id FROM offers WHERE publisher_id = $1 ORDER BY id")
                    .bind(publisher.get())
                    .fetch_all($crate::store::backend::Backend::pool(self))
                    .await?;
                ids.into_iter().map($crate::store::sql::offer_from_row).collect()
            }

            async fn offer_publisher(
                &self,
                offer: &$crate::domain::OfferId,
            ) -> Result<Option<$crate::domain::PublisherId>, $crate::store::StoreError> {
                let id: Option<i64> = sqlx::query_scalar("SELECT publisher_id FROM offers WHERE id = $1")
                    .bind(offer.as_str())
                    .fetch_optional($crate::store::backend::Backend::pool(self))
                    .await?;
                id.map(|id| $crate::domain::PublisherId::from_i64(id).map_err($crate::store::StoreError::Corrupt))
                    .transpose()
            }

            async fn publish_consent(
                &self,
                owner: $crate::domain::ConsentOwner,
                draft: &$crate::domain::ConsentDraft,
            ) -> Result<$crate::store::Published, $crate::store::StoreError> {
                let mut tx = $crate::store::backend::Backend::begin_locked(self).await?;
                let published = Self::publish_in(&mut *tx, owner, draft).await?;
                tx.commit().await?;
                Ok(published)
            }

            async fn archive_consent(
                &self,
                owner: $crate::domain::ConsentOwner,
                name: &$crate::domain::ConsentName,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = $crate::store::backend::Backend::begin_locked(self).await?;
                let archived = Self::archive_in(&mut *tx, owner, name).await?;
                tx.commit().await?;
                Ok(archived)
            }

            async fn current_consents(
                &self,
                publisher: $crate::domain::PublisherId,
            ) -> Result<Vec<$crate::store::ConsentVersion>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM consent_versions c WHERE owner IN (0, $1) AND NOT archived \
                     AND version = (SELECT MAX(version) FROM consent_versions m WHERE m.owner = c.owner AND m.name = c.name) \
                     ORDER BY owner, required DESC, name",
                    $crate::store::sql::CONSENT_COLUMNS
                );
                let rows: Vec<$crate::store::sql::ConsentRow> =
                    sqlx::query_as(&sql).bind(publisher.get()).fetch_all($crate::store::backend::Backend::pool(self)).await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn consent_versions(
                &self,
                owner: $crate::domain::ConsentOwner,
            ) -> Result<Vec<$crate::store::ConsentVersion>, $crate::store::StoreError> {
                let sql = format!(
                    "SELECT {} FROM consent_versions WHERE owner = $1 ORDER BY name, version",
                    $crate::store::sql::CONSENT_COLUMNS
                );
                let rows: Vec<$crate::store::sql::ConsentRow> =
                    sqlx::query_as(&sql).bind(owner.get()).fetch_all($crate::store::backend::Backend::pool(self)).await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn apply_declaration(
                &self,
                declaration: &$crate::domain::Declaration,
            ) -> Result<$crate::store::ApplyReport, $crate::store::StoreError> {
                use $crate::domain::provisioning::{parse_consent_key, DeclaredPart};
                use $crate::store::{ApplyReport, Published};
                let mut tx = $crate::store::backend::Backend::begin_locked(self).await?;
                let known: Vec<(String, String)> = sqlx::query_as("SELECT item, fingerprint FROM config_state")
                    .fetch_all(&mut *tx)
                    .await?;
                let known: std::collections::HashMap<String, String> = known.into_iter().collect();
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
                    .bind(chrono::Utc::now())
                    .execute(&mut *tx)
                    .await?;
                    report.applied.push(item.key.clone());
                }
                // A consent the file declared before but no longer does is archived; a
                // publisher dropped from the file keeps its data (tenants are never deleted).
                let declared: std::collections::HashSet<&str> = items.iter().map(|i| i.key.as_str()).collect();
                let mut gone: Vec<&String> = known.keys().filter(|k| !declared.contains(k.as_str())).collect();
                gone.sort();
                for key in gone {
                    if let Some((owner, name)) = parse_consent_key(key) {
                        if Self::archive_in(&mut *tx, owner, &name).await? {
                            report.archived.push((owner, name));
                        }
                    }
                    sqlx::query("DELETE FROM config_state WHERE item = $1").bind(key).execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(report)
            }
        }

        impl $store {
            async fn insert_offer(
                conn: &mut $crate::store::backend::Conn<Self>,
                publisher: $crate::domain::PublisherId,
                offer: &$crate::domain::OfferId,
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::StoreError;
                if offer.publisher() != publisher {
                    return Err(StoreError::Invalid(format!("offer {offer} names publisher {}", offer.publisher())));
                }
                sqlx::query("INSERT INTO offers (id, publisher_id, created_at) VALUES ($1, $2, $3)")
                    .bind(offer.as_str())
                    .bind(publisher.get())
                    .bind(chrono::Utc::now())
                    .execute(&mut *conn)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("offer {offer}")),
                        StoreError::Database(e) if e.as_database_error().is_some_and(|d| d.is_foreign_key_violation()) => {
                            StoreError::NotFound(format!("publisher {publisher}"))
                        }
                        other => other,
                    })?;
                Ok(())
            }
        }
    };
}

pub(super) use {impl_publisher_store, impl_store};
