//! `AppJson<T>`: a JSON body whose every rejection is answered in the envelope. Bodies are
//! parsed by [`parse`], which refuses an object that repeats a key (at any depth): serde would
//! keep one of the two silently, and the rate limiter and the handler must read the same
//! `publisherId` (API.md, Rate limits).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, StatusCode, header};
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Error as _, MapAccess, SeqAccess, Visitor,
};
use serde_json::{Map, Number, Value};

use super::error::ApiError;

/// A JSON request body; malformed JSON (a repeated key included), a wrong content type or an
/// oversized body become REQ0001, REQ0007 and REQ0006 envelopes.
#[derive(Debug)]
pub struct AppJson<T>(pub T);

impl<S, T> FromRequest<S> for AppJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !json_content_type(req.headers()) {
            return Err(ApiError::unsupported_media_type());
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::payload_too_large()
            } else {
                ApiError::body_unreadable(e.status())
            }
        })?;
        let value = parse(&bytes)?;
        T::deserialize(value)
            .map(AppJson)
            .map_err(|e| ApiError::body_invalid(&e))
    }
}

/// `application/json` or `application/<something>+json`, as axum's own `Json` accepts.
fn json_content_type(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.split_once('/') {
        Some(("application", sub)) => sub == "json" || sub.ends_with("+json"),
        _ => false,
    }
}

/// Parses a JSON document; an object that repeats a key, at any depth, is refused
/// (400 REQ0001 naming the key), as is anything that is not exactly one JSON value.
pub fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let parsed = Strict
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    parsed.map_err(|e| match e.classify() {
        // The only data error a value can meet: a repeated key (see `visit_map`).
        serde_json::error::Category::Data => {
            let text = e.to_string();
            let reason = text.split(" at line ").next().unwrap_or(&text);
            ApiError::json_rejected(reason)
        }
        _ => ApiError::json_invalid(),
    })
}

/// A `serde_json::Value` that refuses repeated keys.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = Value;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(Strict)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(A::Error::custom(format_args!(
                    "the key {key:?} appears twice in one object"
                )));
            }
            let value = map.next_value_seed(Strict)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
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
        let (s, _) = call(Some("application/vnd.api+json; charset=utf-8"), "{\"n\":1}").await;
        assert_eq!(s, StatusCode::OK);
    }

    #[test]
    fn a_repeated_key_is_refused_at_any_depth() {
        for body in [
            r#"{"publisherId":"100000001","publisherId":"200000002"}"#,
            r#"{"publisherId":1,"publisherId":1}"#,
            r#"{"consents":[{"name":"terms","state":"accepted","name":"other"}]}"#,
            r#"{"a":{"b":{"c":[1,{"d":1,"d":2}]}}}"#,
        ] {
            let e = parse(body.as_bytes()).unwrap_err();
            let body = e.body_json();
            assert_eq!(body["code"], "REQ0001", "{body}");
            assert!(
                body["message"]
                    .as_str()
                    .unwrap()
                    .starts_with("Invalid JSON body: the key \""),
                "{body}"
            );
        }
        // The same key in two objects is no repetition; escapes that spell the same key are.
        assert!(parse(br#"{"a":{"k":1},"b":{"k":2},"c":[{"k":1},{"k":2}]}"#).is_ok());
        assert!(parse(br#"{"ab":1,"a\u0062":2}"#).is_err());
        assert!(parse(br#"{"a":1} {"a":2}"#).is_err());
        assert_eq!(
            parse(b"[1, 2.5, null]").unwrap(),
            serde_json::json!([1, 2.5, null])
        );
    }
}
