//! The event SQL both backends share: writing an event inside the caller's transaction, with
//! its per-customer sequence number and one delivery per subscribed endpoint. The endpoints
//! and the workers' claims are in `sql_webhooks.rs`.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use super::StoreError;
use super::backend::{Backend, Conn, shared_sql};
use super::events::Actor;
use crate::domain::{CustomerId, PublisherId};

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

/// Counts events whose transaction committed.
pub(super) fn written(kind: &'static str) {
    metrics::counter!("events_written_total", "type" => kind).increment(1);
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
            let id = format!("evt_{}", uuid::Uuid::new_v4().simple());
            let body = json!({
                "id": id,
                "type": event.kind,
                "publisherId": event.publisher.map(|p| p.get()),
                "customerId": event.customer.map(|c| c.get()),
                "occurredAt": at.to_rfc3339_opts(SecondsFormat::Millis, true),
                "sequence": sequence,
                "actor": event.actor.to_json(),
                "data": event.data,
            });
            sqlx::query(
                "INSERT INTO events (id, publisher_id, customer_id, sequence, type, body, occurred_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&id)
            .bind(event.publisher.map(|p| p.get()))
            .bind(event.customer.map(|c| c.get()))
            .bind(sequence)
            .bind(event.kind)
            .bind(body.to_string())
            .bind(at)
            .execute(&mut *conn)
            .await?;
            sqlx::query(
                "INSERT INTO webhook_deliveries (endpoint_id, event_id, customer_id, sequence, next_attempt_at, created_at) \
                 SELECT w.id, $1, $2, $3, $4, $4 FROM webhook_endpoints w \
                 WHERE w.enabled AND ($5 OR w.publisher_id = $6) AND w.event_types LIKE $7",
            )
            .bind(&id)
            .bind(event.customer.map(|c| c.get()))
            .bind(sequence)
            .bind(at)
            .bind(event.publisher.is_none())
            .bind(event.publisher.map_or(0, |p| p.get()))
            .bind(format!("%,{},%", event.kind))
            .execute(&mut *conn)
            .await?;
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
