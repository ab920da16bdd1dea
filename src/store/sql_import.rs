//! The import's SQL, written once for both backends: a batch is one write transaction of
//! a few multi-row statements (new customers, their consent answers, row errors, id mappings)
//! plus one update per existing customer in `upsert`.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::backend::{Conn, shared_sql};
use super::bulk::{Column, Rows};
use super::events::Actor;
use super::placeholders::{list, one, values};
use super::sql_chain::{Answer, Answers, ConsentChain};
use super::sql_customers::{CUSTOMER_COLUMNS, CustomerRow, imported_changes};
use super::sql_events::{Events, NewEvent, answer, registered, written};
use super::sql_sessions::Sessions;
use super::{
    Collection, IdMapping, ImportInfo, ImportStore, ImportedCustomer, RowError, StoreError,
};
use crate::domain::import::ImportMode;
use crate::domain::{CustomerId, PublisherId};

/// Stored for a customer imported without a password hash: no password matches it (it is
/// not a hash format), so the customer sets one through a reset.
pub const NO_PASSWORD_HASH: &str = "!";

/// Why an import is `interrupted`.
const INTERRUPTED: &str = "the server running this import stopped midway; the rows written \
                           so far are kept: run the same file again (mode skip or upsert) to finish";

/// Rows per multi-row statement (16 values each, under SQLite's and Postgres' bind limits).
const CHUNK: usize = 400;

/// `customer.registered` of an imported row, marked `imported` (the import's actor is set
/// when the batch is written).
fn imported_event(publisher: PublisherId, id: CustomerId, r: &ImportedCustomer) -> NewEvent {
    let answers = r
        .consents
        .iter()
        .map(|c| answer(c.name.as_str(), c.version.get(), c.state.as_str()))
        .collect();
    let profile = serde_json::json!({
        "email": r.email,
        "firstName": r.first_name,
        "lastName": r.last_name,
        "locale": r.locale,
        "country": r.country,
        "currency": r.currency,
        "externalId": r.external_id,
        "externalData": r.external_data,
        "emailVerified": r.email_verified.unwrap_or(false),
        "imported": true,
    });
    registered(publisher, id, Actor::System, profile, answers)
}

/// How many rows (lines) the errors are about (a row may have several).
fn lines(errors: &[RowError]) -> i64 {
    let lines: HashSet<i64> = errors.iter().map(|e| e.line).collect();
    i64::try_from(lines.len()).unwrap_or(i64::MAX)
}

#[derive(sqlx::FromRow)]
struct ImportRowDb {
    id: String,
    publisher_id: i64,
    mode: String,
    state: String,
    rows_read: i64,
    inserted: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
    message: Option<String>,
    created_at: DateTime<Utc>,
    finished_at: Option<DateTime<Utc>>,
    heartbeat_at: Option<DateTime<Utc>>,
}

