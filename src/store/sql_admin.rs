//! The admin SQL both backends share: keys, changes written with their audit line, the keyset
//! customer list, erasure, the audit trail and dashboard sessions. Prefix searches compare
//! with [`Backend::BYTE_ORDER`] (see `sql_admin_parts::customer_page_sql`).

use chrono::{DateTime, NaiveDate, Utc};
use sha2::Digest;
use sqlx::types::Json;

use super::Actor;
use super::backend::{Backend, Conn, shared_sql};
use super::sql::rows_into;
use super::sql_admin_parts::{
    AUDIT_COLUMNS, AdminKeyRow, AuditRow, Bind, HistoryRow, KEY_COLUMNS, SessionRow,
    customer_page_sql, with_field,
};
use super::sql_customers::{CustomerConsentRow, CustomerRow};
use super::sql_events::{Events, NewEvent, consent_event, written};
use super::sql_publishing::Publishing;
use super::sql_sessions::Sessions;
use super::{
    AdminKey, AdminSession, AdminStore, AuditCursor, AuditEntry, ConsentHistoryRecord,
    ConsentRecord, Customer, CustomerCursor, CustomerFilter, NewAdminKey, NewAdminSession,
    NewAudit, Published, Publisher, StoreError,
};
use crate::domain::{
    AdminKeyId, ConsentDraft, ConsentName, ConsentOwner, CustomerId, OfferId, PublisherId,
    PublisherSettings,
};

