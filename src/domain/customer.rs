//! Customers: ids, a validated sign-up (`Registration`), profile changes, consent answers.

use std::fmt;
use std::net::IpAddr;

use rand::Rng;
use serde_json::Value;

use super::fields::{Fields, Given, bounded};
use super::password::PASSWORD_RULE;
use super::problem::{FieldError, Reason};
use super::{Country, Currency, Email, Locale, OfferId, Password, PublisherId};

/// The message clients match for a bad email.
pub const EMAIL_MESSAGE: &str = "Invalid param email. Please enter a valid e-mail address.";

/// A bad email on `PATCH /customers/{id}`: the OTT web app's account page splits `errors[0]` on
/// commas and compares each trimmed piece exactly with `Invalid param email` and
/// `Please enter a valid e-mail address.` (registration keeps [`EMAIL_MESSAGE`]).
pub const PATCH_EMAIL_MESSAGE: &str = "Invalid param email, Please enter a valid e-mail address.";

/// A name over 50 characters on `PATCH /customers/{id}`, as the OTT web app's account page
/// knows it (`firstName can have max 50 characters.`).
fn name_too_long(field: &str) -> FieldError {
    FieldError::with_message(
        field,
        Reason::TooLong,
        format!("{field} can have max 50 characters."),
    )
}

/// `firstName` / `lastName` of a PATCH: 1–50 characters, `""` clears.
fn patch_name(f: &mut Fields<'_>, field: &str) -> Given<String> {
    match f.text(field) {
        Given::Value(v) if v.chars().count() > 50 => {
            f.problem(name_too_long(field));
            Given::Absent
        }
        other => other,
    }
}

/// A customer id: random in 100000000–999999999, never sequential, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CustomerId(u32);

impl CustomerId {
    /// A fresh random id (the store retries on the rare collision).
    pub fn random() -> CustomerId {
        CustomerId(rand::rng().random_range(100_000_000..=999_999_999))
    }

    /// Parses the nine-digit text form.
    pub fn parse(s: &str) -> Result<CustomerId, String> {
        match s.parse::<u32>() {
            Ok(n) if s.len() == 9 && (100_000_000..=999_999_999).contains(&n) => Ok(CustomerId(n)),
            _ => Err(format!("customerId {s:?} is not nine digits")),
        }
    }

    /// Accepts the id from a database column.
    pub fn from_i64(v: i64) -> Result<CustomerId, String> {
        Self::parse(&v.to_string())
    }

    /// The numeric form, as stored.
    pub fn get(self) -> i64 {
        i64::from(self.0)
    }
}

impl fmt::Display for CustomerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The answer to a consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConsentState {
    /// Agreed.
    Accepted,
    /// Refused (also what a never-answered consent shows).
    Declined,
}

impl ConsentState {
    /// Parses `accepted` or `declined`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "accepted" => Ok(ConsentState::Accepted),
            "declined" => Ok(ConsentState::Declined),
            _ => Err(format!("consent state {s:?} is not accepted or declined")),
        }
    }

    /// The stored and shown form.
    pub fn as_str(self) -> &'static str {
        match self {
            ConsentState::Accepted => "accepted",
            ConsentState::Declined => "declined",
        }
    }
}

/// A customer's answer to one version of one consent, as sent: whether the consent and the
/// version exist is decided against the publisher's consents (404 CON0001, 400 CON0002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsentAnswer {
    /// Which consent, as sent.
    pub name: String,
    /// Which version was shown, as sent (`"2"` or `2`).
    pub version: String,
    /// The answer.
    pub state: ConsentState,
}

/// How a request names its publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TenantRef {
    /// By id.
    Publisher(PublisherId),
    /// By offer; the offer must exist.
    Offer(OfferId),
}

