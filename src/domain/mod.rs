//! Pure types and rules, no I/O. Parse, don't validate: a value of these types is valid.

pub mod consent;
pub mod ids;
pub mod place;
pub mod provisioning;
pub mod publisher;

pub use consent::{ConsentDraft, ConsentName, ConsentOwner};
pub use ids::{OfferId, PublisherId};
pub use place::{Country, Currency, Locale};
pub use provisioning::{Declaration, DeclaredItem, PublisherDeclaration};
pub use publisher::PublisherSettings;
