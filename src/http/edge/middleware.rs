//! Cross-cutting layers: request ids, client addresses, CORS, the envelope safety net, panics.
//! (Per-route limits and metrics: `measure`.)

use std::any::Any;
use std::convert::Infallible;
use std::future::Future;
use std::net::IpAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::serve::IncomingStream;
use pin_project_lite::pin_project;
use tokio::net::TcpListener;
use tower::Service;

use crate::http::edge::access::{AccessLog, Pending};
use crate::http::edge::client_ip::{ClientIp, TrustedProxies};
use crate::http::edge::cors::{self, Cors};
use crate::http::error::{ApiError, Enveloped};
use crate::telemetry::note::Note;

/// `X-Request-Id`.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

fn valid_request_id(v: &HeaderValue) -> bool {
    let b = v.as_bytes();
    (1..=64).contains(&b.len())
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'_' | b'-'))
}

/// Serves a stack with one [`Edge`] per connection, so the edge knows the peer address
/// without a per-request extension, and nothing but the stack is cloned per request.
#[derive(Clone)]
pub struct MakeEdge<S> {
    stack: S,
    proxies: TrustedProxies,
    cors: Cors,
    log: AccessLog,
}

impl<S> MakeEdge<S> {
    /// `stack` behind the edge, believing forwarding headers from `proxies`, answering CORS
    /// as `cors` allows, writing access lines as `log` says.
    pub fn new(stack: S, proxies: TrustedProxies, cors: Cors, log: AccessLog) -> Self {
        MakeEdge {
            stack,
            proxies,
            cors,
            log,
        }
    }
}

impl<S: Clone> MakeEdge<S> {
    /// The edge of one connection from `peer`.
    pub fn edge(&self, peer: std::net::SocketAddr) -> Edge<S> {
        Edge {
            inner: self.stack.clone(),
            proxies: self.proxies.clone(),
            cors: self.cors.clone(),
            peer: peer.ip(),
            log: self.log,
        }
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
        std::future::ready(Ok(self.edge(*stream.remote_addr())))
    }
}

/// The outermost layer: keeps the client's `X-Request-Id` when it is well formed (else makes
/// one), resolves the client address, answers CORS preflights (`cors`), and on the way out
/// puts any bare error response (from the router, a body limit, a timeout) into the envelope,
/// marks it for an allowed origin, sets the request id, and writes the access record
/// (`access`).
#[derive(Clone)]
pub struct Edge<S> {
    inner: S,
    proxies: TrustedProxies,
    cors: Cors,
    peer: IpAddr,
    log: AccessLog,
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
        let client = self.proxies.client(self.peer, req.headers());
        let pending = Pending::new(self.log, req.method(), &id, client);
        let origin = self.cors.allowed_origin(req.headers());
        let inner = if cors::is_preflight(req.method()) {
            Inner::Answered {
                response: Some(Cors::preflight(origin.clone())),
            }
        } else {
            // The id reaches log lines and consent records through the note (a task-local),
            // not the request: nothing reads it from there.
            let note = Note::new(id.clone());
            req.extensions_mut().insert(ClientIp(client));
            // A panic in a handler (or a layer) is a 500 envelope, not a dropped connection.
            let inner = &mut self.inner;
            match std::panic::catch_unwind(AssertUnwindSafe(|| inner.call(req))) {
                Ok(future) => Inner::Route {
                    future: note.scope(future),
                },
                Err(panic) => {
                    let mut response = panic_response(panic);
                    Cors::mark(origin.clone(), &mut response);
                    Inner::Answered {
                        response: Some(response),
                    }
                }
            }
        };
        EdgeFuture {
            inner,
            origin,
            id: Some(id),
            pending: Some(pending),
            log: self.log,
        }
    }
}

pin_project! {
    /// The response of [`Edge`].
    pub struct EdgeFuture<F> {
        #[pin]
        inner: Inner<F>,
        origin: Option<HeaderValue>,
        id: Option<HeaderValue>,
        pending: Option<Pending>,
        log: AccessLog,
    }
}

