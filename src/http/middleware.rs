//! Cross-cutting layers: request ids, the envelope safety net, panics, metrics.

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use dashmap::DashMap;
use metrics::{Counter, Histogram};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use pin_project_lite::pin_project;
use tokio::net::TcpListener;
use tower::Service;

use super::client_ip::{ClientIp, TrustedProxies};
use super::error::{ApiError, Enveloped};
use crate::app::AppState;

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of a request, in its extensions and on its response.
#[derive(Debug, Clone)]
pub struct RequestId(pub HeaderValue);

fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// The `Vary` of every response. CORS would build it for every request (a `Vec` clone and a
/// join) if we let it; the edge sets it from a constant instead.
static VARY: HeaderValue = HeaderValue::from_static(
    "origin, access-control-request-method, access-control-request-headers",
);

/// Serves a stack with one [`Edge`] per connection, so the edge knows the peer address
/// without a per-request extension, and nothing but the stack is cloned per request.
#[derive(Clone)]
pub struct MakeEdge<S> {
    stack: S,
    proxies: TrustedProxies,
}

impl<S> MakeEdge<S> {
    /// `stack` behind the edge, believing forwarding headers from `proxies`.
    pub fn new(stack: S, proxies: TrustedProxies) -> Self {
        MakeEdge { stack, proxies }
    }
}

impl<S: Clone> Service<IncomingStream<'_, TcpListener>> for MakeEdge<S> {
    type Response = Edge<S>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Edge<S>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, stream: IncomingStream<'_, TcpListener>) -> Self::Future {
        std::future::ready(Ok(Edge {
            inner: self.stack.clone(),
            proxies: self.proxies.clone(),
            peer: stream.remote_addr().ip(),
        }))
    }
}

/// The outermost layer: keeps the client's `X-Request-Id` when it is well formed (else makes
/// one), resolves the client address, and on the way out puts any bare error response (from
/// the router, a body limit, a timeout) into the envelope and sets the request id.
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    proxies: TrustedProxies,
    peer: IpAddr,
}

impl<S> Service<Request> for Edge<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = EdgeFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let id = req
            .headers()
            .get(&X_REQUEST_ID)
            .filter(|v| valid_request_id(v))
            .cloned()
            .unwrap_or_else(|| {
                let mut buf = [0u8; 32];
                let id = uuid::Uuid::new_v4().simple().encode_lower(&mut buf);
                HeaderValue::from_str(id).unwrap_or(HeaderValue::from_static("unknown"))
            });
        req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
        let client = self.proxies.client(self.peer, req.headers());
        let extensions = req.extensions_mut();
        extensions.insert(RequestId(id.clone()));
        extensions.insert(ClientIp(client));
        EdgeFuture {
            inner: self.inner.call(req),
            id: Some(id),
        }
    }
}

pin_project! {
    /// The response of [`Edge`].
    pub struct EdgeFuture<F> {
        #[pin]
        inner: F,
        id: Option<HeaderValue>,
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        // Appended, as CORS does: a handler's own `Vary` stays.
        response.headers_mut().append(header::VARY, VARY.clone());
        let mut response = envelope(response);
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        Poll::Ready(Ok(response))
    }
}

/// Whatever answered with an error status outside a handler, the client gets the envelope;
/// the other headers (CORS, `Allow`, `Retry-After`) stay. Enveloped responses pass unchanged.
fn envelope(response: Response) -> Response {
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Enveloped>().is_some()
    {
        return response;
    }
    let mut enveloped = ApiError::for_status(status).into_response();
    let (parts, _) = response.into_parts();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            enveloped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    enveloped
}

/// `CatchPanicLayer` handler: a 500 envelope instead of a dropped connection.
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

/// The limiter class of a route, also the `class` label of the request metrics.
pub fn route_class(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        ("POST", "/customers") => "registration",
        ("POST", "/auths") => "login",
        ("PUT" | "PATCH", "/customers/passwords") => "password_reset",
        // They send email, like a reset request.
        ("POST", "/customers/verification" | "/customers/{customer_id}/email/confirmation") => {
            "password_reset"
        }
        (_, "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/.well-known/jwks.json") => {
            "ops"
        }
        (_, p) if p == "/admin" || p.starts_with("/admin/") => "admin",
        _ => "default",
    }
}

/// Metric handles by (route, method, status), so the hot path neither allocates label
/// strings nor hashes label sets once a combination has been seen.
#[derive(Default)]
pub struct MetricHandles {
    latency: DashMap<(Arc<str>, Method), Histogram>,
    requests: DashMap<(Arc<str>, Method, u16), Counter>,
}

