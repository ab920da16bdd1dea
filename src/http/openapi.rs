//! The OpenAPI 3.1 document: the handlers' annotations (paths, parameters, response types),
//! finished by [`ROUTES`] into what the server really sends — every success inside the
//! envelope, every error status a route can answer with the error envelope, request bodies,
//! `X-Request-Id` on every response. `tests/it/openapi.rs` fuzzes the live server against it.
//!
//! A new route: its `#[utoipa::path]` in `paths(...)` below and one line in [`ROUTES`].

mod bodies;

use bodies as body;
use serde_json::{Map, Value, json};
use utoipa::OpenApi;

use super::admin::{
    audit, consents as admin_consents, customers as admin_customers, deliveries, export, keys,
    proof, publishers, webhooks,
};
use super::{
    capture, consents, customer_consents, customers, error, identity, locales, login, ops,
    owner_data, passwords, receipts, registration, verification,
};

/// Every route of the service. A route added later goes in `paths` and in [`ROUTES`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Enroll",
        description = "Customer registration, compatible with Cleeng MediaStore API v3. \
                       Every JSON success is `{\"responseData\": …, \"errors\": []}`; every error is \
                       the envelope `{\"responseData\": {}, \"errors\": [...], \"code\", \"message\", \"details\"}`. \
                       Every response carries `X-Request-Id`."
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
        receipts::list,
        capture::capture_status,
        capture::put_capture,
        owner_data::export,
        owner_data::erase,
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
        admin_customers::export,
        export::export,
        proof::verify,
        proof::receipts,
        proof::receipt,
        audit::list,
        webhooks::create,
        webhooks::list,
        webhooks::read,
        webhooks::update,
        webhooks::disable,
        webhooks::delete,
        webhooks::rotate_secret,
        deliveries::list,
        deliveries::replay_one,
        deliveries::replay_since,
    ),
    components(schemas(error::FieldError, error::Reason)),
    modifiers(&BearerJwt)
)]
pub struct ApiDoc;

/// Who may call a route, which decides the errors every route of its kind can answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Customer-facing without a token: in a rate-limit class (429).
    Public,
    /// Customer-facing behind the customer JWT: 400 for a malformed path id, 401, 403, 429,
    /// and it waits on the database (503).
    Customer,
    /// `/admin/api` behind an admin key: 401, and it waits on the database (503).
    Admin,
    /// Operations: in no rate-limit class.
    Ops,
}

/// What a success sends.
#[derive(Debug, Clone, Copy)]
pub enum Success {
    /// `{"responseData": <the annotated body>, "errors": []}`.
    Data,
    /// `{"responseData": <this>, "errors": []}` (handlers answering untyped JSON).
    DataOf(fn() -> Value),
    /// Not enveloped: this content type and schema.
    Raw(&'static str, fn() -> Value),
}

/// One operation of the document and what the annotations cannot say.
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub kind: Kind,
    /// A JSON request body (which adds 400, 413 and 415).
    pub body: Option<fn() -> Value>,
    pub success: Success,
    /// Error statuses beyond those of the kind, the body and 500 (which every route has).
    pub errors: &'static [u16],
}

const fn route(
    method: &'static str,
    path: &'static str,
    kind: Kind,
    body: Option<fn() -> Value>,
    success: Success,
    errors: &'static [u16],
) -> Route {
    Route {
        method,
        path,
        kind,
        body,
        success,
        errors,
    }
}

use Kind::{Admin, Customer, Ops, Public};
use Success::{Data, DataOf, Raw};

