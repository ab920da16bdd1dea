//! The route-class limiter as middleware: find the key (class, publisher, client IP), ask the
//! limiter, answer 429 at once or run the request holding its concurrency slot.

use std::convert::Infallible;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::Value;
use tower::{Service, ServiceExt};

use super::client_ip::ClientIp;
use super::error::ApiError;
use crate::app::AppState;
use crate::domain::{OfferId, PublisherId};
use crate::limits::{Class, Key, Limiter, Verdict};

/// Limits the customer-facing routes (API.md, Rate limits): `route` runs only when the
/// request is within the limits of its `class`.
pub async fn limit<S>(
    state: &AppState,
    limiter: &Limiter,
    class: Class,
    req: Request,
    route: S,
) -> Response
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
    let (req, publisher) = match publisher_of(state, class, req).await {
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
            let Ok(response) = route.oneshot(req).await;
            drop(permit);
            response
        }
        Verdict::Rejected { retry_after, .. } => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE0001",
            "Too many requests",
        )
        .with_retry_after(retry_after)
        .into_response(),
    }
}

#[derive(Deserialize)]
struct Tenant {
    #[serde(rename = "publisherId")]
    publisher_id: Option<Value>,
    #[serde(rename = "offerId")]
    offer_id: Option<Value>,
}

/// The publisher a request may count against: only from a verified token, or an id (path or
/// body) that names an existing publisher. Body routes are read here (within the body limit)
/// and handed on unchanged.
async fn publisher_of(
    state: &AppState,
    class: Class,
    req: Request,
) -> Result<(Request, Option<PublisherId>), Response> {
    if let Some(token) = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        && let Ok(claims) = state.keys.verify(token)
        && let Ok(p) = PublisherId::parse(&claims.publisher_id)
    {
        return Ok((req, Some(p)));
    }
    if let Some(rest) = req.uri().path().strip_prefix("/publishers/") {
        let id = rest
            .split('/')
            .next()
            .and_then(|s| PublisherId::parse(s).ok());
        let known = match id {
            Some(id) => state
                .catalog
                .publisher(id)
                .await
                .ok()
                .flatten()
                .map(|v| v.publisher.id),
            None => None,
        };
        return Ok((req, known));
    }
    let reads_body = class != Class::Default
        || (req.method() == Method::PUT && req.uri().path().ends_with("/consents"));
    if !reads_body || !matches!(*req.method(), Method::POST | Method::PUT | Method::PATCH) {
        return Ok((req, None));
    }
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(_) => return Err(ApiError::payload_too_large().into_response()),
    };
    let tenant: Option<Tenant> = serde_json::from_slice(&bytes).ok();
    let text = |v: Option<Value>| match v {
        Some(Value::String(s)) => Some(s),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let mut publisher = None;
    if let Some(t) = tenant {
        if let Some(id) = text(t.publisher_id).and_then(|s| PublisherId::parse(&s).ok()) {
            publisher = state
                .catalog
                .publisher(id)
                .await
                .ok()
                .flatten()
                .map(|v| v.publisher.id);
        } else if let Some(offer) = text(t.offer_id).and_then(|s| OfferId::parse(&s).ok()) {
            publisher = state.catalog.offer_publisher(&offer).await.ok().flatten();
        }
    }
    Ok((Request::from_parts(parts, Body::from(bytes)), publisher))
}
