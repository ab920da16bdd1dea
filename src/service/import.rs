//! Bulk import of existing customers (the CLI's `import customers` and the admin API's
//! imports): a JSON Lines or CSV file read as a stream — one parsing thread, a bounded
//! channel, batches of [`BATCH`] rows each written in one transaction — so memory stays
//! constant whatever the file's size. Rows follow registration's field rules; a bad row is
//! an error of its own (line, field, message), never the file's. No email is sent.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::Services;
use super::admin_keys::AdminAuth;
use crate::catalog::PublisherView;
use crate::domain::PublisherId;
use crate::domain::import::{ImportMode, ImportRow};
use crate::domain::proof::CollectionPoint;
use crate::error::ApiError;
use crate::store::Actor;
use crate::store::{IdMapping, ImportInfo, ImportedConsentRecord, ImportedCustomer, RowError};

/// Rows written per transaction.
pub const BATCH: usize = 1000;

/// How the file is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// One JSON object per line (`application/x-ndjson`).
    JsonLines,
    /// A header line of field names, then one row per record (`text/csv`).
    Csv,
}

/// A new import's id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// One record of the file: its line and its fields, or why it is not a row.
type Record = (i64, Result<Value, String>);

/// One row ready to write, or its errors.
type Prepared = Result<ImportedCustomer, Vec<RowError>>;

/// Reads records off `source` on the calling (blocking) thread into `out`; an I/O error
/// ends the import (`Err`), a malformed record is a row error.
fn read_records(
    format: Format,
    source: Box<dyn Read + Send>,
    view: &PublisherView,
    out: &mpsc::Sender<Prepared>,
) -> Result<(), String> {
    // Rows are checked here too, so checking overlaps with the writing of the batch before.
    let send = |(line, record): Record| {
        let prepared = record
            .map_err(|why| {
                vec![RowError {
                    line,
                    field: "row".into(),
                    message: why,
                }]
            })
            .and_then(|value| prepare(view, line, &value));
        out.blocking_send(prepared)
            .map_err(|_| "the import stopped".to_owned())
    };
    match format {
        Format::JsonLines => {
            let reader = BufReader::with_capacity(256 * 1024, source);
            for (i, line) in reader.lines().enumerate() {
                let line = line.map_err(|e| format!("reading the file: {e}"))?;
                let n = i64::try_from(i + 1).unwrap_or(i64::MAX);
                if line.trim().is_empty() {
                    continue;
                }
                let value = serde_json::from_str::<Value>(&line)
                    .map_err(|e| format!("not a JSON object ({e})"));
                send((n, value))?;
            }
        }
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .flexible(true)
                .from_reader(BufReader::with_capacity(256 * 1024, source));
            let headers = reader
                .headers()
                .map_err(|e| format!("reading the CSV header: {e}"))?
                .clone();
            let mut record = csv::StringRecord::new();
            loop {
                let line = i64::try_from(reader.position().line()).unwrap_or(i64::MAX);
                match reader.read_record(&mut record) {
                    Ok(false) => break,
                    Ok(true) => {
                        let line = record
                            .position()
                            .map_or(line, |p| i64::try_from(p.line()).unwrap_or(i64::MAX));
                        let value = if record.len() != headers.len() {
                            Err(format!(
                                "{} fields where the header names {}",
                                record.len(),
                                headers.len()
                            ))
                        } else {
                            let map: Map<String, Value> = headers
                                .iter()
                                .zip(record.iter())
                                .filter(|(_, v)| !v.is_empty())
                                .map(|(k, v)| (k.trim().to_owned(), Value::String(v.to_owned())))
                                .collect();
                            Ok(Value::Object(map))
                        };
                        send((line, value))?;
                    }
                    Err(e) if e.is_io_error() => return Err(format!("reading the file: {e}")),
                    Err(e) => send((line, Err(format!("not a CSV record ({e})"))))?,
                }
            }
        }
    }
    Ok(())
}

/// One row in stored form, or its errors.
fn prepare(
    view: &PublisherView,
    line: i64,
    value: &Value,
) -> Result<ImportedCustomer, Vec<RowError>> {
    let error = |field: &str, message: String| RowError {
        line,
        field: field.to_owned(),
        message,
    };
    let row = ImportRow::parse(value).map_err(|errors| {
        errors
            .into_iter()
            .map(|e| error(&e.field, e.message))
            .collect::<Vec<_>>()
    })?;
    let mut errors = Vec::new();
    if let Some(hash) = &row.password_hash
        && let Err(why) = crate::auth::legacy::check_format(hash)
    {
        errors.push(error("passwordHash", why));
    }
    let mut consents = Vec::with_capacity(row.consents.len());
    for c in &row.consents {
        let known = view.consents.iter().find(|v| v.name.as_str() == c.name);
        match known {
            Some(v) if c.version <= v.version => consents.push(ImportedConsentRecord {
                owner: v.owner,
                name: v.name.clone(),
                version: c.version,
                state: c.state,
                at: c.date,
            }),
            Some(v) => errors.push(error(
                "consents",
                format!(
                    "consent {:?} has no version {} (newest: {})",
                    c.name, c.version, v.version
                ),
            )),
            None => errors.push(error("consents", format!("no consent {:?}", c.name))),
        }
    }
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ImportedCustomer {
        line,
        id: row.id,
        email_key: crate::domain::email::email_key(row.email.as_str()),
        email: row.email.as_str().to_owned(),
        password_hash: row.password_hash,
        first_name: row.first_name,
        last_name: row.last_name,
        locale: row.locale.as_str().to_owned(),
        country: row.country.as_str().to_owned(),
        currency: row.currency.as_str().to_owned(),
        external_id: row.external_id,
        external_data: row.external_data,
        registration_date: row.registration_date,
        last_login: row.last_login,
        email_verified: row.email_verified,
        consents,
    })
}

