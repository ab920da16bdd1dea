//! Persistence: one `Store` trait, two implementations (`postgres`, `sqlite`), each with its own
//! `migrations/<backend>/`. They differ only in what the `backend::Backend` trait asks of them;
//! the SQL is written once (`sql*.rs`) against it.
//! Every function takes the tenant first.

mod account;
mod admin;
mod backend;
mod customer;
mod error;
mod health;
mod postgres;
mod sql;
mod sql_accounts;
mod sql_admin;
mod sql_admin_parts;
mod sql_customers;
mod sql_verification;
mod sqlite;
mod verification;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::config::DatabaseSettings;
use crate::domain::{
    ConsentDraft, ConsentName, ConsentOwner, CustomerId, Declaration, OfferId, PublisherId,
    PublisherSettings,
};

pub use account::{MailMessage, NewMail, OutboxBacklog, OutboxMail, PoolStats, Rotation};
pub use admin::{
    AdminKey, AdminSession, AuditCursor, AuditEntry, ConsentHistoryRecord, CustomerCursor,
    CustomerFilter, CustomerSearch, NewAdminKey, NewAdminSession, NewAudit,
};
pub use customer::{
    ConsentRecord, Customer, CustomerChanges, Idempotency, IdempotencyRef, NewConsentRecord,
    NewCustomer, NewRefreshToken, conflict_field,
};
pub use error::StoreError;
pub use health::DbHealth;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use verification::{CodeCheck, VerificationStore};

/// A publisher (tenant) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Publisher {
    /// Its id.
    pub id: PublisherId,
    /// Its display name.
    pub name: String,
    /// Its settings.
    pub settings: PublisherSettings,
    /// When it was created.
    pub created_at: DateTime<Utc>,
}

/// One version of a consent, as stored. Versions are append-only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentVersion {
    /// The platform or a publisher.
    pub owner: ConsentOwner,
    /// The consent's name.
    pub name: ConsentName,
    /// 1, 2, … per (owner, name); the highest is current.
    pub version: i32,
    /// The text shown.
    pub label: String,
    /// The document's URL.
    pub value: String,
    /// Must be accepted to register.
    pub required: bool,
    /// The checkbox starts ticked.
    pub enabled_by_default: bool,
    /// Placeholder text.
    pub placeholder: String,
    /// No longer asked for.
    pub archived: bool,
    /// When this version was published.
    pub created_at: DateTime<Utc>,
}

impl ConsentVersion {
    /// Whether this version says what the draft says (then publishing it changes nothing).
    pub fn matches(&self, draft: &ConsentDraft) -> bool {
        self.name == draft.name
            && self.label == draft.label
            && self.value == draft.value
            && self.required == draft.required
            && self.enabled_by_default == draft.enabled_by_default
            && self.placeholder == draft.placeholder
    }
}

/// What publishing a consent draft did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A new version with this number was stored.
    New(i32),
    /// The current version (this number) already says the same; nothing was stored.
    Unchanged(i32),
}

impl Published {
    /// The version now current.
    pub fn version(self) -> i32 {
        match self {
            Published::New(v) | Published::Unchanged(v) => v,
        }
    }
}

/// What applying the config's declaration changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ApplyReport {
    /// Keys of the declared parts whose fingerprint changed and that were applied.
    pub applied: Vec<String>,
    /// Consents that got a new version: (owner, name, version).
    pub published: Vec<(ConsentOwner, ConsentName, i32)>,
    /// Consents archived because the declaration no longer has them.
    pub archived: Vec<(ConsentOwner, ConsentName)>,
}

/// Everything Enroll keeps. Implementations: [`PgStore`], [`SqliteStore`]. Bring the parts
/// into scope with `use enroll::store::{PublisherStore, CustomerStore}`.
pub trait Store:
    PublisherStore + CustomerStore + AccountStore + VerificationStore + AdminStore
{
}

impl<T: PublisherStore + CustomerStore + AccountStore + VerificationStore + AdminStore> Store
    for T
{
}

