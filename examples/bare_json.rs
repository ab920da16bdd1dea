//! Baseline for `bench/run`: a bare axum server answering two routes with fixed JSON bytes.
//!
//! `bare_json ADDR LOCALES_FILE CONSENTS_FILE` serves the bytes of `LOCALES_FILE` on
//! `GET /locales` and those of `CONSENTS_FILE` on `GET /publishers/{publisher_id}/consents`,
//! both as `application/json`, and `GET /healthz`. The benchmark fetches those files from a
//! running Enroll first, so both servers send byte-for-byte the same bodies. The runtime is
//! tokio's default multi-thread runtime (one worker per core), as Enroll's.

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::IntoResponse;
use axum::routing::get;
use bytes::Bytes;

type Error = Box<dyn std::error::Error>;

fn json(body: Bytes) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bare_json ADDR LOCALES_FILE CONSENTS_FILE";
    let addr = args.next().ok_or(usage)?;
    let locales = Bytes::from(std::fs::read(args.next().ok_or(usage)?)?);
    let consents = Bytes::from(std::fs::read(args.next().ok_or(usage)?)?);

    let app = Router::new()
        .route("/locales", get(move || async move { json(locales) }))
        .route(
            "/publishers/{publisher_id}/consents",
            get(move || async move { json(consents) }),
        )
        .route("/healthz", get(|| async { "ok" }));

    let listener = tokio::net::TcpListener::bind(&addr).await?;
    eprintln!("bare_json listening on {}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}
