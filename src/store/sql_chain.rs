//! The one writer of consent history, for both backends: every answer (registration, consents
//! update, import, …) is appended here, inside the caller's write transaction, bound to the
//! text hash of the version answered and chained to the customer's previous entry, and each
//! customer's answers of the call get one signed receipt — except imported answers: a receipt
//! is Enroll's signed record of a consent it collected, and the publisher's old system
//! collected those (they are chained and marked `imported`; the customer's next change through
//! Enroll gets a receipt). The caller holds the customer's row (new in its transaction,
//! updated, or locked), so two writers never chain from one entry.

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::StoreError;
use super::backend::{Backend, Conn, shared_sql};
use super::bulk::{Column, Rows};
use super::placeholders::{list, values};
use super::proof::Collection;
use crate::domain::CustomerId;
use crate::domain::proof::{ChainedEntry, CollectionPoint, chain_time};
use crate::domain::receipt::{ReceiptAnswer, ReceiptFacts, payload};

/// Rows per multi-row statement (16 values each, well under both backends' limits; the lists
/// are positional on SQLite, see `placeholders.rs`).
const CHUNK: usize = 400;

/// One answer to append.
#[derive(Debug, Clone)]
pub(super) struct Answer<'a> {
    /// 0 for the platform, else the publisher.
    pub owner: i64,
    /// The consent.
    pub name: &'a str,
    /// The version answered.
    pub version: i32,
    /// `accepted` / `declined`.
    pub state: &'a str,
    /// When.
    pub at: DateTime<Utc>,
    /// Where from (nulled by an erasure, so not chained).
    pub ip: Option<std::net::IpAddr>,
    /// Which client (likewise).
    pub user_agent: Option<&'a str>,
    /// Came from a bulk import.
    pub imported: bool,
}

/// One customer's answers of a call.
#[derive(Debug, Clone)]
pub(super) struct Answers<'a> {
    /// The customer.
    pub customer: CustomerId,
    /// Created in the caller's transaction: there is no earlier entry to chain to (saves
    /// looking for one).
    pub fresh: bool,
    /// Their answers, in order.
    pub answers: Vec<Answer<'a>>,
}

/// What appending one customer's answers stored.
#[derive(Debug, Clone, Default)]
pub(super) struct Recorded {
    /// The receipt's id (`None` when there were no answers).
    pub receipt: Option<String>,
    /// The text hash of each answer's version, in order.
    pub text_hashes: Vec<String>,
}

/// A consent version as answers are bound to it.
pub(super) struct VersionText {
    pub text_hash: String,
    pub value: String,
    pub required: bool,
}

/// Writing consent history.
#[async_trait::async_trait]
pub(super) trait ConsentChain: Backend {
    /// The text hash, document URL and required flag of every version of the platform's and
    /// the publisher's consents, by (owner, name, version).
    async fn version_texts(
        conn: &mut Conn<Self>,
        publisher: i64,
    ) -> Result<HashMap<(i64, String, i32), VersionText>, StoreError>;

