//! What the admin side keeps: keys, dashboard sessions, the audit trail, and the filters and
//! cursors of the customer list.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use serde_json::Value;

use async_trait::async_trait;

use super::{ConsentRecord, Customer, Published, Publisher, StoreError};
use crate::domain::email::email_key;
use crate::domain::{
    AdminKeyId, ConsentDraft, ConsentName, ConsentOwner, ConsentState, Country, CustomerId,
    OfferId, PublisherId, PublisherSettings,
};

/// An admin key as stored: never the key itself, only its SHA-256.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminKey {
    /// Shown in lists and the audit trail.
    pub id: AdminKeyId,
    /// The publisher it is limited to; `None` for an operator key (every publisher).
    pub publisher: Option<PublisherId>,
    /// A name for people (`"ci"`, `"alice's laptop"`).
    pub label: String,
    /// When it was made.
    pub created_at: DateTime<Utc>,
    /// When it was revoked; a revoked key opens nothing.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key to store: its hash, scope and label.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminKey {
    /// SHA-256 (hex) of the key.
    pub hash: String,
    /// `None` for an operator key.
    pub publisher: Option<PublisherId>,
    /// A name for people.
    pub label: String,
}

/// One line of the audit trail to write, in the transaction of the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// The admin key that made the change (`None`: the config's operator key or the CLI).
    pub key_id: Option<AdminKeyId>,
    /// Who, for people: the key's label, `operator (config)` or `cli`.
    pub actor: String,
    /// The publisher concerned, if any.
    pub publisher: Option<PublisherId>,
    /// What, e.g. `publisher.update`, `customer.erase`.
    pub action: String,
    /// The particulars, never a secret.
    pub detail: Value,
}

/// One stored line of the audit trail.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// Increasing id (the page cursor).
    pub id: i64,
    /// The admin key, when one made the change.
    pub key_id: Option<AdminKeyId>,
    /// Who, for people.
    pub actor: String,
    /// The publisher concerned.
    pub publisher: Option<PublisherId>,
    /// What.
    pub action: String,
    /// The particulars.
    pub detail: Value,
    /// When.
    pub at: DateTime<Utc>,
}

/// One row of a customer's consent history, as kept (an erased customer's rows have no
/// address and no user agent).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentHistoryRecord {
    /// Row id (the order of the answers).
    pub id: i64,
    /// Whose consent.
    pub owner: ConsentOwner,
    /// Which consent.
    pub name: ConsentName,
    /// The version answered.
    pub version: crate::domain::ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
    /// Where from.
    pub ip: Option<std::net::IpAddr>,
    /// Which client.
    pub user_agent: Option<String>,
    /// When.
    pub at: DateTime<Utc>,
}

/// A dashboard session to store (only hashes of its token and CSRF token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminSession {
    /// SHA-256 (hex) of the session token.
    pub hash: String,
    /// The key that signed in (`None`: the config's operator key).
    pub key_id: Option<AdminKeyId>,
    /// For the config's operator key: SHA-256 (hex) of it (the session ends when it changes).
    pub operator_key_hash: Option<String>,
    /// SHA-256 (hex) of the CSRF token.
    pub csrf_hash: String,
    /// End of the session.
    pub expires_at: DateTime<Utc>,
}

/// A live (unexpired) session with its key; the key may have been revoked since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    /// The key that signed in (check `revoked_at`); `None` for the config's operator key.
    pub key: Option<AdminKey>,
    /// For the config's operator key: SHA-256 (hex) of the key it signed in with.
    pub operator_key_hash: Option<String>,
    /// SHA-256 (hex) of the CSRF token.
    pub csrf_hash: String,
    /// Start of the session.
    pub created_at: DateTime<Utc>,
    /// End of the session.
    pub expires_at: DateTime<Utc>,
}

/// The forms of a search text the customer list compares: an email-key prefix, a name
/// prefix (both case-insensitive) and an exact external id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomerSearch {
    /// Prefix of `email_key` (the same normalization as the key itself).
    pub email_prefix: String,
    /// Lower-cased prefix of the first or last name.
    pub name_prefix: String,
    /// The external id, exactly.
    pub external_id: String,
}

