//! The route-class limiter as middleware: find the key (class, publisher, client IP), ask the
//! limiter, answer 429 at once or run the request holding its concurrency slot.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use tower::{Service, ServiceExt};

use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::domain::customer::tenant;
use crate::domain::fields::Fields;
use crate::domain::{PublisherId, TenantRef};
use crate::limits::{Class, Key, Limiter, Verdict};
use crate::state::AppState;

/// Limits the customer-facing routes (API.md, Rate limits): `service` runs only when the
/// request is within the limits of its `class`; `route` is its route template.
pub async fn limit<S>(
    state: &AppState,
    limiter: &Limiter,
    class: Class,
    route: &str,
    req: Request,
    service: S,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
    let (req, publisher) = match publisher_of(state, route, req).await {
        Ok(found) => found,
        Err(response) => return response,
    };
    match limiter
        .check(Key {
            class,
            publisher,
            ip,
        })
        .await
    {
        Verdict::Allowed(permit) => {
            let Ok(response) = service.oneshot(req).await;
            drop(permit);
            response
        }
        Verdict::Rejected { retry_after, .. } => ApiError::too_many_requests()
            .with_retry_after(retry_after)
            .into_response(),
    }
}

/// Where a route's handler takes its tenant from. The limiter takes it from the same place,
/// parsed by the same functions, so a request counts against the publisher its handler
/// serves, or against none when the handler refuses it anyway: a client cannot pick a
/// bucket with a token or a body field the handler ignores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TenantFrom {
    /// `/publishers/{publisher_id}/…`.
    Path,
    /// The customer JWT (`/customers/{customer_id}/…`).
    Token,
    /// `publisherId` / `offerId` of the JSON body.
    Body,
    /// No tenant before the handler's own lookup (e.g. a refresh token's).
    Nowhere,
}

fn tenant_from(method: &Method, route: &str) -> TenantFrom {
    if route.starts_with("/publishers/{publisher_id}") {
        TenantFrom::Path
    } else if route.starts_with("/3.1/") {
        // Authenticated by the publisher's token, not a customer JWT.
        TenantFrom::Nowhere
    } else if route.contains("{customer_id}")
        || (method == Method::DELETE && route == "/refresh_tokens")
    {
        TenantFrom::Token
    } else {
        match (method.as_str(), route) {
            ("POST", "/customers" | "/auths" | "/sso/auths" | "/customers/verification")
            | ("PUT" | "PATCH", "/customers/passwords") => TenantFrom::Body,
            _ => TenantFrom::Nowhere,
        }
    }
}

/// The publisher a request counts against: only an existing one, named where its route's
/// handler reads it (see [`TenantFrom`]). Body routes are read here (within the body limit,
/// by the handler's own parser) and handed on unchanged.
async fn publisher_of(
    state: &AppState,
    route: &str,
    req: Request,
) -> Result<(Request, Option<PublisherId>), Response> {
    let exists = |id: PublisherId| async move {
        state
            .catalog
            .publisher(id)
            .await
            .ok()
            .flatten()
            .map(|v| v.publisher.id)
    };
    match tenant_from(req.method(), route) {
        TenantFrom::Nowhere => Ok((req, None)),
        TenantFrom::Token => {
            let publisher = super::auth::bearer_token(req.headers())
                .and_then(|token| state.keys.verify(token).ok())
                .and_then(|claims| PublisherId::parse(&claims.publisher_id).ok());
            Ok((req, publisher))
        }
        TenantFrom::Path => {
            let id = req
                .uri()
                .path()
                .strip_prefix("/publishers/")
                .and_then(|rest| rest.split('/').next())
                .and_then(|s| PublisherId::parse(s).ok());
            let known = match id {
                Some(id) => exists(id).await,
                None => None,
            };
            Ok((req, known))
        }
        TenantFrom::Body => {
            let (parts, body) = req.into_parts();
            let bytes = match axum::body::to_bytes(body, usize::MAX).await {
                Ok(b) => b,
                Err(_) => return Err(ApiError::payload_too_large().into_response()),
            };
            // A body the handler refuses (bad JSON, a repeated key, a bad or missing or
            // contradictory id) counts against no publisher.
            let tenant = super::json::parse(&bytes).ok().and_then(|body| {
                let mut fields = Fields::new(&body).ok()?;
                tenant(&mut fields).filter(|_| fields.errors.is_empty())
            });
            let publisher = match tenant {
                Some(TenantRef::Publisher(id)) => exists(id).await,
                Some(TenantRef::Offer(offer)) => {
                    match state.catalog.offer_publisher(&offer).await.ok().flatten() {
                        Some(id) => exists(id).await,
                        None => None,
                    }
                }
                None => None,
            };
            Ok((Request::from_parts(parts, Body::from(bytes)), publisher))
        }
    }
}
