//! `/admin`: the Customer Accounts dashboard, server-rendered HTML (no script) on the admin
//! operations of `service`. Sign-in takes an admin key and starts a session; every form
//! carries the session's CSRF token. A publisher key sees its own publisher only; operators
//! pick one.

// The error side of these results is the page to answer with, built once per request.
#![allow(clippy::result_large_err)]

pub mod audit;
pub mod chart;
pub mod consents;
pub mod customer;
pub mod customers;
pub mod frame;
pub mod session;
pub mod webhooks;

use axum::Router;
use axum::routing::{get, post};

pub use chart::ChartCache;

use crate::state::AppState;

/// The dashboard's routes (none is in a rate-limit class).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin", get(session::index))
        .route("/admin/", get(session::index))
        .route(
            "/admin/login",
            get(session::login_form).post(session::sign_in),
        )
        .route("/admin/logout", post(session::sign_out))
        .route("/admin/customers", get(customers::list))
        .route("/admin/customers.csv", get(customers::export))
        .route("/admin/customers/{customer_id}", get(customer::show))
        .route(
            "/admin/customers/{customer_id}/export",
            get(customer::export),
        )
        .route(
            "/admin/customers/{customer_id}/erase",
            post(customer::erase),
        )
        .route(
            "/admin/customers/{customer_id}/receipts/{receipt_id}",
            get(customer::receipt),
        )
        .route(
            "/admin/consents",
            get(consents::list).post(consents::publish),
        )
        .route("/admin/consents/{name}/archive", post(consents::archive))
        .route("/admin/audit", get(audit::list))
        .route("/admin/webhooks", get(webhooks::list))
        .route(
            "/admin/webhooks/{webhook}/replay",
            post(webhooks::replay_since),
        )
        .route(
            "/admin/webhooks/{webhook}/deliveries/{delivery}/replay",
            post(webhooks::replay_one),
        )
}