impl MetricHandles {
    fn latency(&self, class: &'static str, route: &Arc<str>, method: &Method) -> Histogram {
        if let Some(h) = self.latency.get(&(route.clone(), method.clone())) {
            return h.clone();
        }
        let labels = [
            ("class", class.to_owned()),
            ("route", route.to_string()),
            ("method", method.to_string()),
        ];
        let h = metrics::histogram!("http_request_duration_seconds", &labels);
        self.latency
            .insert((route.clone(), method.clone()), h.clone());
        h
    }

    fn requests(
        &self,
        class: &'static str,
        route: &Arc<str>,
        method: &Method,
        status: u16,
    ) -> Counter {
        let key = (route.clone(), method.clone(), status);
        if let Some(c) = self.requests.get(&key) {
            return c.clone();
        }
        let labels = [
            ("class", class.to_owned()),
            ("route", route.to_string()),
            ("method", method.to_string()),
            ("status", status.to_string()),
        ];
        let c = metrics::counter!("http_requests_total", &labels);
        self.requests.insert(key, c.clone());
        c
    }
}

/// Per route: applies the route-class limits, then counts requests and their latency by
/// route class, route template and status (429s included).
pub async fn measure_and_limit(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    static HANDLES: std::sync::OnceLock<MetricHandles> = std::sync::OnceLock::new();
    static UNMATCHED: std::sync::OnceLock<Arc<str>> = std::sync::OnceLock::new();
    let handles = HANDLES.get_or_init(MetricHandles::default);
    let started = Instant::now();
    // Route templates are few (bounded labels); anything else is "unmatched".
    let (route, class): (Arc<str>, _) = match req.extensions().get::<MatchedPath>() {
        // Classes are decided on the template (`/customers/{customer_id}/…`), not the path.
        Some(m) => (
            ROUTES.with(|cache| cache.intern(m.as_str())),
            route_class(req.method(), m.as_str()),
        ),
        None => (
            UNMATCHED.get_or_init(|| Arc::from("unmatched")).clone(),
            route_class(req.method(), req.uri().path()),
        ),
    };
    let method = req.method().clone();
    let response = super::limit::limit(&state, class, req, next).await;
    handles
        .latency(class, &route, &method)
        .record(started.elapsed().as_secs_f64());
    handles
        .requests(class, &route, &method, response.status().as_u16())
        .increment(1);
    response
}

thread_local! {
    static ROUTES: RouteNames = RouteNames::default();
}

/// Shares one `Arc<str>` per route template within a thread.
#[derive(Default)]
struct RouteNames(std::cell::RefCell<Vec<Arc<str>>>);

impl RouteNames {
    fn intern(&self, route: &str) -> Arc<str> {
        let mut names = self.0.borrow_mut();
        if let Some(found) = names.iter().find(|n| n.as_ref() == route) {
            return found.clone();
        }
        let name: Arc<str> = Arc::from(route);
        names.push(name.clone());
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_id_shape() {
        assert!(valid_request_id(&HeaderValue::from_static("abc-1.2_3")));
        assert!(!valid_request_id(&HeaderValue::from_static("has space")));
        assert!(!valid_request_id(
            &HeaderValue::from_str(&"a".repeat(65)).unwrap()
        ));
    }

    #[test]
    fn classes() {
        assert_eq!(route_class(&Method::POST, "/customers"), "registration");
        assert_eq!(route_class(&Method::GET, "/customers/123"), "default");
        assert_eq!(
            route_class(&Method::PATCH, "/customers/passwords"),
            "password_reset"
        );
        assert_eq!(route_class(&Method::GET, "/healthz"), "ops");
        // Emails are sent from these: the reset class limits them.
        assert_eq!(
            route_class(&Method::POST, "/customers/verification"),
            "password_reset"
        );
        assert_eq!(
            route_class(&Method::POST, "/customers/{customer_id}/email/confirmation"),
            "password_reset"
        );
        // The admin API is in no customer rate-limit class (API.md, Rate limits).
        for path in ["/admin", "/admin/api/publishers/100000001/customers"] {
            let class = route_class(&Method::GET, path);
            assert_eq!(class, "admin");
            assert!(crate::limits::Class::of(class).is_none());
        }
        assert_eq!(route_class(&Method::POST, "/admin/api/keys"), "admin");
    }
}
