//! The access log: one record per request, built once by the edge when the response is ready
//! (for a streamed body, when the body ends), written off the request path (the log sink).
//! The same facts (route template, status, publisher) feed the per-publisher outcome counters.

use std::cell::RefCell;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::body::{Body, BodyDataStream, Bytes, HttpBody};
use axum::http::{HeaderValue, Method};
use axum::response::Response;
use futures_util::Stream;

use crate::config::{LogFormat, LogSettings};
use crate::domain::PublisherId;
use crate::telemetry::note::Note;
use crate::telemetry::sink;

/// The log target of access lines: `log.level = "warn,access=info"` keeps them alone.
pub const TARGET: &str = "access";

/// How access lines are written; decided once at start-up.
#[derive(Debug, Clone, Copy)]
pub struct AccessLog {
    /// Whether the log filter wants INFO lines of target `access`.
    pub enabled: bool,
    json: bool,
    client_ip: bool,
}

impl AccessLog {
    /// From `log.*` and the installed log filter (no subscriber, as in tests: off).
    pub fn new(settings: &LogSettings) -> AccessLog {
        AccessLog {
            enabled: tracing::enabled!(target: "access", tracing::Level::INFO),
            json: settings.format == LogFormat::Json,
            client_ip: settings.client_ip,
        }
    }
}

/// What the edge knows when a request comes in.
pub struct Pending {
    started: Instant,
    method: Method,
    request_id: HeaderValue,
    client_ip: Option<IpAddr>,
}

impl Pending {
    /// A request that just arrived.
    pub fn new(log: AccessLog, method: &Method, request_id: &HeaderValue, ip: IpAddr) -> Self {
        Pending {
            started: Instant::now(),
            method: method.clone(),
            request_id: request_id.clone(),
            client_ip: log.client_ip.then_some(ip),
        }
    }

    /// Counts the outcome, and writes the access line now, or when a streamed body ends.
    pub fn finish(self, log: AccessLog, note: Option<Note>, response: Response) -> Response {
        let (route, publisher) = match note {
            Some(n) => n.into_parts(),
            None => (None, None),
        };
        let status = response.status().as_u16();
        if let Some(route) = &route {
            count_outcome(&self.method, route, status, publisher);
        }
        if !log.enabled {
            return response;
        }
        let record = Record {
            pending: self,
            json: log.json,
            route,
            status,
            publisher,
        };
        match response.body().size_hint().exact() {
            Some(bytes) => {
                record.write(bytes);
                response
            }
            None => response.map(|body| {
                Body::from_stream(Counted {
                    inner: body.into_data_stream(),
                    bytes: 0,
                    record: Some(record),
                })
            }),
        }
    }
}

/// Every fact of one access line.
struct Record {
    pending: Pending,
    json: bool,
    route: Option<Arc<str>>,
    status: u16,
    publisher: Option<PublisherId>,
}

thread_local! {
    static LINE: RefCell<Vec<u8>> = RefCell::new(Vec::with_capacity(256));
    /// The formatted date and time of the current second.
    static SECOND: RefCell<(u64, [u8; 19])> = const { RefCell::new((u64::MAX, [0; 19])) };
}

impl Record {
    fn write(self, bytes: u64) {
        LINE.with(|line| {
            let mut line = line.borrow_mut();
            line.clear();
            if self.json {
                self.json_line(&mut line, bytes);
            } else {
                self.text_line(&mut line, bytes);
            }
            sink::stderr().push(&line);
        });
    }

    fn json_line(&self, out: &mut Vec<u8>, bytes: u64) {
        let p = &self.pending;
        out.extend_from_slice(b"{\"timestamp\":\"");
        timestamp(out);
        out.extend_from_slice(b"\",\"level\":\"INFO\",\"target\":\"access\",\"request_id\":\"");
        escaped(out, p.request_id.as_bytes());
        out.extend_from_slice(b"\",\"method\":\"");
        escaped(out, p.method.as_str().as_bytes());
        out.extend_from_slice(b"\",\"route\":");
        match &self.route {
            Some(r) => {
                out.push(b'"');
                escaped(out, r.as_bytes());
                out.push(b'"');
            }
            None => out.extend_from_slice(b"null"),
        }
        out.extend_from_slice(b",\"status\":");
        number(out, u64::from(self.status));
        out.extend_from_slice(b",\"latency_us\":");
        number(out, latency_us(p.started));
        out.extend_from_slice(b",\"bytes\":");
        number(out, bytes);
        if let Some(ip) = p.client_ip {
            out.extend_from_slice(b",\"client_ip\":\"");
            ip_text(out, ip);
            out.push(b'"');
        }
        if let Some(id) = self.publisher {
            out.extend_from_slice(b",\"publisher_id\":\"");
            number(out, u64::try_from(id.get()).unwrap_or(0));
            out.push(b'"');
        }
        out.extend_from_slice(b"}\n");
    }

    fn text_line(&self, out: &mut Vec<u8>, bytes: u64) {
        let p = &self.pending;
        timestamp(out);
        out.extend_from_slice(b"  INFO access: ");
        out.extend_from_slice(p.method.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.route.as_deref().unwrap_or("-").as_bytes());
        out.push(b' ');
        number(out, u64::from(self.status));
        out.extend_from_slice(b" latency_us=");
        number(out, latency_us(p.started));
        out.extend_from_slice(b" bytes=");
        number(out, bytes);
        out.extend_from_slice(b" request_id=");
        out.extend_from_slice(p.request_id.as_bytes());
        if let Some(ip) = p.client_ip {
            out.extend_from_slice(b" client_ip=");
            ip_text(out, ip);
        }
        if let Some(id) = self.publisher {
            out.extend_from_slice(b" publisher_id=");
            number(out, u64::try_from(id.get()).unwrap_or(0));
        }
        out.push(b'\n');
    }
}

