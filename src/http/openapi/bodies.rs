//! JSON Schemas of the request bodies (the handlers read untyped JSON, so these say what they
//! accept) and of the responses no Rust type describes.

use serde_json::{Value, json};

/// A string, or `null` / `""` for "not given" (API.md conventions).
fn text() -> Value {
    json!({"type": ["string", "null"]})
}

/// An id: a JSON number or a string (`100000001` or `"100000001"`).
fn id(description: &str) -> Value {
    json!({"type": ["integer", "string", "null"], "description": description})
}

/// `publisherId` or `offerId`: one of them is required.
fn with_tenant(mut schema: Value) -> Value {
    schema["properties"]["publisherId"] = id("Nine digits; or give offerId");
    schema["properties"]["offerId"] = json!({"type": ["string", "null"], "description": "Such as S123456789_US; or give publisherId"});
    schema["anyOf"] = json!([{"required": ["publisherId"]}, {"required": ["offerId"]}]);
    schema
}

fn object(required: &[&str], properties: Value) -> Value {
    json!({"type": "object", "required": required, "properties": properties})
}

fn consent_answers_array() -> Value {
    json!({"type": ["array", "null"], "items": {
        "type": "object",
        "required": ["name", "version", "state"],
        "properties": {
            "name": {"type": "string"},
            "version": {"type": ["string", "integer"]},
            "state": {"enum": ["accepted", "declined"]},
        },
    }})
}

fn capture_properties() -> Value {
    json!({
        "birthDate": text(), "companyName": text(), "phoneNumber": text(),
        "address": text(), "address2": text(), "city": text(), "state": text(), "postCode": text(),
        "customAnswers": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["questionId", "value"],
            "properties": {"questionId": {"type": "string"}, "value": {"type": ["string", "null"]}},
        }},
    })
}

/// `POST /customers`.
pub fn registration() -> Value {
    let mut properties = json!({
        "email": {"type": "string", "maxLength": 254},
        "password": {"type": "string", "description": "8-80 characters, a letter and a digit or one of !@#$%^&"},
        "locale": {"type": "string", "examples": ["en_GB"]},
        "country": {"type": "string", "examples": ["GB"]},
        "currency": {"type": "string", "examples": ["GBP"]},
        "firstName": text(), "lastName": text(), "externalId": text(),
        "externalData": {"type": ["object", "string", "null"], "description": "A JSON object, or a string holding one"},
        "customerIP": text(), "captchaValue": text(), "verificationCode": text(),
        "consents": consent_answers_array(),
    });
    if let (Some(p), Value::Object(capture)) = (properties.as_object_mut(), capture_properties()) {
        p.extend(capture);
    }
    let mut schema = with_tenant(object(
        &["email", "password", "locale", "country", "currency"],
        properties,
    ));
    schema["examples"] = json!([{
        "email": "alice@example.com", "password": "secret123", "publisherId": 100000001,
        "locale": "en_GB", "country": "GB", "currency": "GBP",
    }]);
    schema
}

/// `POST /auths`.
pub fn login() -> Value {
    let mut schema = with_tenant(object(
        &["email", "password"],
        json!({"email": {"type": "string"}, "password": {"type": "string"}, "customerIP": text(), "captchaValue": text()}),
    ));
    schema["examples"] = json!([
        {"email": "alice@example.com", "password": "secret123", "offerId": "S100000001_US"},
    ]);
    schema
}

/// `POST /sso/auths` (a publisher key's own publisher; an operator key names one).
pub fn sso() -> Value {
    let mut schema = object(
        &["email"],
        json!({"email": {"type": "string"}, "customerIP": text(),
               "publisherId": id("Required with an operator key; else the key's own"),
               "offerId": {"type": ["string", "null"]}}),
    );
    schema["examples"] = json!([{"email": "alice@example.com", "customerIP": "81.2.69.142"}]);
    schema
}

/// `POST /auths/refresh_token`.
pub fn refresh() -> Value {
    object(
        &["refreshToken"],
        json!({"refreshToken": {"type": "string"}}),
    )
}

/// `PUT /customers/passwords`.
pub fn reset_request() -> Value {
    with_tenant(object(
        &["customerEmail"],
        json!({"customerEmail": {"type": "string"}, "resetUrl": text(), "captchaValue": text()}),
    ))
}

/// `PATCH /customers/passwords`.
pub fn reset() -> Value {
    with_tenant(object(
        &["customerEmail", "resetPasswordToken", "newPassword"],
        json!({"customerEmail": {"type": "string"}, "resetPasswordToken": {"type": "string"}, "newPassword": {"type": "string"}}),
    ))
}

