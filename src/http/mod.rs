//! The HTTP surface: routers per resource, extractors, the envelope, and the layers.

pub mod admin;
pub mod api;
pub mod dashboard;
pub mod edge;
pub mod error;
pub mod json;
pub mod openapi;
pub mod ops;

use std::sync::Arc;

use api::{
    capture, consents, customer_consents, customers, identity, locales, login, owner_data,
    passwords, receipts, registration, verification,
};
use edge::{access, client_ip, db_gate, deadline, limit, measure, middleware};

use axum::Router;
use axum::handler::Handler;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, post, put};
use serde::Serialize;
use tower_http::body::Limited;
use tower_http::limit::RequestBodyLimitLayer;

use crate::limits::Class;
use crate::state::AppState;
use client_ip::TrustedProxies;
use error::ApiError;
use limit::TenantFrom::{Body, Nowhere, Path, Token};
use limit::{ClassLayer, RouteClass, TenantFrom};

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

/// For answers holding personal data (exports): kept in no cache, not even the browser's.
pub const NO_STORE: [(HeaderName, HeaderValue); 1] =
    [(header::CACHE_CONTROL, HeaderValue::from_static("no-store"))];

/// The client's `User-Agent`, when it is text (kept with consent answers).
pub struct UserAgent(pub Option<String>);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for UserAgent {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let agent = parts.headers.get(header::USER_AGENT);
        Ok(UserAgent(
            agent.and_then(|v| v.to_str().ok()).map(str::to_owned),
        ))
    }
}

/// Runs `operation` after the answer has gone out, so its timing tells the client nothing
/// (whether an account exists, whether an email was sent); a failure is logged as `what`
/// could not be queued.
pub fn after_answer<F>(what: &'static str, operation: F)
where
    F: std::future::Future<Output = Result<(), ApiError>> + Send + 'static,
{
    use tracing::Instrument;
    tokio::spawn(
        async move {
            if let Err(e) = operation.await {
                tracing::warn!(error = %e, "{what} could not be queued");
            }
        }
        .instrument(tracing::Span::current()),
    );
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
    let routes = routes(&state);
    let proxies = TrustedProxies(Arc::new(settings.server.trusted_proxies.clone()));

    // A method a route does not serve: the default class's, without a tenant (the Ops and
    // Admin routes have answers of their own). Every route measures itself (`layered`).
    let inner = with_405(&state, RouteClass::DEFAULT, routes)
        .fallback(limit::unrouted.layer(measure::MeasureLayer))
        .with_state(state.clone());
    // CORS, panics and the access record are the edge's (one line per request, off the
    // request path).
    let cors = edge::cors::Cors::new(state.catalog.clone());
    middleware::MakeEdge::new(inner, proxies, cors, access::AccessLog::new(&settings.log))
}

/// Every route, grouped by limit class: each names where its handler takes its tenant from.
fn routes(state: &AppState) -> Router<AppState> {
    let customer_api = Router::new()
        .merge(
            ClassRoutes::new(state, RouteClass::Limited(Class::Registration)).waiting(
                "/customers",
                Body,
                post(registration::register),
            ),
        )
        .merge(
            ClassRoutes::new(state, RouteClass::Limited(Class::Login))
                .waiting("/auths", Body, post(login::login))
                // SSO hands out a session like a login does.
                .waiting("/sso/auths", Body, post(identity::sso_auth)),
        )
        .merge(
            ClassRoutes::new(state, RouteClass::Limited(Class::PasswordReset))
                .waiting(
                    "/customers/passwords",
                    Body,
                    put(passwords::request_reset).patch(passwords::reset),
                )
                // They send email, like a reset request.
                .waiting(
                    "/customers/verification",
                    Body,
                    post(verification::send_code),
                )
                .waiting(
                    "/customers/{customer_id}/email/confirmation",
                    Token,
                    post(verification::request_confirmation),
                )
                // They check a password (erasure) or hand out everything kept (export).
                .waiting("/customers/{customer_id}", Token, delete(owner_data::erase))
                .waiting(
                    "/customers/{customer_id}/export",
                    Token,
                    get(owner_data::export),
                ),
        )
        .merge(
            ClassRoutes::new(state, RouteClass::DEFAULT)
                .instant("/locales", Nowhere, get(locales::get_locales))
                .waiting(
                    "/publishers/{publisher_id}/consents",
                    Path,
                    get(consents::publisher_consents),
                )
                .waiting("/auths/refresh_token", Nowhere, post(login::refresh))
                .waiting(
                    "/customers/{customer_id}",
                    Token,
                    get(customers::get_customer).patch(customers::patch_customer),
                )
                .waiting(
                    "/customers/{customer_id}/consents",
                    Token,
                    get(customer_consents::get_consents).put(customer_consents::put_consents),
                )
                .waiting(
                    "/customers/{customer_id}/consents/receipts",
                    Token,
                    get(receipts::list),
                )
                .waiting(
                    "/customers/{customer_id}/capture/status",
                    Token,
                    get(capture::capture_status),
                )
                .waiting(
                    "/customers/{customer_id}/capture",
                    Token,
                    put(capture::put_capture),
                )
                .waiting(
                    "/customers/email/confirmation",
                    Nowhere,
                    post(verification::confirm).get(verification::confirm_page),
                )
                .waiting(
                    "/refresh_tokens",
                    Token,
                    delete(identity::revoke_refresh_tokens),
                )
                // Authenticated by the publisher's token, not a customer JWT.
                .waiting(
                    "/3.1/customers/{customer_id}",
                    Nowhere,
                    delete(identity::delete_customer),
                ),
        );
    let ops = Router::new()
        .route("/.well-known/jwks.json", get(ops::jwks))
        .route("/healthz", get(ops::healthz))
        .route("/openapi.json", get(ops::openapi));
    let ops = if state.settings.server.metrics_addr.is_none() {
        ops.route("/metrics", get(ops::metrics))
    } else {
        ops
    };
    let body_limit = state.settings.server.body_limit;
    let ready = Router::new().route("/readyz", get(ops::readyz));
    let ops = layered(state, ops, RouteClass::Ops, Nowhere, Waits::No, body_limit).merge(layered(
        state,
        ready,
        RouteClass::Ops,
        Nowhere,
        Waits::Timed,
        body_limit,
    ));
    let admin = admin::routes().merge(dashboard::routes());
    let admin = layered(
        state,
        admin,
        RouteClass::Admin,
        Nowhere,
        Waits::Timed,
        body_limit,
    );
    // Streamed, for as long as the file takes.
    let upload_limit = state.settings.admin.import_body_limit;
    let uploads = admin::import_routes();
    let uploads = layered(
        state,
        uploads,
        RouteClass::Admin,
        Nowhere,
        Waits::Untimed,
        upload_limit,
    );
    customer_api
        .merge(with_405(state, RouteClass::Ops, ops))
        .merge(with_405(state, RouteClass::Admin, admin.merge(uploads)))
}

/// The routes of one limit class, each named with where its handler takes its tenant from.
struct ClassRoutes<'a> {
    state: &'a AppState,
    class: RouteClass,
    router: Router<AppState>,
}