/// A validated sign-up.
#[derive(Debug, Clone)]
pub struct Registration {
    /// The address.
    pub email: Email,
    /// The password (hashed before it goes anywhere).
    pub password: Password,
    /// The publisher.
    pub tenant: TenantRef,
    /// Locale.
    pub locale: Locale,
    /// Country.
    pub country: Country,
    /// Currency.
    pub currency: Currency,
    /// 1–50 characters.
    pub first_name: Option<String>,
    /// 1–50 characters.
    pub last_name: Option<String>,
    /// ≤ 100 characters, unique per publisher.
    pub external_id: Option<String>,
    /// A JSON object of ≤ 4000 characters serialized.
    pub external_data: Option<Value>,
    /// The customer's address as the frontend saw it.
    pub customer_ip: Option<IpAddr>,
    /// Consents answered at sign-up, stored with the customer.
    pub consents: Option<Vec<ConsentAnswer>>,
    /// The code sent by `POST /customers/verification` (checked when the publisher requires it).
    pub verification_code: Option<String>,
}

impl Registration {
    /// Validates a `POST /customers` body, reporting every failing field in the order of API.md.
    pub fn parse(body: &Value) -> Result<Registration, Vec<FieldError>> {
        let mut f = Fields::new(body).map_err(|e| vec![e])?;
        let email = f.required("email", Some(EMAIL_MESSAGE), Email::parse);
        let password_message = format!("Invalid param password. {PASSWORD_RULE}");
        let password = f.required("password", Some(&password_message), Password::parse);
        let tenant = tenant(&mut f);
        let locale = f.required("locale", None, Locale::parse);
        let country = f.required("country", None, Country::parse);
        let currency = f.required("currency", None, Currency::parse);
        let first_name = f.optional("firstName", bounded(1, 50)).value();
        let last_name = f.optional("lastName", bounded(1, 50)).value();
        let external_id = f.optional("externalId", bounded(1, 100)).value();
        let external_data = external_data(&mut f).value();
        let customer_ip = customer_ip(&mut f);
        let consents = consent_answers(&mut f, "consents");
        let verification_code = f.text("verificationCode").value();
        if !f.errors.is_empty() {
            return Err(f.errors);
        }
        match (email, password, tenant, locale, country, currency) {
            (
                Some(email),
                Some(password),
                Some(tenant),
                Some(locale),
                Some(country),
                Some(currency),
            ) => Ok(Registration {
                email,
                password,
                tenant,
                locale,
                country,
                currency,
                first_name,
                last_name,
                external_id,
                external_data,
                customer_ip,
                consents,
                verification_code,
            }),
            _ => Err(vec![FieldError::invalid("body", Reason::InvalidValue)]),
        }
    }
}

/// `publisherId` or `offerId` (one required; when both are given they must agree).
pub fn tenant(f: &mut Fields<'_>) -> Option<TenantRef> {
    let publisher = f.optional("publisherId", |s| {
        PublisherId::parse(s).map_err(|_| Reason::InvalidValue)
    });
    let offer = f.optional("offerId", |s| {
        OfferId::parse(s).map_err(|_| Reason::InvalidValue)
    });
    match (publisher, offer) {
        (Given::Value(p), Given::Value(o)) if o.publisher() != p => {
            f.problem(FieldError::invalid("offerId", Reason::InvalidValue));
            None
        }
        (Given::Value(_), Given::Value(o)) => Some(TenantRef::Offer(o)),
        (Given::Value(p), _) => Some(TenantRef::Publisher(p)),
        (_, Given::Value(o)) => Some(TenantRef::Offer(o)),
        _ => {
            if !f
                .errors
                .iter()
                .any(|e| e.field == "publisherId" || e.field == "offerId")
            {
                f.problem(FieldError::invalid("publisherId", Reason::Missing));
            }
            None
        }
    }
}

/// `customerIP`: the address a server-side frontend acts for, canonical (`::ffff:a.b.c.d` is
/// `a.b.c.d`); `None` when not given. Register, login and SSO read it alike.
pub fn customer_ip(f: &mut Fields<'_>) -> Option<IpAddr> {
    f.optional("customerIP", ip).value()
}

fn ip(s: &str) -> Result<IpAddr, Reason> {
    s.trim()
        .parse::<IpAddr>()
        .map(|ip| ip.to_canonical())
        .map_err(|_| Reason::InvalidValue)
}

