//! The error envelope of API.md, and the mapping of every failure into it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

pub use crate::error::{ApiError, FieldError, Reason};

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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Some(cause) = &self.cause
            && self.status.is_server_error()
        {
            let request_id = crate::telemetry::note::request_id();
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
