//! The rows of an import file: records read off a JSON Lines or CSV stream on a blocking
//! thread, each checked with registration's rules (and its password hash, consents and capture
//! answers) into a row to write or its row errors.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};
use tokio::sync::mpsc;

use super::import::Format;
use crate::auth::firebase::FirebaseParams;
use crate::catalog::PublisherView;
use crate::domain::capture::{CaptureAnswers, CaptureInput, Profile};
use crate::domain::fields::Fields;
use crate::domain::import::ImportRow;
use crate::domain::problem::FieldError;
use crate::store::{ImportedConsentRecord, ImportedCustomer, RowError};

/// One record of the file: its line and its fields, or why it is not a row.
type Record = (i64, Result<Value, String>);

/// One row ready to write, or its errors.
pub(super) type Prepared = Result<ImportedCustomer, Vec<RowError>>;

/// Reads records off `source` on the calling (blocking) thread into `out`; an I/O error
/// ends the import (`Err`), a malformed record is a row error.
pub(super) fn read_records(
    format: Format,
    source: Box<dyn Read + Send>,
    view: &PublisherView,
    firebase: Option<&FirebaseParams>,
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
            .and_then(|value| prepare(view, firebase, line, &value));
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
    firebase: Option<&FirebaseParams>,
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
    let password_hash = match (&row.password_hash, firebase) {
        // Firebase exports a bare base64 hash and its salt beside it.
        (Some(hash), Some(params)) if !hash.starts_with('$') => match &row.password_salt {
            Some(salt) => Some(params.stored(hash, salt)),
            None => {
                errors.push(error(
                    "passwordSalt",
                    "a Firebase scrypt hash needs its passwordSalt".into(),
                ));
                None
            }
        },
        (hash, _) => hash.clone(),
    };
    if let Some(hash) = &password_hash
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
    let capture = match capture(view, &row, value) {
        Ok(c) => c,
        Err(problems) => {
            errors.extend(problems.into_iter().map(|e| error(&e.field, e.message)));
            None
        }
    };
    if !errors.is_empty() {
        return Err(errors);
    }
    Ok(ImportedCustomer {
        line,
        id: row.id,
        email_key: crate::domain::EmailKey::of(row.email.as_str()),
        email: row.email.as_str().to_owned(),
        password_hash,
        first_name: row.first_name,
        last_name: row.last_name,
        locale: row.locale.clone(),
        country: row.country.clone(),
        currency: row.currency.clone(),
        external_id: row.external_id,
        external_data: row.external_data,
        registration_date: row.registration_date,
        last_login: row.last_login,
        email_verified: row.email_verified,
        consents,
        capture,
    })
}

/// The capture answers a row carries, in registration's field names and rules (`birthDate`,
/// `companyName`, `phoneNumber`, `address`, `address2`, `city`, `state`, `postCode`,
/// `customAnswers` — from CSV a JSON text), as the document registration stores; fields the
/// publisher does not ask for are ignored.
fn capture(
    view: &PublisherView,
    row: &ImportRow,
    value: &Value,
) -> Result<Option<CaptureAnswers>, Vec<FieldError>> {
    let settings = &view.publisher.settings.capture;
    if !settings.enabled() {
        return Ok(None);
    }
    let parsed;
    let value = match value.get("customAnswers") {
        Some(Value::String(text)) if !text.is_empty() => {
            let mut copy = value.clone();
            copy["customAnswers"] = serde_json::from_str(text).unwrap_or(Value::Bool(false));
            parsed = copy;
            &parsed
        }
        _ => value,
    };
    let mut f = Fields::new(value).map_err(|e| vec![e])?;
    let input = CaptureInput::parse(&mut f, settings, false, chrono::Utc::now().date_naive());
    if !f.errors.is_empty() {
        return Err(f.errors);
    }
    let mut profile = input.apply(&Profile {
        first_name: row.first_name.clone(),
        last_name: row.last_name.clone(),
        answers: CaptureAnswers::default(),
    });
    // The address's country is the customer's unless the row says otherwise (as registration).
    if let Some(address) = profile.answers.address.as_mut()
        && address.country.is_empty()
    {
        address.country = row.country.to_string();
    }
    Ok((profile.answers != CaptureAnswers::default()).then_some(profile.answers))
}