/// `externalData`: a JSON object, or a string holding one; ≤ 4000 characters serialized.
pub fn external_data(f: &mut Fields<'_>) -> Given<Value> {
    let value = match f.raw("externalData") {
        None => return Given::Absent,
        Some(Value::Null) => return Given::Empty,
        Some(Value::String(s)) if s.is_empty() => return Given::Empty,
        Some(Value::String(s)) => serde_json::from_str::<Value>(s).ok(),
        Some(v) => Some(v.clone()),
    };
    match value {
        Some(v @ Value::Object(_)) => {
            let size = serde_json::to_string(&v)
                .map(|s| s.chars().count())
                .unwrap_or(usize::MAX);
            if size > 4000 {
                f.problem(FieldError::invalid("externalData", Reason::TooLong));
                Given::Absent
            } else if serde_json::to_string(&v).is_ok_and(|s| s.contains("\\u0000")) {
                f.problem(FieldError::invalid("externalData", Reason::InvalidValue));
                Given::Absent
            } else {
                Given::Value(v)
            }
        }
        _ => {
            f.problem(FieldError::invalid("externalData", Reason::InvalidValue));
            Given::Absent
        }
    }
}

/// An array of `{name, version, state}`; other fields are tolerated.
pub fn consent_answers(f: &mut Fields<'_>, field: &str) -> Option<Vec<ConsentAnswer>> {
    let items = match f.raw(field) {
        None | Some(Value::Null) => return None,
        Some(Value::String(s)) if s.is_empty() => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            f.problem(FieldError::invalid(field, Reason::InvalidValue));
            return None;
        }
    };
    let mut answers: Vec<ConsentAnswer> = Vec::with_capacity(items.len());
    for item in items {
        let name = item
            .get("name")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && !s.contains('\0'));
        let version = match item.get("version") {
            Some(Value::String(s)) if !s.contains('\0') => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let state = item
            .get("state")
            .and_then(Value::as_str)
            .and_then(|s| ConsentState::parse(s).ok());
        match (name, version, state) {
            // One answer per consent: with two, which one counts would be a guess.
            (Some(name), Some(version), Some(state)) if !answers.iter().any(|a| a.name == name) => {
                answers.push(ConsentAnswer {
                    name: name.to_owned(),
                    version,
                    state,
                });
            }
            _ => {
                f.problem(FieldError::invalid(field, Reason::InvalidValue));
                return None;
            }
        }
    }
    Some(answers)
}

/// A field PATCH may change but never clear: `""` or `null` is a problem (Missing).
fn required_if_given<T>(
    f: &mut Fields<'_>,
    name: &str,
    parse: impl FnOnce(&str) -> Result<T, String>,
) -> Option<T> {
    match f.optional(name, |s| parse(s).map_err(|_| Reason::InvalidValue)) {
        Given::Value(v) => Some(v),
        Given::Empty => {
            f.problem(FieldError::invalid(name, Reason::Missing));
            None
        }
        Given::Absent => None,
    }
}

/// A validated `PATCH /customers/{id}` body: absent fields stay, `""` clears optional ones.
#[derive(Debug, Clone)]
pub struct CustomerPatch {
    /// New first name, or clear it.
    pub first_name: Given<String>,
    /// New last name, or clear it.
    pub last_name: Given<String>,
    /// New country.
    pub country: Option<Country>,
    /// New locale.
    pub locale: Option<Locale>,
    /// New external data, or clear it.
    pub external_data: Given<Value>,
    /// New email; needs the confirmation password.
    pub email: Option<Email>,
    /// The current password, required to change the email.
    pub confirmation_password: Option<String>,
}

