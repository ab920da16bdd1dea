//! The client of a Cleeng-compatible upstream (MediaStore API v3) that a publisher migrates
//! from: `POST /auths` to prove a password, `GET /customers/{id}` and
//! `GET /customers/{id}/consents` with the JWT it answers to read the customer and its consent
//! answers, `PUT` and `PATCH /customers/passwords` for a reset. Every call goes
//! through the operator's outbound policy ([`crate::outbound`]) and within the publisher's
//! `migration.timeout`; nothing it sends (passwords, tokens, emails) is ever logged.

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::domain::PublisherId;
use crate::domain::migration::MigrationSettings;
use crate::outbound::{Outbound, OutboundClient, Redirects, Refused};

/// The largest upstream answer read; a customer record is a few hundred bytes.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// The customer as the upstream shows it (`GET /customers/{id}`); fields it leaves out are
/// `None`. Values are checked by the caller, which falls back where they do not fit.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UpstreamCustomer {
    /// The address it has.
    pub email: Option<String>,
    /// Optional.
    pub first_name: Option<String>,
    /// Optional.
    pub last_name: Option<String>,
    /// `ll_CC`.
    pub locale: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// ISO 4217.
    pub currency: Option<String>,
    /// The publisher's own id of the customer.
    pub external_id: Option<String>,
    /// A JSON object.
    pub external_data: Option<Value>,
    /// When it registered there (`regDate`).
    pub registered_at: Option<DateTime<Utc>>,
    /// Its answers there (`GET /customers/{id}/consents`; never-answered ones left out).
    pub consents: Vec<UpstreamConsent>,
}

/// One consent answer the upstream holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamConsent {
    /// The consent's name.
    pub name: String,
    /// The version answered.
    pub version: i32,
    /// `true` for accepted.
    pub accepted: bool,
    /// When it was answered there (`date`, Unix seconds), if it says.
    pub at: Option<DateTime<Utc>>,
}

/// What the upstream said about a password.
#[derive(Debug, Clone, PartialEq)]
pub enum Proof {
    /// It accepted the password: the customer it holds.
    Accepted(Box<UpstreamCustomer>),
    /// It refused it (a 4xx: wrong password or unknown email).
    Refused,
    /// No usable answer (down, slow, refused by the outbound policy, a 5xx, not JSON).
    Unavailable,
}

/// Why a call has no usable answer.
enum Failure {
    /// The upstream answered 4xx.
    Refused,
    /// Anything else, in words for the log.
    Other(String),
}

/// One HTTP client (connection reuse) for every publisher's upstream. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Upstream {
    client: OutboundClient,
}

impl Upstream {
    /// A client obeying `outbound`; redirects are not followed (a 3xx is no answer).
    pub fn new(outbound: &Outbound) -> Result<Upstream, String> {
        Ok(Upstream {
            client: outbound.client(Redirects::None)?,
        })
    }

