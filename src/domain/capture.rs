//! Capture: the profile fields beyond email and password that a publisher asks for (Cleeng's
//! "Capture"): names, birth date, company, phone number, postal address and custom questions.
//! The settings say which are asked and which are required; the answers are validated here
//! field by field and stored with the customer (the names in their own columns).

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::Country;
use super::fields::{Fields, Given, bounded};
use super::problem::{FieldError, Reason};

/// Whether a field is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Ask {
    /// Not shown.
    #[default]
    Off,
    /// Shown, may stay empty.
    Optional,
    /// Shown and must be answered.
    Required,
}

impl Ask {
    /// Shown at all.
    pub fn enabled(self) -> bool {
        self != Ask::Off
    }

    /// Must be answered.
    pub fn required(self) -> bool {
        self == Ask::Required
    }
}

/// A publisher's own question with its allowed answers.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CustomQuestion {
    /// `custom_…` (the key clients see).
    pub id: String,
    /// The question shown.
    pub question: String,
    /// Allowed answers; empty means free text (≤ 500 characters).
    #[serde(default)]
    pub values: Vec<String>,
    /// Must be answered.
    #[serde(default)]
    pub required: bool,
}

/// `[publishers.settings.capture]`: which fields are asked for. Absent means off.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CaptureSettings {
    /// First and last name.
    pub first_name_last_name: Ask,
    /// Birth date (`YYYY-MM-DD`, not in the future).
    pub birth_date: Ask,
    /// Minimum age in years on the birth date (0: none).
    pub min_age: u8,
    /// Company name.
    pub company_name: Ask,
    /// Phone number in E.164 (`+31201234567`).
    pub phone_number: Ask,
    /// Postal address: address, address2, city, state, postCode, country.
    pub address: Ask,
    /// Custom questions.
    pub custom: Vec<CustomQuestion>,
    /// Registration (`POST /customers`) must carry the required answers too (else they are
    /// asked after sign-up, where `shouldCaptureBeDisplayed` tells the frontend to ask).
    pub required_at_registration: bool,
}

impl CaptureSettings {
    /// Any field is asked for.
    pub fn enabled(&self) -> bool {
        [
            self.first_name_last_name,
            self.birth_date,
            self.company_name,
            self.phone_number,
            self.address,
        ]
        .iter()
        .any(|a| a.enabled())
            || !self.custom.is_empty()
    }

    /// Checks the custom questions and the minimum age; the error names the setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.min_age > 130 {
            return Err(format!("min_age {} is not an age in years", self.min_age));
        }
        if self.min_age > 0 && !self.birth_date.enabled() {
            return Err("min_age needs birth_date = \"optional\" or \"required\"".into());
        }
        let mut seen = Vec::new();
        for q in &self.custom {
            let name_ok = q.id.len() <= 50
                && q.id.len() > "custom_".len()
                && q.id.starts_with("custom_")
                && q.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !name_ok {
                return Err(format!(
                    "custom question id {:?} must be custom_ followed by letters, digits, _ or - (≤ 50 characters)",
                    q.id
                ));
            }
            if seen.contains(&&q.id) {
                return Err(format!("custom question id {:?} is used twice", q.id));
            }
            seen.push(&q.id);
            if q.question.trim().is_empty() || q.question.chars().count() > 500 {
                return Err(format!(
                    "custom question {:?}: the question must have 1 to 500 characters",
                    q.id
                ));
            }
            for v in &q.values {
                // Clients receive the values joined by ';'.
                if v.trim().is_empty() || v.contains(';') || v.chars().count() > 100 {
                    return Err(format!(
                        "custom question {:?}: value {v:?} must have 1 to 100 characters and no ';'",
                        q.id
                    ));
                }
                if q.values.iter().filter(|w| *w == v).count() > 1 {
                    return Err(format!("custom question {:?}: value {v:?} twice", q.id));
                }
            }
        }
        Ok(())
    }
}

/// A postal address; empty strings for parts not given.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Address {
    /// Street and number.
    pub address: String,
    /// Second line.
    pub address2: String,
    /// City.
    pub city: String,
    /// State or region.
    pub state: String,
    /// Postal code.
    pub post_code: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

