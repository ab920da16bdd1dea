//! Bulk import of existing customers (the CLI's `import customers` and the admin API's
//! imports): a JSON Lines or CSV file read as a stream — one parsing thread, a bounded
//! channel, batches of [`BATCH`] rows each written in one transaction — so memory stays
//! constant whatever the file's size. Rows follow registration's field rules; a bad row is
//! an error of its own (line, field, message), never the file's. No email is sent.

use std::io::Read;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::mpsc;

use super::Services;
use super::admin_keys::AdminAuth;
use super::import_rows::{Prepared, read_records};
use crate::auth::firebase::FirebaseParams;
use crate::domain::PublisherId;
use crate::domain::import::ImportMode;
use crate::domain::proof::CollectionPoint;
use crate::error::ApiError;
use crate::store::Actor;
use crate::store::{IdMapping, ImportInfo, ImportedCustomer, RowError};

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

/// The file to import: how it is written, its bytes, and the Firebase project's password-hash
/// parameters when its hashes are Firebase scrypt (given once per import).
pub struct ImportFile {
    /// JSON Lines or CSV.
    pub format: Format,
    /// The bytes, read as a stream.
    pub source: Box<dyn Read + Send>,
    /// For rows whose `passwordHash` is a bare Firebase scrypt hash (with `passwordSalt`).
    pub firebase: Option<FirebaseParams>,
}

/// A new import's id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

/// Imports `source` into `publisher` under the id `import` (see [`new_id`]), which shows
/// progress meanwhile ([`report`]); returns the finished import. A publisher key imports
/// into its own publisher only (404 otherwise, as for an unknown one).
pub async fn run(
    sv: &Services,
    auth: &AdminAuth,
    publisher: PublisherId,
    mode: ImportMode,
    file: ImportFile,
    import: &str,
) -> Result<ImportInfo, ApiError> {
    super::publishers::in_scope(sv, auth, publisher).await?;
    let actor = begin(sv, auth, publisher, mode, import).await?;
    write(sv, publisher, mode, file, import, actor).await
}

/// The writer of rows with this email key, out of `writers`.
fn lane_of(email_key: &crate::domain::EmailKey, writers: usize) -> usize {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    email_key.hash(&mut h);
    usize::try_from(h.finish() % writers as u64).unwrap_or(0)
}

/// Times a batch the database ended to resolve a conflict with another writer's is written
/// again before the import fails.
const CONFLICT_RETRIES: u32 = 5;