    /// Sends the login to the upstream once; on success reads the customer with the JWT it
    /// answered. Both calls together within `settings.timeout`.
    pub async fn login(
        &self,
        settings: &MigrationSettings,
        publisher: PublisherId,
        email: &str,
        password: &str,
    ) -> Proof {
        let call = async {
            let body =
                json!({"email": email, "password": password, "publisherId": publisher.to_string()});
            let session: Value = self
                .call(settings, reqwest::Method::POST, "auths", None, &body)
                .await?;
            let data = &session["responseData"];
            let jwt = data["jwt"].as_str().filter(|s| !s.is_empty());
            let id = match &data["customerId"] {
                Value::Number(n) => n.as_u64().map(|n| n.to_string()),
                Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                    Some(s.clone())
                }
                _ => None,
            };
            let (Some(jwt), Some(id)) = (jwt, id) else {
                return Err(Failure::Other(
                    "POST /auths answered no jwt or customerId".into(),
                ));
            };
            let customer: Value = self
                .call(
                    settings,
                    reqwest::Method::GET,
                    &format!("customers/{id}"),
                    Some(jwt),
                    &Value::Null,
                )
                .await?;
            let mut found = customer_of(&customer["responseData"]);
            // Its consent answers come along; an upstream without the route (4xx) has none
            // to give, one that fails otherwise fails the migration (tried again next login).
            match self
                .call::<Value>(
                    settings,
                    reqwest::Method::GET,
                    &format!("customers/{id}/consents"),
                    Some(jwt),
                    &Value::Null,
                )
                .await
            {
                Ok(consents) => found.consents = consents_of(&consents["responseData"]),
                Err(Failure::Refused) => {
                    tracing::warn!(publisher_id = %publisher, "migration upstream gave no consents; the customer comes without them");
                }
                Err(other) => return Err(other),
            }
            Ok(found)
        };
        let outcome = match tokio::time::timeout(settings.timeout, call).await {
            Ok(Ok(customer)) => Proof::Accepted(Box::new(customer)),
            Ok(Err(Failure::Refused)) => Proof::Refused,
            Ok(Err(Failure::Other(why))) => {
                tracing::warn!(publisher_id = %publisher, reason = %why, "migration upstream unavailable");
                Proof::Unavailable
            }
            Err(_) => {
                tracing::warn!(publisher_id = %publisher, "migration upstream unavailable: timed out");
                Proof::Unavailable
            }
        };
        let label = match outcome {
            Proof::Accepted(_) => "accepted",
            Proof::Refused => "refused",
            Proof::Unavailable => "unavailable",
        };
        metrics::counter!("migration_logins_total", "outcome" => label).increment(1);
        outcome
    }

    /// Asks the upstream to send its reset email (`PUT /customers/passwords`); whether it
    /// took the request.
    pub async fn request_reset(
        &self,
        settings: &MigrationSettings,
        publisher: PublisherId,
        email: &str,
        reset_url: Option<&str>,
    ) -> bool {
        let mut body = json!({"customerEmail": email, "publisherId": publisher.to_string()});
        if let Some(url) = reset_url {
            body["resetUrl"] = url.into();
        }
        self.simple(settings, publisher, reqwest::Method::PUT, &body)
            .await
    }

    /// Sets a new password at the upstream with the token of its reset email
    /// (`PATCH /customers/passwords`); whether it accepted.
    pub async fn reset(
        &self,
        settings: &MigrationSettings,
        publisher: PublisherId,
        email: &str,
        token: &str,
        new_password: &str,
    ) -> bool {
        let body = json!({"customerEmail": email, "publisherId": publisher.to_string(),
            "resetPasswordToken": token, "newPassword": new_password});
        self.simple(settings, publisher, reqwest::Method::PATCH, &body)
            .await
    }

    async fn simple(
        &self,
        settings: &MigrationSettings,
        publisher: PublisherId,
        method: reqwest::Method,
        body: &Value,
    ) -> bool {
        let call = self.call::<Value>(settings, method, "customers/passwords", None, body);
        match tokio::time::timeout(settings.timeout, call).await {
            Ok(Ok(_)) => true,
            Ok(Err(Failure::Refused)) => false,
            Ok(Err(Failure::Other(why))) => {
                tracing::warn!(publisher_id = %publisher, reason = %why, "migration upstream unavailable");
                false
            }
            Err(_) => {
                tracing::warn!(publisher_id = %publisher, "migration upstream unavailable: timed out");
                false
            }
        }
    }

    /// One round trip: a 2xx JSON answer without an error `code`, or why not.
    async fn call<T: DeserializeOwned>(
        &self,
        settings: &MigrationSettings,
        method: reqwest::Method,
        path: &str,
        bearer: Option<&str>,
        body: &Value,
    ) -> Result<T, Failure> {
        let url = settings.endpoint(path);
        let mut request = self
            .client
            .request(method, &url)
            .map_err(|r: Refused| Failure::Other(r.to_string()))?
            .timeout(settings.timeout);
        if let Some(jwt) = bearer {
            request = request.bearer_auth(jwt);
        }
        if !body.is_null() {
            request = request.json(body);
        }
        let mut response = request.send().await.map_err(describe)?;
        let status = response.status();
        if status.is_client_error() && status != reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(Failure::Refused);
        }
        if !status.is_success() {
            return Err(Failure::Other(format!("{path} answered HTTP {status}")));
        }
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(Failure::Other(format!(
                    "{path}: answer larger than {MAX_ANSWER_BYTES} bytes"
                )));
            }
            bytes.extend_from_slice(&chunk);
        }
        let value: Value = serde_json::from_slice(&bytes)
            .map_err(|e| Failure::Other(format!("{path}: answer is not JSON: {e}")))?;
        // The MediaStore SDK takes a body with `code` for an error, whatever the status.
        if value.get("code").is_some_and(|c| !c.is_null()) {
            return Err(Failure::Refused);
        }
        serde_json::from_value(value).map_err(|e| Failure::Other(format!("{path}: {e}")))
    }
}