/// Every operation. `tests` check it against the annotated paths both ways.
#[rustfmt::skip]
pub const ROUTES: &[Route] = &[
    route("get", "/locales", Public, None, Data, &[400]),
    route("get", "/publishers/{publisherId}/consents", Public, None, Data, &[400, 404, 503]),
    route("post", "/customers", Public, Some(body::registration), Data, &[404, 409, 422, 503]),
    route("post", "/auths", Public, Some(body::login), Data, &[401, 404, 503]),
    route("post", "/auths/refresh_token", Public, Some(body::refresh), Data, &[401, 503]),
    route("put", "/customers/passwords", Public, Some(body::reset_request), DataOf(body::empty), &[404, 503]),
    route("patch", "/customers/passwords", Public, Some(body::reset), DataOf(body::empty), &[404, 503]),
    route("get", "/customers/{customerId}", Customer, None, Data, &[]),
    route("patch", "/customers/{customerId}", Customer, Some(body::customer_change), Data, &[422]),
    route("get", "/customers/{customerId}/consents", Customer, None, Data, &[]),
    route("put", "/customers/{customerId}/consents", Customer, Some(body::consent_answers), Data, &[404]),
    route("get", "/customers/{customerId}/consents/receipts", Customer, None, Data, &[]),
    route("get", "/customers/{customerId}/capture/status", Customer, None, Data, &[]),
    route("put", "/customers/{customerId}/capture", Customer, Some(body::capture), Data, &[]),
    route("get", "/customers/{customerId}/export", Customer, None, DataOf(body::customer_export), &[]),
    route("delete", "/customers/{customerId}", Customer, Some(body::erasure), Data, &[]),
    route("delete", "/refresh_tokens", Customer, None, DataOf(body::empty), &[]),
    route("post", "/sso/auths", Admin, Some(body::sso), Data, &[403, 404, 429]),
    route("delete", "/3.1/customers/{customerId}", Admin, None, Data, &[400, 404, 429]),
    route("post", "/customers/verification", Public, Some(body::verification), DataOf(body::empty), &[404, 503]),
    route("post", "/customers/{customerId}/email/confirmation", Customer, Some(body::confirmation_request), DataOf(body::empty), &[]),
    route("post", "/customers/email/confirmation", Public, Some(body::confirmation), DataOf(body::confirmed), &[503]),
    route("get", "/customers/email/confirmation", Public, None, Raw("text/html; charset=utf-8", body::html), &[503]),
    route("get", "/.well-known/jwks.json", Ops, None, Raw("application/json", body::jwks), &[]),
    route("get", "/healthz", Ops, None, Data, &[]),
    route("get", "/readyz", Ops, None, Data, &[503]),
    route("get", "/metrics", Ops, None, Raw("text/plain; version=0.0.4", body::text_body), &[]),
    route("get", "/openapi.json", Ops, None, Raw("application/json", body::any_object), &[]),
    route("get", "/admin/api/me", Admin, None, Data, &[]),
    route("get", "/admin/api/keys", Admin, None, Data, &[400, 403]),
    route("post", "/admin/api/keys", Admin, Some(body::new_key), Data, &[403, 404]),
    route("post", "/admin/api/keys/{keyId}/revoke", Admin, None, Data, &[400, 403, 404]),
    route("get", "/admin/api/publishers", Admin, None, Data, &[]),
    route("post", "/admin/api/publishers", Admin, Some(body::new_publisher), Data, &[403, 422]),
    route("get", "/admin/api/publishers/{publisherId}", Admin, None, Data, &[400, 404]),
    route("patch", "/admin/api/publishers/{publisherId}", Admin, Some(body::publisher_change), Data, &[403, 404]),
    route("get", "/admin/api/publishers/{publisherId}/consents", Admin, None, Data, &[400, 404]),
    route("post", "/admin/api/publishers/{publisherId}/consents", Admin, Some(body::new_consent_version), Data, &[404]),
    route("post", "/admin/api/publishers/{publisherId}/consents/{name}/archive", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/customers", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/customers.csv", Admin, None, Raw("text/csv; charset=utf-8", body::text_body), &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/customers/{customerId}", Admin, None, Data, &[400, 404]),
    route("delete", "/admin/api/publishers/{publisherId}/customers/{customerId}", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/customers/{customerId}/export", Admin, None, DataOf(body::customer_export), &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/consents/verify", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/customers/{customerId}/receipts", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/receipts/{receiptId}", Admin, None, Raw("application/jose", body::text_body), &[400, 404]),
    route("get", "/admin/api/audit", Admin, None, Data, &[400, 404]),
    route("post", "/admin/api/publishers/{publisherId}/webhooks", Admin, Some(body::new_webhook), Data, &[404]),
    route("get", "/admin/api/publishers/{publisherId}/webhooks", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", Admin, None, Data, &[400, 404]),
    route("patch", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", Admin, Some(body::webhook_change), Data, &[404]),
    route("post", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/disable", Admin, None, Data, &[400, 404]),
    route("delete", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}", Admin, None, Data, &[400, 404]),
    route("post", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/rotate-secret", Admin, None, Data, &[400, 404]),
    route("get", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries", Admin, None, Data, &[400, 404]),
    route("post", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/deliveries/{deliveryId}/replay", Admin, None, Data, &[400, 404]),
    route("post", "/admin/api/publishers/{publisherId}/webhooks/{webhookId}/replay", Admin, Some(body::replay), Data, &[404]),
];

impl Route {
    /// Every error status this route can answer with, ascending.
    pub fn error_statuses(&self) -> Vec<u16> {
        let mut all = vec![500];
        all.extend_from_slice(self.errors);
        if self.body.is_some() {
            all.extend([400, 413, 415]);
        }
        match self.kind {
            Public => all.push(429),
            Customer => all.extend([400, 401, 403, 429, 503]),
            Admin => all.extend([401, 503]),
            Ops => {}
        }
        all.sort_unstable();
        all.dedup();
        all
    }
}

/// The codes each error status carries (API.md).
#[rustfmt::skip]
const CODES: &[(u16, &[&str], &str)] = &[
    (400, &["REQ0001", "REQ0002", "REQ0003", "CON0002"], "Invalid request: body (REQ0001), query (REQ0002), path (REQ0003), consent version (CON0002)"),
    (401, &["USER0001", "AUTH0001", "AUTH0002", "AUTH0003", "AUTH0005", "ADM0001"], "Not authenticated"),
    (403, &["AUTH0004", "USER0005"], "Access denied (AUTH0004), or self-service erasure turned off (USER0005)"),
    (404, &["REQ0003", "REQ0004", "CON0001"], "Not found: an unknown id (REQ0003) or consent (CON0001)"),
    (405, &["REQ0005"], "Method not allowed"),
    (409, &["IDEM0001"], "A request with this Idempotency-Key is in progress"),
    (413, &["REQ0006"], "Request body too large"),
    (415, &["REQ0007"], "Content-Type must be application/json"),
    (422, &["USER0002", "USER0004", "IDEM0002"], "Already exists, or an Idempotency-Key reused with another request"),
    (429, &["RATE0001", "CPT0001", "CPT0002"], "Too many requests (RATE0001, with Retry-After) or captcha required/failed"),
    (500, &["S0001"], "Internal Server Error (details only in the log, under the request id)"),
    (503, &["S0002", "S0003"], "Database unreachable (S0002, with Retry-After) or request timed out (S0003)"),
];

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
                    .description(Some(
                        "A customer JWT from register, login or refresh (15 minutes)",
                    ))
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

/// The finished document as JSON.
pub fn document_json() -> Value {
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    finish(&mut doc);
    doc
}

/// The document as JSON bytes, made once at start-up.
pub fn document() -> bytes::Bytes {
    bytes::Bytes::from(serde_json::to_vec(&document_json()).unwrap_or_default())
}

fn finish(doc: &mut Value) {
    let schemas = &mut doc["components"]["schemas"];
    schemas["ErrorBody"] = body::error_body();
    for (status, codes, _) in CODES {
        schemas[format!("Error{status}")] = json!({
            "allOf": [{"$ref": "#/components/schemas/ErrorBody"}],
            "properties": {"code": {"enum": codes}},
        });
    }
    for r in ROUTES {
        let Some(op) = doc["paths"][r.path][r.method].as_object_mut() else {
            continue;
        };
        if let Some(schema) = r.body {
            op.insert(
                "requestBody".into(),
                json!({
                    "required": true,
                    "content": {"application/json": {"schema": schema()}},
                }),
            );
        }
        let responses = op
            .entry("responses")
            .or_insert_with(|| json!({}))
            .as_object_mut();
        let Some(responses) = responses else { continue };
        finish_success(responses, r.success);
        let mut statuses = r.error_statuses();
        // An annotation may name one more; it is answered in the envelope like the rest.
        statuses.extend(
            responses
                .keys()
                .filter_map(|k| k.parse::<u16>().ok())
                .filter(|s| *s >= 400),
        );
        statuses.sort_unstable();
        statuses.dedup();
        for status in statuses {
            let described = responses
                .get(&status.to_string())
                .and_then(|x| x["description"].as_str())
                .filter(|d| !d.is_empty())
                .map(str::to_owned);
            let mut response = error_response(status, described);
            if let (400, Raw(page @ "text/html; charset=utf-8", schema)) = (status, r.success) {
                // A page for people: a bad link is a page too.
                response["content"] = json!({ page: {"schema": schema()} });
            }
            responses.insert(status.to_string(), response);
        }
        for response in responses.values_mut() {
            response["headers"]["X-Request-Id"] =
                json!({"$ref": "#/components/headers/X-Request-Id"});
        }
        if let Some(params) = op.get_mut("parameters").and_then(Value::as_array_mut) {
            params.iter_mut().for_each(finish_parameter);
        }
    }
    doc["components"]["headers"]["X-Request-Id"] = json!({
        "required": true,
        "description": "The client's X-Request-Id when it matches [A-Za-z0-9._-]{1,64}, else a new one",
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._-]{1,64}$"},
    });
}

/// Path ids: what a well-formed one looks like (others are 400 REQ0003).
fn finish_parameter(param: &mut Value) {
    if param["in"] != "path" {
        return;
    }
    let pattern = match param["name"].as_str() {
        Some("publisherId" | "customerId") => "^[0-9]{9}$",
        Some("keyId") => "^[1-9][0-9]{0,17}$",
        _ => return,
    };
    param["schema"] = json!({"type": "string", "pattern": pattern});
}

fn finish_success(responses: &mut Map<String, Value>, success: Success) {
    let ok = responses.entry("200").or_insert_with(|| json!({}));
    if ok["description"].as_str().is_none_or(str::is_empty) {
        ok["description"] = json!("Success");
    }
    let annotated = ok["content"]["application/json"]["schema"].take();
    let (content_type, schema) = match success {
        Data => ("application/json", envelope(annotated)),
        DataOf(schema) => ("application/json", envelope(schema())),
        Raw(content_type, schema) => (content_type, schema()),
    };
    ok["content"] = json!({ content_type: {"schema": schema} });
}

/// `{"responseData": data, "errors": []}`, nothing else.
fn envelope(data: Value) -> Value {
    json!({
        "type": "object",
        "required": ["responseData", "errors"],
        "properties": {
            "responseData": data,
            "errors": {"type": "array", "maxItems": 0},
        },
        "additionalProperties": false,
    })
}

fn error_response(status: u16, described: Option<String>) -> Value {
    let fallback = CODES
        .iter()
        .find(|(s, _, _)| *s == status)
        .map_or("Error", |(_, _, text)| text);
    let mut response = json!({
        "description": described.unwrap_or_else(|| fallback.to_owned()),
        "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/Error{status}")}}},
    });
    if matches!(status, 429 | 503) {
        response["headers"]["Retry-After"] = json!({
            "description": "Whole seconds to wait (RATE0001, S0002)",
            "schema": {"type": "string", "pattern": "^[0-9]+$"},
        });
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_and_annotations_agree() {
        let doc = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let mut annotated = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for method in item.as_object().unwrap().keys() {
                annotated.push(format!("{method} {path}"));
            }
        }
        let mut listed: Vec<String> = ROUTES
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect();
        annotated.sort();
        listed.sort();
        assert_eq!(
            annotated, listed,
            "every annotated path has one line in ROUTES"
        );
    }

    #[test]
    fn every_status_has_its_codes() {
        for r in ROUTES {
            for s in r.error_statuses() {
                assert!(CODES.iter().any(|(c, _, _)| *c == s), "{s} of {}", r.path);
            }
        }
    }
}
