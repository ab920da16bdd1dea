//! Integration tests: the real server over HTTP, on SQLite and Postgres. One binary on purpose
//! (each extra test binary links the whole stack again).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod cli;
mod consents;
mod envelope;
mod locales;
mod ops;
mod provisioning;
mod store_contract;
