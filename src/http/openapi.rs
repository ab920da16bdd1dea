//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

use super::{consents, error, locales, ops};

/// Every route of the service. A route added later goes in `paths` too.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Enroll",
        description = "Customer registration, compatible with Cleeng MediaStore API v3. \
                       Every success is `{\"responseData\": …, \"errors\": []}`; every error is the envelope `ErrorBody`."
    ),
    paths(
        locales::get_locales,
        consents::publisher_consents,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
    ),
    components(schemas(error::ErrorBody, error::FieldError, error::Reason))
)]
pub struct ApiDoc;

/// The document as JSON bytes, made once at start-up.
pub fn document() -> bytes::Bytes {
    bytes::Bytes::from(ApiDoc::openapi().to_json().unwrap_or_default())
}
