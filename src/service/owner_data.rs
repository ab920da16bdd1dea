//! The customer's own data: the export of everything Enroll keeps about them (GDPR Art. 15
//! access and Art. 20 portability) — one document, built by [`document`] whichever front end
//! asks (the customer's token, the admin API, the dashboard) — and self-service erasure
//! (Art. 17) with the customer's password.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{Map, Value, json};

use super::Services;
use super::admin_keys::AdminAuth;
use super::customers::{Standing, standings};
use super::sessions::{SignedIn, check_password};
use crate::domain::CustomerId;
use crate::error::ApiError;
use crate::store::{CUSTOMER_ACTOR, ConsentRecord, Customer, NewAudit, Publisher, StoredRow};

/// What the document says it is (a reader can tell later versions apart).
pub const FORMAT: &str = "enroll.customer-export/1";

/// Everything Enroll keeps about one customer, as the customer receives it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Export {
    /// [`FORMAT`].
    pub format: &'static str,
    /// When the document was made (RFC 3339, UTC).
    pub exported_at: String,
    /// The controller: the publisher the customer registered with.
    pub publisher: PublisherPart,
    /// The customer record.
    pub profile: ProfilePart,
    /// The capture form's answers as stored (null when never given).
    pub capture: Option<Value>,
    /// Each consent the customer is asked for now, with their current answer.
    pub consents: Vec<CurrentConsent>,
    /// Every answer ever given, oldest first, with every stored column (camelCase).
    pub consent_history: Vec<StoredRow>,
    /// The signed consent receipts, newest first: each a compact JWS anyone can verify with
    /// the service's JWKS.
    pub receipts: Vec<ReceiptPart>,
    /// Sign-in state.
    pub sessions: SessionsPart,
    /// The customer's events as stored (what webhooks send the publisher's systems), in order.
    pub events: Vec<Value>,
}

/// One consent receipt.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptPart {
    /// `consentReceiptID`.
    pub receipt_id: String,
    /// Where the answers were given (`registration`, `consents_update`, `import`, …).
    pub collection_point: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// The receipt itself.
    pub jws: String,
}

/// The publisher, by id and name.
#[derive(Debug, Serialize)]
pub struct PublisherPart {
    /// Nine digits, as a string.
    pub id: String,
    /// Its display name.
    pub name: String,
}

/// The customer row: every column that is the customer's data (not the password hash, the
/// uniqueness key or the session counter, which are Enroll's own bookkeeping).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfilePart {
    /// The customer id, as a string.
    pub id: String,
    /// As registered or last changed.
    pub email: String,
    /// The address was proven (a code at registration, or a confirmation link).
    pub email_verified: bool,
    /// Null when not given.
    pub first_name: Option<String>,
    /// Null when not given.
    pub last_name: Option<String>,
    /// `ll_CC`.
    pub locale: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// ISO 4217.
    pub currency: String,
    /// The publisher's own id for the customer; null when not given.
    pub external_id: Option<String>,
    /// The publisher's JSON object; null when not given.
    pub external_data: Option<Value>,
    /// Registration time (RFC 3339, UTC).
    pub registered_at: String,
    /// Address at registration.
    pub registration_ip: Option<String>,
    /// Last login (RFC 3339, UTC); null before the first.
    pub last_login_at: Option<String>,
    /// Address of the last registration or login.
    pub last_ip: Option<String>,
}

/// A consent asked for now and the customer's current answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CurrentConsent {
    /// The consent.
    pub name: String,
    /// 0 for the platform's, else the publisher id.
    pub broadcaster_id: i64,
    /// Its newest version's text.
    pub label: String,
    /// Its newest version's document URL.
    pub value: String,
    /// Must be accepted.
    pub required: bool,
    /// `accepted` or `declined` (never answered: `declined`).
    pub state: &'static str,
    /// The version answered; null when never answered.
    pub version: Option<String>,
    /// The newest version.
    pub newest_version: String,
    /// The newest version is unanswered.
    pub needs_update: bool,
    /// When answered (RFC 3339, UTC); null when never answered.
    pub answered_at: Option<String>,
}

/// Sign-in state.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionsPart {
    /// Devices signed in now (live refresh tokens).
    pub live: i64,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// `user_agent` → `userAgent`.
fn camel(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper = false;
    for ch in name.chars() {
        if ch == '_' {
            upper = true;
        } else if upper {
            out.extend(ch.to_uppercase());
            upper = false;
        } else {
            out.push(ch);
        }
    }
    out
}

fn current(s: &Standing) -> CurrentConsent {
    let answer: Option<&ConsentRecord> = s.answer.as_ref();
    CurrentConsent {
        name: s.consent.name.to_string(),
        broadcaster_id: s.consent.owner.get(),
        label: s.consent.label.clone(),
        value: s.consent.value.clone(),
        required: s.consent.required,
        state: answer.map_or("declined", |a| a.state.as_str()),
        version: answer.map(|a| a.version.to_string()),
        newest_version: s.consent.version.to_string(),
        needs_update: s.needs_update(),
        answered_at: answer.map(|a| time(a.at)),
    }
}