/// Publishers, offers, consents and the config's declaration.
#[async_trait]
pub trait PublisherStore: Send + Sync + 'static {
    /// Applies pending migrations of this backend.
    async fn migrate(&self) -> Result<(), StoreError>;

    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The connection pool's counts, at once (no query).
    fn pool_stats(&self) -> PoolStats;

    /// Creates a publisher with its offers; `AlreadyExists` when the id or an offer is taken.
    async fn create_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        offers: &[OfferId],
    ) -> Result<Publisher, StoreError>;

    /// Replaces a publisher's name and settings; `NotFound` when it does not exist.
    async fn update_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
    ) -> Result<Publisher, StoreError>;

    /// One publisher.
    async fn publisher(&self, id: PublisherId) -> Result<Option<Publisher>, StoreError>;

    /// Every publisher, by id.
    async fn publishers(&self) -> Result<Vec<Publisher>, StoreError>;

    /// Adds an offer to a publisher; `AlreadyExists` when the offer id is taken.
    async fn add_offer(&self, publisher: PublisherId, offer: &OfferId) -> Result<(), StoreError>;

    /// A publisher's offers, by id.
    async fn offers(&self, publisher: PublisherId) -> Result<Vec<OfferId>, StoreError>;

    /// The publisher an offer belongs to, if the offer exists.
    async fn offer_publisher(&self, offer: &OfferId) -> Result<Option<PublisherId>, StoreError>;

    /// Publishes a draft as the next version of the owner's consent, unless the current version
    /// already says the same. Serialized with every other publication (one lock).
    /// `NotFound` for an unknown publisher; `Invalid` when the name belongs to the other side
    /// (names are unique across the platform's and each publisher's consents).
    async fn publish_consent(
        &self,
        owner: ConsentOwner,
        draft: &ConsentDraft,
    ) -> Result<Published, StoreError>;

    /// Marks every version of a consent archived (no longer asked for); false if none exists.
    async fn archive_consent(
        &self,
        owner: ConsentOwner,
        name: &ConsentName,
    ) -> Result<bool, StoreError>;

    /// The consents a publisher's customers are asked for: the platform's and the publisher's,
    /// each at its newest version, archived ones left out; platform first.
    async fn current_consents(
        &self,
        publisher: PublisherId,
    ) -> Result<Vec<ConsentVersion>, StoreError>;

    /// Every version of every consent of one owner, by name then version.
    async fn consent_versions(
        &self,
        owner: ConsentOwner,
    ) -> Result<Vec<ConsentVersion>, StoreError>;

    /// Applies the parts of the config's declaration whose fingerprint changed since they were
    /// last applied, in one transaction under the provisioning lock; a part that did not
    /// change is left alone, so changes made through the CLI or admin API survive restarts.
    async fn apply_declaration(&self, declaration: &Declaration)
    -> Result<ApplyReport, StoreError>;
}

