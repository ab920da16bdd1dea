//! The one error of every operation, whichever front end asked: a status, a stable wire code
//! and the messages of API.md. Every wire error code is a named constructor here; `http::error`
//! turns it into the envelope, the dashboard into a page, the CLI into a message.

use axum::http::StatusCode;

pub use crate::domain::problem::{FieldError, Reason};
use crate::store::StoreError;

/// An error answered in the envelope. Build it with the constructors; 5xx keep their cause
/// for the log, and the client sees only the fixed text.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) errors: Vec<String>,
    pub(crate) details: Vec<FieldError>,
    pub(crate) retry_after: Option<u64>,
    pub(crate) cause: Option<String>,
}

impl ApiError {
    /// Any status, code and message.
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            errors: vec![message.into()],
            details: Vec::new(),
            retry_after: None,
            cause: None,
        }
    }

    /// 400 REQ0001 with every failing field: `errors` holds one message per field (its
    /// first), `details` every problem.
    pub fn invalid_body(details: Vec<FieldError>) -> Self {
        let mut errors: Vec<String> = Vec::new();
        let mut fields: Vec<&str> = Vec::new();
        for d in &details {
            if !fields.contains(&d.field.as_str()) {
                fields.push(&d.field);
                errors.push(d.message.clone());
            }
        }
        if errors.is_empty() {
            errors.push("Invalid request body".into());
        }
        ApiError {
            details,
            errors,
            ..Self::new(StatusCode::BAD_REQUEST, "REQ0001", "")
        }
    }

    /// 400 REQ0001 `Email verification failed.` on `verificationCode`.
    pub fn verification_failed(reason: Reason) -> Self {
        Self::invalid_body(vec![FieldError::with_message(
            "verificationCode",
            reason,
            "Email verification failed.",
        )])
    }

    /// 400 REQ0002 `Invalid query param <name>`.
    pub fn invalid_query(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0002",
            format!("Invalid query param {name}"),
        )
        .with_detail(name, Reason::InvalidValue)
    }

    /// 400 REQ0003 `Invalid param <name>` for a malformed path parameter.
    pub fn invalid_path(name: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0003",
            format!("Invalid param {name}"),
        )
        .with_detail(name, Reason::InvalidValue)
    }

    /// 404 REQ0003 `Invalid param <name>` for a well-formed id that names nothing.
    pub fn unknown(name: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "REQ0003",
            format!("Invalid param {name}"),
        )
        .with_detail(name, Reason::NotFound)
    }

    /// 404 REQ0004.
    pub fn route_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "REQ0004", "Route not found")
    }

    /// 405 REQ0005.
    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "REQ0005",
            "Method not allowed",
        )
    }

    /// 413 REQ0006.
    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "REQ0006",
            "Request body too large",
        )
    }

    /// 415 REQ0007.
    pub fn unsupported_media_type() -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "REQ0007",
            "Content-Type must be application/json",
        )
    }

    /// 500 S0001; the cause goes to the log only.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "S0001",
            "Internal Server Error",
        );
        e.cause = Some(cause.to_string());
        e
    }

    /// 503 S0002 with `Retry-After`.
    pub fn unavailable(cause: impl std::fmt::Display) -> Self {
        let mut e = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "S0002",
            "Service unavailable",
        );
        e.retry_after = Some(1);
        e.cause = Some(cause.to_string());
        e
    }

    /// 503 S0003.
    pub fn timeout() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "S0003",
            "Request timed out",
        )
    }

    /// Adds a field detail carrying the first message.
    pub fn with_detail(mut self, field: &str, reason: Reason) -> Self {
        let message = self.errors.first().cloned().unwrap_or_default();
        self.details.push(FieldError {
            field: field.to_owned(),
            reason,
            message,
        });
        self
    }

    /// Sets `Retry-After` (whole seconds).
    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(seconds.max(1));
        self
    }

    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// Every field problem.
    pub fn details(&self) -> &[FieldError] {
        &self.details
    }

    /// The first message (what `errors[0]` says).
    pub fn message(&self) -> &str {
        self.errors.first().map_or("", String::as_str)
    }

    /// The error code.
    pub fn code(&self) -> &'static str {
        self.code
    }

    /// The envelope for a bare framework response of this status.
    pub fn for_status(status: StatusCode) -> Self {
        match status {
            StatusCode::NOT_FOUND => Self::route_not_found(),
            StatusCode::METHOD_NOT_ALLOWED => Self::method_not_allowed(),
            StatusCode::PAYLOAD_TOO_LARGE => Self::payload_too_large(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE => Self::unsupported_media_type(),
            StatusCode::REQUEST_TIMEOUT => Self::timeout(),
            StatusCode::TOO_MANY_REQUESTS => Self::too_many_requests(),
            StatusCode::SERVICE_UNAVAILABLE => Self::unavailable("bare 503"),
            s if s.is_server_error() => Self::internal(format!("bare {s} response")),
            s => Self::new(s, "REQ0001", s.canonical_reason().unwrap_or("Bad request")),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}",
            self.code,
            self.errors.first().map_or("", String::as_str)
        )
    }
}

impl From<crate::auth::HashError> for ApiError {
    fn from(e: crate::auth::HashError) -> Self {
        match e {
            crate::auth::HashError::Busy | crate::auth::HashError::Stopped => {
                ApiError::unavailable(e)
            }
            crate::auth::HashError::Argon2(_) => ApiError::internal(e),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => ApiError::unavailable(e),
            StoreError::VerificationFailed => ApiError::verification_failed(Reason::InvalidValue),
            _ => ApiError::internal(e),
        }
    }
}