pin_project! {
    /// A routed request, or one the edge answered itself (a preflight, a panic).
    #[project = InnerProj]
    enum Inner<F> {
        Route {
            #[pin]
            future: tokio::task::futures::TaskLocalFuture<Note, F>,
        },
        Answered {
            response: Option<Response>,
        },
    }
}

impl<F> Future for EdgeFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let (mut response, note) = match this.inner.project() {
            InnerProj::Route { mut future } => {
                let polled =
                    std::panic::catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx)));
                let (mut response, note) = match polled {
                    Ok(Poll::Pending) => return Poll::Pending,
                    Ok(Poll::Ready(Ok(response))) => (envelope(response), future.take_value()),
                    // Not polled again: the answer is ready.
                    Err(panic) => (panic_response(panic), None),
                };
                Cors::mark(this.origin.take(), &mut response);
                (response, note)
            }
            InnerProj::Answered { response } => {
                let response = response
                    .take()
                    .unwrap_or_else(|| ApiError::internal("answered twice").into_response());
                (response, None)
            }
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID.clone(), id);
        }
        if let Some(pending) = this.pending.take() {
            response = pending.finish(*this.log, note, response);
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

/// The answer to a panic while serving a request: a 500 envelope instead of a dropped
/// connection. (The edge catches panics itself: tower-http's `CatchPanicLayer` boxed every
/// response body twice on the way.)
pub fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response<Body> {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::SocketAddr;
    use std::sync::Arc;

    use tower::ServiceExt;

    fn edge_of<S: Clone>(inner: S) -> Edge<S> {
        let log = AccessLog::new(&crate::config::LogSettings::default());
        let cors = Cors::allowing(|o| o == "https://app.example");
        MakeEdge::new(inner, TrustedProxies(Arc::new(Vec::new())), cors, log)
            .edge(SocketAddr::from(([127, 0, 0, 1], 40000)))
    }

    async fn answer<S>(edge: Edge<S>) -> (u16, serde_json::Value, axum::http::HeaderMap)
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let request = Request::builder()
            .uri("/customers")
            .header(header::ORIGIN, "https://app.example")
            .body(Body::empty())
            .unwrap();
        let response = edge.oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
        let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
        (parts.status.as_u16(), json, parts.headers)
    }

    /// A 500 S0001 envelope, marked for the allowed origin like any other answer.
    async fn assert_panic_answer<S>(edge: Edge<S>) -> axum::http::HeaderMap
    where
        S: Service<Request, Response = Response, Error = Infallible>,
    {
        let (status, body, headers) = answer(edge).await;
        assert_eq!(status, 500);
        assert_eq!(body["code"], "S0001", "{body}");
        assert_eq!(
            headers["access-control-allow-origin"],
            "https://app.example"
        );
        headers
    }

    #[tokio::test]
    async fn a_panic_while_answering_is_a_500_envelope() {
        let edge = edge_of(tower::service_fn(|_req: Request| async {
            if true {
                panic!("a handler bug");
            }
            Ok::<Response, Infallible>(Response::new(Body::empty()))
        }));
        let headers = assert_panic_answer(edge).await;
        assert!(headers.contains_key("x-request-id"));
    }

    #[tokio::test]
    async fn a_panic_before_the_answer_starts_is_a_500_envelope() {
        let edge = edge_of(tower::service_fn(
            |_req: Request| -> std::future::Ready<Result<Response, Infallible>> {
                panic!("a layer bug")
            },
        ));
        let headers = assert_panic_answer(edge).await;
        assert_eq!(headers["vary"], "origin");
        assert!(headers.contains_key("x-request-id"));
    }

    #[test]
    fn request_id_shape() {
        assert!(valid_request_id(&HeaderValue::from_static("abc-1.2_3")));
        assert!(!valid_request_id(&HeaderValue::from_static("has space")));
        assert!(!valid_request_id(
            &HeaderValue::from_str(&"a".repeat(65)).unwrap()
        ));
    }
}
