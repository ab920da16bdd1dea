//! The customer SQL both backends share: `CustomerStore` and the session and consent-history
//! helpers the account and admin SQL use too.

use chrono::{DateTime, Utc};
use sqlx::types::Json;

use super::Actor;
use super::backend::shared_sql;
use super::sql::rows_into;
use super::sql_chain::{Answer, Answers, ConsentChain};
use super::sql_events::{Events, NewEvent, answer, registered, written};
use super::sql_sessions::Sessions;
use super::{
    Collection, ConsentRecord, Customer, CustomerChanges, CustomerStore, Idempotency,
    IdempotencyRef, NewConsentRecord, NewCustomer, NewRefreshToken, StoreError, Taken,
};
use std::net::IpAddr;

use crate::domain::capture::CaptureAnswers;
use crate::domain::{
    ConsentName, ConsentOwner, ConsentState, ConsentVersionNumber, Country, Currency, CustomerId,
    EmailKey, Locale, PublisherId, SessionEpoch,
};

pub(super) const CUSTOMER_COLUMNS: &str = "id, publisher_id, email, email_key, password_hash, first_name, last_name, \
     locale, country, currency, external_id, external_data, registration_ip, last_ip, created_at, last_login_at, \
     email_verified, capture, session_epoch";

#[derive(sqlx::FromRow)]
pub(super) struct CustomerRow {
    id: i64,
    publisher_id: i64,
    email: Option<String>,
    email_key: Option<String>,
    pub(super) password_hash: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    locale: Option<String>,
    country: Option<String>,
    currency: Option<String>,
    external_id: Option<String>,
    external_data: Option<Json<serde_json::Value>>,
    registration_ip: Option<String>,
    last_ip: Option<String>,
    created_at: DateTime<Utc>,
    last_login_at: Option<DateTime<Utc>>,
    email_verified: bool,
    capture: Option<Json<serde_json::Value>>,
    pub(super) session_epoch: i64,
}

impl TryFrom<CustomerRow> for Customer {
    type Error = StoreError;
    fn try_from(r: CustomerRow) -> Result<Self, StoreError> {
        let id = r.id;
        let corrupt =
            |what: &str, e: String| StoreError::Corrupt(format!("customer {id}: {what}: {e}"));
        let required = |v: Option<String>, what: &str| {
            v.ok_or_else(|| StoreError::Corrupt(format!("customer {id} has no {what}")))
        };
        let ip = |v: Option<String>, what: &str| {
            v.map(|s| {
                s.parse::<IpAddr>()
                    .map_err(|e| corrupt(what, e.to_string()))
            })
            .transpose()
        };
        Ok(Customer {
            id: CustomerId::from_i64(r.id).map_err(StoreError::Corrupt)?,
            publisher: PublisherId::from_i64(r.publisher_id).map_err(StoreError::Corrupt)?,
            email: required(r.email, "email")?,
            email_key: EmailKey::stored(required(r.email_key, "email key")?),
            password_hash: required(r.password_hash, "password")?,
            first_name: r.first_name,
            last_name: r.last_name,
            locale: Locale::from_stored(&required(r.locale, "locale")?)
                .map_err(|e| corrupt("locale", e))?,
            country: Country::from_stored(&required(r.country, "country")?)
                .map_err(|e| corrupt("country", e))?,
            currency: Currency::from_stored(&required(r.currency, "currency")?)
                .map_err(|e| corrupt("currency", e))?,
            external_id: r.external_id,
            external_data: r.external_data.map(|j| j.0),
            registration_ip: ip(r.registration_ip, "registration ip")?,
            last_ip: ip(r.last_ip, "last ip")?,
            created_at: r.created_at,
            last_login_at: r.last_login_at,
            email_verified: r.email_verified,
            capture: r
                .capture
                .map(|j| serde_json::from_value::<CaptureAnswers>(j.0))
                .transpose()
                .map_err(|e| corrupt("capture", e.to_string()))?,
            session_epoch: SessionEpoch::from_i64(r.session_epoch)
                .map_err(|e| corrupt("session epoch", e))?,
        })
    }
}