impl CustomerPatch {
    /// Validates a PATCH body, reporting every failing field.
    pub fn parse(body: &Value) -> Result<CustomerPatch, Vec<FieldError>> {
        let mut f = Fields::new(body).map_err(|e| vec![e])?;
        let email = match f.text("email") {
            Given::Value(v) => match Email::parse(&v) {
                Ok(e) => Some(e),
                Err(_) => {
                    f.problem(FieldError::with_message(
                        "email",
                        Reason::InvalidValue,
                        PATCH_EMAIL_MESSAGE,
                    ));
                    None
                }
            },
            _ => None,
        };
        let first_name = patch_name(&mut f, "firstName");
        let last_name = patch_name(&mut f, "lastName");
        let country = required_if_given(&mut f, "country", Country::parse);
        let locale = required_if_given(&mut f, "locale", Locale::parse);
        let external_data = external_data(&mut f);
        let confirmation_password = f.text("confirmationPassword").value();
        if email.is_some() && confirmation_password.is_none() {
            f.problem(FieldError::with_message(
                "confirmationPassword",
                Reason::Missing,
                "Invalid confirmationPassword",
            ));
        }
        if !f.errors.is_empty() {
            return Err(f.errors);
        }
        Ok(CustomerPatch {
            first_name,
            last_name,
            country,
            locale,
            external_data,
            email,
            confirmation_password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn valid() -> Value {
        json!({"email": "a@example.com", "password": "secret123", "offerId": "S100000001_US",
               "locale": "en_GB", "country": "GB", "currency": "GBP"})
    }

    #[test]
    fn a_valid_sign_up() {
        let r = Registration::parse(&valid()).unwrap();
        assert_eq!(
            r.tenant,
            TenantRef::Offer(OfferId::parse("S100000001_US").unwrap())
        );
        assert!(r.consents.is_none() && r.first_name.is_none());
    }

    #[test]
    fn every_failing_field_in_table_order() {
        let body = json!({"email": "nope", "password": "short", "locale": "xx_XX", "country": "UK",
                          "currency": "ABC", "firstName": "x".repeat(51), "externalData": "[1]",
                          "customerIP": "1.2.3", "consents": [{"name": "terms"}]});
        let errors = Registration::parse(&body).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "email",
                "password",
                "publisherId",
                "locale",
                "country",
                "currency",
                "firstName",
                "externalData",
                "customerIP",
                "consents"
            ]
        );
        assert_eq!(errors[0].message, EMAIL_MESSAGE);
        assert!(errors[1].message.starts_with("Invalid param password. "));
        assert_eq!(errors[6].reason, Reason::TooLong);
    }

    #[test]
    fn external_data_as_object_or_string_and_bounded() {
        let mut body = valid();
        body["externalData"] = json!("{\"a\":1}");
        assert_eq!(
            Registration::parse(&body).unwrap().external_data,
            Some(json!({"a": 1}))
        );
        body["externalData"] = json!({"big": "x".repeat(4000)});
        let errors = Registration::parse(&body).unwrap_err();
        assert_eq!(
            (errors[0].field.as_str(), errors[0].reason),
            ("externalData", Reason::TooLong)
        );
    }

    #[test]
    fn ids_may_be_numbers_and_must_agree() {
        let mut body = valid();
        body["publisherId"] = json!(100000001);
        assert!(Registration::parse(&body).is_ok());
        body["publisherId"] = json!("100000002");
        assert_eq!(Registration::parse(&body).unwrap_err()[0].field, "offerId");
    }

    #[test]
    fn customer_ids() {
        for _ in 0..1000 {
            let id = CustomerId::random();
            assert_eq!(CustomerId::parse(&id.to_string()), Ok(id));
        }
        assert!(CustomerId::parse("012345678").is_err());
        assert!(CustomerId::parse("12345678").is_err());
    }

    #[test]
    fn email_change_needs_the_password() {
        let errors = CustomerPatch::parse(&json!({"email": "new@example.com"})).unwrap_err();
        assert_eq!(errors[0].message, "Invalid confirmationPassword");
        let p = CustomerPatch::parse(&json!({"firstName": "", "lastName": "Doe"})).unwrap();
        assert_eq!(
            (p.first_name, p.last_name),
            (Given::Empty, Given::Value("Doe".into()))
        );
    }
}
