//! Consent definitions as admins manage them: every version for the admin list, publishing a
//! new version, archiving. Whoever asks (admin API, dashboard, CLI), the change carries its
//! audit line and the publisher's cached consents are dropped.

use serde_json::json;

use super::Services;
use super::admin_keys::AdminAuth;
use crate::domain::problem::{FieldError, Reason};
use crate::domain::{ConsentDraft, ConsentName, ConsentOwner, PublisherId};
use crate::error::ApiError;
use crate::store::{ConsentVersion, NewAudit, Published, StoreError};

/// Every version of every consent of the publisher, by name then version.
pub async fn versions(
    sv: &Services,
    publisher: PublisherId,
) -> Result<Vec<ConsentVersion>, ApiError> {
    Ok(sv
        .store
        .consent_versions(ConsentOwner::Publisher(publisher))
        .await?)
}

/// The consents asked of the publisher's customers now (the platform's and its own, newest
/// version of each, archived ones left out).
pub async fn current(
    sv: &Services,
    publisher: PublisherId,
) -> Result<Vec<ConsentVersion>, ApiError> {
    Ok(sv.store.current_consents(publisher).await?)
}

fn publisher_of(owner: ConsentOwner) -> Option<PublisherId> {
    match owner {
        ConsentOwner::Publisher(p) => Some(p),
        ConsentOwner::Platform => None,
    }
}

/// The audit line of a change to `owner`'s consents, if `auth` may make it (the platform's
/// are operators').
fn audit_line(
    auth: &AdminAuth,
    owner: ConsentOwner,
    action: &str,
    detail: serde_json::Value,
) -> Result<NewAudit, ApiError> {
    match publisher_of(owner) {
        Some(p) => auth.check_publisher(p)?,
        None => auth.require_operator("publisher")?,
    }
    Ok(auth.audit(publisher_of(owner), action, detail))
}

fn invalidate(sv: &Services, owner: ConsentOwner) {
    // The platform's consents reach running servers within the cache TTL.
    if let Some(p) = publisher_of(owner) {
        sv.catalog.invalidate(p);
    }
}

/// Publishes a checked draft as the next version (a new name starts at 1); the same text as
/// the current version publishes nothing. 400 on `name` when the platform or the publisher
/// already uses the name the other way.
pub async fn publish(
    sv: &Services,
    auth: &AdminAuth,
    owner: ConsentOwner,
    draft: &ConsentDraft,
) -> Result<Published, ApiError> {
    let line = audit_line(
        auth,
        owner,
        "consent.publish",
        json!({"name": draft.name, "label": draft.label, "value": draft.value,
               "required": draft.required, "enabledByDefault": draft.enabled_by_default,
               "documentSha256": draft.document_sha256}),
    )?;
    let published = sv
        .store
        .admin_publish_consent(owner, draft, &line)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(why) => ApiError::invalid_body(vec![FieldError::with_message(
                "name",
                Reason::AlreadyExists,
                format!("Invalid param name: {why}"),
            )]),
            other => other.into(),
        })?;
    invalidate(sv, owner);
    Ok(published)
}

/// Archives a consent: customers are no longer asked for it (its history stays). 404 CON0001
/// when the owner has no such consent.
pub async fn archive(
    sv: &Services,
    auth: &AdminAuth,
    owner: ConsentOwner,
    name: &ConsentName,
) -> Result<(), ApiError> {
    let line = audit_line(auth, owner, "consent.archive", json!({"name": name}))?;
    if !sv.store.admin_archive_consent(owner, name, &line).await? {
        return Err(ApiError::unknown_consent(name, "name"));
    }
    invalidate(sv, owner);
    Ok(())
}
