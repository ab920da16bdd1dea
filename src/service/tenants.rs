//! The publisher a request is for: named by `publisherId` or `offerId` (a body), by a path, or
//! by a customer token; always through the catalog, so the limiter and the operation agree.

use std::sync::Arc;

use super::Services;
use crate::catalog::PublisherView;
use crate::domain::{PublisherId, TenantRef};
use crate::error::ApiError;

/// The existing publisher `tenant` names; `None` when there is none (an unknown publisher, or
/// an unknown offer).
pub async fn find(
    services: &Services,
    tenant: &TenantRef,
) -> Result<Option<Arc<PublisherView>>, ApiError> {
    let id = match tenant {
        TenantRef::Publisher(id) => *id,
        TenantRef::Offer(offer) => match services.catalog.offer_publisher(offer).await? {
            Some(id) => id,
            None => return Ok(None),
        },
    };
    Ok(services.catalog.publisher(id).await?)
}

/// The existing publisher `tenant` names: 404 REQ0003 on the field that named it otherwise.
pub async fn resolve(
    services: &Services,
    tenant: &TenantRef,
) -> Result<Arc<PublisherView>, ApiError> {
    find(services, tenant)
        .await?
        .ok_or_else(|| ApiError::unknown(field(tenant)))
}

/// The body field a tenant was named by.
pub fn field(tenant: &TenantRef) -> &'static str {
    match tenant {
        TenantRef::Publisher(_) => "publisherId",
        TenantRef::Offer(_) => "offerId",
    }
}

/// The publisher of a valid customer token, which must exist (403 AUTH0004 otherwise).
pub async fn of_token(
    services: &Services,
    publisher: PublisherId,
) -> Result<Arc<PublisherView>, ApiError> {
    services
        .catalog
        .publisher(publisher)
        .await?
        .ok_or_else(ApiError::access_denied)
}