impl Address {
    fn complete(&self) -> bool {
        !self.address.is_empty()
            && !self.city.is_empty()
            && !self.post_code.is_empty()
            && !self.country.is_empty()
    }
}

/// The stored answers (the names excepted), as one JSON document per customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct CaptureAnswers {
    /// `YYYY-MM-DD`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub birth_date: Option<String>,
    /// Company.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    /// E.164.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Postal address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<Address>,
    /// Custom answers by question id.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub custom: BTreeMap<String, String>,
    /// When the customer last submitted the capture form.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub submitted_at: Option<DateTime<Utc>>,
}

impl CaptureAnswers {
    /// The document to store.
    pub fn to_stored(&self) -> Value {
        serde_json::to_value(self).unwrap_or_else(|_| json!({}))
    }
}

/// A customer's capture state: the stored answers plus the names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Profile {
    /// First name.
    pub first_name: Option<String>,
    /// Last name.
    pub last_name: Option<String>,
    /// The rest.
    pub answers: CaptureAnswers,
}

impl Profile {
    fn answered(&self, settings: &CaptureSettings) -> Vec<(&'static str, bool)> {
        let a = &self.answers;
        let mut out = Vec::new();
        if settings.first_name_last_name.enabled() {
            out.push((
                "firstNameLastName",
                self.first_name.is_some() && self.last_name.is_some(),
            ));
        }
        if settings.birth_date.enabled() {
            out.push(("birthDate", a.birth_date.is_some()));
        }
        if settings.company_name.enabled() {
            out.push(("companyName", a.company_name.is_some()));
        }
        if settings.phone_number.enabled() {
            out.push(("phoneNumber", a.phone_number.is_some()));
        }
        if settings.address.enabled() {
            out.push(("address", a.address.as_ref().is_some_and(Address::complete)));
        }
        out
    }

    /// The required fields without an answer, as request field names.
    pub fn missing_required(&self, settings: &CaptureSettings) -> Vec<&'static str> {
        let mut missing = Vec::new();
        let a = &self.answers;
        if settings.first_name_last_name.required() {
            if self.first_name.is_none() {
                missing.push("firstName");
            }
            if self.last_name.is_none() {
                missing.push("lastName");
            }
        }
        if settings.birth_date.required() && a.birth_date.is_none() {
            missing.push("birthDate");
        }
        if settings.company_name.required() && a.company_name.is_none() {
            missing.push("companyName");
        }
        if settings.phone_number.required() && a.phone_number.is_none() {
            missing.push("phoneNumber");
        }
        if settings.address.required() {
            let addr = a.address.clone().unwrap_or_default();
            for (field, value) in [
                ("address", &addr.address),
                ("city", &addr.city),
                ("postCode", &addr.post_code),
                ("country", &addr.country),
            ] {
                if value.is_empty() {
                    missing.push(field);
                }
            }
        }
        if settings
            .custom
            .iter()
            .any(|q| q.required && !a.custom.contains_key(&q.id))
        {
            missing.push("customAnswers");
        }
        missing
    }

    /// Whether the frontend should show the capture form: something required is unanswered,
    /// or the form was never submitted and something asked for is unanswered.
    pub fn should_display(&self, settings: &CaptureSettings) -> bool {
        if !settings.enabled() {
            return false;
        }
        if !self.missing_required(settings).is_empty() {
            return true;
        }
        self.answers.submitted_at.is_none()
            && (self.answered(settings).iter().any(|(_, done)| !done)
                || settings
                    .custom
                    .iter()
                    .any(|q| !self.answers.custom.contains_key(&q.id)))
    }

    /// The `settings` array of `GET /customers/{id}/capture/status`, in the shapes the
    /// Cleeng MediaStore SDK reads (`key`, `enabled`, `required`, `answer`; custom questions
    /// add `question` and `value`, the allowed answers joined by `;`).
    pub fn status_settings(&self, settings: &CaptureSettings) -> Vec<Value> {
        let a = &self.answers;
        let item = |key: &str, ask: Ask, answer: Value| json!({"key": key, "enabled": ask.enabled(), "required": ask.required(), "answer": answer});
        let text = |v: &Option<String>| v.clone().map(Value::String).unwrap_or(Value::Null);
        let names = if self.first_name.is_none() && self.last_name.is_none() {
            Value::Null
        } else {
            json!({
                "firstName": self.first_name.clone().unwrap_or_default(),
                "lastName": self.last_name.clone().unwrap_or_default(),
            })
        };
        let mut out = vec![
            item("firstNameLastName", settings.first_name_last_name, names),
            item("birthDate", settings.birth_date, text(&a.birth_date)),
            item("companyName", settings.company_name, text(&a.company_name)),
            item("phoneNumber", settings.phone_number, text(&a.phone_number)),
            item(
                "address",
                settings.address,
                a.address
                    .as_ref()
                    .and_then(|x| serde_json::to_value(x).ok())
                    .unwrap_or(Value::Null),
            ),
        ];
        for q in &settings.custom {
            out.push(json!({
                "key": q.id,
                "enabled": true,
                "required": q.required,
                "question": q.question,
                "value": q.values.join(";"),
                "answer": a.custom.get(&q.id).cloned().map(Value::String).unwrap_or(Value::Null),
            }));
        }
        out
    }
}

