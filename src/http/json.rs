//! `AppJson<T>`: a JSON body whose every rejection is answered in the envelope.

use axum::extract::FromRequest;
use axum::extract::rejection::JsonRejection;
use axum::http::StatusCode;

use super::error::ApiError;

/// A JSON request body; malformed JSON, a wrong content type or an oversized body become
/// REQ0001, REQ0007 and REQ0006 envelopes.
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct AppJson<T>(pub T);

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => ApiError::unsupported_media_type(),
            JsonRejection::JsonSyntaxError(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "REQ0001", "Invalid JSON body")
            }
            JsonRejection::JsonDataError(e) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "REQ0001",
                format!(
                    "Invalid request body: {}",
                    e.body_text().rsplit(": ").next().unwrap_or("")
                ),
            ),
            JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::payload_too_large()
            }
            other => ApiError::new(other.status(), "REQ0001", "Invalid request body"),
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::http::Request;
    use axum::routing::post;
    use tower::ServiceExt;

    use super::*;

    #[derive(serde::Deserialize)]
    struct Payload {
        #[allow(dead_code)]
        n: u32,
    }

    async fn call(content_type: Option<&str>, body: &str) -> (StatusCode, serde_json::Value) {
        let app = Router::new().route("/", post(|AppJson(_): AppJson<Payload>| async { "ok" }));
        let mut req = Request::post("/");
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        let resp = app
            .oneshot(req.body(Body::from(body.to_owned())).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
        )
    }

    #[tokio::test]
    async fn rejections_are_enveloped() {
        let (s, b) = call(Some("application/json"), "{not json").await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("REQ0001"))
        );
        let (s, b) = call(Some("text/plain"), "{\"n\":1}").await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("REQ0007"))
        );
        let (s, b) = call(None, "{\"n\":1}").await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("REQ0007"))
        );
        let (s, b) = call(Some("application/json"), "{\"n\":\"x\"}").await;
        assert_eq!(
            (s, b["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("REQ0001"))
        );
        assert_eq!(b["message"], b["errors"][0]);
        let (s, _) = call(Some("application/json"), "{\"n\":1}").await;
        assert_eq!(s, StatusCode::OK);
    }
}
