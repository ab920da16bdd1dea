//! The per-route layer: request metrics by route class and route template.

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
use metrics::{Counter, Histogram};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::http::edge::limit::RouteClass;

/// Per route (inside the router, so it sees the route template): counts requests and their
/// latency by route class (as the route's [`RouteClass`] layer tagged the response), route
/// template and status (429s included).
#[derive(Clone, Copy, Default)]
pub struct MeasureLayer;

impl<S> Layer<S> for MeasureLayer {
    type Service = Measure<S>;

    fn layer(&self, inner: S) -> Measure<S> {
        Measure { inner }
    }
}

/// The service of [`MeasureLayer`].
#[derive(Clone)]
pub struct Measure<S> {
    inner: S,
}

impl<S, B> Service<Request> for Measure<S>
where
    S: Service<Request, Response = Response<B>, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response<B>;
    type Error = Infallible;
    type Future = MeasureFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let started = Instant::now();
        // Route templates are few (bounded labels); anything else is "unmatched".
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map_or("unmatched", MatchedPath::as_str);
        let metrics = RouteMetrics::of(route, metric_method(req.method()));
        MeasureFuture {
            inner: self.inner.call(req),
            started,
            metrics,
        }
    }
}

pin_project! {
    /// The response of [`Measure`], counted when it is ready.
    pub struct MeasureFuture<F> {
        #[pin]
        inner: F,
        started: Instant,
        metrics: Arc<RouteMetrics>,
    }
}

impl<F, B> Future for MeasureFuture<F>
where
    F: Future<Output = Result<Response<B>, Infallible>>,
{
    type Output = Result<Response<B>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(response) = ready!(this.inner.poll(cx));
        // Every route and fallback is in a class; "default" is the customer API's catch-all.
        let class = response
            .extensions()
            .get::<RouteClass>()
            .map_or(RouteClass::DEFAULT, |c| *c);
        this.metrics
            .record(class.name(), *this.started, response.status().as_u16());
        crate::telemetry::note::note_route(&this.metrics.route);
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
    /// Made by the first answer (a series appears in `/metrics` once something was counted).
    latency: OnceLock<Histogram>,
    requests: Mutex<Vec<(u16, Counter)>>,
}

impl RouteMetrics {
    fn of(route: &str, method: &Method) -> Arc<Self> {
        ROUTES.with(|routes| {
            let mut routes = routes.borrow_mut();
            if let Some(found) = routes
                .iter()
                .find(|r| r.method == *method && *r.route == *route)
            {
                return found.clone();
            }
            let route = Arc::from(route);
            let made = Arc::new(RouteMetrics {
                route,
                method: method.clone(),
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
