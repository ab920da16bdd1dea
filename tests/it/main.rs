//! Integration tests: the real server over HTTP, on SQLite and Postgres. One binary on purpose
//! (each extra test binary links the whole stack again).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod admin_api;
mod capture;
mod cli;
mod clients_ott;
mod consent_proof;
mod consent_receipts;
mod consents;
mod customer_consents;
mod customers;
mod dashboard;
mod dashboard_browser;
mod deploy;
mod email_lookalikes;
mod envelope;
mod firebase_hashes;
mod guards;
mod idempotency;
mod identity;
mod import;
mod import_more;
mod keys;
mod legacy_hashes;
mod limits;
mod links;
mod locales;
mod login;
mod migration;
mod openapi;
mod ops;
mod outbound;
mod owner_data;
mod passwords;
mod provisioning;
mod registration;
mod sessions;
mod store_contract;
mod verification;
mod webhooks;
