//! A publisher's customers as admins see them: the filtered, keyset-paged list, one customer
//! with where they stand on each consent and their whole consent history, the export (with
//! its audit line), the registrations chart, and erasure (admin API, dashboard and Cleeng's
//! `DELETE /3.1/customers/{customerId}` alike).

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use futures_util::Stream;
use serde_json::{Value, json};

use super::Services;
use super::admin_keys::{AdminAuth, Scope};
use crate::domain::{ConsentState, CustomerId, PublisherId};
use crate::error::ApiError;
use crate::store::{
    ConsentHistoryRecord, ConsentRecord, ConsentVersion, Customer, CustomerCursor, CustomerFilter,
    StoreError,
};

/// Where a customer ends a page.
pub fn cursor_of(c: &Customer) -> CustomerCursor {
    CustomerCursor {
        created_at: c.created_at,
        id: c.id,
    }
}

/// One page of customers, newest first, and where the next page starts (`None` on the last).
pub struct CustomerPage {
    /// Newest first.
    pub customers: Vec<Customer>,
    /// Where the next page starts.
    pub next: Option<CustomerCursor>,
}

/// The customers `filter` selects after `after`, `limit` at most (keyset: every page is as
/// fast as the first). Erased customers never appear.
pub async fn page(
    sv: &Services,
    publisher: PublisherId,
    filter: &CustomerFilter,
    after: Option<&CustomerCursor>,
    limit: u32,
) -> Result<CustomerPage, ApiError> {
    let mut customers = sv
        .store
        .customer_page(publisher, filter, after, limit + 1)
        .await?;
    let more = customers.len() > limit as usize;
    customers.truncate(limit as usize);
    let next = more.then(|| customers.last().map(cursor_of)).flatten();
    Ok(CustomerPage { customers, next })
}

/// Where a customer stands on one current consent.
pub struct Standing {
    /// The consent's newest version.
    pub consent: ConsentVersion,
    /// The customer's newest answer, if any.
    pub answer: Option<ConsentRecord>,
}

impl Standing {
    /// The newest version is unanswered.
    pub fn needs_update(&self) -> bool {
        crate::domain::consent::needs_update(
            self.answer.as_ref().map(|a| a.version),
            self.consent.version,
        )
    }

    /// Required, and not accepted (never answered counts as declined).
    pub fn missing_required(&self) -> bool {
        self.consent.required
            && self
                .answer
                .as_ref()
                .is_none_or(|a| a.state != ConsentState::Accepted)
    }
}

pub(super) fn standings(current: &[ConsentVersion], answers: &[&ConsentRecord]) -> Vec<Standing> {
    current
        .iter()
        .map(|c| Standing {
            consent: c.clone(),
            answer: answers
                .iter()
                .find(|a| a.owner == c.owner && a.name == c.name)
                .map(|a| (*a).clone()),
        })
        .collect()
}

/// Where each of `customers` stands on the publisher's `current` consents (in their order).
pub async fn standings_of(
    sv: &Services,
    publisher: PublisherId,
    current: &[ConsentVersion],
    customers: &[Customer],
) -> Result<Vec<Vec<Standing>>, ApiError> {
    let ids: Vec<CustomerId> = customers.iter().map(|c| c.id).collect();
    let all = sv.store.consent_answers_of(publisher, &ids).await?;
    Ok(customers
        .iter()
        .map(|c| {
            let answers: Vec<&ConsentRecord> = all
                .iter()
                .filter(|(id, _)| *id == c.id)
                .map(|(_, a)| a)
                .collect();
            standings(current, &answers)
        })
        .collect())
}

/// One unerased customer of the publisher (404 REQ0003 otherwise).
pub async fn get(
    sv: &Services,
    publisher: PublisherId,
    id: CustomerId,
) -> Result<Customer, ApiError> {
    sv.store
        .customer(publisher, id)
        .await?
        .ok_or_else(|| ApiError::unknown("customerId"))
}

/// A customer with everything kept about them.
pub struct Detail {
    /// The profile.
    pub customer: Customer,
    /// Each current consent with the customer's answer.
    pub consents: Vec<Standing>,
    /// Every answer ever given, oldest first.
    pub history: Vec<ConsentHistoryRecord>,
}