impl CustomerSearch {
    /// The search for what an admin typed; `None` for blank text.
    pub fn new(text: &str) -> Option<CustomerSearch> {
        let text = text.trim();
        if text.is_empty() {
            return None;
        }
        Some(CustomerSearch {
            email_prefix: email_key(text),
            name_prefix: text.to_lowercase(),
            external_id: text.to_owned(),
        })
    }
}

/// Which customers a list or an export holds; everything given must hold. Erased customers
/// never appear.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Email or name prefix, or external id.
    pub search: Option<CustomerSearch>,
    /// Registered in this country.
    pub country: Option<Country>,
    /// Registered at or after.
    pub registered_from: Option<DateTime<Utc>>,
    /// Registered before.
    pub registered_before: Option<DateTime<Utc>>,
    /// The current answer to this consent (never answered counts as declined).
    pub consent: Option<(ConsentName, ConsentState)>,
    /// `true`: some current consent's newest version is unanswered; `false`: none is.
    pub needs_update: Option<bool>,
}

/// Where a page of customers ends: the list is newest first by (created_at, id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CustomerCursor {
    /// Registration time of the last customer shown.
    pub created_at: DateTime<Utc>,
    /// Its id.
    pub id: CustomerId,
}

impl CustomerCursor {
    /// The opaque text form given to clients.
    pub fn encode(&self) -> String {
        let raw = format!(
            "{}|{}",
            self.created_at
                .to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            self.id
        );
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Reads the text form back; `None` when it was not made by [`CustomerCursor::encode`].
    pub fn decode(text: &str) -> Option<CustomerCursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        let (at, id) = raw.split_once('|')?;
        Some(CustomerCursor {
            created_at: DateTime::parse_from_rfc3339(at).ok()?.with_timezone(&Utc),
            id: CustomerId::parse(id).ok()?,
        })
    }
}

/// Where a page of the audit trail ends (newest first by id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditCursor(pub i64);

impl AuditCursor {
    /// The opaque text form given to clients.
    pub fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(format!("a{}", self.0))
    }

    /// Reads the text form back.
    pub fn decode(text: &str) -> Option<AuditCursor> {
        let raw = String::from_utf8(URL_SAFE_NO_PAD.decode(text).ok()?).ok()?;
        raw.strip_prefix('a')?.parse().ok().map(AuditCursor)
    }
}

