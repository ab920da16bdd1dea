//! The own-data export's SQL both backends share. The consent history is read with `*` and
//! decoded column by column from what each column is, so it follows the schema.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::Value;
use sqlx::{Column, Row as _, TypeInfo};

use super::backend::{Codec, Db, Row, shared_sql};
use super::{OwnerDataStore, StoreError, StoredRow};
use crate::domain::{CustomerId, PublisherId};

/// RFC 3339 in UTC, with the fraction of a second that was stored.
pub(super) fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// Whether column `name` of SQL type `ty` holds a time: the schema names times `at` or
/// `…_at` (SQLite keeps them as text), or the type says so (Postgres).
fn is_time(name: &str, ty: &str) -> bool {
    name == "at" || name.ends_with("_at") || ty.to_ascii_uppercase().starts_with("TIMESTAMP")
}

/// Column `i` of `row` as JSON, from its type: boolean, integer, time, JSON, text; a value of
/// any other type is null (and logged, so a new column type is noticed).
fn column_json<B>(row: &Row<B>, i: usize) -> Value
where
    B: super::backend::Backend,
    usize: sqlx::ColumnIndex<Row<B>>,
    bool: Codec<Db<B>>,
    i32: Codec<Db<B>>,
    i64: Codec<Db<B>>,
    String: Codec<Db<B>>,
    DateTime<Utc>: Codec<Db<B>>,
    sqlx::types::Json<Value>: Codec<Db<B>>,
{
    let column = &row.columns()[i];
    let (name, ty) = (column.name(), column.type_info().name());
    let upper = ty.to_ascii_uppercase();
    if (upper == "BOOL" || upper == "BOOLEAN")
        && let Ok(v) = row.try_get::<Option<bool>, _>(i)
    {
        return v.map_or(Value::Null, Value::Bool);
    }
    if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if let Ok(v) = row.try_get::<Option<i32>, _>(i) {
        return v.map_or(Value::Null, Value::from);
    }
    if is_time(name, ty)
        && let Ok(v) = row.try_get::<Option<DateTime<Utc>>, _>(i)
    {
        return v.map_or(Value::Null, |t| Value::String(rfc3339(t)));
    }
    if upper.starts_with("JSON")
        && let Ok(v) = row.try_get::<Option<sqlx::types::Json<Value>>, _>(i)
    {
        return v.map_or(Value::Null, |j| j.0);
    }
    match row.try_get::<Option<String>, _>(i) {
        Ok(v) => v.map_or(Value::Null, Value::String),
        Err(e) => {
            tracing::warn!(column = name, sql_type = ty, error = %e, "a consent-history column of this type is exported as null");
            Value::Null
        }
    }
}

shared_sql! {
    impl OwnerDataStore for B {
        async fn consent_history_rows(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Vec<StoredRow>, StoreError> {
            let rows: Vec<Row<B>> = sqlx::query(
                "SELECT h.* FROM customer_consents h \
                 JOIN customers u ON u.id = h.customer_id AND u.publisher_id = $2 \
                 WHERE h.customer_id = $1 ORDER BY h.id",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .iter()
                .map(|row| {
                    (0..row.columns().len())
                        .filter(|i| row.columns()[*i].name() != "customer_id")
                        .map(|i| (row.columns()[i].name().to_owned(), column_json::<B>(row, i)))
                        .collect()
                })
                .collect())
        }

        async fn customer_events(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Vec<Value>, StoreError> {
            let bodies: Vec<(String,)> = sqlx::query_as(
                "SELECT body FROM events WHERE customer_id = $1 AND publisher_id = $2 \
                 ORDER BY sequence, occurred_at",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .fetch_all(self.pool())
            .await?;
            Ok(bodies
                .into_iter()
                .map(|(body,)| serde_json::from_str(&body).unwrap_or(Value::String(body)))
                .collect())
        }

        async fn live_sessions(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<i64, StoreError> {
            let now = Utc::now();
            let (n,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM refresh_tokens t \
                 JOIN customers u ON u.id = t.customer_id AND u.publisher_id = $2 \
                 WHERE t.customer_id = $1 AND t.used_at IS NULL AND t.revoked_at IS NULL \
                 AND t.expires_at > $3 AND t.family_expires_at > $3",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .bind(now)
            .fetch_one(self.pool())
            .await?;
            Ok(n)
        }
    }
}