fn latency_us(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX)
}

fn number(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn ip_text(out: &mut Vec<u8>, ip: IpAddr) {
    use std::io::Write;
    let _ = write!(out, "{}", ip.to_canonical());
}

/// JSON string contents: quotes, backslashes and control bytes escaped (request ids and
/// methods are tokens already; this keeps a line valid whatever a client sends).
fn escaped(out: &mut Vec<u8>, s: &[u8]) {
    for &b in s {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0..=0x1f | 0x7f.. => {
                out.extend_from_slice(b"\\u00");
                out.extend_from_slice(&[HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            _ => out.push(b),
        }
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

/// RFC 3339 UTC with microseconds, `2026-11-30T14:15:02.123456Z`; the part up to the second
/// is formatted once a second per thread.
fn timestamp(out: &mut Vec<u8>) {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    SECOND.with(|cached| {
        let mut cached = cached.borrow_mut();
        if cached.0 != secs {
            let text = chrono::DateTime::from_timestamp(i64::try_from(secs).unwrap_or(0), 0)
                .unwrap_or_default()
                .format("%Y-%m-%dT%H:%M:%S")
                .to_string();
            if let Ok(b) = <[u8; 19]>::try_from(text.as_bytes()) {
                *cached = (secs, b);
            }
        }
        out.extend_from_slice(&cached.1);
    });
    let micros = now.subsec_micros();
    let mut digits = [b'0'; 7];
    digits[0] = b'.';
    let mut m = micros;
    for d in digits[1..].iter_mut().rev() {
        *d = b'0' + u8::try_from(m % 10).unwrap_or(0);
        m /= 10;
    }
    out.extend_from_slice(&digits);
    out.push(b'Z');
}

/// A streamed body (CSV export) that writes the access line with its size when it ends, or
/// when the client leaves first.
struct Counted {
    inner: BodyDataStream,
    bytes: u64,
    record: Option<Record>,
}

impl Stream for Counted {
    type Item = Result<Bytes, axum::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let next = Pin::new(&mut self.inner).poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => {
                self.bytes += u64::try_from(chunk.len()).unwrap_or(0);
            }
            Poll::Ready(None) | Poll::Ready(Some(Err(_))) => {
                let bytes = self.bytes;
                if let Some(record) = self.record.take() {
                    record.write(bytes);
                }
            }
            Poll::Pending => {}
        }
        next
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        if let Some(record) = self.record.take() {
            record.write(self.bytes);
        }
    }
}

/// Per-publisher counters of what ops ask about, from the route template and the status:
/// `registrations_total`, `logins_total`, `password_resets_total{step}` and
/// `email_verifications_total{step}`, each with `publisher` (an existing publisher's id, or
/// `none` before one was found) and `outcome`.
fn count_outcome(method: &Method, route: &str, status: u16, publisher: Option<PublisherId>) {
    let (name, step) = match (method.as_str(), route) {
        ("POST", "/customers") => ("registrations_total", None),
        ("POST", "/auths") => ("logins_total", None),
        ("PUT", "/customers/passwords") => ("password_resets_total", Some("requested")),
        ("PATCH", "/customers/passwords") => ("password_resets_total", Some("completed")),
        ("POST", "/customers/verification") => ("email_verifications_total", Some("code_sent")),
        ("POST", "/customers/{customer_id}/email/confirmation") => {
            ("email_verifications_total", Some("link_sent"))
        }
        ("POST" | "GET", "/customers/email/confirmation") => {
            ("email_verifications_total", Some("confirmed"))
        }
        _ => return,
    };
    let outcome = match status {
        200..=299 => "ok",
        400 | 404 | 413 | 415 => "invalid",
        401 | 403 => "denied",
        409 | 422 => "conflict",
        429 => "limited",
        500.. => "error",
        _ => "rejected",
    };
    let publisher = publisher.map_or_else(|| "none".to_owned(), |p| p.to_string());
    match step {
        Some(step) => {
            metrics::counter!(name, "publisher" => publisher, "step" => step, "outcome" => outcome)
        }
        None => metrics::counter!(name, "publisher" => publisher, "outcome" => outcome),
    }
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_with_microseconds() {
        let mut out = Vec::new();
        timestamp(&mut out);
        let text = String::from_utf8(out).unwrap();
        assert_eq!(text.len(), 27, "{text}");
        let parsed = chrono::DateTime::parse_from_rfc3339(&text).unwrap();
        let drift = (chrono::Utc::now() - parsed.with_timezone(&chrono::Utc)).num_seconds();
        assert!(drift.abs() < 5, "{text}");
    }

    #[test]
    fn json_strings_stay_valid() {
        let mut out = b"\"".to_vec();
        escaped(&mut out, b"a\"b\\c\n\x01\xff");
        out.push(b'"');
        let back: String = serde_json::from_slice(&out).unwrap_or_else(|e| {
            panic!("{e}: {}", String::from_utf8_lossy(&out));
        });
        assert!(back.starts_with("a\"b\\c\n\u{1}"), "{back:?}");
    }
}