/// Customers, their consent history, tokens, idempotency records and shared secrets.
#[async_trait]
pub trait CustomerStore: Send + Sync + 'static {
    /// Stores a new customer with a fresh random id (retrying on the rare collision), its
    /// consent answers, its first refresh token and its idempotency outcome, in one
    /// transaction. `AlreadyExists` names the rule broken (see [`conflict_field`]).
    async fn create_customer(
        &self,
        publisher: PublisherId,
        new: &NewCustomer,
    ) -> Result<Customer, StoreError>;

    /// One customer of one publisher (erased customers are not found).
    async fn customer(
        &self,
        publisher: PublisherId,
        id: CustomerId,
    ) -> Result<Option<Customer>, StoreError>;

    /// Applies profile changes; `NotFound` for no such customer, `AlreadyExists` for a taken email.
    /// A new email key ends every session of the customer in the same transaction (as
    /// [`AccountStore::end_sessions`]).
    async fn update_customer(
        &self,
        publisher: PublisherId,
        id: CustomerId,
        changes: &CustomerChanges,
    ) -> Result<Customer, StoreError>;

    /// The customer's current answer per consent: the newest history row of each.
    async fn consent_answers(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<Vec<ConsentRecord>, StoreError>;

    /// Appends answers to the customer's history (never rewritten), in one transaction.
    async fn append_consents(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        records: &[NewConsentRecord],
    ) -> Result<(), StoreError>;

    /// Stores a refresh token (a new family) for the customer, only while the customer's
    /// session epoch is still `epoch` (`NotFound` otherwise: the sessions of that epoch were
    /// ended, e.g. by a password reset, and none may be started from it any more).
    async fn add_refresh_token(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token: &NewRefreshToken,
        epoch: i64,
    ) -> Result<(), StoreError>;

    /// Claims an idempotency key for a request body (by its HMAC). A record older than
    /// `ttl` is forgotten; a running one older than `stale` (its process died) is taken over.
    async fn idempotency_begin(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
        body_hmac: &str,
        stale: std::time::Duration,
        ttl: std::time::Duration,
    ) -> Result<Idempotency, StoreError>;

    /// Records the outcome of a request that did not create a customer.
    async fn idempotency_finish(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
        status: u16,
        response: &serde_json::Value,
    ) -> Result<(), StoreError>;

    /// Forgets a key whose request failed with a server error (so a retry runs again).
    async fn idempotency_abandon(
        &self,
        publisher: PublisherId,
        key: &IdempotencyRef,
    ) -> Result<(), StoreError>;

    /// The JWT signing keys generated by replicas (oldest first); when there is none yet,
    /// stores `candidate` first (the first replica wins).
    async fn ensure_signing_key(
        &self,
        kid: &str,
        candidate_pem: &str,
    ) -> Result<Vec<String>, StoreError>;

    /// A shared secret by name; when there is none yet, stores `candidate`.
    async fn ensure_secret(&self, name: &str, candidate: &str) -> Result<String, StoreError>;
}

