//! The parts of the admin SQL that need no backend: rows and their domain types, and the
//! customer-list query built from a filter (see `sql_admin.rs`).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::types::Json;

use super::sql_customers::CUSTOMER_COLUMNS;
use super::{
    AdminKey, AdminSession, AuditEntry, ConsentHistoryRecord, CustomerCursor, CustomerFilter,
    StoreError,
};
use crate::domain::{
    AdminKeyId, ConsentName, ConsentOwner, ConsentState, ConsentVersionNumber, PublisherId,
};

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
            id: AdminKeyId::stored(r.id),
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
            key_id: r.key_id.map(AdminKeyId::stored),
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
            version: ConsentVersionNumber::new(r.version).map_err(StoreError::Corrupt)?,
            state: ConsentState::parse(&r.state).map_err(StoreError::Corrupt)?,
            ip: r
                .ip
                .map(|ip| ip.parse())
                .transpose()
                .map_err(|e| StoreError::Corrupt(format!("consent answer {}: ip: {e}", r.id)))?,
            user_agent: r.user_agent,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct SessionRow {
    key_id: Option<i64>,
    publisher_id: Option<i64>,
    label: Option<String>,
    key_created_at: Option<DateTime<Utc>>,
    revoked_at: Option<DateTime<Utc>>,
    operator_key_hash: Option<String>,
    csrf_hash: String,
    session_created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
}

impl TryFrom<SessionRow> for AdminSession {
    type Error = StoreError;
    fn try_from(r: SessionRow) -> Result<Self, StoreError> {
        let key = match (r.key_id, r.label, r.key_created_at) {
            (Some(id), Some(label), Some(created_at)) => Some(
                AdminKeyRow {
                    id,
                    publisher_id: r.publisher_id,
                    label,
                    created_at,
                    revoked_at: r.revoked_at,
                }
                .try_into()?,
            ),
            _ => None,
        };
        Ok(AdminSession {
            key,
            operator_key_hash: r.operator_key_hash,
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
        // One index range per form, joined: an OR of the four would make SQLite walk the whole
        // publisher in date order (170 ms at 100,000 customers against 8 ms).
        let range = |column: &str, lo: &str, hi: &str| {
            format!(
                "SELECT id FROM customers WHERE publisher_id = $1 \
                 AND {column}{byte_order} >= {lo} AND {column}{byte_order} < {hi}"
            )
        };
        sql.push_str(&format!(
            " AND id IN ({} UNION ALL {} UNION ALL {} UNION ALL \
             SELECT id FROM customers WHERE publisher_id = $1 AND external_id = {external})",
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