/// The audit trail and key lookups, inside the caller's transaction.
#[async_trait::async_trait]
pub(super) trait Audit: Backend {
    /// Writes one audit line.
    async fn insert_audit(
        conn: &mut Conn<Self>,
        audit: &NewAudit,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// The key with this id, revoked or not.
    async fn admin_key_in(
        conn: &mut Conn<Self>,
        id: AdminKeyId,
    ) -> Result<Option<AdminKey>, StoreError>;
}

shared_sql! {
    impl Audit for B {
        async fn insert_audit(
            conn: &mut Conn<Self>,
            audit: &NewAudit,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO admin_audit (key_id, actor, publisher_id, action, detail, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(audit.key_id.map(AdminKeyId::get))
            .bind(&audit.actor)
            .bind(audit.publisher.map(|p| p.get()))
            .bind(&audit.action)
            .bind(Json(&audit.detail))
            .bind(at)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn admin_key_in(
            conn: &mut Conn<Self>,
            id: AdminKeyId,
        ) -> Result<Option<AdminKey>, StoreError> {
            let sql = format!("SELECT {} FROM admin_keys WHERE id = $1", KEY_COLUMNS);
            let row: Option<AdminKeyRow> = sqlx::query_as(&sql)
                .bind(id.get())
                .fetch_optional(&mut *conn)
                .await?;
            row.map(TryInto::try_into).transpose()
        }
    }
}

shared_sql! {
    impl AdminStore for B {
        async fn create_admin_key(
            &self,
            key: &NewAdminKey,
            audit: &NewAudit,
        ) -> Result<AdminKey, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            if let Some(p) = key.publisher {
                let found: Option<i64> =
                    sqlx::query_scalar("SELECT id FROM publishers WHERE id = $1")
                        .bind(p.get())
                        .fetch_optional(&mut *tx)
                        .await?;
                if found.is_none() {
                    return Err(StoreError::NotFound(format!("publisher {p}")));
                }
            }
            let sql = format!(
                "INSERT INTO admin_keys (hash, publisher_id, label, created_at) VALUES ($1, $2, $3, $4) RETURNING {}",
                KEY_COLUMNS
            );
            let row: AdminKeyRow = sqlx::query_as(&sql)
                .bind(&key.hash)
                .bind(key.publisher.map(|p| p.get()))
                .bind(&key.label)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
            let created: AdminKey = row.try_into()?;
            let audit = NewAudit {
                detail: with_field(&audit.detail, "keyId", created.id.get().into()),
                ..audit.clone()
            };
            Self::insert_audit(&mut *tx, &audit, now).await?;
            tx.commit().await?;
            Ok(created)
        }

        async fn admin_keys(
            &self,
            publisher: Option<PublisherId>,
        ) -> Result<Vec<AdminKey>, StoreError> {
            let columns = KEY_COLUMNS;
            let rows: Vec<AdminKeyRow> = match publisher {
                Some(p) => {
                    let sql = format!(
                        "SELECT {columns} FROM admin_keys WHERE publisher_id = $1 ORDER BY id"
                    );
                    sqlx::query_as(&sql)
                        .bind(p.get())
                        .fetch_all(self.pool())
                        .await?
                }
                None => {
                    let sql = format!("SELECT {columns} FROM admin_keys ORDER BY id");
                    sqlx::query_as(&sql).fetch_all(self.pool()).await?
                }
            };
            rows_into(rows)
        }

        async fn admin_key_by_hash(&self, hash: &str) -> Result<Option<AdminKey>, StoreError> {
            let sql = format!("SELECT {} FROM admin_keys WHERE hash = $1", KEY_COLUMNS);
            let row: Option<AdminKeyRow> = sqlx::query_as(&sql)
                .bind(hash)
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn revoke_admin_key(
            &self,
            id: AdminKeyId,
            audit: &NewAudit,
        ) -> Result<Option<AdminKey>, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let Some(key) = Self::admin_key_in(&mut *tx, id).await? else {
                return Ok(None);
            };
            let revoked = sqlx::query(
                "UPDATE admin_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL",
            )
            .bind(id.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            if B::rows_affected(&revoked) == 1 {
                sqlx::query("DELETE FROM admin_sessions WHERE key_id = $1")
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                let audit = NewAudit {
                    publisher: key.publisher,
                    ..audit.clone()
                };
                Self::insert_audit(&mut *tx, &audit, now).await?;
            }
            let key = Self::admin_key_in(&mut *tx, id).await?;
            tx.commit().await?;
            Ok(key)
        }

        async fn admin_create_publisher(
            &self,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
            offers: &[OfferId],
            audit: &NewAudit,
        ) -> Result<Publisher, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let created =
                Self::create_publisher_in(&mut *tx, id, name, settings, offers, now).await?;
            Self::insert_audit(&mut *tx, audit, now).await?;
            tx.commit().await?;
            Ok(created)
        }

        async fn admin_update_publisher(
            &self,
            id: PublisherId,
            name: &str,
            settings: &PublisherSettings,
            audit: &NewAudit,
        ) -> Result<Publisher, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let updated = Self::update_publisher_in(&mut *tx, id, name, settings, now).await?;
            Self::insert_audit(&mut *tx, audit, now).await?;
            tx.commit().await?;
            Ok(updated)
        }

        async fn admin_publish_consent(
            &self,
            owner: ConsentOwner,
            draft: &ConsentDraft,
            audit: &NewAudit,
        ) -> Result<Published, StoreError> {
            let mut tx = self.begin_locked().await?;
            let published = Self::publish_in(&mut *tx, owner, draft).await?;
            if let Published::New(version) = published {
                let event = consent_event("consent.published", owner, &draft.name, Some(version.get()), Actor::of_audit(audit));
                Self::emit(&mut *tx, event, Utc::now()).await?;
                let audit = NewAudit {
                    detail: with_field(&audit.detail, "version", version.get().into()),
                    ..audit.clone()
                };
                Self::insert_audit(&mut *tx, &audit, Utc::now()).await?;
            }
            tx.commit().await?;
            if let Published::New(_) = published {
                written(self.new_events(), "consent.published");
            }
            Ok(published)
        }

        async fn admin_archive_consent(
            &self,
            owner: ConsentOwner,
            name: &ConsentName,
            audit: &NewAudit,
        ) -> Result<bool, StoreError> {
            let mut tx = self.begin_locked().await?;
            // Archiving an archived consent answers the same and records nothing.
            let live: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM consent_versions WHERE owner = $1 AND name = $2 AND NOT archived",
            )
            .bind(owner.get())
            .bind(name.as_str())
            .fetch_one(&mut *tx)
            .await?;
            let archived = Self::archive_in(&mut *tx, owner, name).await?;
            if archived && live > 0 {
                let event = consent_event("consent.archived", owner, name, None, Actor::of_audit(audit));
                Self::emit(&mut *tx, event, Utc::now()).await?;
                Self::insert_audit(&mut *tx, audit, Utc::now()).await?;
            }
            tx.commit().await?;
            if archived && live > 0 {
                written(self.new_events(), "consent.archived");
            }
            Ok(archived)
        }

        async fn customer_page(
            &self,
            publisher: PublisherId,
            filter: &CustomerFilter,
            after: Option<&CustomerCursor>,
            limit: u32,
        ) -> Result<Vec<Customer>, StoreError> {
            let (sql, binds) = customer_page_sql(publisher, filter, after, limit, B::BYTE_ORDER);
            let mut query = sqlx::query_as::<_, CustomerRow>(&sql);
            for value in binds {
                query = match value {
                    Bind::Int(v) => query.bind(v),
                    Bind::Text(v) => query.bind(v),
                    Bind::Time(v) => query.bind(v),
                };
            }
            let rows = query.fetch_all(self.pool()).await?;
            rows_into(rows)
        }

        async fn consent_history(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Vec<ConsentHistoryRecord>, StoreError> {
            let rows: Vec<HistoryRow> = sqlx::query_as(
                "SELECT h.id, h.owner, h.name, h.version, h.state, h.ip, h.user_agent, h.at FROM customer_consents h \
                 JOIN customers u ON u.id = h.customer_id AND u.publisher_id = $2 \
                 WHERE h.customer_id = $1 ORDER BY h.id",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .fetch_all(self.pool())
            .await?;
            rows_into(rows)
        }

        async fn erase_customer(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            audit: &NewAudit,
        ) -> Result<bool, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            let Some(email_key) = Self::lock_customer(&mut *tx, publisher, customer).await? else {
                return Ok(false);
            };
            // The tombstone keeps its id (never reused) and when it registered, nothing personal.
            sqlx::query(
                "UPDATE customers SET email = NULL, email_key = NULL, password_hash = NULL, \
                 first_name = NULL, last_name = NULL, locale = NULL, country = NULL, currency = NULL, \
                 external_id = NULL, external_data = NULL, registration_ip = NULL, last_ip = NULL, \
                 last_login_at = NULL, email_verified = FALSE, capture = NULL, erased_at = $3, \
                 session_epoch = session_epoch + 1 \
                 WHERE id = $1 AND publisher_id = $2",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .bind(now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "UPDATE customer_consents SET ip = NULL, user_agent = NULL WHERE customer_id = $1",
            )
            .bind(customer.get())
            .execute(&mut *tx)
            .await?;
            for table in [
                "refresh_tokens",
                "password_resets",
                "email_confirmations",
                "outbox",
            ] {
                sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1"))
                    .bind(customer.get())
                    .execute(&mut *tx)
                    .await?;
            }
            sqlx::query(
                "DELETE FROM idempotency_keys WHERE publisher_id = $1 AND customer_id = $2",
            )
            .bind(publisher.get())
            .bind(customer.get())
            .execute(&mut *tx)
            .await?;
            if let Some(key) = &email_key {
                // Verification codes are kept by address.
                sqlx::query("DELETE FROM email_codes WHERE publisher_id = $1 AND email_key = $2")
                    .bind(publisher.get())
                    .bind(key)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(key) = email_key {
                // Failed-login counters are kept by a hash of the email key (see login).
                sqlx::query("DELETE FROM login_failures WHERE publisher_id = $1 AND key_hash = $2")
                    .bind(publisher.get())
                    .bind(hex::encode(sha2::Sha256::digest(key.as_bytes())))
                    .execute(&mut *tx)
                    .await?;
            }
            Self::scrub_events(&mut *tx, customer).await?;
            let event = NewEvent {
                kind: "customer.erased",
                publisher: Some(publisher),
                customer: Some(customer),
                actor: Actor::of_audit(audit),
                data: serde_json::json!({}),
            };
            Self::emit(&mut *tx, event, now).await?;
            Self::insert_audit(&mut *tx, audit, now).await?;
            tx.commit().await?;
            written(self.new_events(), "customer.erased");
            Ok(true)
        }

        async fn record_audit(&self, audit: &NewAudit) -> Result<(), StoreError> {
            let mut conn = self.pool().acquire().await?;
            Self::insert_audit(&mut *conn, audit, Utc::now()).await
        }

        async fn audit_page(
            &self,
            publisher: Option<PublisherId>,
            before: Option<AuditCursor>,
            limit: u32,
        ) -> Result<Vec<AuditEntry>, StoreError> {
            let mut sql = format!("SELECT {} FROM admin_audit WHERE 1 = 1", AUDIT_COLUMNS);
            let mut n = 0;
            if publisher.is_some() {
                n += 1;
                sql.push_str(&format!(" AND publisher_id = ${n}"));
            }
            if before.is_some() {
                n += 1;
                sql.push_str(&format!(" AND id < ${n}"));
            }
            sql.push_str(&format!(" ORDER BY id DESC LIMIT {limit}"));
            let mut query = sqlx::query_as::<_, AuditRow>(&sql);
            if let Some(p) = publisher {
                query = query.bind(p.get());
            }
            if let Some(c) = before {
                query = query.bind(c.0);
            }
            let rows = query.fetch_all(self.pool()).await?;
            rows_into(rows)
        }

        async fn create_admin_session(&self, session: &NewAdminSession) -> Result<(), StoreError> {
            let mut tx = self.begin_write().await?;
            match (session.key_id, &session.operator_key_hash) {
                (Some(id), None) => {
                    if Self::admin_key_in(&mut *tx, id).await?.is_none() {
                        return Err(StoreError::NotFound(format!("admin key {id}")));
                    }
                }
                (None, Some(_)) => {}
                _ => {
                    return Err(StoreError::Invalid(
                        "a session belongs to a stored key or to the operator key".into(),
                    ));
                }
            }
            sqlx::query(
                "INSERT INTO admin_sessions (hash, key_id, operator_key_hash, csrf_hash, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&session.hash)
            .bind(session.key_id.map(AdminKeyId::get))
            .bind(&session.operator_key_hash)
            .bind(&session.csrf_hash)
            .bind(Utc::now())
            .bind(session.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        async fn admin_session(&self, hash: &str) -> Result<Option<AdminSession>, StoreError> {
            let row: Option<SessionRow> = sqlx::query_as(
                "SELECT k.id AS key_id, k.publisher_id, k.label, k.created_at AS key_created_at, k.revoked_at, \
                 s.operator_key_hash, s.csrf_hash, s.created_at AS session_created_at, s.expires_at \
                 FROM admin_sessions s LEFT JOIN admin_keys k ON k.id = s.key_id \
                 WHERE s.hash = $1 AND s.expires_at > $2",
            )
            .bind(hash)
            .bind(Utc::now())
            .fetch_optional(self.pool())
            .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn delete_admin_session(&self, hash: &str) -> Result<bool, StoreError> {
            let done = sqlx::query("DELETE FROM admin_sessions WHERE hash = $1")
                .bind(hash)
                .execute(self.pool())
                .await?;
            Ok(B::rows_affected(&done) > 0)
        }

        async fn consent_answers_of(
            &self,
            publisher: PublisherId,
            customers: &[CustomerId],
        ) -> Result<Vec<(CustomerId, ConsentRecord)>, StoreError> {
            if customers.is_empty() {
                return Ok(Vec::new());
            }
            let list: Vec<String> = (0..customers.len())
                .map(|i| format!("${}", i + 2))
                .collect();
            let sql = format!(
                "SELECT c.customer_id, c.owner, c.name, c.version, c.state, c.at FROM customer_consents c \
                 JOIN customers u ON u.id = c.customer_id AND u.publisher_id = $1 \
                 WHERE c.customer_id IN ({}) AND c.id = (SELECT MAX(m.id) FROM customer_consents m \
                   WHERE m.customer_id = c.customer_id AND m.owner = c.owner AND m.name = c.name)",
                list.join(", ")
            );
            let mut query = sqlx::query_as::<_, CustomerConsentRow>(&sql).bind(publisher.get());
            for c in customers {
                query = query.bind(c.get());
            }
            query
                .fetch_all(self.pool())
                .await?
                .into_iter()
                .map(|r| {
                    Ok((
                        CustomerId::from_i64(r.customer_id).map_err(StoreError::Corrupt)?,
                        r.record.try_into()?,
                    ))
                })
                .collect()
        }

        async fn registrations_per_day(
            &self,
            publisher: PublisherId,
            since: DateTime<Utc>,
        ) -> Result<Vec<(NaiveDate, i64)>, StoreError> {
            let sql = format!(
                "SELECT {day} AS day, COUNT(*) AS n FROM customers \
                 WHERE publisher_id = $1 AND created_at >= $2 AND erased_at IS NULL GROUP BY {day} ORDER BY day",
                day = B::UTC_DAY
            );
            let rows: Vec<(String, i64)> = sqlx::query_as(&sql)
                .bind(publisher.get())
                .bind(since)
                .fetch_all(self.pool())
                .await?;
            rows.into_iter()
                .map(|(day, n)| {
                    NaiveDate::parse_from_str(&day, "%Y-%m-%d")
                        .map(|d| (d, n))
                        .map_err(|e| StoreError::Corrupt(format!("registration day {day:?}: {e}")))
                })
                .collect()
        }

        async fn purge_admin_sessions(&self) -> Result<u64, StoreError> {
            let done = sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
                .bind(Utc::now())
                .execute(self.pool())
                .await?;
            Ok(B::rows_affected(&done))
        }
    }
}