/// A [`ConsentRecordRow`] with its customer (answers of several customers at once).
#[derive(sqlx::FromRow)]
pub(super) struct CustomerConsentRow {
    pub(super) customer_id: i64,
    #[sqlx(flatten)]
    pub(super) record: ConsentRecordRow,
}

#[derive(sqlx::FromRow)]
pub(super) struct ConsentRecordRow {
    owner: i64,
    name: String,
    version: i32,
    state: String,
    at: DateTime<Utc>,
}

impl TryFrom<ConsentRecordRow> for ConsentRecord {
    type Error = StoreError;
    fn try_from(r: ConsentRecordRow) -> Result<Self, StoreError> {
        Ok(ConsentRecord {
            owner: ConsentOwner::from_i64(r.owner).map_err(StoreError::Corrupt)?,
            name: ConsentName::parse(&r.name).map_err(StoreError::Corrupt)?,
            version: ConsentVersionNumber::new(r.version).map_err(StoreError::Corrupt)?,
            state: ConsentState::parse(&r.state).map_err(StoreError::Corrupt)?,
            at: r.at,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct IdempotencyRow {
    pub(super) body_hmac: String,
    pub(super) state: String,
    pub(super) customer_id: Option<i64>,
    pub(super) status: Option<i32>,
    pub(super) response: Option<Json<serde_json::Value>>,
}

fn chrono_duration(d: std::time::Duration) -> chrono::Duration {
    chrono::Duration::from_std(d).unwrap_or(chrono::Duration::MAX)
}

/// `now - d`, for "older than" comparisons.
pub(super) fn before_now(d: std::time::Duration) -> DateTime<Utc> {
    Utc::now()
        .checked_sub_signed(chrono_duration(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// `customer.registered`: the profile and the consents answered (no password, no token).
fn registered_event(publisher: PublisherId, id: CustomerId, new: &NewCustomer) -> NewEvent {
    let answers = new
        .consents
        .iter()
        .map(|c| answer(c.name.as_str(), c.version.get(), c.state.as_str()))
        .collect();
    let profile = serde_json::json!({
        "email": new.email,
        "firstName": new.first_name,
        "lastName": new.last_name,
        "locale": new.locale,
        "country": new.country,
        "currency": new.currency,
        "externalId": new.external_id,
        "externalData": new.external_data,
        "emailVerified": new.verification.is_some(),
    });
    registered(publisher, id, Actor::Customer, profile, answers)
}

/// The profile fields an update changed, with their new values (never the password).
pub(super) fn changed_fields(
    before: &CustomerRow,
    after: &CustomerRow,
) -> serde_json::Map<String, serde_json::Value> {
    let mut changes = serde_json::Map::new();
    let mut field = |name: &str, old: serde_json::Value, new: serde_json::Value| {
        if old != new {
            changes.insert(name.to_owned(), new);
        }
    };
    field(
        "email",
        before.email.clone().into(),
        after.email.clone().into(),
    );
    field(
        "firstName",
        before.first_name.clone().into(),
        after.first_name.clone().into(),
    );
    field(
        "lastName",
        before.last_name.clone().into(),
        after.last_name.clone().into(),
    );
    field(
        "country",
        before.country.clone().into(),
        after.country.clone().into(),
    );
    field(
        "locale",
        before.locale.clone().into(),
        after.locale.clone().into(),
    );
    let json = |v: &Option<Json<serde_json::Value>>| {
        v.as_ref().map_or(serde_json::Value::Null, |j| j.0.clone())
    };
    field(
        "externalData",
        json(&before.external_data),
        json(&after.external_data),
    );
    field("capture", json(&before.capture), json(&after.capture));
    changes
}

/// [`changed_fields`] and the fields only an import can change (currency, externalId,
/// emailVerified).
pub(super) fn imported_changes(
    before: &CustomerRow,
    after: &CustomerRow,
) -> serde_json::Map<String, serde_json::Value> {
    let mut changes = changed_fields(before, after);
    if before.currency != after.currency {
        changes.insert("currency".into(), after.currency.clone().into());
    }
    if before.external_id != after.external_id {
        changes.insert("externalId".into(), after.external_id.clone().into());
    }
    if before.email_verified != after.email_verified {
        changes.insert("emailVerified".into(), after.email_verified.into());
    }
    changes
}

/// One customer's answers as the history writer takes them.
fn answers(
    customer: CustomerId,
    fresh: bool,
    imported: bool,
    records: &[NewConsentRecord],
    at: DateTime<Utc>,
) -> Answers<'_> {
    Answers {
        customer,
        fresh,
        answers: records
            .iter()
            .map(|r| Answer {
                owner: r.owner.get(),
                name: r.name.as_str(),
                version: r.version.get(),
                state: r.state.as_str(),
                at: r.at.unwrap_or(at),
                ip: r.ip,
                user_agent: r.user_agent.as_deref(),
                imported,
            })
            .collect(),
    }
}

/// The answers that changed a consent's version or state, with the state before and the text
/// hash of the version answered (`text_hashes` holds one per record).
fn consent_changes(
    before: &[ConsentRecordRow],
    records: &[NewConsentRecord],
    text_hashes: &[String],
) -> Vec<serde_json::Value> {
    records
        .iter()
        .zip(text_hashes.iter().map(Some).chain(std::iter::repeat(None)))
        .filter_map(|(r, text_hash)| {
            let old = before
                .iter()
                .find(|b| b.owner == r.owner.get() && b.name == r.name.as_str());
            if old.is_some_and(|o| o.version == r.version.get() && o.state == r.state.as_str()) {
                return None;
            }
            Some(serde_json::json!({
                "name": r.name.as_str(),
                "version": r.version,
                "state": r.state.as_str(),
                "oldState": old.map(|o| o.state.clone()),
                "oldVersion": old.map(|o| o.version),
                "textHash": text_hash,
            }))
        })
        .collect()
}

shared_sql! {
    impl CustomerStore for B {
        async fn create_customer(
            &self,
            publisher: PublisherId,
            new: &NewCustomer,
            how: &Collection<'_>,
        ) -> Result<Customer, StoreError> {
            let now = Utc::now();
            for _ in 0..5 {
                let id = CustomerId::random();
                let mut tx = self.begin_write().await?;
                let sql = format!(
                    "INSERT INTO customers (id, publisher_id, email, email_key, password_hash, first_name, last_name, \
                     locale, country, currency, external_id, external_data, registration_ip, last_ip, created_at, \
                     email_verified, capture) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13, $14, $15, $16) RETURNING {}",
                    CUSTOMER_COLUMNS
                );
                let inserted: Result<CustomerRow, StoreError> = sqlx::query_as(&sql)
                    .bind(id.get())
                    .bind(publisher.get())
                    .bind(&new.email)
                    .bind(new.email_key.as_str())
                    .bind(&new.password_hash)
                    .bind(&new.first_name)
                    .bind(&new.last_name)
                    .bind(new.locale.as_str())
                    .bind(new.country.as_str())
                    .bind(new.currency.as_str())
                    .bind(&new.external_id)
                    .bind(new.external_data.as_ref().map(sqlx::types::Json))
                    .bind(new.ip.map(|ip| ip.to_string()))
                    .bind(new.registered_at.unwrap_or(now))
                    .bind(new.verification.is_some())
                    .bind(new.capture.as_ref().map(|a| Json(a.to_stored())))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err(StoreError::from);
                let row = match inserted {
                    Err(StoreError::AlreadyExists(Taken::CustomerId)) => {
                        continue;
                    }
                    other => other?,
                };
                if let Some(code_hash) = &new.verification {
                    // Single use: the code is spent in the transaction that creates the
                    // customer, so a failed registration leaves it for another try.
                    let spent = sqlx::query(
                        "UPDATE email_codes SET used_at = $4 WHERE publisher_id = $1 AND email_key = $2 \
                         AND code_hash = $3 AND used_at IS NULL AND expires_at > $4",
                    )
                    .bind(publisher.get())
                    .bind(new.email_key.as_str())
                    .bind(code_hash)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if B::rows_affected(&spent) == 0 {
                        return Err(StoreError::VerificationFailed);
                    }
                }
                // Answers an upstream collected come in as imported ones (no receipt).
                let imported = how.point == crate::domain::proof::CollectionPoint::Import;
                let batch = [answers(id, true, imported, &new.consents, now)];
                Self::record_consents(&mut *tx, publisher.get(), &batch, how).await?;
                Self::insert_refresh(&mut *tx, id, &new.refresh, now).await?;
                Self::emit(&mut *tx, registered_event(publisher, id, new), now).await?;
                if let Some(key) = &new.idempotency {
                    sqlx::query(
                        "UPDATE idempotency_keys SET state = 'done', customer_id = $4, status = 200, response = NULL \
                         WHERE publisher_id = $1 AND route = $2 AND key = $3",
                    )
                    .bind(publisher.get())
                    .bind(&key.route)
                    .bind(&key.key)
                    .bind(id.get())
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                written(self.new_events(), "customer.registered");
                return row.try_into();
            }
            Err(StoreError::Invalid(
                "no free customer id after 5 tries".into(),
            ))
        }

        async fn customer(
            &self,
            publisher: PublisherId,
            id: CustomerId,
        ) -> Result<Option<Customer>, StoreError> {
            let sql = format!(
                "SELECT {} FROM customers WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL",
                CUSTOMER_COLUMNS
            );
            let row: Option<CustomerRow> = sqlx::query_as(&sql)
                .bind(id.get())
                .bind(publisher.get())
                .fetch_optional(self.pool())
                .await?;
            row.map(TryInto::try_into).transpose()
        }

        async fn update_customer(
            &self,
            publisher: PublisherId,
            id: CustomerId,
            c: &CustomerChanges,
        ) -> Result<Customer, StoreError> {
            // One statement: each field is set only when its flag is, so concurrent
            // changes of different fields do not undo each other.
            let sql = format!(
                "UPDATE customers SET \
                 email = CASE WHEN $3 THEN $4 ELSE email END, \
                 email_key = CASE WHEN $3 THEN $5 ELSE email_key END, \
                 first_name = CASE WHEN $6 THEN $7 ELSE first_name END, \
                 last_name = CASE WHEN $8 THEN $9 ELSE last_name END, \
                 country = CASE WHEN $10 THEN $11 ELSE country END, \
                 locale = CASE WHEN $12 THEN $13 ELSE locale END, \
                 external_data = CASE WHEN $14 THEN $15 ELSE external_data END, \
                 email_verified = CASE WHEN $3 AND email_key IS DISTINCT FROM $5 THEN FALSE ELSE email_verified END, \
                 capture = CASE WHEN $16 THEN $17 ELSE capture END \
                 WHERE id = $1 AND publisher_id = $2 AND erased_at IS NULL RETURNING {}",
                CUSTOMER_COLUMNS
            );
            let (email, key) = c.email.clone().map(|(e, k)| (e, k.as_str().to_owned())).unzip();
            let mut tx = self.begin_write().await?;
            // A new email key moves the account: every session of the old one ends.
            let Some(current) = Self::lock_customer(&mut *tx, publisher, id).await? else {
                return Err(StoreError::NotFound(format!("customer {id}")));
            };
            let moved = key.is_some() && key != current;
            let before_sql = format!("SELECT {} FROM customers WHERE id = $1", CUSTOMER_COLUMNS);
            let before: CustomerRow = sqlx::query_as(&before_sql)
                .bind(id.get())
                .fetch_one(&mut *tx)
                .await?;
            let row: Option<CustomerRow> = sqlx::query_as(&sql)
                .bind(id.get())
                .bind(publisher.get())
                .bind(c.email.is_some())
                .bind(email)
                .bind(key)
                .bind(c.first_name.is_some())
                .bind(c.first_name.clone().flatten())
                .bind(c.last_name.is_some())
                .bind(c.last_name.clone().flatten())
                .bind(c.country.is_some())
                .bind(c.country.as_ref().map(|v| v.as_str().to_owned()))
                .bind(c.locale.is_some())
                .bind(c.locale.as_ref().map(|v| v.as_str().to_owned()))
                .bind(c.external_data.is_some())
                .bind(c.external_data.clone().flatten().map(sqlx::types::Json))
                .bind(c.capture.is_some())
                .bind(c.capture.as_ref().and_then(|a| a.as_ref()).map(|a| Json(a.to_stored())))
                .fetch_optional(&mut *tx)
                .await?;
            let mut row = row.ok_or_else(|| StoreError::NotFound(format!("customer {id}")))?;
            if moved {
                row.session_epoch = Self::end_sessions_in(&mut *tx, id, Utc::now()).await?;
            }
            let changes = changed_fields(&before, &row);
            let updated = !changes.is_empty();
            if updated {
                let event = NewEvent {
                    kind: "customer.updated",
                    publisher: Some(publisher),
                    customer: Some(id),
                    actor: Actor::Customer,
                    data: serde_json::json!({ "changes": changes }),
                };
                Self::emit(&mut *tx, event, Utc::now()).await?;
            }
            tx.commit().await?;
            if updated {
                written(self.new_events(), "customer.updated");
            }
            row.try_into()
        }

        async fn consent_answers(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
        ) -> Result<Vec<ConsentRecord>, StoreError> {
            let rows: Vec<ConsentRecordRow> = sqlx::query_as(
                "SELECT c.owner, c.name, c.version, c.state, c.at FROM customer_consents c \
                 JOIN customers u ON u.id = c.customer_id AND u.publisher_id = $2 \
                 WHERE c.customer_id = $1 AND c.id = (SELECT MAX(m.id) FROM customer_consents m \
                   WHERE m.customer_id = c.customer_id AND m.owner = c.owner AND m.name = c.name) \
                 ORDER BY c.owner, c.name",
            )
            .bind(customer.get())
            .bind(publisher.get())
            .fetch_all(self.pool())
            .await?;
            rows_into(rows)
        }

        async fn append_consents(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            records: &[NewConsentRecord],
            how: &Collection<'_>,
        ) -> Result<Option<String>, StoreError> {
            let now = Utc::now();
            let mut tx = self.begin_write().await?;
            // Held to the commit: two concurrent writers would otherwise chain from one entry.
            if Self::lock_customer(&mut *tx, publisher, customer).await?.is_none() {
                return Err(StoreError::NotFound(format!("customer {customer}")));
            }
            let before: Vec<ConsentRecordRow> = sqlx::query_as(
                "SELECT c.owner, c.name, c.version, c.state, c.at FROM customer_consents c \
                 WHERE c.customer_id = $1 AND c.id = (SELECT MAX(m.id) FROM customer_consents m \
                   WHERE m.customer_id = c.customer_id AND m.owner = c.owner AND m.name = c.name)",
            )
            .bind(customer.get())
            .fetch_all(&mut *tx)
            .await?;
            let batch = [answers(customer, false, false, records, now)];
            let recorded = Self::record_consents(&mut *tx, publisher.get(), &batch, how)
                .await?
                .pop()
                .unwrap_or_default();
            let changes = consent_changes(&before, records, &recorded.text_hashes);
            let changed = !changes.is_empty();
            if changed {
                let event = NewEvent {
                    kind: "customer.consents_changed",
                    publisher: Some(publisher),
                    customer: Some(customer),
                    actor: Actor::Customer,
                    data: serde_json::json!({ "consents": changes, "receiptId": recorded.receipt }),
                };
                Self::emit(&mut *tx, event, now).await?;
            }
            tx.commit().await?;
            if changed {
                written(self.new_events(), "customer.consents_changed");
            }
            Ok(recorded.receipt)
        }

        async fn add_refresh_token(
            &self,
            publisher: PublisherId,
            customer: CustomerId,
            token: &NewRefreshToken,
            epoch: SessionEpoch,
        ) -> Result<(), StoreError> {
            let mut tx = self.begin_write().await?;
            Self::lock_session(&mut *tx, publisher, customer, Some(epoch)).await?;
            Self::insert_refresh(&mut *tx, customer, token, Utc::now()).await?;
            tx.commit().await?;
            Ok(())
        }

        async fn idempotency_begin(
            &self,
            publisher: PublisherId,
            key: &IdempotencyRef,
            body_hmac: &str,
            stale: std::time::Duration,
            ttl: std::time::Duration,
        ) -> Result<Idempotency, StoreError> {
            let now = Utc::now();
            let inserted = sqlx::query(
                "INSERT INTO idempotency_keys (publisher_id, route, key, body_hmac, state, created_at) \
                 VALUES ($1, $2, $3, $4, 'running', $5) ON CONFLICT (publisher_id, route, key) DO NOTHING",
            )
            .bind(publisher.get())
            .bind(&key.route)
            .bind(&key.key)
            .bind(body_hmac)
            .bind(now)
            .execute(self.pool())
            .await?;
            if B::rows_affected(&inserted) == 1 {
                return Ok(Idempotency::Started);
            }
            // Forgotten after the TTL; a running record whose process died is taken over.
            let taken = sqlx::query(
                "UPDATE idempotency_keys SET body_hmac = $4, state = 'running', customer_id = NULL, status = NULL, \
                 response = NULL, created_at = $5 WHERE publisher_id = $1 AND route = $2 AND key = $3 \
                 AND (created_at < $6 OR (state = 'running' AND created_at < $7))",
            )
            .bind(publisher.get())
            .bind(&key.route)
            .bind(&key.key)
            .bind(body_hmac)
            .bind(now)
            .bind(before_now(ttl))
            .bind(before_now(stale))
            .execute(self.pool())
            .await?;
            if B::rows_affected(&taken) == 1 {
                return Ok(Idempotency::Started);
            }
            let row: Option<IdempotencyRow> = sqlx::query_as(
                "SELECT body_hmac, state, customer_id, status, response FROM idempotency_keys \
                 WHERE publisher_id = $1 AND route = $2 AND key = $3",
            )
            .bind(publisher.get())
            .bind(&key.route)
            .bind(&key.key)
            .fetch_optional(self.pool())
            .await?;
            let Some(row) = row else {
                return Ok(Idempotency::InProgress);
            };
            Ok(if row.body_hmac != body_hmac {
                Idempotency::Mismatch
            } else if row.state == "running" {
                Idempotency::InProgress
            } else {
                Idempotency::Done {
                    status: row
                        .status
                        .and_then(|s| u16::try_from(s).ok())
                        .unwrap_or(500),
                    customer: row.customer_id.and_then(|c| CustomerId::from_i64(c).ok()),
                    response: row.response.map(|j| j.0),
                }
            })
        }

        async fn idempotency_finish(
            &self,
            publisher: PublisherId,
            key: &IdempotencyRef,
            status: u16,
            response: &serde_json::Value,
        ) -> Result<(), StoreError> {
            sqlx::query(
                "UPDATE idempotency_keys SET state = 'done', status = $4, response = $5 \
                 WHERE publisher_id = $1 AND route = $2 AND key = $3 AND state = 'running'",
            )
            .bind(publisher.get())
            .bind(&key.route)
            .bind(&key.key)
            .bind(i32::from(status))
            .bind(sqlx::types::Json(response))
            .execute(self.pool())
            .await?;
            Ok(())
        }

        async fn idempotency_abandon(
            &self,
            publisher: PublisherId,
            key: &IdempotencyRef,
        ) -> Result<(), StoreError> {
            sqlx::query("DELETE FROM idempotency_keys WHERE publisher_id = $1 AND route = $2 AND key = $3 AND state = 'running'")
                .bind(publisher.get())
                .bind(&key.route)
                .bind(&key.key)
                .execute(self.pool())
                .await?;
            Ok(())
        }

        async fn ensure_signing_key(
            &self,
            kid: &str,
            candidate_pem: &str,
        ) -> Result<Vec<String>, StoreError> {
            let mut tx = self.begin_locked().await?;
            let existing: Vec<String> =
                sqlx::query_scalar("SELECT private_key FROM signing_keys ORDER BY created_at, kid")
                    .fetch_all(&mut *tx)
                    .await?;
            if !existing.is_empty() {
                return Ok(existing);
            }
            sqlx::query(
                "INSERT INTO signing_keys (kid, private_key, created_at) VALUES ($1, $2, $3)",
            )
            .bind(kid)
            .bind(candidate_pem)
            .bind(Utc::now())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(vec![candidate_pem.to_owned()])
        }

        async fn ensure_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError> {
            sqlx::query("INSERT INTO server_secrets (name, value, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
                .bind(name)
                .bind(candidate)
                .bind(Utc::now())
                .execute(self.pool())
                .await?;
            let value: String =
                sqlx::query_scalar("SELECT value FROM server_secrets WHERE name = $1")
                    .bind(name)
                    .fetch_one(self.pool())
                    .await?;
            Ok(value)
        }
    }
}
