//! The event SQL both backends share: writing an event inside the caller's transaction, with
//! its per-customer sequence number and one delivery per subscribed endpoint. The endpoints
//! and the workers' claims are in `sql_webhooks.rs`.

use std::collections::HashMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::StoreError;
use super::backend::{Backend, Conn, shared_sql};
use super::bulk::{Column, Rows};
use super::events::Actor;
use super::placeholders::{list, one, values};
use crate::domain::{CustomerId, PublisherId};

/// Rows per multi-row statement of [`Events::emit_many`] (7 values each).
const MANY: usize = 400;

/// One event to write in the caller's transaction.
pub(super) struct NewEvent {
    /// `customer.registered`, … (see [`super::events::EVENT_TYPES`]).
    pub kind: &'static str,
    /// Whose; `None` for the platform's own consents (every publisher's endpoints hear them).
    pub publisher: Option<PublisherId>,
    /// The customer concerned, if any.
    pub customer: Option<CustomerId>,
    /// Who caused it.
    pub actor: Actor,
    /// What happened (never a password, hash, token or link).
    pub data: Value,
}

/// `customer.registered` of a new customer, caused by `actor`: its `profile` (never a password
/// or token) and its consent `answers` (see [`answer`]).
pub(super) fn registered(
    publisher: PublisherId,
    id: CustomerId,
    actor: Actor,
    mut profile: Value,
    answers: Vec<Value>,
) -> NewEvent {
    profile["consents"] = Value::Array(answers);
    NewEvent {
        kind: "customer.registered",
        publisher: Some(publisher),
        customer: Some(id),
        actor,
        data: profile,
    }
}

/// One consent answer of an event: name, version, state.
pub(super) fn answer(name: &str, version: i32, state: &str) -> Value {
    json!({"name": name, "version": version, "state": state})
}

/// Counts an event whose transaction committed, and wakes the delivery worker (`bell`, the
/// store's [`Backend::new_events`]).
pub(super) fn written(bell: &tokio::sync::Notify, kind: &'static str) {
    metrics::counter!("events_written_total", "type" => kind).increment(1);
    bell.notify_one();
}

/// A new event's id: `evt_` and a UUIDv7, whose leading timestamp makes ids grow with time, so
/// the events table's primary key grows at its right edge (a random id dirtied a random index
/// page per event: most of that index's WAL in a bulk import).
fn event_id() -> String {
    format!("evt_{}", uuid::Uuid::now_v7().simple())
}

/// The stored (and delivered) JSON of an event. Serialized from a struct, not a built `Value`
/// map: the fields in the order a `Value` map gave them (alphabetical), so bodies keep their
/// bytes.
fn envelope(
    id: &str,
    event: &NewEvent,
    occurred_at: &str,
    sequence: Option<i64>,
) -> Result<String, StoreError> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope<'a> {
        actor: Value,
        customer_id: Option<i64>,
        data: &'a Value,
        id: &'a str,
        occurred_at: &'a str,
        publisher_id: Option<i64>,
        sequence: Option<i64>,
        #[serde(rename = "type")]
        kind: &'a str,
    }
    serde_json::to_string(&Envelope {
        actor: event.actor.to_json(),
        customer_id: event.customer.map(|c| c.get()),
        data: &event.data,
        id,
        occurred_at,
        publisher_id: event.publisher.map(|p| p.get()),
        sequence,
        kind: event.kind,
    })
    .map_err(|e| StoreError::Corrupt(format!("event {id} does not serialize: {e}")))
}