/// `PATCH /customers/{customerId}`.
pub fn customer_change() -> Value {
    object(
        &[],
        json!({
            "firstName": text(), "lastName": text(), "country": text(), "locale": text(),
            "externalData": {"type": ["object", "string", "null"]},
            "email": text(),
            "confirmationPassword": {"type": ["string", "null"], "description": "Required with email"},
        }),
    )
}

/// `DELETE /customers/{customerId}` (self-service erasure).
pub fn erasure() -> Value {
    object(
        &["confirmationPassword"],
        json!({"confirmationPassword": {"type": "string", "description": "The customer's current password"}}),
    )
}

/// The own-data export (`GET /customers/{customerId}/export` and the admin API's).
pub fn customer_export() -> Value {
    let nullable = |t: &str| json!({"type": [t, "null"]});
    json!({
        "type": "object",
        "required": ["format", "exportedAt", "publisher", "profile", "capture", "consents", "consentHistory", "receipts", "sessions", "events"],
        "properties": {
            "format": {"const": "enroll.customer-export/1"},
            "exportedAt": {"type": "string", "format": "date-time"},
            "publisher": object(&["id", "name"], json!({"id": {"type": "string"}, "name": {"type": "string"}})),
            "profile": object(
                &["id", "email", "emailVerified", "locale", "country", "currency", "registeredAt"],
                json!({
                    "id": {"type": "string"}, "email": {"type": "string"}, "emailVerified": {"type": "boolean"},
                    "firstName": nullable("string"), "lastName": nullable("string"),
                    "locale": {"type": "string"}, "country": {"type": "string"}, "currency": {"type": "string"},
                    "externalId": nullable("string"), "externalData": nullable("object"),
                    "registeredAt": {"type": "string"}, "registrationIp": nullable("string"),
                    "lastLoginAt": nullable("string"), "lastIp": nullable("string"),
                }),
            ),
            "capture": nullable("object"),
            "consents": {"type": "array", "items": object(
                &["name", "broadcasterId", "required", "state", "newestVersion", "needsUpdate"],
                json!({
                    "name": {"type": "string"}, "broadcasterId": {"type": "integer"},
                    "label": {"type": "string"}, "value": {"type": "string"}, "required": {"type": "boolean"},
                    "state": {"enum": ["accepted", "declined"]}, "version": nullable("string"),
                    "newestVersion": {"type": "string"}, "needsUpdate": {"type": "boolean"},
                    "answeredAt": nullable("string"),
                }),
            )},
            "consentHistory": {"type": "array", "description": "Every stored column of each answer, camelCase (id, owner, name, version, state, ip, userAgent, at, imported, …)",
                "items": object(&["id", "name", "version", "state", "at"], json!({}))},
            "receipts": {"type": "array", "description": "The signed consent receipts, newest first (compact JWS, verifiable with /.well-known/jwks.json)",
                "items": object(&["receiptId", "collectionPoint", "createdAt", "jws"], json!({
                    "receiptId": {"type": "string"}, "collectionPoint": {"type": "string"},
                    "createdAt": {"type": "string"}, "jws": {"type": "string"},
                }))},
            "sessions": object(&["live"], json!({"live": {"type": "integer", "minimum": 0}})),
            "events": {"type": "array", "description": "The customer's events as stored (the webhook payloads), in order",
                "items": {"type": "object"}},
        },
    })
}

/// `PUT /customers/{customerId}/consents`.
pub fn consent_answers() -> Value {
    let mut answers = consent_answers_array();
    answers["type"] = json!("array");
    object(&["consents"], json!({ "consents": answers }))
}

/// `PUT /customers/{customerId}/capture`.
pub fn capture() -> Value {
    let mut schema = object(&[], capture_properties());
    schema["properties"]["firstName"] = text();
    schema["properties"]["lastName"] = text();
    schema["properties"]["country"] = text();
    schema
}

/// `POST /customers/verification`.
pub fn verification() -> Value {
    with_tenant(object(
        &["email"],
        json!({"email": {"type": "string"}, "locale": text()}),
    ))
}

/// `POST /customers/{customerId}/email/confirmation`.
pub fn confirmation_request() -> Value {
    object(&[], json!({"confirmUrl": text()}))
}

/// `POST /customers/email/confirmation`.
pub fn confirmation() -> Value {
    object(&["token"], json!({"token": {"type": "string"}}))
}