/// Sign-in, refresh tokens, password resets, the email outbox and housekeeping.
#[async_trait]
pub trait AccountStore: Send + Sync + 'static {
    /// The customer of a publisher with this email key.
    async fn customer_by_email(
        &self,
        publisher: PublisherId,
        email_key: &str,
    ) -> Result<Option<Customer>, StoreError>;

    /// Records a successful login: last login time and address, and a new refresh token;
    /// only while the customer's session epoch is still `epoch`, the one whose password was
    /// checked (`NotFound` otherwise: the password was reset meanwhile).
    async fn record_login(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        ip: &str,
        token: &NewRefreshToken,
        epoch: i64,
    ) -> Result<(), StoreError>;

    /// Reserves one password check of (publisher, key) in an hour bucket (Unix hours), in one
    /// statement: counts it and returns the new count, or `None` (counting nothing) when
    /// `limit` checks are already counted. Concurrent callers on any replica never get more
    /// than `limit` reservations.
    async fn reserve_password_check(
        &self,
        publisher: PublisherId,
        key_hash: &str,
        hour: i64,
        limit: i64,
    ) -> Result<Option<i64>, StoreError>;

    /// Gives a reservation back (the password was right: only failures count).
    async fn release_password_check(
        &self,
        publisher: PublisherId,
        key_hash: &str,
        hour: i64,
    ) -> Result<(), StoreError>;

    /// Ends every session of a customer ("sign out everywhere"): bumps the session epoch (JWTs
    /// issued before stop reaching the customer), revokes every refresh token, forgets the
    /// idempotent registration replays and outstanding reset links, in one transaction.
    /// False when there is no such (unerased) customer.
    async fn end_sessions(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
    ) -> Result<bool, StoreError>;

    /// Uses a refresh token (by hash) once: stores its successor `next_hash` in the same
    /// family (living `ttl`, never past the family's end). A token used more than `grace`
    /// ago revokes its family.
    async fn rotate_refresh_token(
        &self,
        hash: &str,
        next_hash: &str,
        ttl: std::time::Duration,
        grace: std::time::Duration,
    ) -> Result<Rotation, StoreError>;

    /// The publisher of a customer that is not erased (for keys that reach every publisher).
    async fn customer_publisher(
        &self,
        customer: CustomerId,
    ) -> Result<Option<PublisherId>, StoreError>;

    /// Stores a reset token (by hash) and its email in one transaction, unless the customer
    /// already had `per_hour` resets in the last hour (then nothing is stored: false).
    async fn request_password_reset(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token_hash: &str,
        ttl: std::time::Duration,
        per_hour: u32,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// The customer a valid (unused, unexpired) reset token belongs to, if it belongs to
    /// this publisher's customer with this email key.
    async fn reset_token_customer(
        &self,
        publisher: PublisherId,
        email_key: &str,
        token_hash: &str,
    ) -> Result<Option<Customer>, StoreError>;

    /// Uses the token, stores the new password hash, ends every session of the customer (as
    /// [`AccountStore::end_sessions`]) and queues the email, in one transaction; false if the
    /// token was used meanwhile.
    async fn reset_password(
        &self,
        publisher: PublisherId,
        customer: CustomerId,
        token_hash: &str,
        password_hash: &str,
        mail: &NewMail,
    ) -> Result<bool, StoreError>;

    /// Claims the next due email for `lease` (another replica skips it meanwhile).
    async fn claim_mail(
        &self,
        lease: std::time::Duration,
        max_attempts: i32,
    ) -> Result<Option<OutboxMail>, StoreError>;

    /// Unsent email: rows under `max_attempts` tries, rows given up, the oldest pending.
    async fn outbox_backlog(&self, max_attempts: i32) -> Result<OutboxBacklog, StoreError>;

    /// Marks an email sent (after the server accepted it) and purges its payload.
    async fn mail_sent(&self, id: i64) -> Result<(), StoreError>;

    /// Records a failed try and when to try again.
    async fn mail_failed(
        &self,
        id: i64,
        error: &str,
        retry_in: std::time::Duration,
    ) -> Result<(), StoreError>;

    /// Drops what has expired: old login-failure buckets, idempotency records past `idempotency_ttl`.
    async fn purge(
        &self,
        hour: i64,
        idempotency_ttl: std::time::Duration,
    ) -> Result<(), StoreError>;
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
        id: i64,
        audit: &NewAudit,
    ) -> Result<Option<AdminKey>, StoreError>;

    /// [`PublisherStore::create_publisher`] with its audit line, in one transaction.
    async fn admin_create_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        offers: &[OfferId],
        audit: &NewAudit,
    ) -> Result<Publisher, StoreError>;

    /// [`PublisherStore::update_publisher`] with its audit line, in one transaction.
    async fn admin_update_publisher(
        &self,
        id: PublisherId,
        name: &str,
        settings: &PublisherSettings,
        audit: &NewAudit,
    ) -> Result<Publisher, StoreError>;

    /// [`PublisherStore::publish_consent`] with its audit line (written only when a version
    /// was published); the audit detail gets the new `version`.
    async fn admin_publish_consent(
        &self,
        owner: ConsentOwner,
        draft: &ConsentDraft,
        audit: &NewAudit,
    ) -> Result<Published, StoreError>;

    /// [`PublisherStore::archive_consent`] with its audit line (when something was archived).
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

/// Opens the database `settings.url` names: `sqlite://…` or `postgres://…`.
pub async fn connect(settings: &DatabaseSettings) -> Result<Arc<dyn Store>, StoreError> {
    let url = settings.url.as_str();
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::connect(settings).await?))
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Arc::new(PgStore::connect(settings).await?))
    } else {
        Err(StoreError::Invalid(format!(
            "database.url: unsupported scheme in {:?} (use sqlite:// or postgres://)",
            crate::config::redact_url(url)
        )))
    }
}
