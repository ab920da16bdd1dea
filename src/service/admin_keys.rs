//! Admin keys and who they are: the one check of a key (admin API, Cleeng's publisher token,
//! dashboard sign-in), making, listing and revoking keys, and the dashboard's sessions, which
//! last while their key does.

use chrono::Utc;
use secrecy::ExposeSecret;
use serde_json::json;
use subtle::ConstantTimeEq;

use super::Services;
use super::audit::Via;
use crate::auth::admin_key::{admin_key_hash, is_operator_key, new_admin_key};
use crate::auth::tokens::{new_token, token_hash};
use crate::domain::PublisherId;
use crate::domain::problem::Reason;
use crate::error::ApiError;
use crate::store::{AdminKey, AdminSession, NewAdminKey, NewAdminSession, StoreError};

/// What a key may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every publisher; only operators create keys and edit origins.
    Operator,
    /// One publisher.
    Publisher(PublisherId),
}

/// A verified admin key: who acts, for the scope checks and the audit trail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAuth {
    /// What it reaches.
    pub scope: Scope,
    /// The stored key (`None` for the config's operator key and the CLI).
    pub key_id: Option<crate::domain::AdminKeyId>,
    /// Who, for the audit trail: the key's label.
    pub actor: String,
    /// Which front end it came through (the dashboard says so in its audit lines).
    pub via: Via,
}

/// The actor name of `admin.operator_key` in the audit trail.
pub const CONFIG_OPERATOR: &str = "operator (config)";

/// The audit trail's actor for changes made on the command line.
pub const CLI_ACTOR: &str = "cli";

impl AdminAuth {
    /// The command line: an operator that is no stored key.
    pub fn cli() -> AdminAuth {
        AdminAuth {
            scope: Scope::Operator,
            key_id: None,
            actor: CLI_ACTOR.to_owned(),
            via: Via::Cli,
        }
    }

    fn config_operator() -> AdminAuth {
        AdminAuth {
            scope: Scope::Operator,
            key_id: None,
            actor: CONFIG_OPERATOR.to_owned(),
            via: Via::Api,
        }
    }

    fn of_key(key: AdminKey) -> AdminAuth {
        AdminAuth {
            scope: key.publisher.map_or(Scope::Operator, Scope::Publisher),
            key_id: Some(key.id),
            actor: key.label,
            via: Via::Api,
        }
    }

    /// Verifies an admin key however it came (401 ADM0001 when missing, unknown or revoked).
    pub async fn verify(sv: &Services, key: Option<&str>) -> Result<Self, ApiError> {
        let key = key.ok_or_else(ApiError::admin_key_invalid)?;
        if is_operator_key(key, &sv.settings.admin.operator_key) {
            return Ok(Self::config_operator());
        }
        sv.store
            .admin_key_by_hash(&admin_key_hash(key))
            .await?
            .filter(|k| k.revoked_at.is_none())
            .map(Self::of_key)
            .ok_or_else(ApiError::admin_key_invalid)
    }

    /// Whether this is an operator key.
    pub fn is_operator(&self) -> bool {
        self.scope == Scope::Operator
    }

    /// 404 (as for an unknown publisher) unless the key reaches `id`.
    pub fn check_publisher(&self, id: PublisherId) -> Result<(), ApiError> {
        match self.scope {
            Scope::Operator => Ok(()),
            Scope::Publisher(own) if own == id => Ok(()),
            Scope::Publisher(_) => Err(ApiError::unknown("publisherId")),
        }
    }

    /// 403 unless this is an operator key; `field` names what was attempted.
    pub fn require_operator(&self, field: &str) -> Result<(), ApiError> {
        if self.is_operator() {
            Ok(())
        } else {
            Err(operator_only(field))
        }
    }
}

/// 403 AUTH0004: the key is good but may not do this (a publisher key, operator-only action).
pub fn operator_only(field: &str) -> ApiError {
    ApiError::access_denied().with_detail(field, Reason::InvalidValue)
}

/// Every key, or one publisher's (operators only).
pub async fn list(
    sv: &Services,
    auth: &AdminAuth,
    publisher: Option<PublisherId>,
) -> Result<Vec<AdminKey>, ApiError> {
    auth.require_operator("keys")?;
    Ok(sv.store.admin_keys(publisher).await?)
}

