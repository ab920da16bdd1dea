//! The per-route layer: route-class limits, then request metrics by route template.

use std::cell::RefCell;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::Method;
use axum::response::Response;
use dashmap::DashMap;
use futures_util::future::{BoxFuture, Either};
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::limits::Class;
use crate::state::AppState;

/// The limiter class of a route, also the `class` label of the request metrics.
pub fn route_class(method: &Method, path: &str) -> &'static str {
    match (method.as_str(), path) {
        ("POST", "/customers") => "registration",
        // SSO hands out a session like a login does.
        ("POST", "/auths" | "/sso/auths") => "login",
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

/// Per route (inside the router, so it sees the route template): applies the route-class
/// limits, then counts requests and their latency by route class, route template and status
/// (429s included).
#[derive(Clone)]
pub struct MeasureLayer {
    state: AppState,
}

impl MeasureLayer {
    /// Limits from `state.limiter`.
    pub fn new(state: AppState) -> Self {
        MeasureLayer { state }
    }
}

impl<S> Layer<S> for MeasureLayer {
    type Service = Measure<S>;

    fn layer(&self, inner: S) -> Measure<S> {
        Measure {
            inner,
            state: self.state.clone(),
        }
    }
}

/// The service of [`MeasureLayer`].
#[derive(Clone)]
pub struct Measure<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Measure<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = MeasureFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        // Route templates are few (bounded labels); anything else is "unmatched".
        let (metrics, class) = match req.extensions().get::<MatchedPath>() {
            // Classes are decided on the template (`/customers/{customer_id}/…`), not the path.
            Some(m) => {
                let metrics = RouteMetrics::of(m.as_str(), metric_method(req.method()), || {
                    route_class(req.method(), m.as_str())
                });
                let class = metrics.class;
                (metrics, class)
            }
            None => {
                let class = route_class(req.method(), req.uri().path());
                (
                    RouteMetrics::of("unmatched", metric_method(req.method()), || class),
                    class,
                )
            }
        };
        let inner = match (&self.state.limiter, Class::of(class)) {
            (Some(limiter), Some(limited)) => {
                // The limiter decides before the route runs: it takes the service that is ready.
                let clone = self.inner.clone();
                let ready = std::mem::replace(&mut self.inner, clone);
                let (state, limiter) = (self.state.clone(), limiter.clone());
                let route = metrics.route.clone();
                Either::Right(Box::pin(async move {
                    Ok(super::limit::limit(&state, &limiter, limited, &route, req, ready).await)
                }) as BoxFuture<'static, _>)
            }
            _ => Either::Left(self.inner.call(req)),
        };
        MeasureFuture {
            inner,
            started,
            metrics,
            class,
        }
    }
}

pin_project! {
    /// The response of [`Measure`], counted when it is ready.
    pub struct MeasureFuture<F> {
        #[pin]
        inner: Either<F, BoxFuture<'static, Result<Response, Infallible>>>,
        started: Instant,
        metrics: Arc<RouteMetrics>,
        class: &'static str,
    }
}

impl<F> Future for MeasureFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        this.metrics
            .record(this.class, *this.started, response.status().as_u16());
        super::access::note_route(&this.metrics.route);
        Poll::Ready(Ok(response))
    }
}

/// The `method` label: the standard methods as they are, any other token as `OTHER` (any
/// token is a method, and each label value would be a series kept for the process's life).
fn metric_method(method: &Method) -> &Method {
    static OTHER: std::sync::LazyLock<Method> =
        std::sync::LazyLock::new(|| Method::from_bytes(b"OTHER").unwrap_or(Method::GET));
    match *method {
        Method::GET
        | Method::POST
        | Method::PUT
        | Method::PATCH
        | Method::DELETE
        | Method::HEAD
        | Method::OPTIONS
        | Method::CONNECT
        | Method::TRACE => method,
        _ => &OTHER,
    }
}

/// (route, method) combinations kept per thread.
const CACHED_ROUTES: usize = 128;

thread_local! {
    static ROUTES: RefCell<Vec<Arc<RouteMetrics>>> = const { RefCell::new(Vec::new()) };
}

/// The metric handles of one (route, method), cached per worker thread: the hot path neither
/// allocates, hashes nor touches a shared map once a combination has been seen.
struct RouteMetrics {
    route: Arc<str>,
    method: Method,
    /// The class of the first request that made it: of every request for a matched route.
    class: &'static str,
    /// Made by the first answer (a series appears in `/metrics` once something was counted).
    latency: OnceLock<Histogram>,
    requests: Mutex<Vec<(u16, Counter)>>,
}

impl RouteMetrics {
    fn of(route: &str, method: &Method, class: impl FnOnce() -> &'static str) -> Arc<Self> {
        ROUTES.with(|routes| {
            let mut routes = routes.borrow_mut();
            if let Some(found) = routes
                .iter()
                .find(|r| r.method == *method && *r.route == *route)
            {
                return found.clone();
            }
            let class = class();
            let route = Arc::from(route);
            let made = Arc::new(RouteMetrics {
                route,
                method: method.clone(),
                class,
                latency: OnceLock::new(),
                requests: Mutex::default(),
            });
            // Any token is a method: past the routes a client could reach with the usual
            // methods, new combinations are not kept, so the search stays short.
            if routes.len() < CACHED_ROUTES {
                routes.push(made.clone());
            }
            made
        })
    }

    fn record(&self, class: &'static str, started: Instant, status: u16) {
        self.latency
            .get_or_init(|| handles().latency(class, &self.route, &self.method))
            .record(started.elapsed().as_secs_f64());
        let mut requests = self.requests.lock().unwrap_or_else(PoisonError::into_inner);
        match requests.iter().find(|(s, _)| *s == status) {
            Some((_, counter)) => counter.increment(1),
            None => {
                let counter = handles().requests(class, &self.route, &self.method, status);
                counter.increment(1);
                requests.push((status, counter));
            }
        }
    }
}

fn handles() -> &'static MetricHandles {
    static HANDLES: OnceLock<MetricHandles> = OnceLock::new();
    HANDLES.get_or_init(MetricHandles::default)
}

/// Metric handles by (route, method, status) for the whole process: the first request of a
/// combination decides its `class` label, whichever thread serves it.
#[derive(Default)]
struct MetricHandles {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes() {
        assert_eq!(route_class(&Method::POST, "/customers"), "registration");
        assert_eq!(route_class(&Method::GET, "/customers/123"), "default");
        assert_eq!(route_class(&Method::POST, "/sso/auths"), "login");
        assert_eq!(route_class(&Method::DELETE, "/refresh_tokens"), "default");
        assert_eq!(
            route_class(&Method::DELETE, "/3.1/customers/{customer_id}"),
            "default"
        );
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