/// What a body says about the capture fields, validated; `None` leaves a field as it is,
/// `Some(None)` clears it. Fields of settings that are off are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaptureInput {
    /// First name.
    pub first_name: Option<Option<String>>,
    /// Last name.
    pub last_name: Option<Option<String>>,
    /// Birth date.
    pub birth_date: Option<Option<String>>,
    /// Company.
    pub company_name: Option<Option<String>>,
    /// Phone.
    pub phone_number: Option<Option<String>>,
    /// Address parts given (address, address2, city, state, postCode, country).
    pub address: BTreeMap<&'static str, Option<String>>,
    /// Custom answers given: id → answer (None clears).
    pub custom: BTreeMap<String, Option<String>>,
}

fn change(given: Given<String>) -> Option<Option<String>> {
    match given {
        Given::Absent => None,
        Given::Empty => Some(None),
        Given::Value(v) => Some(Some(v)),
    }
}

/// Parses a `YYYY-MM-DD` birth date: a real date, not after `today`, at least `min_age` years
/// before it.
pub fn birth_date(text: &str, today: NaiveDate, min_age: u8) -> Result<NaiveDate, String> {
    let date = NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .filter(|_| text.trim().len() == 10)
        .ok_or_else(|| "Invalid param birthDate. Use the format YYYY-MM-DD".to_owned())?;
    if date > today {
        return Err("Invalid param birthDate. The date is in the future".into());
    }
    if date.year() < 1900 {
        return Err("Invalid param birthDate. The date is before 1900".into());
    }
    let mut age = today.year() - date.year();
    if (today.month(), today.day()) < (date.month(), date.day()) {
        age -= 1;
    }
    if age < i32::from(min_age) {
        return Err(format!(
            "Invalid param birthDate. The customer must be at least {min_age} years old"
        ));
    }
    Ok(date)
}

/// An E.164 phone number: `+`, a country code not starting with 0, 8 to 15 digits in all.
/// Spaces, dots, dashes and parentheses typed between digits are dropped.
pub fn phone_number(text: &str) -> Result<String, String> {
    let compact: String = text
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+').unwrap_or("");
    let ok = digits.len() >= 8
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    if ok {
        Ok(compact)
    } else {
        Err(
            "Invalid param phoneNumber. Use the international format E.164, like +31201234567"
                .into(),
        )
    }
}