/// Makes a key (operators only) and returns it with the only copy of the secret; `label` is
/// already checked. 404 REQ0003 for an unknown publisher.
pub async fn create(
    sv: &Services,
    auth: &AdminAuth,
    publisher: Option<PublisherId>,
    label: String,
) -> Result<(String, AdminKey), ApiError> {
    auth.require_operator("keys")?;
    let (key, hash) = new_admin_key();
    let scope = if publisher.is_some() {
        "publisher"
    } else {
        "operator"
    };
    let line = auth.audit(
        publisher,
        "key.create",
        json!({"scope": scope, "label": label}),
    );
    let new = NewAdminKey {
        hash,
        publisher,
        label,
    };
    let stored = sv
        .store
        .create_admin_key(&new, &line)
        .await
        .map_err(|e| match e {
            StoreError::NotFound(_) => ApiError::unknown("publisherId"),
            other => other.into(),
        })?;
    Ok((key, stored))
}

/// Revokes a key (operators only); its dashboard sessions end with it. 404 REQ0003 when
/// there is no such key.
pub async fn revoke(
    sv: &Services,
    auth: &AdminAuth,
    id: crate::domain::AdminKeyId,
) -> Result<AdminKey, ApiError> {
    auth.require_operator("keys")?;
    let line = auth.audit(None, "key.revoke", json!({"keyId": id.get()}));
    sv.store
        .revoke_admin_key(id, &line)
        .await?
        .ok_or_else(|| ApiError::unknown("keyId"))
}

/// A dashboard session just started: the token for the cookie, and who signed in.
pub struct SignedIn {
    /// The session token (only its hash is stored).
    pub token: String,
    /// Who.
    pub auth: AdminAuth,
}

/// Signs in to the dashboard with an admin key (401 ADM0001 as for the API): stores a session
/// of `ttl` whose CSRF token `csrf` derives from the session token, and audits the sign-in.
pub async fn sign_in(
    sv: &Services,
    key: &str,
    csrf: impl FnOnce(&str) -> String,
) -> Result<SignedIn, ApiError> {
    let auth = AdminAuth::verify(sv, Some(key)).await?;
    // A session of the config's operator key remembers which key, and ends when it changes.
    let operator_key_hash = auth.key_id.is_none().then(|| admin_key_hash(key));
    let (token, hash) = new_token();
    let ttl = sv.settings.admin.session_ttl;
    let session = NewAdminSession {
        hash,
        key_id: auth.key_id,
        operator_key_hash,
        csrf_hash: token_hash(&csrf(&token)),
        expires_at: Utc::now()
            + chrono::Duration::from_std(ttl).unwrap_or(chrono::Duration::hours(8)),
    };
    sv.store.create_admin_session(&session).await?;
    let publisher = match auth.scope {
        Scope::Publisher(p) => Some(p),
        Scope::Operator => None,
    };
    let line = auth.audit(publisher, "dashboard.sign_in", json!({}));
    if let Err(e) = sv.store.record_audit(&line).await {
        tracing::warn!(error = %e, "could not record a dashboard sign-in");
    }
    Ok(SignedIn { token, auth })
}

/// Who a live session is (`None`: no such session, expired, its key revoked, or the config's
/// operator key it signed in with is no longer configured).
pub async fn session(sv: &Services, token: &str) -> Result<Option<AdminAuth>, ApiError> {
    let Some(stored) = sv.store.admin_session(&token_hash(token)).await? else {
        return Ok(None);
    };
    Ok(session_auth(sv, stored).map(|auth| AdminAuth {
        via: Via::Dashboard,
        ..auth
    }))
}

fn session_auth(sv: &Services, stored: AdminSession) -> Option<AdminAuth> {
    match (stored.key, stored.operator_key_hash) {
        (Some(key), _) if key.revoked_at.is_none() => Some(AdminAuth::of_key(key)),
        (None, Some(signed_in_with)) => {
            let configured = sv.settings.admin.operator_key.expose_secret().trim();
            let current = admin_key_hash(configured);
            let same = !signed_in_with.is_empty()
                && bool::from(signed_in_with.as_bytes().ct_eq(current.as_bytes()));
            (!configured.is_empty() && same).then(AdminAuth::config_operator)
        }
        _ => None,
    }
}

/// Ends a session.
pub async fn sign_out(sv: &Services, token: &str) -> Result<(), ApiError> {
    sv.store.delete_admin_session(&token_hash(token)).await?;
    Ok(())
}