/// Writing events inside the caller's transaction.
#[async_trait::async_trait]
pub(super) trait Events: Backend {
    /// Writes the event and a pending delivery for each enabled endpoint that subscribes to
    /// its type. A customer's events get consecutive sequence numbers (the upsert of the
    /// counter row serializes them).
    async fn emit(
        conn: &mut Conn<Self>,
        event: NewEvent,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// Writes `events` as [`Events::emit`] does, in a few multi-row statements whatever
    /// their number (a bulk import's batch): one sequence upsert per 400 customers, one
    /// insert per 400 events, and the deliveries only when some enabled endpoint exists.
    async fn emit_many(
        conn: &mut Conn<Self>,
        events: Vec<NewEvent>,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;

    /// An erasure: the customer's earlier events keep their id, type, sequence and time but
    /// lose their data (undelivered ones go out without it, before `customer.erased`).
    async fn scrub_events(conn: &mut Conn<Self>, customer: CustomerId) -> Result<(), StoreError>;
}

shared_sql! {
    impl Events for B {
        async fn emit(
            conn: &mut Conn<Self>,
            event: NewEvent,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            let sequence: Option<i64> = match event.customer {
                Some(c) => Some(
                    sqlx::query_scalar(
                        "INSERT INTO event_sequences (customer_id, last) VALUES ($1, 1) \
                         ON CONFLICT (customer_id) DO UPDATE SET last = event_sequences.last + 1 RETURNING last",
                    )
                    .bind(c.get())
                    .fetch_one(&mut *conn)
                    .await?,
                ),
                None => None,
            };
            let id = event_id();
            let body = envelope(&id, &event, &at.to_rfc3339_opts(SecondsFormat::Millis, true), sequence)?;
            sqlx::query(
                "INSERT INTO events (id, publisher_id, customer_id, sequence, type, body, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(event.publisher.map(|p| p.get()))
            .bind(event.customer.map(|c| c.get()))
            .bind(sequence)
            .bind(event.kind)
            .bind(body)
            .bind(at)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, customer_id, sequence, next_attempt_at, created_at) \
                 SELECT w.id, $1, $2, $3, $4, $4 FROM webhook_endpoints w \
                 WHERE w.enabled AND ($5 OR w.publisher_id = $6) AND w.event_types LIKE '%,' || $7 || ',%'",
            )
            .bind(&id)
            .bind(event.customer.map(|c| c.get()))
            .bind(sequence)
            .bind(at)
            .bind(event.publisher.is_none())
            .bind(event.publisher.map_or(0, |p| p.get()))
            // The pattern is built in SQL: SQLite prepares a statement again whenever a bare
            // parameter that is a LIKE pattern is bound anew (its plan could use an index).
            .bind(event.kind)
            .execute(&mut *conn)
            .await?;
            Ok(())
        }

        async fn emit_many(
            conn: &mut Conn<Self>,
            events: Vec<NewEvent>,
            at: DateTime<Utc>,
        ) -> Result<(), StoreError> {
            if events.is_empty() {
                return Ok(());
            }
            // How many events each customer gets here: one upsert row per customer (a row may
            // not be updated twice by one statement), raising its counter by that many.
            let mut counts: Vec<(i64, i64)> = Vec::new();
            let mut index: HashMap<i64, usize> = HashMap::new();
            for c in events.iter().filter_map(|e| e.customer) {
                let at = *index.entry(c.get()).or_insert_with(|| {
                    counts.push((c.get(), 0));
                    counts.len() - 1
                });
                counts[at].1 += 1;
            }
            // The last sequence number each customer's counter reached.
            let mut last: HashMap<i64, i64> = HashMap::with_capacity(counts.len());
            for chunk in counts.chunks(MANY) {
                let sql = format!(
                    "INSERT INTO event_sequences (customer_id, last) VALUES {} \
                     ON CONFLICT (customer_id) DO UPDATE SET last = event_sequences.last + excluded.last \
                     RETURNING customer_id, last",
                    values::<B>(chunk.len(), 2)
                );
                let mut q = sqlx::query_as::<_, (i64, i64)>(&sql).persistent(false);
                for (customer, n) in chunk {
                    q = q.bind(*customer).bind(*n);
                }
                last.extend(q.fetch_all(&mut *conn).await?);
            }
            // Hand each customer's numbers out in the order of `events`.
            let mut next: HashMap<i64, i64> = counts
                .iter()
                .map(|(c, n)| Ok((*c, last.get(c).ok_or_else(|| StoreError::Corrupt(format!("no event sequence for customer {c}")))? - n + 1)))
                .collect::<Result<_, StoreError>>()?;
            let occurred = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            let mut rows: Vec<(String, Option<i64>, Option<i64>, Option<i64>, &'static str, String)> =
                Vec::with_capacity(events.len());
            for event in events {
                let sequence = event.customer.map(|c| {
                    let n = next.entry(c.get()).or_insert(1);
                    *n += 1;
                    *n - 1
                });
                let id = event_id();
                let body = envelope(&id, &event, &occurred, sequence)?;
                rows.push((
                    id,
                    event.publisher.map(|p| p.get()),
                    event.customer.map(|c| c.get()),
                    sequence,
                    event.kind,
                    body,
                ));
            }
            let table = Rows {
                table: "events",
                columns: vec![
                    ("id", Column::Text(rows.iter().map(|r| Some(r.0.as_str().into())).collect())),
                    ("publisher_id", Column::Int(rows.iter().map(|r| r.1).collect())),
                    ("customer_id", Column::Int(rows.iter().map(|r| r.2).collect())),
                    ("sequence", Column::Int(rows.iter().map(|r| r.3).collect())),
                    ("type", Column::Text(rows.iter().map(|r| Some(r.4.into())).collect())),
                    ("body", Column::Text(rows.iter().map(|r| Some(r.5.as_str().into())).collect())),
                    ("occurred_at", Column::Time(vec![Some(at); rows.len()])),
                ],
            };
            Self::insert_rows(&mut *conn, &table, "").await?;
            let endpoints: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE enabled")
                    .fetch_one(&mut *conn)
                    .await?;
            if endpoints == 0 {
                return Ok(());
            }
            // The same rule as `emit`: the publisher's endpoints subscribed to the type (every
            // publisher's for the platform's own events), in the events' order.
            for chunk in rows.chunks(MANY) {
                let sql = format!(
                    "INSERT INTO webhook_deliveries (endpoint_id, event_id, customer_id, sequence, next_attempt_at, created_at) \
                     SELECT w.id, e.id, e.customer_id, e.sequence, {}, {} FROM events e \
                     JOIN webhook_endpoints w ON w.enabled \
                      AND (e.publisher_id IS NULL OR w.publisher_id = e.publisher_id) \
                      AND w.event_types LIKE '%,' || e.type || ',%' \
                     WHERE e.id IN ({}) ORDER BY e.customer_id, e.sequence, w.id",
                    one::<B>(1),
                    one::<B>(2),
                    list::<B>(3, chunk.len())
                );
                let mut q = sqlx::query(&sql).persistent(false).bind(at).bind(at);
                for row in chunk {
                    q = q.bind(row.0.as_str());
                }
                q.execute(&mut *conn).await?;
            }
            Ok(())
        }

        async fn scrub_events(conn: &mut Conn<Self>, customer: CustomerId) -> Result<(), StoreError> {
            let rows: Vec<(String, String)> =
                sqlx::query_as("SELECT id, body FROM events WHERE customer_id = $1")
                    .bind(customer.get())
                    .fetch_all(&mut *conn)
                    .await?;
            for (id, body) in rows {
                let mut event: Value = serde_json::from_str(&body).unwrap_or_else(|_| json!({}));
                if let Some(map) = event.as_object_mut() {
                    map.insert("data".into(), json!({"erased": true}));
                }
                sqlx::query("UPDATE events SET body = $2 WHERE id = $1")
                    .bind(&id)
                    .bind(event.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            Ok(())
        }
    }
}

/// `consent.published` / `consent.archived`: a publisher's consent goes to its endpoints, the
/// platform's to every publisher's.
pub(super) fn consent_event(
    kind: &'static str,
    owner: crate::domain::ConsentOwner,
    name: &crate::domain::ConsentName,
    version: Option<i32>,
    actor: Actor,
) -> NewEvent {
    let publisher = match owner {
        crate::domain::ConsentOwner::Platform => None,
        crate::domain::ConsentOwner::Publisher(p) => Some(p),
    };
    let mut data = json!({"name": name.as_str(), "owner": if publisher.is_some() { "publisher" } else { "platform" }});
    if let (Some(v), Some(map)) = (version, data.as_object_mut()) {
        map.insert("version".into(), v.into());
    }
    NewEvent {
        kind,
        publisher,
        customer: None,
        actor,
        data,
    }
}
