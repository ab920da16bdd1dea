//! Route classes. Each route of the router (src/http/mod.rs) names its class and where its
//! handler takes its tenant from; [`ClassLayer`] finds the tenant there once, applies the
//! class's limits for (class, publisher, client IP) — 429 at once, or the request runs
//! holding its concurrency slot — hands what it found on to the handler ([`RequestTenant`],
//! and the verified customer token), and tags the response with its class for the metrics.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use axum::body::Body;
use axum::extract::{FromRequestParts, RawPathParams, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use futures_util::future::{BoxFuture, Either};
use pin_project_lite::pin_project;
use tower::{Layer, Service, ServiceExt};

use crate::catalog::PublisherView;
use crate::domain::customer::tenant;
use crate::domain::fields::Fields;
use crate::domain::{PublisherId, TenantRef};
use crate::http::api::auth::VerifiedToken;
use crate::http::edge::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::limits::{Class, Key, Verdict};
use crate::service::{Services, tenants};
use crate::state::AppState;

/// The class of a route: its limits (API.md, Rate limits), and the `class` label of its
/// request metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouteClass {
    /// A customer-facing class with its own rate and concurrency limits.
    Limited(Class),
    /// Health, readiness, metrics, the OpenAPI document, the JWKS: never limited.
    Ops,
    /// The admin API and dashboard: in no customer rate-limit class.
    Admin,
}

impl RouteClass {
    /// Every customer-facing route of no other class.
    pub const DEFAULT: RouteClass = RouteClass::Limited(Class::Default);

    /// The `class` label.
    pub fn name(self) -> &'static str {
        match self {
            RouteClass::Limited(class) => class.name(),
            RouteClass::Ops => "ops",
            RouteClass::Admin => "admin",
        }
    }
}

/// Where a route's handler takes its tenant from. The limiter takes it from the same place,
/// parsed by the same functions, and hands it to the handler, so a request counts against
/// the publisher its handler serves, or against none when the handler refuses it anyway: a
/// client cannot pick a bucket with a token or a body field the handler ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TenantFrom {
    /// `/publishers/{publisher_id}/…`.
    Path,
    /// The customer JWT (`/customers/{customer_id}/…`).
    Token,
    /// `publisherId` / `offerId` of the JSON body.
    Body,
    /// No tenant before the handler's own lookup (e.g. a refresh token's).
    Nowhere,
}

/// A tenant the limiter looked up, handed to the handler in the request's extensions.
#[derive(Clone)]
struct Found {
    tenant: TenantRef,
    /// `None`: no such publisher.
    view: Option<Arc<PublisherView>>,
}

/// The tenant the limiter found for the request, when it looked (it looks only while limits
/// are on): an extractor that never refuses.
pub struct RequestTenant(Option<Found>);

impl<S: Send + Sync> FromRequestParts<S> for RequestTenant {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(RequestTenant(parts.extensions.remove::<Found>()))
    }
}

impl RequestTenant {
    /// The publisher `tenant` names (404 REQ0003 on the field that named it when there is
    /// none): the one the limiter counted the request against, when it looked up the same.
    pub async fn resolve(
        self,
        services: &Services,
        tenant: &TenantRef,
    ) -> Result<Arc<PublisherView>, ApiError> {
        match self.0 {
            Some(found) if found.tenant == *tenant => found
                .view
                .ok_or_else(|| ApiError::unknown(tenants::field(tenant))),
            _ => tenants::resolve(services, tenant).await,
        }
    }
}

/// Puts a route in its class, with the place its tenant comes from.
#[derive(Clone)]
pub struct ClassLayer {
    state: AppState,
    class: RouteClass,
    tenant: TenantFrom,
}

impl ClassLayer {
    /// Routes of `class` whose handlers take their tenant from `tenant`.
    pub fn new(state: &AppState, class: RouteClass, tenant: TenantFrom) -> Self {
        ClassLayer {
            state: state.clone(),
            class,
            tenant,
        }
    }
}

impl<S> Layer<S> for ClassLayer {
    type Service = Classed<S>;

    fn layer(&self, inner: S) -> Classed<S> {
        Classed {
            inner,
            layer: self.clone(),
        }
    }
}

/// The service of [`ClassLayer`].
#[derive(Clone)]
pub struct Classed<S> {
    inner: S,
    layer: ClassLayer,
}