impl CaptureInput {
    /// Reads the capture fields of a body. `names` reads `firstName`/`lastName` too (the
    /// capture form); registration reads those itself. `customAnswers` is
    /// `[{"questionId", "value"}]` (other fields tolerated).
    pub fn parse(
        f: &mut Fields<'_>,
        settings: &CaptureSettings,
        names: bool,
        today: NaiveDate,
    ) -> CaptureInput {
        let mut input = CaptureInput::default();
        if names && settings.first_name_last_name.enabled() {
            input.first_name = change(f.optional("firstName", bounded(1, 50)));
            input.last_name = change(f.optional("lastName", bounded(1, 50)));
        }
        if settings.birth_date.enabled() {
            input.birth_date = match f.text("birthDate") {
                Given::Value(v) => match birth_date(&v, today, settings.min_age) {
                    Ok(d) => Some(Some(d.format("%Y-%m-%d").to_string())),
                    Err(message) => {
                        f.problem(FieldError::with_message(
                            "birthDate",
                            Reason::InvalidValue,
                            message,
                        ));
                        None
                    }
                },
                other => change(other),
            };
        }
        if settings.company_name.enabled() {
            input.company_name = change(f.optional("companyName", bounded(1, 100)));
        }
        if settings.phone_number.enabled() {
            input.phone_number = match f.text("phoneNumber") {
                Given::Value(v) => match phone_number(&v) {
                    Ok(p) => Some(Some(p)),
                    Err(message) => {
                        f.problem(FieldError::with_message(
                            "phoneNumber",
                            Reason::InvalidValue,
                            message,
                        ));
                        None
                    }
                },
                other => change(other),
            };
        }
        if settings.address.enabled() {
            for (field, max) in [
                ("address", 200),
                ("address2", 200),
                ("city", 100),
                ("state", 100),
                ("postCode", 20),
            ] {
                if let Some(v) = change(f.optional(field, bounded(1, max))) {
                    input.address.insert(field, v.map(|s| s.trim().to_owned()));
                }
            }
            if names {
                // The capture form's `country` is the address's; at registration `country`
                // is the customer's, which the caller copies into the address.
                let country = f.optional("country", |s| {
                    Country::parse(s).map_err(|_| Reason::InvalidValue)
                });
                if let Some(v) = change(match country {
                    Given::Value(c) => Given::Value(c.to_string()),
                    Given::Empty => Given::Empty,
                    Given::Absent => Given::Absent,
                }) {
                    input.address.insert("country", v);
                }
            }
        }
        if !settings.custom.is_empty() {
            custom_answers(f, settings, &mut input);
        }
        input
    }

    /// The profile after this input.
    pub fn apply(&self, profile: &Profile) -> Profile {
        let mut p = profile.clone();
        if let Some(v) = &self.first_name {
            p.first_name = v.clone();
        }
        if let Some(v) = &self.last_name {
            p.last_name = v.clone();
        }
        let a = &mut p.answers;
        for (slot, given) in [
            (&mut a.birth_date, &self.birth_date),
            (&mut a.company_name, &self.company_name),
            (&mut a.phone_number, &self.phone_number),
        ] {
            if let Some(v) = given {
                *slot = v.clone();
            }
        }
        if !self.address.is_empty() {
            let mut addr = a.address.clone().unwrap_or_default();
            for (field, v) in &self.address {
                let v = v.clone().unwrap_or_default();
                match *field {
                    "address" => addr.address = v,
                    "address2" => addr.address2 = v,
                    "city" => addr.city = v,
                    "state" => addr.state = v,
                    "postCode" => addr.post_code = v,
                    _ => addr.country = v,
                }
            }
            a.address = (addr != Address::default()).then_some(addr);
        }
        for (id, v) in &self.custom {
            match v {
                Some(v) => a.custom.insert(id.clone(), v.clone()),
                None => a.custom.remove(id),
            };
        }
        p
    }
}

fn custom_answers(f: &mut Fields<'_>, settings: &CaptureSettings, input: &mut CaptureInput) {
    let items = match f.raw("customAnswers") {
        None | Some(Value::Null) => return,
        Some(Value::String(s)) if s.is_empty() => return,
        Some(Value::Array(items)) => items,
        Some(_) => {
            f.problem(FieldError::invalid("customAnswers", Reason::InvalidValue));
            return;
        }
    };
    for item in items {
        let id = item.get("questionId").and_then(Value::as_str).unwrap_or("");
        let Some(question) = settings.custom.iter().find(|q| q.id == id) else {
            f.problem(FieldError::with_message(
                "customAnswers",
                Reason::NotFound,
                format!("Invalid param customAnswers. Unknown questionId {id:?}"),
            ));
            return;
        };
        let value = match item.get("value") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) if s.trim().is_empty() => None,
            Some(Value::String(s)) if !s.contains('\0') => Some(s.trim().to_owned()),
            Some(_) => {
                f.problem(FieldError::invalid("customAnswers", Reason::InvalidValue));
                return;
            }
        };
        if let Some(v) = &value {
            let allowed = if question.values.is_empty() {
                v.chars().count() <= 500
            } else {
                question.values.iter().any(|a| a == v)
            };
            if !allowed {
                f.problem(FieldError::with_message(
                    "customAnswers",
                    Reason::InvalidValue,
                    format!(
                        "Invalid param customAnswers. {v:?} is not an answer to {id} (allowed: {})",
                        question.values.join(", ")
                    ),
                ));
                return;
            }
        }
        input.custom.insert(id.to_owned(), value);
    }
}