/// The named errors of the operations (API.md, Error codes, and docs/api.md for the rest).
impl ApiError {
    /// 400 REQ0001 for a body that could not be read (the transport's status).
    pub fn body_unreadable(status: StatusCode) -> Self {
        Self::new(status, "REQ0001", "Invalid request body")
    }

    /// 400 REQ0001 for a body whose JSON does not have the route's shape.
    pub fn body_invalid(cause: &dyn std::fmt::Display) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0001",
            format!("Invalid request body: {cause}"),
        )
    }

    /// 400 REQ0001 for JSON refused on parsing (a repeated key).
    pub fn json_rejected(reason: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0001",
            format!("Invalid JSON body: {reason}"),
        )
    }

    /// 400 REQ0001 for a body that is not JSON.
    pub fn json_invalid() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "REQ0001", "Invalid JSON body")
    }

    /// 400 REQ0002 for a query string that does not parse (a repeated parameter, bad encoding).
    pub fn query_string_invalid() -> Self {
        Self::new(StatusCode::BAD_REQUEST, "REQ0002", "Invalid query string")
    }

    /// 400 REQ0001 on `resetPasswordToken`.
    pub fn reset_token_invalid() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0001",
            "resetPasswordToken is not valid",
        )
        .with_detail("resetPasswordToken", Reason::InvalidValue)
    }

    /// 400 REQ0001 on `confirmationPassword`.
    pub fn confirmation_password_invalid() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "REQ0001",
            "Invalid confirmationPassword",
        )
        .with_detail("confirmationPassword", Reason::InvalidValue)
    }

    /// 401 USER0001.
    pub fn wrong_credentials() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "USER0001",
            "Wrong email or password",
        )
    }

    /// 422 USER0002 on registration (the SDK compares the text).
    pub fn customer_exists() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "USER0002",
            "Customer already exists.",
        )
        .with_detail("email", Reason::AlreadyExists)
    }

    /// 422 USER0002 on an email change: the OTT web app's account page compares this text.
    pub fn customer_email_exists() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "USER0002",
            "Customer email already exists",
        )
        .with_detail("email", Reason::AlreadyExists)
    }

    /// 422 USER0004.
    pub fn external_id_exists() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "USER0004",
            "Customer external id already exists",
        )
        .with_detail("externalId", Reason::AlreadyExists)
    }

    /// 401 AUTH0001.
    pub fn jwt_missing() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTH0001", "Missing required JWT")
    }

    /// 401 AUTH0002.
    pub fn jwt_invalid() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTH0002", "Invalid JWT token")
    }

    /// 401 AUTH0003.
    pub fn jwt_expired() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "AUTH0003", "JWT token expired")
    }

    /// 403 AUTH0004: authenticated, but not allowed this.
    pub fn access_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, "AUTH0004", "Access denied")
    }

    /// 401 AUTH0005.
    pub fn refresh_refused() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "AUTH0005",
            "Refresh token is expired or does not exist",
        )
    }

    /// 401 ADM0001: no key, an unknown key or a revoked one (the same answer for each).
    pub fn admin_key_invalid() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "ADM0001", "Invalid admin key")
    }

    /// 404 CON0001, the detail on `field`.
    pub fn unknown_consent(name: &dyn std::fmt::Display, field: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "CON0001",
            format!("Unknown consent {name}"),
        )
        .with_detail(field, Reason::NotFound)
    }

    /// 400 CON0002.
    pub fn unknown_consent_version(
        version: &dyn std::fmt::Display,
        name: &dyn std::fmt::Display,
    ) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "CON0002",
            format!("Unknown version {version} of consent {name}"),
        )
        .with_detail("consents", Reason::NotFound)
    }

    /// 409 IDEM0001.
    pub fn idempotency_in_progress() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "IDEM0001",
            "A request with this Idempotency-Key is in progress",
        )
    }

    /// 422 IDEM0002.
    pub fn idempotency_mismatch() -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "IDEM0002",
            "Idempotency-Key reused with another request",
        )
    }

    /// 429 RATE0001; set `Retry-After` with [`ApiError::with_retry_after`].
    pub fn too_many_requests() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE0001",
            "Too many requests",
        )
        .with_retry_after(1)
    }

    /// 429 CPT0001.
    pub fn captcha_required() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CPT0001",
            "Captcha verification required",
        )
        .with_detail("captchaValue", Reason::Missing)
    }

    /// 429 CPT0002.
    pub fn captcha_failed() -> Self {
        Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "CPT0002",
            "Captcha verification failed",
        )
        .with_detail("captchaValue", Reason::InvalidValue)
    }
}

// — customer API
impl ApiError {
    /// 400 REQ0001 on `token`: an email-confirmation link that is used, expired, or for an
    /// address changed since.
    pub fn confirmation_link_invalid() -> Self {
        Self::invalid_body(vec![FieldError::with_message(
            "token",
            Reason::InvalidValue,
            "Invalid param token. The link is not valid (used, expired, or for another address)",
        )])
    }

    /// 403 USER0005: the publisher has turned self-service erasure off (`self_erasure: false`);
    /// the customer asks the publisher, who erases through the admin API.
    pub fn self_erasure_disabled() -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "USER0005",
            "Self-service erasure is turned off by the publisher: ask the publisher to erase the account",
        )
    }
}
