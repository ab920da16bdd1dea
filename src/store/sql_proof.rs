//! Proof of consent SQL for both backends: verifying hash chains, reading receipts, and
//! giving rows written before migration 0010 their hashes.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::backend::{Backend, shared_sql};
use super::proof::{BrokenLink, ChainReport, ProofStore, Receipt};
use super::sql::{CONSENT_COLUMNS, ConsentRow};
use super::{ConsentVersion, StoreError};
use crate::domain::proof::{ChainedEntry, CollectionPoint};
use crate::domain::{CustomerId, PublisherId};

/// History entries read per query while verifying or backfilling.
const PAGE: i64 = 2000;

#[derive(sqlx::FromRow)]
struct EntryRow {
    id: i64,
    customer_id: i64,
    owner: i64,
    name: String,
    version: i32,
    state: String,
    at: DateTime<Utc>,
    imported: bool,
    text_hash: Option<String>,
    collection_point: Option<String>,
    prev_hash: Option<String>,
    entry_hash: Option<String>,
}

const ENTRY_COLUMNS: &str = "c.id, c.customer_id, c.owner, c.name, c.version, c.state, c.at, c.imported, \
     c.text_hash, c.collection_point, c.prev_hash, c.entry_hash";

impl EntryRow {
    fn hash(&self, text_hash: &str, point: &str, prev: Option<&str>) -> Result<String, StoreError> {
        Ok(ChainedEntry {
            customer: CustomerId::from_i64(self.customer_id).map_err(StoreError::Corrupt)?,
            owner: self.owner,
            name: &self.name,
            version: self.version,
            state: &self.state,
            at: self.at,
            text_hash,
            collection_point: point,
            prev_hash: prev,
        }
        .hash())
    }
}

#[derive(sqlx::FromRow)]
struct ReceiptRow {
    id: String,
    customer_id: i64,
    collection_point: String,
    created_at: DateTime<Utc>,
    jws: String,
}

impl TryFrom<ReceiptRow> for Receipt {
    type Error = StoreError;
    fn try_from(r: ReceiptRow) -> Result<Self, StoreError> {
        Ok(Receipt {
            id: r.id,
            customer: CustomerId::from_i64(r.customer_id).map_err(StoreError::Corrupt)?,
            collection_point: r.collection_point,
            created_at: r.created_at,
            jws: r.jws,
        })
    }
}

fn broken(
    row: &EntryRow,
    field: &'static str,
    expected: Option<&str>,
    found: Option<&str>,
) -> BrokenLink {
    BrokenLink {
        customer: CustomerId::from_i64(row.customer_id).ok(),
        entry: Some(row.id),
        consent: None,
        field,
        expected: expected.unwrap_or("").to_owned(),
        found: found.unwrap_or("").to_owned(),
    }
}

/// How many answers a receipt states (`None` when its payload cannot be read).
fn receipt_answers(jws: &str) -> Option<i64> {
    use base64::Engine;
    let payload = jws.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let purposes = value["services"][0]["purposes"].as_array()?;
    i64::try_from(purposes.len()).ok()
}

/// Backfilling the hashes of rows written before they existed.
#[async_trait::async_trait]
pub(super) trait ProofBackfill: Backend {
    /// Gives consent versions without a text hash theirs, and chains history entries without
    /// an entry hash in id order after the customer's entries before them (collection point
    /// `import` for imported ones, else `legacy`). Run by `migrate`; does nothing once done.
    async fn backfill_proof(&self) -> Result<(), StoreError>;
}

