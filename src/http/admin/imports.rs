//! `/admin/api/publishers/{publisherId}/imports`: a customer import from a JSON Lines or CSV
//! body, streamed to a spool file (constant memory) and then imported in the background;
//! `…/imports/{importId}` shows its progress, row errors and id mappings.

use axum::body::Body;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;

use super::{AdminAuth, publisher_in_scope, query_rejected, time};
use crate::auth::firebase::FirebaseParams;
use crate::auth::legacy::MAX_MEMORY_KIB;
use crate::domain::import::ImportMode;
use crate::domain::problem::{FieldError, Reason};
use crate::http::Data;
use crate::http::error::ApiError;
use crate::service::import::{self as service, Format};
use crate::state::AppState;
use crate::store::ImportInfo;

/// `?mode=` of a new import.
#[derive(Debug, Deserialize)]
pub struct ImportQuery {
    /// `insert` (default), `upsert` or `skip`.
    pub mode: Option<String>,
}

/// `?after=&limit=` of a report.
#[derive(Debug, Deserialize)]
pub struct ReportQuery {
    /// Errors and mappings after this line.
    pub after: Option<String>,
    /// At most this many of each (default 1000, at most 10000).
    pub limit: Option<String>,
}

/// An import's state and counts.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportView {
    import_id: String,
    publisher_id: String,
    mode: String,
    state: String,
    rows_read: i64,
    inserted: i64,
    updated: i64,
    skipped: i64,
    failed: i64,
    message: Option<String>,
    created_at: String,
    finished_at: Option<String>,
}

impl From<&ImportInfo> for ImportView {
    fn from(i: &ImportInfo) -> Self {
        ImportView {
            import_id: i.id.clone(),
            publisher_id: i.publisher.to_string(),
            mode: i.mode.clone(),
            state: i.state.clone(),
            rows_read: i.rows_read,
            inserted: i.inserted,
            updated: i.updated,
            skipped: i.skipped,
            failed: i.failed,
            message: i.message.clone(),
            created_at: time(i.created_at),
            finished_at: i.finished_at.map(time),
        }
    }
}

/// The format the body's `Content-Type` names: 415 for another.
fn format(headers: &HeaderMap) -> Result<Format, ApiError> {
    let kind = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        });
    match kind.as_deref() {
        Some("application/x-ndjson" | "application/jsonl" | "application/jsonlines") => {
            Ok(Format::JsonLines)
        }
        Some("text/csv") => Ok(Format::Csv),
        _ => Err(ApiError::unsupported_media_type()),
    }
}

/// The Firebase project's password-hash parameters of an import whose hashes are Firebase
/// scrypt: the `Firebase-Scrypt` header, `signer_key=<base64>, salt_separator=<base64>,
/// rounds=<n>, mem_cost=<n>` (a header, not the query string: the signer key is a secret).
fn firebase(headers: &HeaderMap) -> Result<Option<FirebaseParams>, ApiError> {
    let Some(value) = headers.get(FIREBASE_HEADER) else {
        return Ok(None);
    };
    let bad = |why: String| {
        ApiError::invalid_body(vec![FieldError::with_message(
            FIREBASE_HEADER,
            Reason::InvalidValue,
            format!("Invalid header {FIREBASE_HEADER}: {why}"),
        )])
    };
    let text = value.to_str().map_err(|_| bad("not ASCII".into()))?;
    let (mut key, mut separator, mut rounds, mut mem_cost) = (None, None, None, None);
    for part in text.split(',') {
        let Some((name, v)) = part.trim().split_once('=') else {
            return Err(bad(format!("{:?} is not name=value", part.trim())));
        };
        let v = v.trim().to_owned();
        match name.trim() {
            "signer_key" => key = Some(v),
            "salt_separator" => separator = Some(v),
            "rounds" => rounds = v.parse::<u32>().ok(),
            "mem_cost" => mem_cost = v.parse::<u32>().ok(),
            other => return Err(bad(format!("unknown parameter {other:?}"))),
        }
    }
    let (Some(signer_key), Some(salt_separator), Some(rounds), Some(mem_cost)) =
        (key, separator, rounds, mem_cost)
    else {
        return Err(bad(
            "signer_key, salt_separator, rounds and mem_cost (numbers) are all needed".into(),
        ));
    };
    let params = FirebaseParams {
        signer_key,
        salt_separator,
        rounds,
        mem_cost,
    };
    params.check(MAX_MEMORY_KIB).map_err(bad)?;
    Ok(Some(params))
}

