//! The HTTP surface: routers per resource, extractors, the envelope, and the layers.

pub mod access;
pub mod admin;
pub mod auth;
pub mod capture;
pub mod client_ip;
pub mod consents;
pub mod customer_consents;
pub mod customers;
pub mod dashboard;
pub mod db_gate;
pub mod error;
pub mod guard;
pub mod identity;
pub mod json;
pub mod limit;
pub mod locales;
pub mod login;
pub mod measure;
pub mod middleware;
pub mod openapi;
pub mod ops;
pub mod password_check;
pub mod passwords;
pub mod registration;
pub mod serve;
pub mod verification;

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::timeout::TimeoutLayer;

use crate::state::AppState;
use client_ip::TrustedProxies;
use error::ApiError;

/// A success: `{"responseData": …, "errors": []}`.
pub struct Data<T>(pub T);

impl<T: Serialize> Data<T> {
    /// The serialized envelope, for bodies cached and served many times.
    pub fn to_bytes(&self) -> Result<bytes::Bytes, serde_json::Error> {
        #[derive(Serialize)]
        struct Envelope<'a, T> {
            #[serde(rename = "responseData")]
            response_data: &'a T,
            errors: [(); 0],
        }
        serde_json::to_vec(&Envelope {
            response_data: &self.0,
            errors: [],
        })
        .map(Into::into)
    }
}

impl<T: Serialize> IntoResponse for Data<T> {
    fn into_response(self) -> Response {
        match self.to_bytes() {
            Ok(body) => json_response(body),
            Err(e) => ApiError::internal(format!("serializing a response: {e}")).into_response(),
        }
    }
}

/// A 200 with a JSON body made elsewhere (cached bodies).
pub fn json_response(body: bytes::Bytes) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response()
}

/// Every route with every layer, ready to serve: one service per connection.
pub fn router(
    state: AppState,
) -> middleware::MakeEdge<
    impl tower::Service<
        axum::extract::Request,
        Response = Response,
        Error = std::convert::Infallible,
        Future = impl Send,
    > + Clone
    + Send
    + 'static,
> {
    let settings = &state.settings;
    // Routes that wait on the database or on hashing run under `server.request_timeout`;
    // the ones answered from memory do not pay for a timer.
    let waiting = Router::new()
        .route(
            "/publishers/{publisher_id}/consents",
            get(consents::publisher_consents),
        )
        .route("/customers", post(registration::register))
        .route("/auths", post(login::login))
        .route("/auths/refresh_token", post(login::refresh))
        .route(
            "/customers/passwords",
            axum::routing::put(passwords::request_reset).patch(passwords::reset),
        )
        .route(
            "/customers/{customer_id}",
            get(customers::get_customer).patch(customers::patch_customer),
        )
        .route(
            "/customers/{customer_id}/consents",
            get(customer_consents::get_consents).put(customer_consents::put_consents),
        )
        .route(
            "/customers/{customer_id}/capture/status",
            get(capture::capture_status),
        )
        .route(
            "/customers/{customer_id}/capture",
            axum::routing::put(capture::put_capture),
        )
        .route("/customers/verification", post(verification::send_code))
        .route(
            "/customers/{customer_id}/email/confirmation",
            post(verification::request_confirmation),
        )
        .route(
            "/customers/email/confirmation",
            post(verification::confirm).get(verification::confirm_page),
        )
        .route(
            "/refresh_tokens",
            axum::routing::delete(identity::revoke_refresh_tokens),
        )
        .route("/sso/auths", post(identity::sso_auth))
        .route(
            "/3.1/customers/{customer_id}",
            axum::routing::delete(identity::delete_customer),
        )
        .route("/readyz", get(ops::readyz))
        .merge(admin::routes())
        .merge(dashboard::routes())
        .route_layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            settings.server.request_timeout,
        ))
        .route_layer(db_gate::DbGateLayer(state.db_health.clone()));
    let mut routes = Router::new()
        .route("/locales", get(locales::get_locales))
        .route("/.well-known/jwks.json", get(ops::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/openapi.json", get(ops::openapi))
        .merge(waiting);
    if settings.server.metrics_addr.is_none() {
        routes = routes.route("/metrics", get(ops::metrics));
    }
    let catalog = state.catalog.clone();
    let cors = CorsLayer::new()
        .allow_origin(AllowOrigin::predicate(move |origin, _| {
            origin.to_str().is_ok_and(|o| catalog.allows_origin(o))
        }))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("x-requested-by"),
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static("x-captcha-token"),
            HeaderName::from_static("x-request-id"),
        ])
        .expose_headers([header::RETRY_AFTER, HeaderName::from_static("x-request-id")])
        .max_age(std::time::Duration::from_secs(600))
        // Set by the edge, from a constant.
        .vary([]);
    let proxies = TrustedProxies(Arc::new(settings.server.trusted_proxies.clone()));

    let inner = routes
        .fallback(|| async { ApiError::route_not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        // Per route, so it sees the route template.
        .layer(measure::MeasureLayer::new(state.clone()))
        .with_state(state.clone());
    // One stack around the whole router (not per route): outermost first.
    // (map_response: CORS builds responses of its own, with axum's body.)
    let stack = tower::ServiceBuilder::new()
        .layer(cors)
        .map_response(IntoResponse::into_response)
        .layer(CatchPanicLayer::custom(middleware::panic_response))
        .map_response(IntoResponse::into_response)
        .layer(RequestBodyLimitLayer::new(settings.server.body_limit))
        .service(inner);
    // The access record is the edge's (one line per request, off the request path).
    middleware::MakeEdge::new(stack, proxies, access::AccessLog::new(&settings.log))
}