    /// Appends the answers (see the module) and stores one receipt per customer that answered
    /// anything (none for an import); returns what it stored, one per entry of `batch`.
    async fn record_consents(
        conn: &mut Conn<Self>,
        publisher: i64,
        batch: &[Answers<'_>],
        how: &Collection<'_>,
    ) -> Result<Vec<Recorded>, StoreError>;
}

shared_sql! {
    impl ConsentChain for B {
        async fn version_texts(
            conn: &mut Conn<Self>,
            publisher: i64,
        ) -> Result<HashMap<(i64, String, i32), VersionText>, StoreError> {
            let sql = format!(
                "SELECT {} FROM consent_versions WHERE owner IN (0, $1)",
                super::sql::CONSENT_COLUMNS
            );
            let rows: Vec<super::sql::ConsentRow> =
                sqlx::query_as(&sql).bind(publisher).fetch_all(&mut *conn).await?;
            let mut out = HashMap::with_capacity(rows.len());
            for row in rows {
                let v = super::ConsentVersion::try_from(row)?;
                out.insert(
                    (v.owner.get(), v.name.as_str().to_owned(), v.version.get()),
                    VersionText { text_hash: v.text_hash, value: v.value, required: v.required },
                );
            }
            Ok(out)
        }

        async fn record_consents(
            conn: &mut Conn<Self>,
            publisher: i64,
            batch: &[Answers<'_>],
            how: &Collection<'_>,
        ) -> Result<Vec<Recorded>, StoreError> {
            if batch.iter().all(|a| a.answers.is_empty()) {
                return Ok(vec![Recorded::default(); batch.len()]);
            }
            // Whose chain head to look up (a fresh customer has none).
            let older: Vec<i64> = batch
                .iter()
                .filter(|a| !a.answers.is_empty() && !a.fresh)
                .map(|a| a.customer.get())
                .collect();
            let texts = Self::version_texts(&mut *conn, publisher).await?;
            // See the module: no receipt for what an import brought in.
            let sign = how.point != CollectionPoint::Import;
            let publisher_name: String = if sign {
                sqlx::query_scalar("SELECT name FROM publishers WHERE id = $1")
                    .bind(publisher)
                    .fetch_optional(&mut *conn)
                    .await?
                    .unwrap_or_default()
            } else {
                String::new()
            };
            // Each customer's chain head (the newest entry) and country (the receipt's jurisdiction).
            let mut heads: HashMap<i64, Option<String>> = HashMap::new();
            let mut countries: HashMap<i64, Option<String>> = HashMap::new();
            for chunk in older.chunks(CHUNK) {
                let sql = format!(
                    "SELECT customer_id, entry_hash FROM customer_consents WHERE id IN \
                     (SELECT MAX(id) FROM customer_consents WHERE customer_id IN ({}) GROUP BY customer_id)",
                    list::<B>(1, chunk.len())
                );
                let mut q = sqlx::query_as::<_, (i64, Option<String>)>(&sql).persistent(false);
                for id in chunk {
                    q = q.bind(*id);
                }
                heads.extend(q.fetch_all(&mut *conn).await?);
            }
            let who: Vec<i64> = if sign {
                batch.iter().filter(|a| !a.answers.is_empty()).map(|a| a.customer.get()).collect()
            } else {
                Vec::new()
            };
            for chunk in who.chunks(CHUNK) {
                let sql = format!("SELECT id, country FROM customers WHERE id IN ({})", list::<B>(1, chunk.len()));
                let mut q = sqlx::query_as::<_, (i64, Option<String>)>(&sql).persistent(false);
                for id in chunk {
                    q = q.bind(*id);
                }
                countries.extend(q.fetch_all(&mut *conn).await?);
            }
            let publisher_id = crate::domain::PublisherId::from_i64(publisher).map_err(StoreError::Corrupt)?;
            // (customer, answer, text hash, prev, entry hash, receipt id)
            let mut rows: Vec<(i64, &Answer<'_>, String, Option<String>, String, Option<String>)> = Vec::new();
            let mut receipts: Vec<(String, i64, DateTime<Utc>, String)> = Vec::new();
            let mut ids = Vec::with_capacity(batch.len());
            for group in batch {
                if group.answers.is_empty() {
                    ids.push(Recorded::default());
                    continue;
                }
                let customer = group.customer.get();
                let receipt_id = sign.then(|| uuid::Uuid::new_v4().to_string());
                let mut prev = heads.get(&customer).cloned().flatten();
                let mut stated = Vec::with_capacity(group.answers.len());
                let mut newest = group.answers[0].at;
                for a in &group.answers {
                    let Some(text) = texts.get(&(a.owner, a.name.to_owned(), a.version)) else {
                        return Err(StoreError::Invalid(format!(
                            "no version {} of consent {} (owner {})",
                            a.version, a.name, a.owner
                        )));
                    };
                    let at = chain_time(a.at);
                    newest = newest.max(at);
                    let entry = ChainedEntry {
                        customer: group.customer,
                        owner: a.owner,
                        name: a.name,
                        version: a.version,
                        state: a.state,
                        at,
                        text_hash: &text.text_hash,
                        collection_point: how.point.as_str(),
                        prev_hash: prev.as_deref(),
                    }
                    .hash();
                    rows.push((customer, a, text.text_hash.clone(), prev.take(), entry.clone(), receipt_id.clone()));
                    prev = Some(entry);
                    stated.push(ReceiptAnswer {
                        owner: a.owner,
                        name: a.name.to_owned(),
                        version: a.version,
                        state: a.state.to_owned(),
                        text_hash: text.text_hash.clone(),
                        document_url: text.value.clone(),
                        required: text.required,
                    });
                }
                if let Some(receipt_id) = &receipt_id {
                    let facts = ReceiptFacts {
                        id: receipt_id,
                        publisher: publisher_id,
                        publisher_name: &publisher_name,
                        customer: group.customer,
                        country: countries.get(&customer).and_then(|c| c.as_deref()),
                        at: newest,
                        collection_point: how.point,
                        answers: &stated,
                    };
                    let jws = how.signer.sign_receipt(&payload(&facts)).map_err(StoreError::Invalid)?;
                    receipts.push((receipt_id.clone(), customer, newest, jws));
                }
                ids.push(Recorded {
                    receipt: receipt_id,
                    text_hashes: stated.into_iter().map(|a| a.text_hash).collect(),
                });
            }
            let n = rows.len();
            let history = Rows {
                table: "customer_consents",
                columns: vec![
                    ("customer_id", Column::Int(rows.iter().map(|r| Some(r.0)).collect())),
                    ("owner", Column::Int(rows.iter().map(|r| Some(r.1.owner)).collect())),
                    ("name", Column::Text(rows.iter().map(|r| Some(r.1.name.into())).collect())),
                    ("version", Column::Int(rows.iter().map(|r| Some(i64::from(r.1.version))).collect())),
                    ("state", Column::Text(rows.iter().map(|r| Some(r.1.state.into())).collect())),
                    ("ip", Column::Text(rows.iter().map(|r| r.1.ip.map(|ip| ip.to_string().into())).collect())),
                    ("user_agent", Column::Text(rows.iter().map(|r| r.1.user_agent.map(Into::into)).collect())),
                    ("at", Column::Time(rows.iter().map(|r| Some(chain_time(r.1.at))).collect())),
                    ("imported", Column::Bool(rows.iter().map(|r| r.1.imported).collect())),
                    ("text_hash", Column::Text(rows.iter().map(|r| Some(r.2.as_str().into())).collect())),
                    ("collection_point", Column::Text(vec![Some(how.point.as_str().into()); n])),
                    ("route", Column::Text(vec![Some(how.route.into()); n])),
                    ("request_id", Column::Text(vec![how.request_id.map(Into::into); n])),
                    ("prev_hash", Column::Text(rows.iter().map(|r| r.3.as_deref().map(Into::into)).collect())),
                    ("entry_hash", Column::Text(rows.iter().map(|r| Some(r.4.as_str().into())).collect())),
                    ("receipt_id", Column::Text(rows.iter().map(|r| r.5.as_deref().map(Into::into)).collect())),
                ],
            };
            Self::insert_rows(&mut *conn, &history, "").await?;
            for chunk in receipts.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO consent_receipts (id, publisher_id, customer_id, collection_point, created_at, jws) VALUES {}",
                    values::<B>(chunk.len(), 6)
                );
                let mut q = sqlx::query(&sql);
                for (id, customer, at, jws) in chunk {
                    q = q
                        .bind(id.clone())
                        .bind(publisher)
                        .bind(*customer)
                        .bind(how.point.as_str())
                        .bind(*at)
                        .bind(jws.clone());
                }
                q.execute(&mut *conn).await?;
            }
            Ok(ids)
        }
    }
}
