//! What the store keeps about publishers (tenants), their offers and consent versions, and
//! the config's declaration.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PoolStats, StoreError};
use crate::domain::{
    ConsentDraft, ConsentName, ConsentOwner, ConsentVersionNumber, Declaration, OfferId,
    PublisherId, PublisherSettings,
};

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
    pub version: ConsentVersionNumber,
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
    /// The SHA-256 of the document's bytes, when the operator gave it or Enroll fetched it.
    pub document_sha256: Option<String>,
    /// The SHA-256 of the version's canonical text
    /// ([`ConsentText`](crate::domain::proof::ConsentText)): what an answer to it is bound to.
    pub text_hash: String,
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
            && self.document_sha256 == draft.document_sha256
    }

    /// The canonical text this version's hash covers.
    pub fn text(&self) -> crate::domain::proof::ConsentText<'_> {
        crate::domain::proof::ConsentText {
            owner: self.owner,
            name: self.name.as_str(),
            version: self.version,
            label: &self.label,
            value: &self.value,
            required: self.required,
            document_sha256: self.document_sha256.as_deref(),
        }
    }
}

/// What publishing a consent draft did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Published {
    /// A new version with this number was stored.
    New(ConsentVersionNumber),
    /// The current version (this number) already says the same; nothing was stored.
    Unchanged(ConsentVersionNumber),
}

impl Published {
    /// The version now current.
    pub fn version(self) -> ConsentVersionNumber {
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
    pub published: Vec<(ConsentOwner, ConsentName, ConsentVersionNumber)>,
    /// Consents archived because the declaration no longer has them.
    pub archived: Vec<(ConsentOwner, ConsentName)>,
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
