//! `enroll import customers`: a file of customers into a publisher, as the admin API's import.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;

use enroll::auth::firebase::FirebaseParams;
use enroll::auth::legacy::MAX_MEMORY_KIB;
use enroll::domain::PublisherId;
use enroll::domain::import::ImportMode;
use enroll::service::admin_keys::AdminAuth;
use enroll::service::import::Format;
use enroll::service::{self, Services};

use super::refused;

/// `enroll import …`
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Import customers from a JSON Lines or CSV file (`-`: standard input); prints the report.
    Customers {
        /// Into this publisher.
        #[arg(long, value_parser = PublisherId::parse)]
        publisher: PublisherId,
        /// An existing email (or externalId): a row error, update the customer, or leave it.
        #[arg(long, default_value = "insert", value_parser = ImportMode::parse)]
        mode: ImportMode,
        /// `jsonl` or `csv` (default: by the file's extension; JSON Lines for `-`).
        #[arg(long)]
        format: Option<String>,
        /// Firebase scrypt hashes: the project's base64 signer key (rows give `passwordHash`
        /// and `passwordSalt` as Firebase exports them).
        #[arg(long, requires_all = ["firebase_salt_separator", "firebase_rounds", "firebase_mem_cost"])]
        firebase_signer_key: Option<String>,
        /// Firebase scrypt: the project's base64 salt separator.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_salt_separator: Option<String>,
        /// Firebase scrypt: the project's rounds.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_rounds: Option<u32>,
        /// Firebase scrypt: the project's memory cost.
        #[arg(long, requires = "firebase_signer_key")]
        firebase_mem_cost: Option<u32>,
        /// The file, or `-` for standard input.
        file: PathBuf,
    },
}

pub(super) async fn run(sv: &Services, cmd: ImportCommand) -> anyhow::Result<()> {
    let ImportCommand::Customers {
        publisher,
        mode,
        format,
        firebase_signer_key,
        firebase_salt_separator,
        firebase_rounds,
        firebase_mem_cost,
        file,
    } = cmd;
    let firebase = match (
        firebase_signer_key,
        firebase_salt_separator,
        firebase_rounds,
        firebase_mem_cost,
    ) {
        (Some(signer_key), Some(salt_separator), Some(rounds), Some(mem_cost)) => {
            let params = FirebaseParams {
                signer_key,
                salt_separator,
                rounds,
                mem_cost,
            };
            params
                .check(MAX_MEMORY_KIB)
                .map_err(|e| anyhow::anyhow!("--firebase-*: {e}"))?;
            Some(params)
        }
        _ => None,
    };
    let csv = match format.as_deref() {
        Some("csv") => true,
        Some("jsonl" | "ndjson" | "json") => false,
        Some(other) => anyhow::bail!("--format {other}: use jsonl or csv"),
        None => file
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("csv")),
    };
    let format = if csv { Format::Csv } else { Format::JsonLines };
    let source: Box<dyn std::io::Read + Send> = if file.as_os_str() == "-" {
        Box::new(std::io::stdin())
    } else {
        Box::new(std::fs::File::open(&file).with_context(|| format!("{}", file.display()))?)
    };
    let id = service::import::new_id();
    let file = service::import::ImportFile {
        format,
        source,
        firebase,
    };
    let info = service::import::run(sv, &AdminAuth::cli(), publisher, mode, file, &id)
        .await
        .map_err(|e| match e.status().as_u16() {
            404 => anyhow::anyhow!("no publisher {publisher}"),
            _ => refused(e),
        })?;
    let (_, errors, ids) =
        service::import::report(sv, &AdminAuth::cli(), publisher, &id, 0, i64::MAX)
            .await
            .map_err(refused)?;
    println!(
        "import {id}: {} rows read, {} inserted, {} updated, {} skipped, {} with errors",
        info.rows_read, info.inserted, info.updated, info.skipped, info.failed
    );
    for m in ids {
        println!("line {}: id {} -> {}", m.line, m.old_id, m.customer_id);
    }
    for e in &errors {
        println!("line {}: {}: {}", e.line, e.field, e.message);
    }
    if let Some(why) = info.message {
        anyhow::bail!("import {id} stopped: {why}");
    }
    Ok(())
}
