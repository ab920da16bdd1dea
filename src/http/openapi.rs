//! The OpenAPI 3.1 document, generated from the handlers' annotations.

use utoipa::OpenApi;

use super::admin::{
    audit, consents as admin_consents, customers as admin_customers, export, keys, publishers,
};
use super::{
    capture, consents, customer_consents, customers, error, identity, locales, login, ops,
    passwords, registration, verification,
};

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
        registration::register,
        login::login,
        login::refresh,
        passwords::request_reset,
        passwords::reset,
        customers::get_customer,
        customers::patch_customer,
        customer_consents::get_consents,
        customer_consents::put_consents,
        capture::capture_status,
        capture::put_capture,
        identity::revoke_refresh_tokens,
        identity::sso_auth,
        identity::delete_customer,
        verification::send_code,
        verification::request_confirmation,
        verification::confirm,
        verification::confirm_page,
        ops::jwks,
        ops::healthz,
        ops::readyz,
        ops::metrics,
        ops::openapi,
        keys::me,
        keys::list,
        keys::create,
        keys::revoke,
        publishers::list,
        publishers::create,
        publishers::read,
        publishers::update,
        admin_consents::list,
        admin_consents::publish,
        admin_consents::archive,
        admin_customers::list,
        admin_customers::read,
        admin_customers::erase,
        export::export,
        audit::list,
    ),
    components(schemas(error::ErrorBody, error::FieldError, error::Reason)),
    modifiers(&BearerJwt)
)]
pub struct ApiDoc;

/// Declares the `jwt` bearer scheme the customer routes use and the `adminKey` bearer scheme of
/// `/admin/api`.
struct BearerJwt;

impl utoipa::Modify for BearerJwt {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "jwt",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
        components.add_security_scheme(
            "adminKey",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "An admin key (`enroll key create`) or the configured admin.operator_key",
                    ))
                    .build(),
            ),
        );
        // Cleeng's name for the publisher's key on its server-to-server routes.
        components.add_security_scheme(
            "publisherToken",
            SecurityScheme::ApiKey(utoipa::openapi::security::ApiKey::Header(
                utoipa::openapi::security::ApiKeyValue::new("X-Publisher-Token"),
            )),
        );
    }
}

/// The document as JSON bytes, made once at start-up.
pub fn document() -> bytes::Bytes {
    bytes::Bytes::from(ApiDoc::openapi().to_json().unwrap_or_default())
}
