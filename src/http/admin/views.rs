//! What the admin API answers with: camelCase, RFC 3339 times, `""` for what is not given.

use serde::Serialize;
use serde_json::Value;

use super::time;
use crate::store::{AdminKey, AuditEntry, ConsentHistoryRecord, Customer};

/// An admin key (never the key itself, which is shown once, at creation).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    /// Its id.
    pub id: i64,
    /// `operator` or `publisher`.
    pub scope: &'static str,
    /// The publisher of a publisher key, else null.
    pub publisher_id: Option<u32>,
    /// A name for people.
    pub label: String,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339, or null while the key works.
    pub revoked_at: Option<String>,
}

impl From<AdminKey> for KeyView {
    fn from(k: AdminKey) -> Self {
        KeyView {
            id: k.id.get(),
            scope: if k.publisher.is_some() {
                "publisher"
            } else {
                "operator"
            },
            publisher_id: k.publisher.and_then(|p| u32::try_from(p.get()).ok()),
            label: k.label,
            created_at: time(k.created_at),
            revoked_at: k.revoked_at.map(time),
        }
    }
}

/// A customer in the admin list and export.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AdminCustomer {
    /// The id, as a string.
    pub id: String,
    /// As registered.
    pub email: String,
    /// `""` when not given.
    pub first_name: String,
    /// `""` when not given.
    pub last_name: String,
    /// ISO 3166-1 alpha-2.
    pub country: String,
    /// `ll_CC`.
    pub locale: String,
    /// ISO 4217.
    pub currency: String,
    /// `""` when not given.
    pub external_id: String,
    /// RFC 3339.
    pub registered_at: String,
    /// RFC 3339, null until the first login.
    pub last_login_at: Option<String>,
    /// Address at registration.
    pub registration_ip: String,
    /// Address of the last registration or login.
    pub last_ip: String,
    /// The address was proven (a verification code or a confirmation link).
    pub email_verified: bool,
    /// Capture answers (birthDate, companyName, phoneNumber, address, custom), `{}` when none.
    #[schema(value_type = Object)]
    pub capture: Value,
}

impl From<&Customer> for AdminCustomer {
    fn from(c: &Customer) -> Self {
        AdminCustomer {
            id: c.id.to_string(),
            email: c.email.clone(),
            first_name: c.first_name.clone().unwrap_or_default(),
            last_name: c.last_name.clone().unwrap_or_default(),
            country: c.country.to_string(),
            locale: c.locale.to_string(),
            currency: c.currency.to_string(),
            external_id: c.external_id.clone().unwrap_or_default(),
            registered_at: time(c.created_at),
            last_login_at: c.last_login_at.map(time),
            registration_ip: c
                .registration_ip
                .map(|ip| ip.to_string())
                .unwrap_or_default(),
            last_ip: c.last_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            email_verified: c.email_verified,
            capture: c.capture.clone().unwrap_or_default().to_stored(),
        }
    }
}

/// One row of a customer's consent history.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    /// 0 for the platform's consents, else the publisher id.
    pub broadcaster_id: i64,
    /// The consent.
    pub name: String,
    /// The version answered.
    pub version: String,
    /// `accepted` or `declined`.
    pub state: &'static str,
    /// Where from (`""` when not kept).
    pub ip: String,
    /// Which client (`""` when not kept).
    pub user_agent: String,
    /// RFC 3339.
    pub at: String,
}

impl From<ConsentHistoryRecord> for HistoryView {
    fn from(r: ConsentHistoryRecord) -> Self {
        HistoryView {
            broadcaster_id: r.owner.get(),
            name: r.name.to_string(),
            version: r.version.to_string(),
            state: r.state.as_str(),
            ip: r.ip.map(|ip| ip.to_string()).unwrap_or_default(),
            user_agent: r.user_agent.unwrap_or_default(),
            at: time(r.at),
        }
    }
}

/// One audit line.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditView {
    /// Its id.
    pub id: i64,
    /// RFC 3339.
    pub at: String,
    /// The admin key that acted (null: the config's operator key or the CLI).
    pub key_id: Option<i64>,
    /// Who: the key's label, `operator (config)` or `cli`.
    pub actor: String,
    /// The publisher concerned, if any.
    pub publisher_id: Option<u32>,
    /// What, e.g. `customer.erase`.
    pub action: String,
    /// The particulars (never a secret).
    #[schema(value_type = Object)]
    pub detail: Value,
}

impl From<AuditEntry> for AuditView {
    fn from(e: AuditEntry) -> Self {
        AuditView {
            id: e.id,
            at: time(e.at),
            key_id: e.key_id.map(crate::domain::AdminKeyId::get),
            actor: e.actor,
            publisher_id: e.publisher.and_then(|p| u32::try_from(p.get()).ok()),
            action: e.action,
            detail: e.detail,
        }
    }
}
