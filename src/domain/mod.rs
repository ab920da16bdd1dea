//! Pure types and rules, no I/O. Parse, don't validate: a value of these types is valid.

pub mod captcha;
pub mod capture;
pub mod consent;
pub mod customer;
pub mod email;
pub mod fields;
pub mod ids;
pub mod import;
pub mod link;
pub mod migration;
pub mod password;
pub mod place;
pub mod problem;
pub mod proof;
pub mod provisioning;
pub mod publisher;
pub mod receipt;
pub mod session;
pub mod strength;
pub mod tables;

pub use consent::{ConsentDraft, ConsentName, ConsentOwner, ConsentVersionNumber};
pub use customer::{
    ConsentAnswer, ConsentState, CustomerId, CustomerPatch, Registration, TenantRef,
};
pub use email::{Email, EmailKey};
pub use ids::{AdminKeyId, OfferId, PublisherId};
pub use password::Password;
pub use place::{Country, Currency, Locale};
pub use provisioning::{Declaration, DeclaredItem, PublisherDeclaration};
pub use publisher::PublisherSettings;
pub use session::SessionEpoch;