impl<'a> ClassRoutes<'a> {
    fn new(state: &'a AppState, class: RouteClass) -> Self {
        ClassRoutes {
            state,
            class,
            router: Router::new(),
        }
    }

    /// A route answered from memory.
    fn instant(self, path: &str, tenant: TenantFrom, route: MethodRouter<AppState>) -> Self {
        self.add(path, tenant, route, Waits::No)
    }

    /// A route that waits on the database or on hashing (see [`Waits::Timed`]).
    fn waiting(self, path: &str, tenant: TenantFrom, route: MethodRouter<AppState>) -> Self {
        self.add(path, tenant, route, Waits::Timed)
    }

    fn add(
        mut self,
        path: &str,
        tenant: TenantFrom,
        route: MethodRouter<AppState>,
        waits: Waits,
    ) -> Self {
        let one = Router::new().route(path, route);
        let body_limit = self.state.settings.server.body_limit;
        let one = layered(self.state, one, self.class, tenant, waits, body_limit);
        self.router = self.router.merge(one);
        self
    }
}

impl From<ClassRoutes<'_>> for Router<AppState> {
    fn from(class: ClassRoutes<'_>) -> Self {
        class.router
    }
}

/// What a route waits on, beside the request itself.
#[derive(Clone, Copy)]
enum Waits {
    /// Nothing: answered from memory.
    No,
    /// The database or hashing: under `server.request_timeout`, and answered 503 at once
    /// while the database is down.
    Timed,
    /// The database, for as long as the request body takes (uploads): no timeout.
    Untimed,
}

/// `routes` behind their layers — the body limit, the route class (limits, tenant), and
/// for routes that wait the database gate and the timeout — composed into one.
///
/// One layer, not one `route_layer` call each: axum boxes a route once per call and clones
/// every box of a route's chain on each request (the outer clone clones the inner boxes,
/// then each level clones its inner box again to call it). Five separate layers cost about
/// fifteen boxed clones and five boxed futures per request; composed, one.
fn layered(
    state: &AppState,
    routes: Router<AppState>,
    class: RouteClass,
    tenant: TenantFrom,
    waits: Waits,
    body_limit: usize,
) -> Router<AppState> {
    let front = tower::ServiceBuilder::new()
        .layer(measure::MeasureLayer)
        .layer(RequestBodyLimitLayer::new(body_limit))
        .map_request(|req: axum::http::Request<Limited<axum::body::Body>>| {
            req.map(axum::body::Body::new)
        })
        .layer(ClassLayer::new(state, class, tenant));
    let gate = db_gate::DbGateLayer(state.db_health.clone());
    match waits {
        Waits::No => routes.route_layer(front),
        Waits::Timed => {
            let timeout = state.settings.server.request_timeout;
            routes.route_layer(front.layer(gate).layer(deadline::DeadlineLayer(timeout)))
        }
        Waits::Untimed => routes.route_layer(front.layer(gate)),
    }
}

/// Routes in a class without limits answer methods they do not serve in their class too
/// (`route_layer` leaves those answers out).
fn with_405(state: &AppState, class: RouteClass, routes: Router<AppState>) -> Router<AppState> {
    let answer = method_not_allowed
        .layer(ClassLayer::new(state, class, Nowhere))
        .layer(measure::MeasureLayer);
    routes.method_not_allowed_fallback(answer)
}

async fn method_not_allowed() -> ApiError {
    ApiError::method_not_allowed()
}