/// The required answers missing from `profile`, as one problem per field.
pub fn missing(profile: &Profile, settings: &CaptureSettings) -> Vec<FieldError> {
    profile
        .missing_required(settings)
        .into_iter()
        .map(|field| FieldError::invalid(field, Reason::Missing))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn birth_dates() {
        let today = day("2026-11-22");
        assert!(birth_date("2000-02-29", today, 18).is_ok());
        assert!(birth_date("2001-02-29", today, 0).is_err());
        assert!(
            birth_date("2026-11-23", today, 0)
                .unwrap_err()
                .contains("future")
        );
        assert!(birth_date("22-11-2000", today, 0).is_err());
        assert!(birth_date("2008-11-22", today, 18).is_ok());
        assert!(
            birth_date("2008-11-23", today, 18)
                .unwrap_err()
                .contains("18")
        );
    }

    #[test]
    fn phone_numbers() {
        assert_eq!(phone_number("+31 20 123 4567").unwrap(), "+31201234567");
        assert!(phone_number("0201234567").is_err());
        assert!(phone_number("+0201234567").is_err());
        assert!(phone_number("+1234567").is_err());
        assert!(phone_number("+1234567890123456").is_err());
    }

    #[test]
    fn settings_checks() {
        let mut s = CaptureSettings {
            custom: vec![CustomQuestion {
                id: "custom_genre".into(),
                question: "Favourite genre?".into(),
                values: vec!["Drama".into(), "Comedy".into()],
                required: true,
            }],
            ..Default::default()
        };
        assert!(s.validate().is_ok() && s.enabled());
        s.custom[0].id = "genre".into();
        assert!(s.validate().is_err());
        s.custom[0].id = "custom_genre".into();
        s.custom[0].values.push("a;b".into());
        assert!(s.validate().is_err());
        s.custom.clear();
        s.min_age = 18;
        assert!(s.validate().is_err());
    }

    #[test]
    fn parse_apply_and_required() {
        let settings = CaptureSettings {
            first_name_last_name: Ask::Required,
            birth_date: Ask::Optional,
            address: Ask::Required,
            custom: vec![CustomQuestion {
                id: "custom_genre".into(),
                question: "Genre?".into(),
                values: vec!["Drama".into(), "Comedy".into()],
                required: true,
            }],
            ..Default::default()
        };
        let body = json!({"firstName": "Ann", "lastName": "", "birthDate": "1990-01-02",
            "companyName": "ignored", "address": "Main 1", "city": "Utrecht", "postCode": "1234 AB",
            "country": "NL", "customAnswers": [{"questionId": "custom_genre", "value": "Drama"}]});
        let mut f = Fields::new(&body).unwrap();
        let input = CaptureInput::parse(&mut f, &settings, true, day("2026-01-01"));
        assert!(f.errors.is_empty(), "{:?}", f.errors);
        let p = input.apply(&Profile::default());
        assert_eq!(p.missing_required(&settings), ["lastName"]);
        assert!(p.should_display(&settings));
        assert_eq!(p.answers.company_name, None);
        assert_eq!(p.answers.custom["custom_genre"], "Drama");
        let bad = json!({"phoneNumber": "x", "customAnswers": [{"questionId": "custom_genre", "value": "Horror"}]});
        let mut f = Fields::new(&bad).unwrap();
        let _ = CaptureInput::parse(&mut f, &settings, true, day("2026-01-01"));
        assert_eq!(
            f.errors.len(),
            1,
            "phone is off, the custom answer is not allowed"
        );
    }
}