/// `POST /admin/api/keys`.
pub fn new_key() -> Value {
    object(
        &[],
        json!({"publisherId": {"type": ["integer", "string", "null"], "description": "A publisher key; absent or null for an operator key"},
               "label": {"type": ["string", "null"], "maxLength": 100}}),
    )
}

/// `POST /admin/api/publishers`.
pub fn new_publisher() -> Value {
    object(
        &["id", "name"],
        json!({"id": {"type": ["integer", "string"], "description": "Nine digits"}, "name": {"type": "string"},
               "offers": {"type": ["array", "null"], "items": {"type": "string"}},
               "settings": {"type": ["object", "null"], "description": "As in [publishers.settings] (snake_case); absent keys take their defaults"}}),
    )
}

/// `PATCH /admin/api/publishers/{publisherId}`.
pub fn publisher_change() -> Value {
    object(
        &[],
        json!({"name": text(),
               "settings": {"type": ["object", "null"], "description": "JSON Merge Patch (RFC 7396) of the settings"}}),
    )
}

/// `POST /admin/api/publishers/{publisherId}/consents`.
pub fn new_consent_version() -> Value {
    object(
        &["name", "label"],
        json!({"name": {"type": "string"}, "label": {"type": "string"}, "value": text(),
               "required": {"type": ["boolean", "null"]}, "enabledByDefault": {"type": ["boolean", "null"]},
               "placeholder": text(), "documentBase64": text(), "documentSha256": text(),
               "fetchDocument": {"type": ["boolean", "null"]}}),
    )
}

fn webhook_properties() -> Value {
    json!({
        "url": {"type": "string", "maxLength": 2000, "description": "http(s), allowed by the outbound policy"},
        "eventTypes": {"type": ["array", "null"], "items": {"type": "string", "enum": crate::store::EVENT_TYPES}},
        "description": text(),
        "format": {"type": ["string", "null"], "enum": ["standard", "cleeng", null], "description": "at creation only"},
        "enabled": {"type": ["boolean", "null"]},
    })
}

/// `POST /admin/api/publishers/{publisherId}/webhooks`.
pub fn new_webhook() -> Value {
    object(&["url", "eventTypes"], webhook_properties())
}

/// `PATCH /admin/api/publishers/{publisherId}/webhooks/{webhookId}`.
pub fn webhook_change() -> Value {
    object(&[], webhook_properties())
}

/// `POST …/webhooks/{webhookId}/replay`.
pub fn replay() -> Value {
    object(
        &["since"],
        json!({"since": {"type": "string", "format": "date-time", "examples": ["2026-11-30T12:00:00Z"]}}),
    )
}

/// `{}`.
pub fn empty() -> Value {
    json!({"type": "object", "maxProperties": 0})
}

/// `POST /customers/email/confirmation`.
pub fn confirmed() -> Value {
    json!({"type": "object", "required": ["customerId", "emailVerified"],
           "properties": {"customerId": {"type": "string"}, "emailVerified": {"const": true}}})
}

/// A page for people.
pub fn html() -> Value {
    json!({"type": "string"})
}

/// Plain text (Prometheus, CSV).
pub fn text_body() -> Value {
    json!({"type": "string"})
}

/// Any JSON object (this document).
pub fn any_object() -> Value {
    json!({"type": "object"})
}

/// A JSON Web Key Set (RFC 7517) of Ed25519 keys, not enveloped.
pub fn jwks() -> Value {
    json!({"type": "object", "required": ["keys"], "properties": {"keys": {"type": "array", "items": {
        "type": "object", "required": ["kty", "crv", "x", "kid"],
        "properties": {"kty": {"const": "OKP"}, "crv": {"const": "Ed25519"}, "x": {"type": "string"},
                       "kid": {"type": "string"}, "alg": {"const": "EdDSA"}, "use": {"const": "sig"}},
    }}}})
}

/// The error envelope of API.md.
pub fn error_body() -> Value {
    json!({
        "type": "object",
        "description": "The error envelope: `message` equals `errors[0]`",
        "required": ["responseData", "errors", "code", "message", "details"],
        "properties": {
            "responseData": {"type": "object", "maxProperties": 0},
            "errors": {"type": "array", "minItems": 1, "items": {"type": "string"},
                       "description": "One message per failing field"},
            "code": {"type": "string", "pattern": "^[A-Z]+[0-9]{4}$"},
            "message": {"type": "string"},
            "details": {"type": "array", "items": {"$ref": "#/components/schemas/FieldError"}},
        },
        "additionalProperties": false,
    })
}