/// The header naming a Firebase project's hash parameters.
pub const FIREBASE_HEADER: &str = "firebase-scrypt";

/// Starts an import of the body; answers 202 with the import (state `running`) once the
/// body is received.
pub async fn start(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<String>, PathRejection>,
    query: Result<Query<ImportQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<impl IntoResponse, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let Query(query) = query.map_err(query_rejected)?;
    let mode = match query
        .mode
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        None => ImportMode::Insert,
        Some(m) => ImportMode::parse(m).map_err(|_| ApiError::invalid_query("mode"))?,
    };
    let format = format(&headers)?;
    let firebase = firebase(&headers)?;
    let id = service::new_id();
    // The spool file: created new (never through a link someone left in the temporary
    // directory), opened for reading, and unlinked at once, so that it lives exactly as long
    // as the import reading it, whatever ends the process.
    let path = std::env::temp_dir().join(format!("enroll-import-{id}"));
    let spool_error = |e: std::io::Error| ApiError::internal(format!("spool file: {e}"));
    let write = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(spool_error)?;
    let source = std::fs::File::open(&path).map_err(spool_error);
    let _ = std::fs::remove_file(&path);
    let source = source?;
    let mut file = tokio::fs::File::from_std(write);
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            let cause = e.into_inner();
            let too_large = cause.is::<http_body_util::LengthLimitError>()
                || std::error::Error::source(&*cause)
                    .is_some_and(|s| s.is::<http_body_util::LengthLimitError>());
            if too_large {
                ApiError::payload_too_large()
            } else {
                ApiError::body_unreadable(StatusCode::BAD_REQUEST)
            }
        })?;
        file.write_all(&chunk).await.map_err(spool_error)?;
    }
    file.flush().await.map_err(spool_error)?;
    drop(file);
    let actor = service::begin(&state, &auth, publisher.id, mode, &id).await?;
    let info = service::info(&state, publisher.id, &id).await?;
    let worker = state.clone();
    let import = id.clone();
    tokio::spawn(async move {
        let file = service::ImportFile {
            format,
            source: Box::new(source),
            firebase,
        };
        let outcome = service::write(&worker, publisher.id, mode, file, &import, actor).await;
        if let Err(e) = outcome {
            tracing::error!(import_id = %import, error = %e.message(), "customer import failed");
        }
    });
    Ok((StatusCode::ACCEPTED, Data(ImportView::from(&info))))
}

/// The import's report.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    #[serde(flatten)]
    import: ImportView,
    /// Row errors after `after`, in line order.
    errors: Vec<ErrorView>,
    /// Rows that carried an id, and their customer's id.
    ids: Vec<IdView>,
}

#[derive(Debug, Serialize)]
struct ErrorView {
    line: i64,
    field: String,
    message: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct IdView {
    line: i64,
    old_id: String,
    customer_id: String,
}

/// Progress, counts, row errors and id mappings of one import.
pub async fn report(
    State(state): State<AppState>,
    auth: AdminAuth,
    path: Result<Path<(String, String)>, PathRejection>,
    query: Result<Query<ReportQuery>, QueryRejection>,
) -> Result<Data<ImportReport>, ApiError> {
    let Path((text, import)) = path.map_err(|_| ApiError::invalid_path("publisherId"))?;
    let publisher = publisher_in_scope(&state, &auth, &text).await?;
    let Query(query) = query.map_err(query_rejected)?;
    let after = match query
        .after
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        None => 0,
        Some(a) => a
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_query("after"))?,
    };
    let limit = super::page_limit(query.limit.as_deref(), 1000, 10_000)?;
    let (info, errors, ids) = service::report(
        &state,
        &auth,
        publisher.id,
        &import,
        after,
        i64::from(limit),
    )
    .await?;
    Ok(Data(ImportReport {
        import: ImportView::from(&info),
        errors: errors
            .into_iter()
            .map(|e| ErrorView {
                line: e.line,
                field: e.field,
                message: e.message,
            })
            .collect(),
        ids: ids
            .into_iter()
            .map(|m| IdView {
                line: m.line,
                old_id: m.old_id.to_string(),
                customer_id: m.customer_id.to_string(),
            })
            .collect(),
    }))
}
