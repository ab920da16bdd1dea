//! The customer API of API.md (Cleeng MediaStore-compatible): one adapter per resource, each
//! parsing its input into domain values, calling one operation of `service`, and answering in
//! the envelope. `auth` holds the customer-token extractor, `guard` the captcha check.

pub mod auth;
pub mod capture;
pub mod consents;
pub mod customer_consents;
pub mod customers;
pub mod guard;
pub mod identity;
pub mod locales;
pub mod login;
pub mod owner_data;
pub mod passwords;
pub mod receipts;
pub mod registration;
pub mod verification;