/// Admin keys, the admin's changes (each written with its audit line in one transaction),
/// the customer list, erasure, the audit trail and dashboard sessions.
#[async_trait]
pub trait AdminStore: Send + Sync + 'static {
    /// Stores a key (its hash); `NotFound` for an unknown publisher. `audit` is written with it.
    async fn create_admin_key(
        &self,
        key: &NewAdminKey,
        audit: &NewAudit,
    ) -> Result<AdminKey, StoreError>;

    /// Every key (revoked ones too), by id; only one publisher's with `Some`.
    async fn admin_keys(&self, publisher: Option<PublisherId>)
    -> Result<Vec<AdminKey>, StoreError>;

    /// The key with this hash, revoked or not.
    async fn admin_key_by_hash(&self, hash: &str) -> Result<Option<AdminKey>, StoreError>;

    /// Revokes a key and ends its sessions; `None` when there is no such key. The audit line
    /// gets the key's publisher. Revoking a revoked key changes nothing (and writes no line).
    async fn revoke_admin_key(
        &self,
        id: AdminKeyId,
        audit: &NewAudit,
    ) -> Result<Option<AdminKey>, StoreError>;

    /// [`PublisherStore::create_publisher`](super::PublisherStore::create_publisher) with its audit line, in one transaction.
    async fn admin_create_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        offers: &[OfferId],
        audit: &NewAudit,
    ) -> Result<Publisher, StoreError>;

    /// [`PublisherStore::update_publisher`](super::PublisherStore::update_publisher) with its audit line, in one transaction.
    async fn admin_update_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        audit: &NewAudit,
    ) -> Result<Publisher, StoreError>;

    /// [`PublisherStore::publish_consent`](super::PublisherStore::publish_consent) with its audit line (written only when a version
    /// was published); the audit detail gets the new `version`.
    async fn admin_publish_consent(
        &self,
        owner: ConsentOwner,
        draft: &ConsentDraft,
        audit: &NewAudit,
    ) -> Result<Published, StoreError>;

    /// [`PublisherStore::archive_consent`](super::PublisherStore::archive_consent) with its audit line (when something was archived).
    async fn admin_archive_consent(
        &self,
        owner: ConsentOwner,
        name: &ConsentName,
        audit: &NewAudit,
    ) -> Result<bool, StoreError>;

    /// One page of a publisher's customers, newest first by (created_at, id), after `after`;
    /// at most `limit`. Erased customers never appear. Keyset: each page is an index range.
    async fn customer_page(
        &self,
        publisher: PublisherId,
        filter: &CustomerFilter,
        after: Option<&CustomerCursor>,
        limit: u32,
    ) -> Result<Vec<Customer>, StoreError>;

    /// Every row of a customer's consent history, oldest first.
    async fn consent_history(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<ConsentHistoryRecord>, StoreError>;

    /// Erases a customer: the row stays as a tombstone (id kept, personal fields nulled,
    /// `erased_at` set), the consent history loses addresses and user agents, and refresh
    /// tokens, reset tokens, outbox, idempotency and login-failure rows go; the session epoch
    /// is bumped. False when there is no such (unerased) customer.
    async fn erase_customer(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        audit: &NewAudit,
    ) -> Result<bool, StoreError>;

    /// Writes an audit line on its own (for actions that change nothing stored, e.g. exports).
    async fn record_audit(&self, audit: &NewAudit) -> Result<(), StoreError>;

    /// One page of the audit trail, newest first, before `before`; one publisher's with `Some`.
    async fn audit_page(
        &self,
        publisher: Option<PublisherId>,
        before: Option<AuditCursor>,
        limit: u32,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// Stores a dashboard session; `NotFound` for an unknown key.
    async fn create_admin_session(&self, session: &NewAdminSession) -> Result<(), StoreError>;

    /// The unexpired session with this token hash, with its key (revoked or not).
    async fn admin_session(&self, hash: &str) -> Result<Option<AdminSession>, StoreError>;

    /// Ends a session; false when there was none.
    async fn delete_admin_session(&self, hash: &str) -> Result<bool, StoreError>;

    /// The current answers (newest history row per consent) of several customers of one
    /// publisher at once (the dashboard's page of 50), in one query.
    async fn consent_answers_of(
        &self,
        publisher: PublisherId,
        customers: &[CustomerId],
    ) -> Result<Vec<(CustomerId, ConsentRecord)>, StoreError>;

    /// Customers registered per UTC day since `since` (days without any are left out); erased
    /// ones are not counted.
    async fn registrations_per_day(
        &self,
        publisher: PublisherId,
        since: DateTime<Utc>,
    ) -> Result<Vec<(chrono::NaiveDate, i64)>, StoreError>;

    /// Drops expired sessions; returns how many.
    async fn purge_admin_sessions(&self) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_junk() {
        let c = CustomerCursor {
            created_at: DateTime::parse_from_rfc3339("2024-05-06T07:08:09.123456789Z")
                .unwrap()
                .with_timezone(&Utc),
            id: CustomerId::parse("123456789").unwrap(),
        };
        assert_eq!(CustomerCursor::decode(&c.encode()), Some(c));
        assert_eq!(CustomerCursor::decode("nonsense"), None);
        assert_eq!(CustomerCursor::decode(""), None);
        assert_eq!(
            AuditCursor::decode(&AuditCursor(42).encode()),
            Some(AuditCursor(42))
        );
        assert_eq!(AuditCursor::decode(&c.encode()), None);
    }

    #[test]
    fn search_forms() {
        let s = CustomerSearch::new("  Alice@Example ").unwrap();
        assert_eq!(s.email_prefix, "alice@example");
        assert_eq!(s.name_prefix, "alice@example");
        assert_eq!(s.external_id, "Alice@Example");
        assert_eq!(CustomerSearch::new("  "), None);
    }
}
