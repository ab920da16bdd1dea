//! The error envelope of API.md, and the mapping of every failure into it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::domain::problem::{FieldError, Reason};
use crate::store::StoreError;

/// An error answered in the envelope. Build it with the constructors; 5xx keep their cause
/// for the log, and the client sees only the fixed text.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    errors: Vec<String>,
    details: Vec<FieldError>,
    retry_after: Option<u64>,
    cause: Option<String>,
}

/// Marks a response as already in the envelope, so the safety net leaves it alone.
#[derive(Debug, Clone, Copy)]
pub struct Enveloped;

/// The error envelope of API.md.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// Always `{}`.
    #[serde(rename = "responseData")]
    #[schema(value_type = Object)]
    pub response_data: serde_json::Map<String, serde_json::Value>,
    /// One message per failing field; the first equals `message`.
    pub errors: Vec<String>,
    /// A stable code such as `REQ0001` (the SDK treats a body without it as success).
    pub code: &'static str,
    /// The first message.
    pub message: String,
    /// Every field problem.
    pub details: Vec<FieldError>,
}

impl ApiError {
    /// Any status, code and message.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
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
            StatusCode::TOO_MANY_REQUESTS => {
                Self::new(status, "RATE0001", "Too many requests").with_retry_after(1)
            }
            StatusCode::SERVICE_UNAVAILABLE => Self::unavailable("bare 503"),
            s if s.is_server_error() => Self::internal(format!("bare {s} response")),
            s => Self::new(s, "REQ0001", s.canonical_reason().unwrap_or("Bad request")),
        }
    }
}

impl ApiError {
    fn body(&self) -> ErrorBody {
        ErrorBody {
            response_data: serde_json::Map::new(),
            message: self.errors.first().cloned().unwrap_or_default(),
            errors: self.errors.clone(),
            code: self.code,
            details: self.details.clone(),
        }
    }

    /// The body this error answers with, to remember it (idempotency).
    pub fn body_json(&self) -> serde_json::Value {
        serde_json::to_value(self.body()).unwrap_or_default()
    }

    /// Answers again with a remembered error body.
    pub fn replay(status: u16, body: Option<serde_json::Value>) -> Response {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        match body {
            Some(body) => {
                let mut response = (status, axum::Json(body)).into_response();
                response.extensions_mut().insert(Enveloped);
                response
            }
            None => ApiError::for_status(status).into_response(),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause
            && self.status.is_server_error()
        {
            let request_id = super::access::request_id();
            tracing::error!(code = self.code, %request_id, cause = %cause, "request failed");
        }
        let body = self.body();
        let json = serde_json::to_vec(&body).unwrap_or_default();
        let mut response = (self.status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response.extensions_mut().insert(Enveloped);
        response
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