/// What the batch does with one row.
enum Plan<'a> {
    Insert(&'a ImportedCustomer, Option<CustomerId>),
    Update(&'a ImportedCustomer, i64),
}

/// What writing a batch found: row errors, id mappings, counts.
#[derive(Default)]
struct Found {
    errors: Vec<RowError>,
    mappings: Vec<IdMapping>,
    counts: Counts,
    /// The `customer.registered` events of the new customers and the `customer.updated` ones
    /// of changed customers, written with the batch.
    events: Vec<NewEvent>,
    /// Rounds in which rows were beaten to their email, external id or id (they go round
    /// again, like rows repeating an earlier row's email).
    beaten: u32,
}

/// Rounds after which a row still beaten to its customer is refused.
const ROUNDS: u32 = 8;

/// Counts of a batch.
#[derive(Default)]
struct Counts {
    read: i64,
    inserted: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
}

#[async_trait::async_trait]
trait ImportSql: super::backend::Backend {
    async fn existing(
        conn: &mut Conn<Self>,
        publisher: PublisherId,
        column: &str,
        keys: &[&str],
    ) -> Result<HashMap<String, i64>, StoreError>;

    async fn taken_ids(conn: &mut Conn<Self>, ids: &[i64]) -> Result<HashSet<i64>, StoreError>;

    async fn write_rows(
        conn: &mut Conn<Self>,
        publisher: PublisherId,
        import: &str,
        mode: ImportMode,
        rows: &[&ImportedCustomer],
        found: &mut Found,
        how: &Collection<'_>,
    ) -> Result<(), StoreError>;
}

shared_sql! {
    impl ImportSql for B {
        async fn existing(
            conn: &mut Conn<Self>,
            publisher: PublisherId,
            column: &str,
            keys: &[&str],
        ) -> Result<HashMap<String, i64>, StoreError> {
            let mut found = HashMap::new();
            for chunk in keys.chunks(CHUNK) {
                let sql = format!(
                    "SELECT {column}, id FROM customers WHERE publisher_id = {} AND {column} IN ({})",
                    one::<B>(1),
                    list::<B>(2, chunk.len())
                );
                // Not prepared once: a plan cached while the table was small scans it all later.
                let mut q = sqlx::query_as::<_, (String, i64)>(&sql)
                    .persistent(false)
                    .bind(publisher.get());
                for k in chunk {
                    q = q.bind(*k);
                }
                found.extend(q.fetch_all(&mut *conn).await?);
            }
            Ok(found)
        }

        async fn taken_ids(conn: &mut Conn<Self>, ids: &[i64]) -> Result<HashSet<i64>, StoreError> {
            let mut taken = HashSet::new();
            for chunk in ids.chunks(CHUNK) {
                let sql = format!("SELECT id FROM customers WHERE id IN ({})", list::<B>(1, chunk.len()));
                let mut q = sqlx::query_scalar::<_, i64>(&sql).persistent(false);
                for id in chunk {
                    q = q.bind(*id);
                }
                taken.extend(q.fetch_all(&mut *conn).await?);
            }
            Ok(taken)
        }

        async fn write_rows(
            conn: &mut Conn<Self>,
            publisher: PublisherId,
            import: &str,
            mode: ImportMode,
            rows: &[&ImportedCustomer],
            found: &mut Found,
            how: &Collection<'_>,
        ) -> Result<(), StoreError> {
            let now = Utc::now();
            let Found { errors, mappings, counts, events, beaten } = &mut *found;
            let emails: Vec<&str> = rows.iter().map(|r| r.email_key.as_str()).collect();
            let by_email = Self::existing(&mut *conn, publisher, "email_key", &emails).await?;
            let externals: Vec<&str> = rows.iter().filter_map(|r| r.external_id.as_deref()).collect();
            let by_external = Self::existing(&mut *conn, publisher, "external_id", &externals).await?;
            let own: Vec<i64> = rows.iter().filter_map(|r| r.id.map(CustomerId::get)).collect();
            let mut taken = Self::taken_ids(&mut *conn, &own).await?;
            let mut fail = |line: i64, field: &str, message: &str| {
                errors.push(RowError { line, field: field.into(), message: message.into() });
            };
            let mut plans: Vec<Plan<'_>> = Vec::with_capacity(rows.len());
            // A row repeating an email or external id of an earlier row of this batch waits
            // for the next round, when the earlier one is a customer.
            let mut later: Vec<&ImportedCustomer> = Vec::new();
            let mut batch_emails: HashSet<&str> = HashSet::new();
            let mut batch_externals: HashSet<&str> = HashSet::new();
            for row in rows {
                let ext = row.external_id.as_deref();
                if batch_emails.contains(row.email_key.as_str())
                    || ext.is_some_and(|e| batch_externals.contains(e))
                {
                    later.push(row);
                    continue;
                }
                batch_emails.insert(row.email_key.as_str());
                if let Some(e) = ext {
                    batch_externals.insert(e);
                }
                let ext_owner = ext.and_then(|e| by_external.get(e)).copied();
                match (by_email.get(row.email_key.as_str()).copied(), mode) {
                    (Some(_), ImportMode::Insert) => {
                        fail(row.line, "email", "a customer with this email exists");
                    }
                    (Some(_), ImportMode::Skip) => counts.skipped += 1,
                    (Some(id), ImportMode::Upsert) => match ext_owner {
                        Some(other) if other != id => {
                            fail(row.line, "externalId", "another customer has this externalId");
                        }
                        _ => plans.push(Plan::Update(row, id)),
                    },
                    (None, _) if ext_owner.is_some() => match mode {
                        ImportMode::Skip => counts.skipped += 1,
                        _ => fail(row.line, "externalId", "another customer has this externalId"),
                    },
                    (None, _) => {
                        let own = row.id.filter(|own| taken.insert(own.get()));
                        plans.push(Plan::Insert(row, own));
                    }
                }
            }
            // Fresh ids for the other new rows, drawn together and checked together.
            loop {
                let mut drawn = Vec::new();
                for plan in &mut plans {
                    if let Plan::Insert(_, id @ None) = plan {
                        let fresh = CustomerId::random();
                        if taken.insert(fresh.get()) {
                            *id = Some(fresh);
                            drawn.push(fresh.get());
                        }
                    }
                }
                let clash = Self::taken_ids(&mut *conn, &drawn).await?;
                let mut again = false;
                for plan in &mut plans {
                    if let Plan::Insert(_, id) = plan
                        && id.is_none_or(|i| clash.contains(&i.get()))
                    {
                        *id = None;
                        again = true;
                    }
                }
                if !again {
                    break;
                }
            }
            let inserts: Vec<(&ImportedCustomer, CustomerId)> = plans
                .iter()
                .filter_map(|p| match p {
                    Plan::Insert(r, id) => id.map(|id| (*r, id)),
                    Plan::Update(..) => None,
                })
                .collect();
            // (customer, created by this batch, row)
            let mut consents: Vec<(i64, bool, &ImportedCustomer)> = Vec::new();
            let mut lost_race = false;
            // Capture answers in their stored form.
            let captures: Vec<Option<serde_json::Value>> =
                inserts.iter().map(|(r, _)| r.capture.as_ref().map(|a| a.to_stored())).collect();
            let rows = Rows {
                table: "customers",
                columns: vec![
                    ("id", Column::Int(inserts.iter().map(|(_, id)| Some(id.get())).collect())),
                    ("publisher_id", Column::Int(vec![Some(publisher.get()); inserts.len()])),
                    ("email", Column::Text(inserts.iter().map(|(r, _)| Some(r.email.as_str().into())).collect())),
                    ("email_key", Column::Text(inserts.iter().map(|(r, _)| Some(r.email_key.as_str().into())).collect())),
                    (
                        "password_hash",
                        Column::Text(
                            inserts
                                .iter()
                                .map(|(r, _)| Some(r.password_hash.as_deref().unwrap_or(NO_PASSWORD_HASH).into()))
                                .collect(),
                        ),
                    ),
                    ("first_name", Column::Text(inserts.iter().map(|(r, _)| r.first_name.as_deref().map(Into::into)).collect())),
                    ("last_name", Column::Text(inserts.iter().map(|(r, _)| r.last_name.as_deref().map(Into::into)).collect())),
                    ("locale", Column::Text(inserts.iter().map(|(r, _)| Some(r.locale.as_str().into())).collect())),
                    ("country", Column::Text(inserts.iter().map(|(r, _)| Some(r.country.as_str().into())).collect())),
                    ("currency", Column::Text(inserts.iter().map(|(r, _)| Some(r.currency.as_str().into())).collect())),
                    ("external_id", Column::Text(inserts.iter().map(|(r, _)| r.external_id.as_deref().map(Into::into)).collect())),
                    ("external_data", Column::Json(inserts.iter().map(|(r, _)| r.external_data.as_ref()).collect())),
                    ("created_at", Column::Time(inserts.iter().map(|(r, _)| Some(r.registration_date.unwrap_or(now))).collect())),
                    ("last_login_at", Column::Time(inserts.iter().map(|(r, _)| r.last_login).collect())),
                    ("email_verified", Column::Bool(inserts.iter().map(|(r, _)| r.email_verified.unwrap_or(false)).collect())),
                    ("capture", Column::Json(captures.iter().map(Option::as_ref).collect())),
                ],
            };
            // The existence checks above cleared these rows, so a plain insert nearly always
            // succeeds, and skips what `ON CONFLICT` costs (a probe of every unique index
            // before each row, and a confirmation record: a fifth of Postgres' time for this
            // insert, measured). A row beaten to its email, external id or id meanwhile fails
            // the whole statement: then the same rows go again with `ON CONFLICT DO NOTHING`,
            // which inserts the others and leaves the beaten ones to the next round.
            sqlx::query("SAVEPOINT import_rows").execute(&mut *conn).await?;
            let inserted = match Self::insert_rows(&mut *conn, &rows, "RETURNING id").await {
                Ok(ids) => {
                    sqlx::query("RELEASE SAVEPOINT import_rows").execute(&mut *conn).await?;
                    ids
                }
                Err(StoreError::AlreadyExists(_)) => {
                    sqlx::query("ROLLBACK TO SAVEPOINT import_rows").execute(&mut *conn).await?;
                    Self::insert_rows(&mut *conn, &rows, "ON CONFLICT DO NOTHING RETURNING id").await?
                }
                Err(e) => return Err(e),
            };
            let done: HashSet<i64> = inserted.into_iter().collect();
            for (r, id) in &inserts {
                if done.contains(&id.get()) {
                    counts.inserted += 1;
                    events.push(imported_event(publisher, *id, r));
                    consents.push((id.get(), true, r));
                    if let Some(own) = r.id {
                        mappings.push(IdMapping { line: r.line, old_id: own.get(), customer_id: id.get() });
                    }
                } else if *beaten < ROUNDS {
                    // A customer with this email, external id or id was created meanwhile
                    // (another writer of this import, a registration): the next round
                    // sees it and updates, skips, refuses or draws another id.
                    later.push(r);
                    lost_race = true;
                } else {
                    fail(r.line, "email", "a customer with this email or externalId was created meanwhile");
                }
            }
            if lost_race {
                *beaten += 1;
            }
            for plan in &plans {
                let Plan::Update(r, id) = plan else { continue };
                let before_sql = format!("SELECT {CUSTOMER_COLUMNS} FROM customers WHERE id = $1");
                let before: Option<CustomerRow> =
                    sqlx::query_as(&before_sql).bind(*id).fetch_optional(&mut *conn).await?;
                let update_sql = format!(
                    "UPDATE customers SET email = $3, \
                     password_hash = COALESCE($4, password_hash), first_name = COALESCE($5, first_name), \
                     last_name = COALESCE($6, last_name), locale = $7, country = $8, currency = $9, \
                     external_id = COALESCE($10, external_id), external_data = COALESCE($11, external_data), \
                     created_at = COALESCE($12, created_at), last_login_at = COALESCE($13, last_login_at), \
                     email_verified = CASE WHEN $14 THEN $15 ELSE email_verified END, \
                     capture = COALESCE($16, capture) \
                     WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL RETURNING {CUSTOMER_COLUMNS}"
                );
                let after: Option<CustomerRow> = sqlx::query_as(&update_sql)
                .bind(*id)
                .bind(publisher.get())
                .bind(r.email.clone())
                .bind(r.password_hash.clone())
                .bind(r.first_name.clone())
                .bind(r.last_name.clone())
                .bind(r.locale.as_str().to_owned())
                .bind(r.country.as_str().to_owned())
                .bind(r.currency.as_str().to_owned())
                .bind(r.external_id.clone())
                .bind(r.external_data.clone().map(Json))
                .bind(r.registration_date)
                .bind(r.last_login)
                .bind(r.email_verified.is_some())
                .bind(r.email_verified.unwrap_or(false))
                .bind(r.capture.as_ref().map(|a| Json(a.to_stored())))
                .fetch_optional(&mut *conn)
                .await?;
                if let (Some(before), Some(after)) = (before, after) {
                    // A new password hash ends the customer's sessions, as a password reset does.
                    let new_password = r
                        .password_hash
                        .as_deref()
                        .is_some_and(|hash| before.password_hash.as_deref() != Some(hash));
                    let changes = imported_changes(&before, &after);
                    if !changes.is_empty() {
                        let customer = CustomerId::from_i64(*id).map_err(StoreError::Corrupt)?;
                        events.push(NewEvent {
                            kind: "customer.updated",
                            publisher: Some(publisher),
                            customer: Some(customer),
                            actor: Actor::System,
                            data: serde_json::json!({ "changes": changes, "imported": true }),
                        });
                    }
                    if new_password {
                        let customer = CustomerId::from_i64(*id).map_err(StoreError::Corrupt)?;
                        <Self as Sessions>::end_sessions_in(&mut *conn, customer, now).await?;
                    }
                    counts.updated += 1;
                    consents.push((*id, false, r));
                    if let Some(own) = r.id {
                        mappings.push(IdMapping { line: r.line, old_id: own.get(), customer_id: *id });
                    }
                } else {
                    fail(r.line, "email", "the customer was erased meanwhile");
                }
            }
            // Through the one history writer: chained, bound to their texts, one receipt per row.
            let batch: Vec<Answers<'_>> = consents
                .iter()
                .map(|(id, fresh, r)| {
                    Ok(Answers {
                        customer: CustomerId::from_i64(*id).map_err(StoreError::Corrupt)?,
                        fresh: *fresh,
                        answers: r
                            .consents
                            .iter()
                            .map(|c| Answer {
                                owner: c.owner.get(),
                                name: c.name.as_str(),
                                version: c.version.get(),
                                state: c.state.as_str(),
                                at: c.at.unwrap_or(now),
                                ip: None,
                                user_agent: None,
                                imported: true,
                            })
                            .collect(),
                    })
                })
                .collect::<Result<_, StoreError>>()?;
            Self::record_consents(&mut *conn, publisher.get(), &batch, how).await?;
            if !later.is_empty() {
                Self::write_rows(&mut *conn, publisher, import, mode, &later, found, how).await?;
            }
            Ok(())
        }
    }
}

shared_sql! {
    impl ImportStore for B {
        fn parallel_import(&self) -> bool {
            B::PARALLEL_WRITES
        }

        async fn create_import(
            &self,
            publisher: PublisherId,
            id: &str,
            mode: ImportMode,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "INSERT INTO imports (id, publisher_id, mode, state, created_at, heartbeat_at) \
                 VALUES ($1, $2, $3, 'running', $4, $4)",
            )
            .bind(id)
            .bind(publisher.get())
            .bind(mode.as_str())
            .bind(Utc::now())
            .execute(self.pool())
            .await?;
            Ok(())
        }

        #[allow(clippy::too_many_arguments)]
        async fn import_batch(
            &self,
            publisher: PublisherId,
            import: &str,
            mode: ImportMode,
            rows: &[ImportedCustomer],
            errors: &[RowError],
            actor: &Actor,
            how: &Collection<'_>,
        ) -> Result<(), StoreError> {
            let mut tx = self.begin_write().await?;
            let mut found = Found {
                errors: errors.to_vec(),
                ..Found::default()
            };
            found.counts.read = i64::try_from(rows.len()).unwrap_or(i64::MAX) + lines(errors);
            let refs: Vec<&ImportedCustomer> = rows.iter().collect();
            if !refs.is_empty() {
                Self::write_rows(&mut *tx, publisher, import, mode, &refs, &mut found, how).await?;
            }
            let Found { errors, mappings, mut counts, events, .. } = found;
            let now = Utc::now();
            let kinds: Vec<&'static str> = events.iter().map(|e| e.kind).collect();
            let events = events
                .into_iter()
                .map(|mut event| {
                    event.actor = actor.clone();
                    event
                })
                .collect();
            Self::emit_many(&mut *tx, events, now).await?;
            counts.failed = lines(&errors);
            for chunk in errors.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO import_errors (import_id, line, field, message) VALUES {}",
                    values::<B>(chunk.len(), 4)
                );
                let mut q = sqlx::query(&sql);
                for e in chunk {
                    q = q.bind(import).bind(e.line).bind(e.field.clone()).bind(e.message.clone());
                }
                q.execute(&mut *tx).await?;
            }
            for chunk in mappings.chunks(CHUNK) {
                let sql = format!(
                    "INSERT INTO import_ids (import_id, line, old_id, customer_id) VALUES {}",
                    values::<B>(chunk.len(), 4)
                );
                let mut q = sqlx::query(&sql);
                for m in chunk {
                    q = q.bind(import).bind(m.line).bind(m.old_id).bind(m.customer_id);
                }
                q.execute(&mut *tx).await?;
            }
            sqlx::query(
                "UPDATE imports SET rows_read = rows_read + $3, inserted = inserted + $4, \
                 updated = updated + $5, skipped = skipped + $6, failed = failed + $7, heartbeat_at = $8 \
                 WHERE id = $1 AND publisher_id = $2",
            )
            .bind(import)
            .bind(publisher.get())
            .bind(counts.read)
            .bind(counts.inserted)
            .bind(counts.updated)
            .bind(counts.skipped)
            .bind(counts.failed)
            // Now, not the batch's start: writing its events may have taken a while.
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            for kind in kinds {
                written(self.new_events(), kind);
            }
            Ok(())
        }

        async fn import_analyze(&self) -> Result<(), StoreError> {
            if let Some(sql) = B::ANALYZE_CUSTOMERS {
                sqlx::query(sql).execute(self.pool()).await?;
            }
            Ok(())
        }

        async fn touch_import(&self, publisher: PublisherId, import: &str) -> Result<(), StoreError> {
            sqlx::query("UPDATE imports SET heartbeat_at = $3 WHERE id = $1 AND publisher_id = $2")
                .bind(import)
                .bind(publisher.get())
                .bind(Utc::now())
                .execute(self.pool())
                .await?;
            Ok(())
        }

        async fn interrupt_stale_imports(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
            let done = sqlx::query(
                "UPDATE imports SET state = 'interrupted', finished_at = $2, message = $3 \
                 WHERE state = 'running' AND (heartbeat_at IS NULL OR heartbeat_at < $1)",
            )
            .bind(before)
            .bind(Utc::now())
            .bind(INTERRUPTED)
            .execute(self.pool())
            .await?;
            Ok(B::rows_affected(&done))
        }

        async fn finish_import(
            &self,
            publisher: PublisherId,
            import: &str,
            failed: Option<&str>,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "UPDATE imports SET state = $3, message = $4, finished_at = $5 WHERE id = $1 AND publisher_id = $2",
            )
            .bind(import)
            .bind(publisher.get())
            .bind(if failed.is_some() { "failed" } else { "done" })
            .bind(failed.map(str::to_owned))
            .bind(Utc::now())
            .execute(self.pool())
            .await?;
            Ok(())
        }

        async fn import_info(
            &self,
            publisher: PublisherId,
            import: &str,
        ) -> Result<Option<ImportInfo>, StoreError> {
            let row: Option<ImportRowDb> = sqlx::query_as(
                "SELECT id, publisher_id, mode, state, rows_read, inserted, updated, skipped, failed, \
                 message, created_at, finished_at, heartbeat_at FROM imports WHERE id = $1 AND publisher_id = $2",
            )
            .bind(import)
            .bind(publisher.get())
            .fetch_optional(self.pool())
            .await?;
            row.map(|r| {
                Ok(ImportInfo {
                    id: r.id,
                    publisher: PublisherId::from_i64(r.publisher_id).map_err(StoreError::Corrupt)?,
                    mode: r.mode,
                    state: r.state,
                    rows_read: r.rows_read,
                    inserted: r.inserted,
                    updated: r.updated,
                    skipped: r.skipped,
                    failed: r.failed,
                    message: r.message,
                    created_at: r.created_at,
                    finished_at: r.finished_at,
                    heartbeat_at: r.heartbeat_at,
                })
            })
            .transpose()
        }

        async fn import_errors(
            &self,
            import: &str,
            after: i64,
            limit: i64,
        ) -> Result<Vec<RowError>, StoreError> {
            let rows: Vec<(i64, String, String)> = sqlx::query_as(
                "SELECT line, field, message FROM import_errors WHERE import_id = $1 AND line > $2 \
                 ORDER BY line, field LIMIT $3",
            )
            .bind(import)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|(line, field, message)| RowError { line, field, message })
                .collect())
        }

        async fn import_ids(
            &self,
            import: &str,
            after: i64,
            limit: i64,
        ) -> Result<Vec<IdMapping>, StoreError> {
            let rows: Vec<(i64, i64, i64)> = sqlx::query_as(
                "SELECT line, old_id, customer_id FROM import_ids WHERE import_id = $1 AND line > $2 \
                 ORDER BY line LIMIT $3",
            )
            .bind(import)
            .bind(after)
            .bind(limit)
            .fetch_all(self.pool())
            .await?;
            Ok(rows
                .into_iter()
                .map(|(line, old_id, customer_id)| IdMapping { line, old_id, customer_id })
                .collect())
        }
    }
}