/// The fields of a `GET /customers/{id}` answer; `""` and `null` are absent.
fn customer_of(data: &Value) -> UpstreamCustomer {
    let text = |k: &str| {
        data.get(k)
            .and_then(Value::as_str)
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let external_data = match data.get("externalData") {
        Some(Value::Object(o)) if !o.is_empty() => Some(Value::Object(o.clone())),
        Some(Value::String(s)) => serde_json::from_str::<Value>(s)
            .ok()
            .filter(|v| v.as_object().is_some_and(|o| !o.is_empty())),
        _ => None,
    };
    UpstreamCustomer {
        email: text("email"),
        first_name: text("firstName"),
        last_name: text("lastName"),
        locale: text("locale"),
        country: text("country"),
        currency: text("currency"),
        external_id: text("externalId"),
        external_data,
        registered_at: text("regDate").and_then(|d| {
            NaiveDateTime::parse_from_str(&d, "%Y-%m-%d %H:%M:%S")
                .ok()
                .map(|d| d.and_utc())
        }),
        consents: Vec::new(),
    }
}

/// The answered consents of a `GET /customers/{id}/consents` answer (`{"consents": [...]}`):
/// a name, a version number and `accepted` or `declined`; never-answered ones (version `""`)
/// and anything malformed are left out.
fn consents_of(data: &Value) -> Vec<UpstreamConsent> {
    let Some(list) = data.get("consents").and_then(Value::as_array) else {
        return Vec::new();
    };
    list.iter()
        .filter_map(|c| {
            let name = c.get("name")?.as_str()?.trim();
            let version = match c.get("version")? {
                Value::String(s) => s.trim().parse::<i32>().ok()?,
                Value::Number(n) => i32::try_from(n.as_i64()?).ok()?,
                _ => return None,
            };
            let accepted = match c.get("state")?.as_str()? {
                "accepted" => true,
                "declined" => false,
                _ => return None,
            };
            let at = match c.get("date") {
                Some(Value::Number(n)) => n.as_i64(),
                Some(Value::String(s)) => s.trim().parse::<i64>().ok(),
                _ => None,
            }
            .and_then(|secs| DateTime::from_timestamp(secs, 0))
            .filter(|t| *t <= Utc::now());
            (!name.is_empty() && version > 0).then(|| UpstreamConsent {
                name: name.to_owned(),
                version,
                accepted,
                at,
            })
        })
        .collect()
}

/// A transport error in words (never the URL, which names the upstream's customer id).
fn describe(error: reqwest::Error) -> Failure {
    let timed_out = error.is_timeout();
    let error = error.without_url();
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if timed_out && !text.contains("timed out") {
        text.push_str(" (timed out)");
    }
    Failure::Other(text)
}