/// One writer: batches of its rows, each in one transaction.
#[allow(clippy::too_many_arguments)]
async fn write_lane(
    sv: &Services,
    publisher: PublisherId,
    mode: ImportMode,
    import: &str,
    actor: &Actor,
    how: &crate::store::Collection<'_>,
    batches: &AtomicU64,
    mut queue: mpsc::Receiver<Prepared>,
) -> Result<(), String> {
    let mut rows = Vec::with_capacity(BATCH);
    let mut errors = Vec::new();
    let flush = async |rows: &mut Vec<ImportedCustomer>, errors: &mut Vec<RowError>| {
        let mut tries = 0;
        let done = loop {
            match sv
                .store
                .import_batch(publisher, import, mode, rows, errors, actor, how)
                .await
            {
                Err(e) if e.is_retryable_conflict() && tries < CONFLICT_RETRIES => tries += 1,
                done => break done.map_err(|e| format!("database: {e}")),
            }
        };
        rows.clear();
        errors.clear();
        done?;
        let n = batches.fetch_add(1, Ordering::Relaxed) + 1;
        // As the table grows, its statistics must follow (or lookups turn into scans).
        if matches!(n, 2 | 10 | 50) || n.is_multiple_of(200) {
            sv.store
                .import_analyze()
                .await
                .map_err(|e| format!("database: {e}"))?;
        }
        Ok::<(), String>(())
    };
    while let Some(prepared) = queue.recv().await {
        match prepared {
            Ok(row) => rows.push(row),
            Err(e) => errors.extend(e),
        }
        if rows.len() + errors.len() >= BATCH {
            flush(&mut rows, &mut errors).await?;
        }
    }
    if !rows.is_empty() || !errors.is_empty() {
        flush(&mut rows, &mut errors).await?;
    }
    Ok(())
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
    file: ImportFile,
    import: &str,
    actor: Actor,
) -> Result<ImportInfo, ApiError> {
    // A heartbeat while it runs, so a server that dies midway leaves it `interrupted`.
    let every = sv.settings.admin.import_stale_after / 4;
    let beat = async {
        loop {
            tokio::time::sleep(every).await;
            if let Err(e) = sv.store.touch_import(publisher, import).await {
                tracing::warn!(import_id = import, error = %e, "import heartbeat not recorded");
            }
        }
    };
    let outcome = tokio::select! {
        outcome = write_rows(sv, publisher, mode, file, import, &actor) => outcome,
        () = beat => unreachable!("the heartbeat never ends"),
    };
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
    file: ImportFile,
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
    let reader = tokio::task::spawn_blocking(move || {
        let ImportFile {
            format,
            source,
            firebase,
        } = file;
        read_records(format, source, &view, firebase.as_ref(), &tx)
    });
    let request_id = super::proof::request_id();
    let how =
        super::proof::collection(sv, CollectionPoint::Import, "import", request_id.as_deref());
    // Several writers on Postgres: the database server's cores share the work. Rows of one
    // email key go to one writer, so a file's repeats of an email apply in file order.
    let writers = if sv.store.parallel_import() {
        sv.settings.admin.import_writers.max(1)
    } else {
        1
    };
    let batches = AtomicU64::new(0);
    let (lanes, queues): (Vec<_>, Vec<_>) = (0..writers)
        .map(|_| mpsc::channel::<Prepared>(BATCH))
        .unzip();
    let dispatch = async move {
        while let Some(prepared) = rx.recv().await {
            let lane = match &prepared {
                Ok(row) => lane_of(&row.email_key, writers),
                Err(_) => 0,
            };
            if lanes[lane].send(prepared).await.is_err() {
                // That writer stopped (its error ends the import).
                break;
            }
        }
        Ok::<(), String>(())
    };
    let writing = queues
        .into_iter()
        .map(|queue| write_lane(sv, publisher, mode, import, actor, &how, &batches, queue));
    futures_util::future::try_join(dispatch, futures_util::future::try_join_all(writing)).await?;
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
    let mut info = sv
        .store
        .import_info(publisher, import)
        .await?
        .ok_or_else(|| ApiError::unknown("importId"))?;
    if info.state == "running" && info.heartbeat_at.is_none_or(|at| at < stale_before(sv)) {
        interrupt_stale(sv).await?;
        info = sv
            .store
            .import_info(publisher, import)
            .await?
            .ok_or_else(|| ApiError::unknown("importId"))?;
    }
    let errors = sv.store.import_errors(import, after, limit).await?;
    let ids = sv.store.import_ids(import, after, limit).await?;
    Ok((info, errors, ids))
}

/// Heartbeats older than this mean the import's server stopped.
fn stale_before(sv: &Services) -> chrono::DateTime<chrono::Utc> {
    let after = sv.settings.admin.import_stale_after;
    chrono::Utc::now() - chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX)
}

/// Marks the imports whose server stopped midway `interrupted` (start-up, and a report of a
/// `running` import whose heartbeat is stale); they re-run without duplicates.
pub async fn interrupt_stale(sv: &Services) -> Result<u64, ApiError> {
    let n = sv.store.interrupt_stale_imports(stale_before(sv)).await?;
    if n > 0 {
        tracing::warn!(
            imports = n,
            "imports whose server stopped midway marked interrupted"
        );
    }
    Ok(n)
}