/// Imports `source` into `publisher` under the id `import` (see [`new_id`]), which shows
/// progress meanwhile ([`report`]); returns the finished import. A publisher key imports
/// into its own publisher only (404 otherwise, as for an unknown one).
pub async fn run(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    mode: ImportMode,
    format: Format,
    source: Box<dyn Read + Send>,
    import: &str,
) -> Result<ImportInfo, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    let actor = begin(sv, auth, publisher, mode, import).await?;
    write(sv, publisher, mode, format, source, import, actor).await
}

/// Where an import [`begin`] recorded stands now.
pub async fn info(
    sv: &Services,
    publisher: PublisherId,
    import: &str,
) -> Result<ImportInfo, ApiError> {
    sv.store
        .import_info(publisher, import)
        .await?
        .ok_or_else(|| ApiError::internal("the import vanished"))
}

/// Checks the key's scope and records the import as running, with its audit line; answers
/// who the import's events name as their actor.
pub async fn begin(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    mode: ImportMode,
    import: &str,
) -> Result<Actor, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    sv.store.create_import(publisher, import, mode).await?;
    let line = auth.audit(
        Some(publisher),
        "customers.import",
        serde_json::json!({"importId": import, "mode": mode.as_str()}),
    );
    super::audit::record(sv, &line).await?;
    tracing::info!(publisher_id = %publisher, import_id = import, "customer import started");
    Ok(Actor::of_audit(&line))
}

/// Reads and writes the rows of an import [`begin`] recorded, then marks it done (or
/// failed, with why, when the file cannot be read or the database fails).
pub async fn write(
    sv: &Services,
    publisher: PublisherId,
    mode: ImportMode,
    format: Format,
    source: Box<dyn Read + Send>,
    import: &str,
    actor: Actor,
) -> Result<ImportInfo, ApiError> {
    let outcome = write_rows(sv, publisher, mode, format, source, import, &actor).await;
    let failed = outcome.as_ref().err().map(String::as_str);
    sv.store.finish_import(publisher, import, failed).await?;
    let info = info(sv, publisher, import).await?;
    tracing::info!(
        publisher_id = %publisher, import_id = import, state = %info.state,
        inserted = info.inserted, updated = info.updated, skipped = info.skipped,
        failed = info.failed, "customer import ended"
    );
    Ok(info)
}

async fn write_rows(
    sv: &Services,
    publisher: PublisherId,
    mode: ImportMode,
    format: Format,
    source: Box<dyn Read + Send>,
    import: &str,
    actor: &Actor,
) -> Result<(), String> {
    let view = sv
        .catalog
        .publisher(publisher)
        .await
        .map_err(|e| format!("database: {e}"))?
        .ok_or_else(|| "no such publisher".to_owned())?;
    let (tx, mut rx) = mpsc::channel::<Prepared>(2 * BATCH);
    let reader = tokio::task::spawn_blocking(move || read_records(format, source, &view, &tx));
    let mut rows = Vec::with_capacity(BATCH);
    let mut errors = Vec::new();
    let request_id = super::proof::request_id();
    let how =
        super::proof::collection(sv, CollectionPoint::Import, "import", request_id.as_deref());
    let flush = async |rows: &mut Vec<ImportedCustomer>, errors: &mut Vec<RowError>| {
        let done = sv
            .store
            .import_batch(publisher, import, mode, rows, errors, actor, &how)
            .await
            .map_err(|e| format!("database: {e}"));
        rows.clear();
        errors.clear();
        done
    };
    let mut batches = 0u64;
    while let Some(prepared) = rx.recv().await {
        match prepared {
            Ok(row) => rows.push(row),
            Err(e) => errors.extend(e),
        }
        if rows.len() + errors.len() >= BATCH {
            flush(&mut rows, &mut errors).await?;
            batches += 1;
            // As the table grows, its statistics must follow (or lookups turn into scans).
            if matches!(batches, 2 | 10 | 50) || batches.is_multiple_of(200) {
                sv.store
                    .import_analyze()
                    .await
                    .map_err(|e| format!("database: {e}"))?;
            }
        }
    }
    if !rows.is_empty() || !errors.is_empty() {
        flush(&mut rows, &mut errors).await?;
    }
    reader
        .await
        .map_err(|e| format!("the reading thread failed: {e}"))?
}

/// An import's state, counts, row errors and id mappings (each after line `after`, at
/// most `limit`); 404 for an import the key cannot see.
pub async fn report(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    import: &str,
    after: i64,
    limit: i64,
) -> Result<(ImportInfo, Vec<RowError>, Vec<IdMapping>), ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    let info = sv
        .store
        .import_info(publisher, import)
        .await?
        .ok_or_else(|| ApiError::unknown("importId"))?;
    let errors = sv.store.import_errors(import, after, limit).await?;
    let ids = sv.store.import_ids(import, after, limit).await?;
    Ok((info, errors, ids))
}
