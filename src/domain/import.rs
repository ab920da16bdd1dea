//! One row of a customer import, in the API's field names, parsed with registration's rules
//! (email, names, places, external id and data); what an import may add — a password hash,
//! dates, a verified flag, an id of its own, dated consent answers — is parsed here too.
//! Whether a password hash's format is accepted is the auth module's to say.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::customer::{CustomerId, EMAIL_MESSAGE, external_data};
use super::fields::{Fields, Given, bounded};
use super::problem::{FieldError, Reason};
use super::{ConsentState, ConsentVersionNumber, Country, Currency, Email, Locale};

/// What an import does with a row whose email (or external id) is already a customer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportMode {
    /// The row is an error.
    Insert,
    /// The row's fields replace the customer's (the fields it lists, only).
    Upsert,
    /// The row is left out.
    Skip,
}

impl ImportMode {
    /// `insert`, `upsert` or `skip`.
    pub fn parse(s: &str) -> Result<ImportMode, String> {
        match s {
            "insert" => Ok(ImportMode::Insert),
            "upsert" => Ok(ImportMode::Upsert),
            "skip" => Ok(ImportMode::Skip),
            _ => Err(format!("mode {s:?}: use insert, upsert or skip")),
        }
    }

    /// The text form.
    pub fn as_str(self) -> &'static str {
        match self {
            ImportMode::Insert => "insert",
            ImportMode::Upsert => "upsert",
            ImportMode::Skip => "skip",
        }
    }
}

/// One dated consent answer of an imported customer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedConsent {
    /// The consent's name.
    pub name: String,
    /// The version answered.
    pub version: ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
    /// When it was given (the import's time when absent).
    pub date: Option<DateTime<Utc>>,
}

/// A valid import row. Optional fields are `None` when the row does not list them (in
/// `upsert` such a field is left as it is).
#[derive(Debug, Clone)]
pub struct ImportRow {
    /// An id of the customer's own, kept when no customer has it.
    pub id: Option<CustomerId>,
    /// The address.
    pub email: Email,
    /// A password hash in an accepted format (checked by the caller), or none: the customer
    /// then sets a password through a reset.
    pub password_hash: Option<String>,
    /// The salt of a Firebase scrypt hash (base64, as Firebase exports it).
    pub password_salt: Option<String>,
    /// 1–50 characters.
    pub first_name: Option<String>,
    /// 1–50 characters.
    pub last_name: Option<String>,
    /// Locale.
    pub locale: Locale,
    /// Country.
    pub country: Country,
    /// Currency.
    pub currency: Currency,
    /// ≤ 100 characters, unique per publisher.
    pub external_id: Option<String>,
    /// A JSON object of ≤ 4000 characters serialized.
    pub external_data: Option<Value>,
    /// When the customer registered (the import's time when absent).
    pub registration_date: Option<DateTime<Utc>>,
    /// The last login.
    pub last_login: Option<DateTime<Utc>>,
    /// Whether the address was proven.
    pub email_verified: Option<bool>,
    /// Dated consent answers, kept as history.
    pub consents: Vec<ImportedConsent>,
}

/// RFC 3339, or a date (its start, UTC).
fn time(s: &str) -> Result<DateTime<Utc>, Reason> {
    if let Ok(t) = DateTime::parse_from_rfc3339(s.trim()) {
        return Ok(t.with_timezone(&Utc));
    }
    NaiveDate::parse_from_str(s.trim(), "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
        .ok_or(Reason::InvalidValue)
}

fn boolean(f: &mut Fields<'_>, name: &str) -> Option<bool> {
    match f.raw(name) {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(Value::String(s)) if s.is_empty() => None,
        Some(Value::String(s)) if s == "true" || s == "1" => Some(true),
        Some(Value::String(s)) if s == "false" || s == "0" => Some(false),
        Some(_) => {
            f.problem(FieldError::invalid(name, Reason::InvalidValue));
            None
        }
    }
}

/// `consents`: an array (or, from CSV, a JSON text of one) of `{name, version, state, date}`.
fn consents(f: &mut Fields<'_>) -> Vec<ImportedConsent> {
    let parsed;
    let items = match f.raw("consents") {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::String(s)) if s.is_empty() => return Vec::new(),
        Some(Value::String(s)) => {
            parsed = serde_json::from_str::<Value>(s).ok();
            parsed.as_ref().and_then(Value::as_array)
        }
        Some(Value::Array(items)) => Some(items),
        Some(_) => None,
    };
    let bad = |f: &mut Fields<'_>, message: &str| {
        f.problem(FieldError::with_message(
            "consents",
            Reason::InvalidValue,
            message,
        ));
        Vec::new()
    };
    let Some(items) = items else {
        return bad(
            f,
            "consents: an array of {name, version, state, date} is expected",
        );
    };
    let mut out: Vec<ImportedConsent> = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());
        let version = match item.get("version") {
            Some(Value::String(s)) => s.trim().parse::<i32>().ok(),
            Some(Value::Number(n)) => n.as_i64().and_then(|n| i32::try_from(n).ok()),
            _ => None,
        }
        .and_then(|v| ConsentVersionNumber::new(v).ok());
        let state = item
            .get("state")
            .and_then(Value::as_str)
            .and_then(|s| ConsentState::parse(s).ok());
        let date = match item.get("date") {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => time(s).map(Some),
            Some(_) => Err(Reason::InvalidValue),
        };
        match (name, version, state, date) {
            (Some(name), Some(version), Some(state), Ok(date)) if !name.contains('\0') => {
                out.push(ImportedConsent {
                    name: name.to_owned(),
                    version,
                    state,
                    date,
                })
            }
            _ => {
                return bad(
                    f,
                    "consents: each answer needs a name, a version (1 or more), a state \
                     (accepted or declined) and optionally a date (RFC 3339)",
                );
            }
        }
    }
    out
}

