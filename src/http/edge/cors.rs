//! CORS, answered by the edge: preflights from constants, and the allowed origin marked on
//! every other answer. (tower-http's `Cors` did the same but was cloned, with its whole
//! configuration, and built a header map of its own for every request.)
//!
//! As before: any `OPTIONS` request is a preflight, answered 200 without reaching a route;
//! an origin is allowed when a publisher lists it (`cors_origins`); credentials are never
//! allowed. A preflight's answer varies with `Origin` and the two `Access-Control-Request-*`
//! headers, any other with `Origin` alone.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::response::Response;

use crate::catalog::Catalog;

/// The methods a preflight allows.
static ALLOW_METHODS: HeaderValue = HeaderValue::from_static("GET,POST,PUT,PATCH,DELETE");
/// The request headers a preflight allows.
static ALLOW_HEADERS: HeaderValue = HeaderValue::from_static(
    "authorization,content-type,x-requested-by,idempotency-key,x-captcha-token,x-request-id",
);
/// The response headers scripts may read.
static EXPOSE_HEADERS: HeaderValue = HeaderValue::from_static("retry-after,x-request-id");
/// How long a browser may keep a preflight's answer (seconds).
static MAX_AGE: HeaderValue = HeaderValue::from_static("600");
/// A preflight's answer depends on these request headers.
static VARY_PREFLIGHT: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);
/// Any other answer depends on `Origin` alone (allowed or not).
static VARY: HeaderValue = HeaderValue::from_static("origin");

/// Which origins are allowed.
type Allows = dyn Fn(&str) -> bool + Send + Sync;

/// The CORS policy: origins from the catalog.
#[derive(Clone)]
pub struct Cors {
    allows: Arc<Allows>,
}

impl Cors {
    /// Allows the origins the catalog's publishers list.
    pub fn new(catalog: Arc<Catalog>) -> Self {
        Cors::allowing(move |origin| catalog.allows_origin(origin))
    }

    /// Allows the origins `allows` says yes to.
    pub fn allowing(allows: impl Fn(&str) -> bool + Send + Sync + 'static) -> Self {
        Cors {
            allows: Arc::new(allows),
        }
    }

    /// The request's `Origin` when a publisher allows it.
    pub fn allowed_origin(&self, headers: &HeaderMap) -> Option<HeaderValue> {
        let origin = headers.get(header::ORIGIN)?;
        let allowed = origin.to_str().is_ok_and(|o| (self.allows)(o));
        allowed.then(|| origin.clone())
    }

    /// The answer to a preflight (any `OPTIONS` request).
    pub fn preflight(origin: Option<HeaderValue>) -> Response {
        let mut response = Response::new(Body::empty());
        let headers = response.headers_mut();
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        headers.insert(header::ACCESS_CONTROL_ALLOW_METHODS, ALLOW_METHODS.clone());
        headers.insert(header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS.clone());
        headers.insert(header::ACCESS_CONTROL_MAX_AGE, MAX_AGE.clone());
        headers.insert(header::VARY, VARY_PREFLIGHT.clone());
        response
    }

    /// Marks an answer to a request from `origin` (None: not allowed, or no `Origin`).
    /// Browsers read `Access-Control-Expose-Headers` only on an answer that allows their
    /// origin, so only such answers carry it; every answer says it varies with `Origin`
    /// (appended: a handler's own `Vary` stays).
    pub fn mark(origin: Option<HeaderValue>, response: &mut Response) {
        let headers = response.headers_mut();
        if let Some(origin) = origin {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
            headers.insert(
                header::ACCESS_CONTROL_EXPOSE_HEADERS,
                EXPOSE_HEADERS.clone(),
            );
        }
        headers.append(header::VARY, VARY.clone());
    }
}

/// Whether a request is a preflight (as tower-http decided: every `OPTIONS`).
pub fn is_preflight(method: &Method) -> bool {
    method == Method::OPTIONS
}