shared_sql! {
    impl ProofBackfill for B {
        async fn backfill_proof(&self) -> Result<(), StoreError> {
            let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_versions WHERE text_hash IS NULL");
            let rows: Vec<ConsentRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
            for row in rows {
                let v = ConsentVersion::try_from(row)?;
                sqlx::query("UPDATE consent_versions SET text_hash = $4 WHERE owner = $1 AND name = $2 AND version = $3 AND text_hash IS NULL")
                    .bind(v.owner.get())
                    .bind(v.name.as_str())
                    .bind(v.version.get())
                    .bind(&v.text_hash)
                    .execute(self.pool())
                    .await?;
            }
            let mut texts: HashMap<(i64, String, i32), String> = HashMap::new();
            let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_versions");
            let rows: Vec<ConsentRow> = sqlx::query_as(&sql).fetch_all(self.pool()).await?;
            for row in rows {
                let v = ConsentVersion::try_from(row)?;
                texts.insert((v.owner.get(), v.name.as_str().to_owned(), v.version.get()), v.text_hash);
            }
            loop {
                let customers: Vec<i64> = sqlx::query_scalar(
                    "SELECT DISTINCT customer_id FROM customer_consents WHERE entry_hash IS NULL LIMIT 200",
                )
                .fetch_all(self.pool())
                .await?;
                if customers.is_empty() {
                    return Ok(());
                }
                for customer in customers {
                    let mut tx = self.begin_write().await?;
                    let lock = format!("SELECT id FROM customers WHERE id = $1{}", B::FOR_UPDATE);
                    let _: Option<i64> = sqlx::query_scalar(&lock).bind(customer).fetch_optional(&mut *tx).await?;
                    let sql = format!("SELECT {ENTRY_COLUMNS} FROM customer_consents c WHERE c.customer_id = $1 ORDER BY c.id");
                    let rows: Vec<EntryRow> = sqlx::query_as(&sql).bind(customer).fetch_all(&mut *tx).await?;
                    let mut prev: Option<String> = None;
                    for row in rows {
                        if let Some(hash) = row.entry_hash {
                            prev = Some(hash);
                            continue;
                        }
                        let text = texts.get(&(row.owner, row.name.clone(), row.version)).cloned().unwrap_or_default();
                        let point = if row.imported { CollectionPoint::Import } else { CollectionPoint::Legacy };
                        let hash = row.hash(&text, point.as_str(), prev.as_deref())?;
                        sqlx::query(
                            "UPDATE customer_consents SET text_hash = $2, collection_point = $3, prev_hash = $4, entry_hash = $5 WHERE id = $1",
                        )
                        .bind(row.id)
                        .bind(&text)
                        .bind(point.as_str())
                        .bind(prev.clone())
                        .bind(&hash)
                        .execute(&mut *tx)
                        .await?;
                        prev = Some(hash);
                    }
                    tx.commit().await?;
                }
            }
        }
    }
}

