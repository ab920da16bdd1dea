//! Cross-cutting layers: request ids, the envelope safety net, panics, metrics.

use std::any::Any;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::{ApiError, Enveloped};

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

/// Keeps the client's `X-Request-Id` when it is well formed, else makes one; sets it on the
/// response whatever happened inside.
pub async fn request_id(mut req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|v| valid_request_id(v))
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
                .unwrap_or(HeaderValue::from_static("unknown"))
        });
    req.headers_mut().insert(X_REQUEST_ID.clone(), id.clone());
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(req).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// Whatever answered with an error status (the router, a body limit, a timeout), the client
/// gets the envelope. Responses already in it pass unchanged.
pub async fn ensure_envelope(req: Request, next: Next) -> Response {
    let response = next.run(req).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error())
        || response.extensions().get::<Enveloped>().is_some()
    {
        return response;
    }
    let mut enveloped = ApiError::for_status(status).into_response();
    for name in [header::ALLOW, header::RETRY_AFTER] {
        if let Some(v) = response.headers().get(&name) {
            enveloped.headers_mut().insert(name, v.clone());
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
        (_, "/healthz" | "/readyz" | "/metrics" | "/openapi.json" | "/.well-known/jwks.json") => {
            "ops"
        }
        (_, p) if p == "/admin" || p.starts_with("/admin/") => "admin",
        _ => "default",
    }
}

/// Counts requests and their latency by route class, route template and status.
pub async fn record_metrics(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let class = route_class(req.method(), req.uri().path());
    let method = req.method().as_str().to_owned();
    let response = next.run(req).await;
    let status = response.status().as_u16().to_string();
    let labels = [
        ("class", class.to_owned()),
        ("route", route),
        ("method", method),
    ];
    metrics::histogram!("http_request_duration_seconds", &labels)
        .record(started.elapsed().as_secs_f64());
    let mut labels = labels.to_vec();
    labels.push(("status", status));
    metrics::counter!("http_requests_total", &labels).increment(1);
    response
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
    }
}
