//! Routes that wait on the database answer 503 S0002 as soon as the probe of
//! [`DbHealth`] sees it down, instead of after the pool's acquire timeout.
//! A request its first poll completes (a cache hit) is answered as usual.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::http::error::ApiError;
use crate::store::DbHealth;

/// Wraps routes with [`DbGate`].
#[derive(Clone)]
pub struct DbGateLayer(pub DbHealth);

impl<S> Layer<S> for DbGateLayer {
    type Service = DbGate<S>;
    fn layer(&self, inner: S) -> DbGate<S> {
        DbGate {
            inner,
            health: self.0.clone(),
        }
    }
}

/// See the module.
#[derive(Clone)]
pub struct DbGate<S> {
    inner: S,
    health: DbHealth,
}

impl<S> Service<Request> for DbGate<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = GateFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        GateFuture {
            inner: self.inner.call(req),
            health: Some(self.health.clone()),
            down: None,
        }
    }
}

type Down = Pin<Box<dyn Future<Output = ()> + Send>>;

pin_project! {
    /// The response of [`DbGate`].
    pub struct GateFuture<F> {
        #[pin]
        inner: F,
        health: Option<DbHealth>,
        down: Option<Down>,
    }
}

impl<F> Future for GateFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(r) = this.inner.poll(cx) {
            return Poll::Ready(r);
        }
        // Made only for requests that wait (cache hits never pay for it).
        if this.down.is_none()
            && let Some(f) = this.health.take().and_then(|h| h.went_down())
        {
            *this.down = Some(Box::pin(f));
        }
        if let Some(down) = this.down.as_mut()
            && down.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(Ok(ApiError::unavailable(
                "the database probe sees the database down",
            )
            .into_response()));
        }
        Poll::Pending
    }
}
