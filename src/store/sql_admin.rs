//! The admin SQL both backends share (see `sql.rs` for the pattern): keys, audited changes,
//! the keyset customer list, erasure, the audit trail and dashboard sessions.

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::sql_customers::CUSTOMER_COLUMNS;
use super::{
    AdminKey, AdminSession, AuditEntry, ConsentHistoryRecord, CustomerCursor, CustomerFilter,
    StoreError,
};
use crate::domain::{ConsentName, ConsentOwner, ConsentState, PublisherId};

pub(super) const KEY_COLUMNS: &str = "id, publisher_id, label, created_at, revoked_at";
pub(super) const AUDIT_COLUMNS: &str = "id, key_id, actor, publisher_id, action, detail, at";

/// Above every character: `prefix + TOP` bounds the range of texts starting with `prefix`.
const TOP: char = '\u{10FFFF}';

#[derive(sqlx::FromRow)]
pub(super) struct AdminKeyRow {
    id: i64,
    publisher_id: Option<i64>,
    label: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl TryFrom<AdminKeyRow> for AdminKey {
    type Error = StoreError;
    fn try_from(r: AdminKeyRow) -> Result<Self, StoreError> {
        Ok(AdminKey {
            id: r.id,
            publisher: r
                .publisher_id
                .map(PublisherId::from_i64)
                .transpose()
                .map_err(StoreError::Corrupt)?,
            label: r.label,
            created_at: r.created_at,
            revoked_at: r.revoked_at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct AuditRow {
    id: i64,
    key_id: Option<i64>,
    actor: String,
    publisher_id: Option<i64>,
    action: String,
    detail: Json<Value>,
    at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEntry {
    type Error = StoreError;
    fn try_from(r: AuditRow) -> Result<Self, StoreError> {
        Ok(AuditEntry {
            id: r.id,
            key_id: r.key_id,
            actor: r.actor,
            publisher: r
                .publisher_id
                .map(PublisherId::from_i64)
                .transpose()
                .map_err(StoreError::Corrupt)?,
            action: r.action,
            detail: r.detail.0,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct HistoryRow {
    id: i64,
    owner: i64,
    name: String,
    version: i32,
    state: String,
    ip: Option<String>,
    user_agent: Option<String>,
    at: DateTime<Utc>,
}

impl TryFrom<HistoryRow> for ConsentHistoryRecord {
    type Error = StoreError;
    fn try_from(r: HistoryRow) -> Result<Self, StoreError> {
        Ok(ConsentHistoryRecord {
            id: r.id,
            owner: ConsentOwner::from_i64(r.owner).map_err(StoreError::Corrupt)?,
            name: ConsentName::parse(&r.name).map_err(StoreError::Corrupt)?,
            version: r.version,
            state: ConsentState::parse(&r.state).map_err(StoreError::Corrupt)?,
            ip: r.ip,
            user_agent: r.user_agent,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    #[sqlx(flatten)]
    key: AdminKeyRow,
    csrf_hash: String,
    session_created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for AdminSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        Ok(AdminSession {
            key: r.key.try_into()?,
            csrf_hash: r.csrf_hash,
            created_at: r.session_created_at,
            expires_at: r.expires_at,
        })
    }
}

/// A value bound to a query built at run time.
pub(super) enum Bind {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

fn param(binds: &mut Vec<Bind>, value: Bind) -> String {
    binds.push(value);
    format!("${}", binds.len())
}

/// `detail` with one more field (when it is an object).
pub(super) fn with_field(detail: &Value, key: &str, value: Value) -> Value {
    let mut detail = detail.clone();
    if let Value::Object(map) = &mut detail {
        map.insert(key.to_owned(), value);
    }
    detail
}

/// The SQL of one customer page and its parameters. `byte_order` is the collation clause that
/// makes text compare byte-wise (`COLLATE "C"` on Postgres; SQLite compares bytes already), so
/// a prefix is an index range. Outer columns stay unqualified: SQLite matches expression
/// indexes (`lower(first_name)`) as written.
pub(super) fn customer_page_sql(
    publisher: PublisherId,
    filter: &CustomerFilter,
    after: Option<&CustomerCursor>,
    limit: u32,
    byte_order: &str,
) -> (String, Vec<Bind>) {
    let mut binds = vec![Bind::Int(publisher.get())];
    let mut sql = format!(
        "SELECT {CUSTOMER_COLUMNS} FROM customers c WHERE publisher_id = $1 AND erased_at IS NULL"
    );
    if let Some(s) = &filter.search {
        let email_lo = param(&mut binds, Bind::Text(s.email_prefix.clone()));
        let email_hi = param(&mut binds, Bind::Text(format!("{}{TOP}", s.email_prefix)));
        let name_lo = param(&mut binds, Bind::Text(s.name_prefix.clone()));
        let name_hi = param(&mut binds, Bind::Text(format!("{}{TOP}", s.name_prefix)));
        let external = param(&mut binds, Bind::Text(s.external_id.clone()));
        let range = |column: &str, lo: &str, hi: &str| {
            format!("({column}{byte_order} >= {lo} AND {column}{byte_order} < {hi})")
        };
        sql.push_str(&format!(
            " AND ({} OR {} OR {} OR external_id = {external})",
            range("email_key", &email_lo, &email_hi),
            range("lower(first_name)", &name_lo, &name_hi),
            range("lower(last_name)", &name_lo, &name_hi),
        ));
    }
    if let Some(country) = &filter.country {
        let p = param(&mut binds, Bind::Text(country.as_str().to_owned()));
        sql.push_str(&format!(" AND country = {p}"));
    }
    if let Some(from) = filter.registered_from {
        let p = param(&mut binds, Bind::Time(from));
        sql.push_str(&format!(" AND created_at >= {p}"));
    }
    if let Some(before) = filter.registered_before {
        let p = param(&mut binds, Bind::Time(before));
        sql.push_str(&format!(" AND created_at < {p}"));
    }
    if let Some((name, state)) = &filter.consent {
        let p = param(&mut binds, Bind::Text(name.as_str().to_owned()));
        // The current answer is the newest history row; never answered counts as declined.
        let accepted = format!(
            "EXISTS (SELECT 1 FROM customer_consents a WHERE a.customer_id = c.id \
             AND a.owner IN (0, $1) AND a.name = {p} AND a.state = 'accepted' \
             AND a.id = (SELECT MAX(b.id) FROM customer_consents b \
               WHERE b.customer_id = a.customer_id AND b.owner = a.owner AND b.name = a.name))"
        );
        match state {
            ConsentState::Accepted => sql.push_str(&format!(" AND {accepted}")),
            ConsentState::Declined => sql.push_str(&format!(" AND NOT {accepted}")),
        }
    }
    if let Some(wanted) = filter.needs_update {
        // Some current consent (newest version, not archived) whose newest version the
        // customer's current answer is older than, or that was never answered.
        let pending = "EXISTS (SELECT 1 FROM consent_versions v WHERE v.owner IN (0, $1) AND NOT v.archived \
             AND v.version = (SELECT MAX(m.version) FROM consent_versions m WHERE m.owner = v.owner AND m.name = v.name) \
             AND NOT EXISTS (SELECT 1 FROM customer_consents a WHERE a.customer_id = c.id \
               AND a.owner = v.owner AND a.name = v.name AND a.version >= v.version \
               AND a.id = (SELECT MAX(b.id) FROM customer_consents b \
                 WHERE b.customer_id = a.customer_id AND b.owner = a.owner AND b.name = a.name)))";
        if wanted {
            sql.push_str(&format!(" AND {pending}"));
        } else {
            sql.push_str(&format!(" AND NOT {pending}"));
        }
    }
    if let Some(cursor) = after {
        // Written out (not a row comparison) so both planners see a plain index bound.
        let at = param(&mut binds, Bind::Time(cursor.created_at));
        let id = param(&mut binds, Bind::Int(cursor.id.get()));
        sql.push_str(&format!(
            " AND created_at <= {at} AND (created_at < {at} OR id < {id})"
        ));
    }
    sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {limit}"));
    (sql, binds)
}

/// Writes `impl AdminStore for $store`; needs what `impl_store!` and `impl_customer_store!`
/// need, and uses their helpers (`publish_in`, `archive_in`, `insert_offer`). `$byte_order`
/// makes text compare byte-wise (see [`customer_page_sql`]).
macro_rules! impl_admin_store {
    ($store:ty, $db:ty, $byte_order:expr) => {
        impl $store {
            async fn insert_audit(
                conn: &mut <$db as sqlx::Database>::Connection,
                audit: &$crate::store::NewAudit,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query(
                    "INSERT INTO admin_audit (key_id, actor, publisher_id, action, detail, at) \
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(audit.key_id)
                .bind(&audit.actor)
                .bind(audit.publisher.map(|p| p.get()))
                .bind(&audit.action)
                .bind(sqlx::types::Json(&audit.detail))
                .bind(at)
                .execute(&mut *conn)
                .await?;
                Ok(())
            }

            async fn admin_key_in(
                conn: &mut <$db as sqlx::Database>::Connection,
                id: i64,
            ) -> Result<Option<$crate::store::AdminKey>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM admin_keys WHERE id = $1", $crate::store::sql_admin::KEY_COLUMNS);
                let row: Option<$crate::store::sql_admin::AdminKeyRow> =
                    sqlx::query_as(&sql).bind(id).fetch_optional(&mut *conn).await?;
                row.map(TryInto::try_into).transpose()
            }
        }

        #[async_trait::async_trait]
        impl $crate::store::AdminStore for $store {
            async fn create_admin_key(
                &self,
                key: &$crate::store::NewAdminKey,
                audit: &$crate::store::NewAudit,
            ) -> Result<$crate::store::AdminKey, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                if let Some(p) = key.publisher {
                    let found: Option<i64> = sqlx::query_scalar("SELECT id FROM publishers WHERE id = $1")
                        .bind(p.get())
                        .fetch_optional(&mut *tx)
                        .await?;
                    if found.is_none() {
                        return Err(StoreError::NotFound(format!("publisher {p}")));
                    }
                }
                let sql = format!(
                    "INSERT INTO admin_keys (hash, publisher_id, label, created_at) VALUES ($1, $2, $3, $4) RETURNING {}",
                    $crate::store::sql_admin::KEY_COLUMNS
                );
                let row: $crate::store::sql_admin::AdminKeyRow = sqlx::query_as(&sql)
                    .bind(&key.hash)
                    .bind(key.publisher.map(|p| p.get()))
                    .bind(&key.label)
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await?;
                let created: $crate::store::AdminKey = row.try_into()?;
                let audit = $crate::store::NewAudit {
                    detail: $crate::store::sql_admin::with_field(&audit.detail, "keyId", created.id.into()),
                    ..audit.clone()
                };
                Self::insert_audit(&mut *tx, &audit, now).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn admin_keys(
                &self,
                publisher: Option<$crate::domain::PublisherId>,
            ) -> Result<Vec<$crate::store::AdminKey>, $crate::store::StoreError> {
                let columns = $crate::store::sql_admin::KEY_COLUMNS;
                let rows: Vec<$crate::store::sql_admin::AdminKeyRow> = match publisher {
                    Some(p) => {
                        let sql = format!("SELECT {columns} FROM admin_keys WHERE publisher_id = $1 ORDER BY id");
                        sqlx::query_as(&sql).bind(p.get()).fetch_all(&self.pool).await?
                    }
                    None => {
                        let sql = format!("SELECT {columns} FROM admin_keys ORDER BY id");
                        sqlx::query_as(&sql).fetch_all(&self.pool).await?
                    }
                };
                $crate::store::sql::rows_into(rows)
            }

            async fn admin_key_by_hash(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::store::AdminKey>, $crate::store::StoreError> {
                let sql = format!("SELECT {} FROM admin_keys WHERE hash = $1", $crate::store::sql_admin::KEY_COLUMNS);
                let row: Option<$crate::store::sql_admin::AdminKeyRow> =
                    sqlx::query_as(&sql).bind(hash).fetch_optional(&self.pool).await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn revoke_admin_key(
                &self,
                id: i64,
                audit: &$crate::store::NewAudit,
            ) -> Result<Option<$crate::store::AdminKey>, $crate::store::StoreError> {
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                let Some(key) = Self::admin_key_in(&mut *tx, id).await? else { return Ok(None) };
                let revoked = sqlx::query("UPDATE admin_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                if revoked.rows_affected() == 1 {
                    sqlx::query("DELETE FROM admin_sessions WHERE key_id = $1").bind(id).execute(&mut *tx).await?;
                    let audit = $crate::store::NewAudit { publisher: key.publisher, ..audit.clone() };
                    Self::insert_audit(&mut *tx, &audit, now).await?;
                }
                let key = Self::admin_key_in(&mut *tx, id).await?;
                tx.commit().await?;
                Ok(key)
            }

            async fn admin_create_publisher(
                &self,
                id: $crate::domain::PublisherId,
                name: &str,
                settings: &$crate::domain::PublisherSettings,
                offers: &[$crate::domain::OfferId],
                audit: &$crate::store::NewAudit,
            ) -> Result<$crate::store::Publisher, $crate::store::StoreError> {
                use $crate::store::StoreError;
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "INSERT INTO publishers (id, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING {}",
                    $crate::store::sql::PUBLISHER_COLUMNS
                );
                let row: $crate::store::sql::PublisherRow = sqlx::query_as(&sql)
                    .bind(id.get())
                    .bind(name)
                    .bind(sqlx::types::Json(settings))
                    .bind(now)
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(|e| match StoreError::from(e) {
                        StoreError::AlreadyExists(_) => StoreError::AlreadyExists(format!("publisher {id}")),
                        other => other,
                    })?;
                for offer in offers {
                    Self::insert_offer(&mut *tx, id, offer).await?;
                }
                Self::insert_audit(&mut *tx, audit, now).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn admin_update_publisher(
                &self,
                id: $crate::domain::PublisherId,
                name: &str,
                settings: &$crate::domain::PublisherSettings,
                audit: &$crate::store::NewAudit,
            ) -> Result<$crate::store::Publisher, $crate::store::StoreError> {
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "UPDATE publishers SET name = $2, settings = $3, updated_at = $4 WHERE id = $1 RETURNING {}",
                    $crate::store::sql::PUBLISHER_COLUMNS
                );
                let row: Option<$crate::store::sql::PublisherRow> = sqlx::query_as(&sql)
                    .bind(id.get())
                    .bind(name)
                    .bind(sqlx::types::Json(settings))
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(row) = row else {
                    return Err($crate::store::StoreError::NotFound(format!("publisher {id}")));
                };
                Self::insert_audit(&mut *tx, audit, now).await?;
                tx.commit().await?;
                row.try_into()
            }

            async fn admin_publish_consent(
                &self,
                owner: $crate::domain::ConsentOwner,
                draft: &$crate::domain::ConsentDraft,
                audit: &$crate::store::NewAudit,
            ) -> Result<$crate::store::Published, $crate::store::StoreError> {
                let mut tx = self.begin_locked().await?;
                let published = Self::publish_in(&mut *tx, owner, draft).await?;
                if let $crate::store::Published::New(version) = published {
                    let audit = $crate::store::NewAudit {
                        detail: $crate::store::sql_admin::with_field(&audit.detail, "version", version.into()),
                        ..audit.clone()
                    };
                    Self::insert_audit(&mut *tx, &audit, chrono::Utc::now()).await?;
                }
                tx.commit().await?;
                Ok(published)
            }

            async fn admin_archive_consent(
                &self,
                owner: $crate::domain::ConsentOwner,
                name: &$crate::domain::ConsentName,
                audit: &$crate::store::NewAudit,
            ) -> Result<bool, $crate::store::StoreError> {
                let mut tx = self.begin_locked().await?;
                let archived = Self::archive_in(&mut *tx, owner, name).await?;
                if archived {
                    Self::insert_audit(&mut *tx, audit, chrono::Utc::now()).await?;
                }
                tx.commit().await?;
                Ok(archived)
            }

            async fn customer_page(
                &self,
                publisher: $crate::domain::PublisherId,
                filter: &$crate::store::CustomerFilter,
                after: Option<&$crate::store::CustomerCursor>,
                limit: u32,
            ) -> Result<Vec<$crate::store::Customer>, $crate::store::StoreError> {
                use $crate::store::sql_admin::Bind;
                let (sql, binds) = $crate::store::sql_admin::customer_page_sql(publisher, filter, after, limit, $byte_order);
                let mut query = sqlx::query_as::<_, $crate::store::sql_customers::CustomerRow>(&sql);
                for value in binds {
                    query = match value {
                        Bind::Int(v) => query.bind(v),
                        Bind::Text(v) => query.bind(v),
                        Bind::Time(v) => query.bind(v),
                    };
                }
                let rows = query.fetch_all(&self.pool).await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn consent_history(
                &self,
                publisher: $crate::domain::PublisherId,
                customer: $crate::domain::CustomerId,
            ) -> Result<Vec<$crate::store::ConsentHistoryRecord>, $crate::store::StoreError> {
                let rows: Vec<$crate::store::sql_admin::HistoryRow> = sqlx::query_as(
                    "SELECT h.id, h.owner, h.name, h.version, h.state, h.ip, h.user_agent, h.at FROM customer_consents h \
                     JOIN customers u ON u.id = h.customer_id AND u.publisher_id = $2 \
                     WHERE h.customer_id = $1 ORDER BY h.id",
                )
                .bind(customer.get())
                .bind(publisher.get())
                .fetch_all(&self.pool)
                .await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn erase_customer(
                &self,
                publisher: $crate::domain::PublisherId,
                customer: $crate::domain::CustomerId,
                audit: &$crate::store::NewAudit,
            ) -> Result<bool, $crate::store::StoreError> {
                use sha2::Digest;
                let now = chrono::Utc::now();
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "SELECT email_key FROM customers WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL{}",
                    Self::FOR_UPDATE
                );
                let found: Option<Option<String>> = sqlx::query_scalar(&sql)
                    .bind(customer.get())
                    .bind(publisher.get())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some(email_key) = found else { return Ok(false) };
                // The tombstone keeps its id (never reused) and when it registered, nothing personal.
                // TODO(merge): null capture (the column migration 0004 adds) in this UPDATE too.
                sqlx::query(
                    "UPDATE customers SET email = NULL, email_key = NULL, password_hash = NULL, \
                     first_name = NULL, last_name = NULL, locale = NULL, country = NULL, currency = NULL, \
                     external_id = NULL, external_data = NULL, registration_ip = NULL, last_ip = NULL, \
                     last_login_at = NULL, email_verified = FALSE, erased_at = $3 \
                     WHERE id = $1 AND publisher_id = $2",
                )
                .bind(customer.get())
                .bind(publisher.get())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query("UPDATE customer_consents SET ip = NULL, user_agent = NULL WHERE customer_id = $1")
                    .bind(customer.get())
                    .execute(&mut *tx)
                    .await?;
                for table in ["refresh_tokens", "password_resets", "outbox"] {
                    sqlx::query(&format!("DELETE FROM {table} WHERE customer_id = $1"))
                        .bind(customer.get())
                        .execute(&mut *tx)
                        .await?;
                }
                sqlx::query("DELETE FROM idempotency_keys WHERE publisher_id = $1 AND customer_id = $2")
                    .bind(publisher.get())
                    .bind(customer.get())
                    .execute(&mut *tx)
                    .await?;
                if let Some(key) = email_key {
                    // Failed-login counters are kept by a hash of the email key (see login).
                    sqlx::query("DELETE FROM login_failures WHERE publisher_id = $1 AND key_hash = $2")
                        .bind(publisher.get())
                        .bind(hex::encode(sha2::Sha256::digest(key.as_bytes())))
                        .execute(&mut *tx)
                        .await?;
                }
                Self::insert_audit(&mut *tx, audit, now).await?;
                tx.commit().await?;
                Ok(true)
            }

            async fn record_audit(&self, audit: &$crate::store::NewAudit) -> Result<(), $crate::store::StoreError> {
                let mut conn = self.pool.acquire().await?;
                Self::insert_audit(&mut *conn, audit, chrono::Utc::now()).await
            }

            async fn audit_page(
                &self,
                publisher: Option<$crate::domain::PublisherId>,
                before: Option<$crate::store::AuditCursor>,
                limit: u32,
            ) -> Result<Vec<$crate::store::AuditEntry>, $crate::store::StoreError> {
                let mut sql = format!("SELECT {} FROM admin_audit WHERE 1 = 1", $crate::store::sql_admin::AUDIT_COLUMNS);
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
                let mut query = sqlx::query_as::<_, $crate::store::sql_admin::AuditRow>(&sql);
                if let Some(p) = publisher {
                    query = query.bind(p.get());
                }
                if let Some(c) = before {
                    query = query.bind(c.0);
                }
                let rows = query.fetch_all(&self.pool).await?;
                $crate::store::sql::rows_into(rows)
            }

            async fn create_admin_session(
                &self,
                session: &$crate::store::NewAdminSession,
            ) -> Result<(), $crate::store::StoreError> {
                let mut tx = self.begin_write().await?;
                if Self::admin_key_in(&mut *tx, session.key_id).await?.is_none() {
                    return Err($crate::store::StoreError::NotFound(format!("admin key {}", session.key_id)));
                }
                sqlx::query(
                    "INSERT INTO admin_sessions (hash, key_id, csrf_hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(&session.hash)
                .bind(session.key_id)
                .bind(&session.csrf_hash)
                .bind(chrono::Utc::now())
                .bind(session.expires_at)
                .execute(&mut *tx)
                .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn admin_session(
                &self,
                hash: &str,
            ) -> Result<Option<$crate::store::AdminSession>, $crate::store::StoreError> {
                let row: Option<$crate::store::sql_admin::SessionRow> = sqlx::query_as(
                    "SELECT k.id, k.publisher_id, k.label, k.created_at, k.revoked_at, s.csrf_hash, \
                     s.created_at AS session_created_at, s.expires_at \
                     FROM admin_sessions s JOIN admin_keys k ON k.id = s.key_id \
                     WHERE s.hash = $1 AND s.expires_at > $2",
                )
                .bind(hash)
                .bind(chrono::Utc::now())
                .fetch_optional(&self.pool)
                .await?;
                row.map(TryInto::try_into).transpose()
            }

            async fn delete_admin_session(&self, hash: &str) -> Result<bool, $crate::store::StoreError> {
                let done = sqlx::query("DELETE FROM admin_sessions WHERE hash = $1").bind(hash).execute(&self.pool).await?;
                Ok(done.rows_affected() > 0)
            }

            async fn purge_admin_sessions(&self) -> Result<u64, $crate::store::StoreError> {
                let done = sqlx::query("DELETE FROM admin_sessions WHERE expires_at <= $1")
                    .bind(chrono::Utc::now())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected())
            }
        }
    };
}

pub(super) use impl_admin_store;