impl ImportRow {
    /// Validates one row (a JSON object; a CSV line is given as one of texts), reporting
    /// every failing field.
    pub fn parse(row: &Value) -> Result<ImportRow, Vec<FieldError>> {
        let mut f = Fields::new(row).map_err(|e| vec![e])?;
        let id = f
            .optional("id", |s| {
                CustomerId::parse(s).map_err(|_| Reason::InvalidValue)
            })
            .value();
        let email = f.required("email", Some(EMAIL_MESSAGE), Email::parse);
        let password_hash = f.text("passwordHash").value();
        let password_salt = f.text("passwordSalt").value();
        let first_name = f.optional("firstName", bounded(1, 50)).value();
        let last_name = f.optional("lastName", bounded(1, 50)).value();
        let locale = f.required("locale", None, Locale::parse);
        let country = f.required("country", None, Country::parse);
        let currency = f.required("currency", None, Currency::parse);
        let external_id = f.optional("externalId", bounded(1, 100)).value();
        let external_data = match external_data(&mut f) {
            Given::Value(v) => Some(v),
            _ => None,
        };
        let registration_date = f.optional("registrationDate", time).value();
        let last_login = f.optional("lastLogin", time).value();
        let email_verified = boolean(&mut f, "emailVerified");
        let consents = consents(&mut f);
        if !f.errors.is_empty() {
            return Err(f.errors);
        }
        match (email, locale, country, currency) {
            (Some(email), Some(locale), Some(country), Some(currency)) => Ok(ImportRow {
                id,
                email,
                password_hash,
                password_salt,
                first_name,
                last_name,
                locale,
                country,
                currency,
                external_id,
                external_data,
                registration_date,
                last_login,
                email_verified,
                consents,
            }),
            _ => Err(vec![FieldError::invalid("body", Reason::InvalidValue)]),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_row_parses() {
        let row = ImportRow::parse(&json!({
            "id": "123456789", "email": "A@Example.com", "passwordHash": "$2b$05$x",
            "firstName": "Ann", "locale": "en_US", "country": "US", "currency": "USD",
            "externalId": "x-1", "externalData": "{\"a\":1}", "registrationDate": "2020-01-02",
            "lastLogin": "2021-03-04T05:06:07Z", "emailVerified": "true",
            "consents": "[{\"name\":\"terms\",\"version\":2,\"state\":\"accepted\",\"date\":\"2020-01-02T00:00:00Z\"}]"
        }))
        .unwrap();
        assert_eq!(row.id.map(|i| i.get()), Some(123_456_789));
        assert_eq!(row.email_verified, Some(true));
        assert_eq!(row.consents[0].version.get(), 2);
        assert_eq!(row.external_data, Some(json!({"a": 1})));
    }

    #[test]
    fn every_bad_field_is_named() {
        let errors = ImportRow::parse(&json!({
            "id": "12", "email": "nope", "locale": "en_US", "country": "XX", "currency": "USD",
            "registrationDate": "yesterday", "consents": [{"name": "terms"}]
        }))
        .unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["id", "email", "country", "registrationDate", "consents"]
        );
    }
}