impl<S> Service<Request> for Classed<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Tagged<Either<S::Future, BoxFuture<'static, Result<Response, Infallible>>>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let ClassLayer {
            state,
            class,
            tenant,
        } = self.layer.clone();
        let limited = match class {
            RouteClass::Limited(limited) => state.limiter.clone().map(|l| (limited, l)),
            RouteClass::Ops | RouteClass::Admin => None,
        };
        let Some((limited, limiter)) = limited else {
            return Tagged {
                inner: Either::Left(self.inner.call(req)),
                class,
            };
        };
        // The limiter decides before the route runs: it takes the service that is ready.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let limiting = async move {
            let ip = req
                .extensions()
                .get::<ClientIp>()
                .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
            let (req, publisher) = match publisher_of(&state, tenant, req).await {
                Ok(found) => found,
                Err(response) => return Ok(response),
            };
            let key = Key {
                class: limited,
                publisher,
                ip,
            };
            Ok(match limiter.check(key).await {
                Verdict::Allowed(permit) => {
                    let Ok(response) = ready.oneshot(req).await;
                    drop(permit);
                    response
                }
                Verdict::Rejected { retry_after, .. } => ApiError::too_many_requests()
                    .with_retry_after(retry_after)
                    .into_response(),
            })
        };
        Tagged {
            inner: Either::Right(Box::pin(limiting)),
            class,
        }
    }
}

pin_project! {
    /// A response on its way, marked with the class its request was counted in when it is
    /// ready (the metrics read it).
    pub struct Tagged<F> {
        #[pin]
        inner: F,
        class: RouteClass,
    }
}

impl<F> Future for Tagged<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        response.extensions_mut().insert(*this.class);
        Poll::Ready(Ok(response))
    }
}

/// The publisher a request counts against: only an existing one, named where its route's
/// handler reads it (see [`TenantFrom`]); what was found goes on with the request. Bodies
/// are read here (within the body limit, by the handler's own parser) and handed on
/// unchanged.
async fn publisher_of(
    state: &AppState,
    from: TenantFrom,
    req: Request,
) -> Result<(Request, Option<PublisherId>), Response> {
    match from {
        TenantFrom::Nowhere => Ok((req, None)),
        TenantFrom::Token => {
            let (mut parts, body) = req.into_parts();
            let verified = VerifiedToken::of(&state.keys, &parts.headers);
            parts.extensions.insert(verified);
            Ok((
                Request::from_parts(parts, body),
                verified.0.ok().map(|auth| auth.publisher),
            ))
        }
        TenantFrom::Path => {
            let (mut parts, body) = req.into_parts();
            let id = RawPathParams::from_request_parts(&mut parts, state)
                .await
                .ok()
                .and_then(|params| {
                    params
                        .iter()
                        .find(|(name, _)| *name == "publisher_id")
                        .and_then(|(_, value)| PublisherId::parse(value).ok())
                });
            let publisher = match id {
                Some(id) => find(state, &mut parts, TenantRef::Publisher(id)).await,
                None => None,
            };
            Ok((Request::from_parts(parts, body), publisher))
        }
        TenantFrom::Body => {
            let (mut parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => return Err(ApiError::payload_too_large().into_response()),
            };
            // A body the handler refuses (bad JSON, a repeated key, a bad or missing or
            // contradictory id) counts against no publisher.
            let named = crate::http::json::parse(&bytes).ok().and_then(|body| {
                let mut fields = Fields::new(&body).ok()?;
                tenant(&mut fields).filter(|_| fields.errors.is_empty())
            });
            let publisher = match named {
                Some(named) => find(state, &mut parts, named).await,
                None => None,
            };
            Ok((Request::from_parts(parts, Body::from(bytes)), publisher))
        }
    }
}

/// Looks `tenant` up for the limiter and hands the outcome on to the handler; a failed
/// lookup counts against no publisher (the handler meets the failure itself).
async fn find(state: &AppState, parts: &mut Parts, tenant: TenantRef) -> Option<PublisherId> {
    let view = tenants::find(state, &tenant).await.ok()?;
    let publisher = view.as_ref().map(|v| v.publisher.id);
    parts.extensions.insert(Found { tenant, view });
    publisher
}

/// An unmatched path: under `/admin` it is the admin API's (no customer limit, like its
/// routes), anywhere else the default class's, without a tenant. 404 REQ0003.
pub async fn unrouted(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
) -> Response {
    let class = if req.uri().path() == "/admin" || req.uri().path().starts_with("/admin/") {
        RouteClass::Admin
    } else {
        RouteClass::DEFAULT
    };
    let not_found = tower::service_fn(|_: Request| async {
        Ok::<_, Infallible>(ApiError::route_not_found().into_response())
    });
    let Ok(response) = ClassLayer::new(&state, class, TenantFrom::Nowhere)
        .layer(not_found)
        .oneshot(req)
        .await;
    response
}