/// One customer: profile, current consents and the full consent history.
pub async fn detail(
    sv: &Services,
    publisher: PublisherId,
    id: CustomerId,
) -> Result<Detail, ApiError> {
    let customer = get(sv, publisher, id).await?;
    detail_of(sv, publisher, customer).await
}

/// [`detail`] of a customer already read.
pub async fn detail_of(
    sv: &Services,
    publisher: PublisherId,
    customer: Customer,
) -> Result<Detail, ApiError> {
    let current = sv.store.current_consents(publisher).await?;
    let answers = sv.store.consent_answers(publisher, customer.id).await?;
    let history = sv.store.consent_history(publisher, customer.id).await?;
    let answers: Vec<&ConsentRecord> = answers.iter().collect();
    Ok(Detail {
        consents: standings(&current, &answers),
        customer,
        history,
    })
}

/// Customers fetched at a time by an export.
pub const EXPORT_BATCH: u32 = 1000;

/// Exports the customers `filter` selects: records the export (`described`: the filter as the
/// audit trail keeps it, never the search text) and returns them in batches of
/// [`EXPORT_BATCH`], fetched as they are read, so a million rows take one batch's memory.
/// The first batch may be empty; a batch after the first is empty only at the end.
pub async fn export(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    filter: CustomerFilter,
    described: Value,
) -> Result<impl Stream<Item = Result<Vec<Customer>, StoreError>> + Send + 'static, ApiError> {
    let line = auth.audit(
        Some(publisher),
        "customer.export",
        json!({"filter": described}),
    );
    sv.store.record_audit(&line).await?;
    struct Walk {
        store: Arc<dyn crate::store::Store>,
        filter: CustomerFilter,
        after: Option<CustomerCursor>,
        done: bool,
    }
    let start = Walk {
        store: sv.store.clone(),
        filter,
        after: None,
        done: false,
    };
    Ok(futures_util::stream::try_unfold(
        start,
        move |mut w| async move {
            if w.done {
                return Ok(None);
            }
            let rows = w
                .store
                .customer_page(publisher, &w.filter, w.after.as_ref(), EXPORT_BATCH)
                .await?;
            // A short batch is the last: no query after it.
            w.done = rows.len() < EXPORT_BATCH as usize;
            w.after = rows.last().map(cursor_of);
            Ok(Some((rows, w)))
        },
    ))
}

/// Registrations per UTC day, the last `days` days to today, days without any as 0.
pub async fn registrations_per_day(
    sv: &Services,
    publisher: PublisherId,
    days: i64,
) -> Result<Vec<(NaiveDate, i64)>, ApiError> {
    let today = Utc::now().date_naive();
    let first = today - chrono::Duration::days(days - 1);
    let since = first
        .and_hms_opt(0, 0, 0)
        .map_or_else(Utc::now, |t| t.and_utc());
    let counts = sv.store.registrations_per_day(publisher, since).await?;
    Ok(first
        .iter_days()
        .take(usize::try_from(days).unwrap_or(0))
        .map(|d| {
            (
                d,
                counts.iter().find(|(c, _)| *c == d).map_or(0, |(_, n)| *n),
            )
        })
        .collect())
}

/// The publisher of a customer the key reaches: a publisher key's own, or for an operator
/// whichever publisher the customer belongs to (404 REQ0003 for none).
pub async fn publisher_of(
    sv: &Services,
    auth: &AdminAuth,
    id: CustomerId,
) -> Result<PublisherId, ApiError> {
    match auth.scope {
        Scope::Publisher(own) => Ok(own),
        Scope::Operator => sv
            .store
            .customer_publisher(id)
            .await?
            .ok_or_else(|| ApiError::unknown("customerId")),
    }
}

/// Erases one customer: the row stays as a tombstone without personal data, the consent
/// history keeps name, version, state and time only, and their tokens, resets, emails and
/// idempotency records go. 404 REQ0003 when there is no such (unerased) customer.
pub async fn erase(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    id: CustomerId,
) -> Result<(), ApiError> {
    auth.check_publisher(publisher)?;
    let line = auth.audit(
        Some(publisher),
        "customer.erase",
        json!({"customerId": id.to_string()}),
    );
    if !sv.store.erase_customer(publisher, id, &line).await? {
        return Err(ApiError::unknown("customerId"));
    }
    tracing::info!(customer_id = %id, publisher_id = %publisher, "customer erased by an admin");
    Ok(())
}