shared_sql! {
    impl ProofStore for B {
        async fn verify_consents(
            &self,
            publisher: PublisherId,
            customer: Option<CustomerId>,
        ) -> Result<ChainReport, StoreError> {
            let mut report = ChainReport::default();
            let sql = format!("SELECT {CONSENT_COLUMNS} FROM consent_versions WHERE owner IN (0, $1) ORDER BY owner, name, version");
            let rows: Vec<ConsentRow> = sqlx::query_as(&sql).bind(publisher.get()).fetch_all(self.pool()).await?;
            let mut texts: HashMap<(i64, String, i32), String> = HashMap::new();
            for row in rows {
                let v = ConsentVersion::try_from(row)?;
                let expected = v.text().hash();
                if expected != v.text_hash {
                    report.broken = Some(BrokenLink {
                        customer: None,
                        entry: None,
                        consent: Some(format!("{}/{}/{}", v.owner.get(), v.name, v.version)),
                        field: "text_hash",
                        expected,
                        found: v.text_hash,
                    });
                    return Ok(report);
                }
                texts.insert((v.owner.get(), v.name.as_str().to_owned(), v.version.get()), v.text_hash);
            }
            let sql = format!(
                "SELECT {ENTRY_COLUMNS} FROM customer_consents c JOIN customers u ON u.id = c.customer_id \
                 WHERE u.publisher_id = $1 AND ($2 = 0 OR c.customer_id = $2) \
                 AND (c.customer_id > $3 OR (c.customer_id = $3 AND c.id > $4)) \
                 ORDER BY c.customer_id, c.id LIMIT $5"
            );
            let (mut after_customer, mut after_id) = (0i64, 0i64);
            let mut prev: Option<String> = None;
            loop {
                let rows: Vec<EntryRow> = sqlx::query_as(&sql)
                    .bind(publisher.get())
                    .bind(customer.map_or(0, CustomerId::get))
                    .bind(after_customer)
                    .bind(after_id)
                    .bind(PAGE)
                    .fetch_all(self.pool())
                    .await?;
                let last_page = i64::try_from(rows.len()).unwrap_or(PAGE) < PAGE;
                for row in rows {
                    if row.customer_id != after_customer {
                        report.customers += 1;
                        prev = None;
                    }
                    (after_customer, after_id) = (row.customer_id, row.id);
                    report.entries += 1;
                    if row.prev_hash != prev {
                        report.broken = Some(broken(&row, "prev_hash", prev.as_deref(), row.prev_hash.as_deref()));
                        return Ok(report);
                    }
                    let stored_text = row.text_hash.clone().unwrap_or_default();
                    let version_text = texts.get(&(row.owner, row.name.clone(), row.version));
                    if version_text.is_some_and(|t| *t != stored_text) {
                        report.broken = Some(broken(&row, "text_hash", version_text.map(String::as_str), Some(&stored_text)));
                        return Ok(report);
                    }
                    let point = row.collection_point.clone().unwrap_or_default();
                    let expected = row.hash(&stored_text, &point, prev.as_deref())?;
                    if row.entry_hash.as_deref() != Some(expected.as_str()) {
                        report.broken = Some(broken(&row, "entry_hash", Some(&expected), row.entry_hash.as_deref()));
                        return Ok(report);
                    }
                    prev = Some(expected);
                }
                if last_page {
                    break;
                }
            }
            // Every receipt's answers must still be in the history: deleting a customer's
            // newest entries leaves a chain that holds, but not their receipt's count.
            let sql = "SELECT r.seq, r.id, r.customer_id, r.jws, \
                 (SELECT COUNT(*) FROM customer_consents c WHERE c.customer_id = r.customer_id AND c.receipt_id = r.id) AS entries \
                 FROM consent_receipts r WHERE r.publisher_id = $1 AND ($2 = 0 OR r.customer_id = $2) AND r.seq > $3 \
                 ORDER BY r.seq LIMIT $4";
            let mut after = 0i64;
            loop {
                let rows: Vec<(i64, String, i64, String, i64)> = sqlx::query_as(sql)
                    .bind(publisher.get())
                    .bind(customer.map_or(0, CustomerId::get))
                    .bind(after)
                    .bind(PAGE)
                    .fetch_all(self.pool())
                    .await?;
                let last_page = i64::try_from(rows.len()).unwrap_or(PAGE) < PAGE;
                for (seq, id, customer_id, jws, entries) in rows {
                    after = seq;
                    let stated = receipt_answers(&jws);
                    if stated != Some(entries) {
                        report.broken = Some(BrokenLink {
                            customer: CustomerId::from_i64(customer_id).ok(),
                            entry: None,
                            consent: None,
                            field: "receipt",
                            expected: format!("{} entries of receipt {id}", stated.unwrap_or(-1)),
                            found: format!("{entries} entries"),
                        });
                        return Ok(report);
                    }
                }
                if last_page {
                    return Ok(report);
                }
            }
        }

        async fn consent_receipts(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Vec<Receipt>, StoreError> {
            let rows: Vec<ReceiptRow> = sqlx::query_as(
                "SELECT id, customer_id, collection_point, created_at, jws FROM consent_receipts \
                 WHERE publisher_id = $1 AND customer_id = $2 ORDER BY seq DESC",
            )
            .bind(publisher.get())
            .bind(customer.get())
            .fetch_all(self.pool())
            .await?;
            super::sql::rows_into(rows)
        }

        async fn consent_receipt(
            &self,
            publisher: PublisherId,
            id: &str,
        ) -> Result<Option<Receipt>, StoreError> {
            let row: Option<ReceiptRow> = sqlx::query_as(
                "SELECT id, customer_id, collection_point, created_at, jws FROM consent_receipts \
                 WHERE publisher_id = $1 AND id = $2",
            )
            .bind(publisher.get())
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
            row.map(Receipt::try_from).transpose()
        }
    }
}