/// The export of `customer` of `publisher`: the one builder every front end uses.
pub async fn document(
    sv: &Services,
    publisher: &Publisher,
    customer: Customer,
) -> Result<Export, ApiError> {
    let (pid, id) = (publisher.id, customer.id);
    let offered = sv.store.current_consents(pid).await?;
    let answers = sv.store.consent_answers(pid, id).await?;
    let answers: Vec<&ConsentRecord> = answers.iter().collect();
    let history = sv.store.consent_history_rows(pid, id).await?;
    let live = sv.store.live_sessions(pid, id).await?;
    let events = sv.store.customer_events(pid, id).await?;
    let receipts = super::proof::receipts(sv, pid, id).await?;
    let c = customer;
    Ok(Export {
        format: FORMAT,
        exported_at: time(Utc::now()),
        publisher: PublisherPart {
            id: pid.to_string(),
            name: publisher.name.clone(),
        },
        consents: standings(&offered, &answers).iter().map(current).collect(),
        consent_history: history
            .into_iter()
            .map(|row| row.into_iter().map(|(k, v)| (camel(&k), v)).collect())
            .collect::<Vec<Map<String, Value>>>(),
        receipts: receipts
            .into_iter()
            .map(|r| ReceiptPart {
                receipt_id: r.id,
                collection_point: r.collection_point,
                created_at: time(r.created_at),
                jws: r.jws,
            })
            .collect(),
        sessions: SessionsPart { live },
        events,
        capture: c.capture.map(|a| a.to_stored()),
        profile: ProfilePart {
            id: c.id.to_string(),
            email: c.email,
            email_verified: c.email_verified,
            first_name: c.first_name,
            last_name: c.last_name,
            locale: c.locale.to_string(),
            country: c.country.to_string(),
            currency: c.currency.to_string(),
            external_id: c.external_id,
            external_data: c.external_data,
            registered_at: time(c.created_at),
            registration_ip: c.registration_ip.map(|ip| ip.to_string()),
            last_login_at: c.last_login_at.map(time),
            last_ip: c.last_ip.map(|ip| ip.to_string()),
        },
    })
}

/// The signed-in customer's own export (403 AUTH0004 once erased; 401 for an ended session).
pub async fn export_own(sv: &Services, auth: &SignedIn) -> Result<Export, ApiError> {
    let customer = super::profile::load(sv, auth).await?;
    let view = super::tenants::of_token(sv, auth.publisher).await?;
    document(sv, &view.publisher, customer).await
}

/// A customer's export for an admin (API or dashboard) of `publisher`, which the key reaches
/// (the caller checked): recorded in the audit trail. 404 REQ0003 for no such customer.
pub async fn export_for_admin(
    sv: &Services,
    auth: &AdminAuth,
    publisher: &Publisher,
    id: CustomerId,
) -> Result<Export, ApiError> {
    auth.check_publisher(publisher.id)?;
    let customer = super::customers::get(sv, publisher.id, id).await?;
    let line = auth.audit(
        Some(publisher.id),
        "customer.data_export",
        json!({"customerId": id.to_string()}),
    );
    super::audit::record(sv, &line).await?;
    document(sv, publisher, customer).await
}

/// Self-service erasure: the same as an admin's ([`super::customers::erase`]), asked by the
/// customer with their password (checked under the login's failure budget, on the hashing
/// threads). 403 USER0005 when the publisher turned it off; 400 REQ0001 `Invalid
/// confirmationPassword` for a wrong one; 429 RATE0001 past the budget.
pub async fn erase_own(sv: &Services, auth: &SignedIn, password: &str) -> Result<(), ApiError> {
    let customer = super::profile::load(sv, auth).await?;
    let view = super::tenants::of_token(sv, auth.publisher).await?;
    if !view.publisher.settings.self_erasure.0 {
        return Err(ApiError::self_erasure_disabled());
    }
    let publisher = customer.publisher;
    let ok = check_password(
        sv,
        publisher,
        &customer.email_key,
        password,
        Some(&customer.password_hash),
    )
    .await?;
    if !ok {
        return Err(ApiError::confirmation_password_invalid());
    }
    let line = NewAudit {
        key_id: None,
        actor: CUSTOMER_ACTOR.to_owned(),
        publisher: Some(publisher),
        action: "customer.erase".to_owned(),
        detail: json!({"customerId": customer.id.to_string()}),
    };
    // Erased meanwhile (another tab, an admin): as for an erased customer's token.
    if !sv
        .store
        .erase_customer(publisher, customer.id, &line)
        .await?
    {
        return Err(ApiError::access_denied());
    }
    tracing::info!(customer_id = %customer.id, publisher_id = %publisher, "customer erased by themselves");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::camel;

    #[test]
    fn column_names_become_camel_case() {
        assert_eq!(camel("user_agent"), "userAgent");
        assert_eq!(camel("at"), "at");
        assert_eq!(camel("text_hash_prev"), "textHashPrev");
    }
}
