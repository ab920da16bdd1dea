//! `server.request_timeout` for routes that wait: 408 when the route has not answered in
//! time. The timer is armed only when the route first has to wait, so an answer ready at
//! once (a cache hit) costs no timer; tower-http's `TimeoutLayer` armed one for every
//! request (it polls its timer before the route).

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

/// Answers 408 when the route takes longer than the timeout.
#[derive(Debug, Clone, Copy)]
pub struct DeadlineLayer(pub Duration);

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Deadline<S> {
        Deadline {
            inner,
            timeout: self.0,
        }
    }
}

/// The service of [`DeadlineLayer`].
#[derive(Debug, Clone)]
pub struct Deadline<S> {
    inner: S,
    timeout: Duration,
}

impl<S> Service<Request> for Deadline<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        DeadlineFuture {
            inner: self.inner.call(req),
            timeout: self.timeout,
            sleep: None,
        }
    }
}

pin_project! {
    /// The response of [`Deadline`].
    pub struct DeadlineFuture<F> {
        #[pin]
        inner: F,
        timeout: Duration,
        sleep: Option<Pin<Box<Sleep>>>,
    }
}

impl<F> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.inner.poll(cx) {
            return Poll::Ready(answer);
        }
        let timeout = *this.timeout;
        let sleep = this
            .sleep
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
        match sleep.as_mut().poll(cx) {
            Poll::Ready(()) => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::REQUEST_TIMEOUT;
                Poll::Ready(Ok(response))
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    fn slow(wait: Duration) -> impl Service<Request, Response = Response, Error = Infallible> {
        tower::service_fn(move |_req: Request| async move {
            tokio::time::sleep(wait).await;
            Ok::<_, Infallible>(Response::new(Body::from("late")))
        })
    }

    #[tokio::test]
    async fn a_route_over_its_time_is_answered_408() {
        let service = DeadlineLayer(Duration::from_millis(50)).layer(slow(Duration::from_secs(30)));
        let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    }

    #[tokio::test]
    async fn a_route_in_time_answers_itself() {
        let service = DeadlineLayer(Duration::from_secs(30)).layer(slow(Duration::from_millis(20)));
        let response = service.oneshot(Request::new(Body::empty())).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// Without a runtime, making a timer panics: the answer ready at once made none.
    #[test]
    fn an_answer_ready_at_once_arms_no_timer() {
        use futures_util::FutureExt;
        let service =
            DeadlineLayer(Duration::from_secs(5)).layer(tower::service_fn(|_req: Request| async {
                Ok::<_, Infallible>(Response::new(Body::empty()))
            }));
        let answer = service.oneshot(Request::new(Body::empty())).now_or_never();
        assert_eq!(
            answer.map(|r| r.map(|r| r.status())),
            Some(Ok(StatusCode::OK))
        );
    }
}
