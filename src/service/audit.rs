//! The audit trail: the line each admin change writes (in the change's transaction, by the
//! operation itself) and the trail read back a page at a time.

use serde_json::Value;

use super::Services;
use super::admin_keys::{AdminAuth, Scope};
use crate::domain::PublisherId;
use crate::error::ApiError;
use crate::store::{AuditCursor, AuditEntry, NewAudit};

/// The front end a change came through. Only the dashboard says so in its lines
/// (`"via": "dashboard"`); the admin API's and the CLI's lines are told apart by their actor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The admin API (or Cleeng's publisher-token routes).
    Api,
    /// The HTML dashboard.
    Dashboard,
    /// The command line.
    Cli,
}

impl AdminAuth {
    /// An audit line for a change this key makes.
    pub fn audit(&self, publisher: Option<PublisherId>, action: &str, detail: Value) -> NewAudit {
        let mut detail = detail;
        if self.via == Via::Dashboard
            && let Value::Object(map) = &mut detail
        {
            map.insert("via".into(), "dashboard".into());
        }
        NewAudit {
            key_id: self.key_id,
            actor: self.actor.clone(),
            publisher,
            action: action.to_owned(),
            detail,
        }
    }
}

/// Records a line that goes with no stored change (an export, a sign-in).
pub async fn record(sv: &Services, line: &NewAudit) -> Result<(), ApiError> {
    Ok(sv.store.record_audit(line).await?)
}

/// One page of the trail, newest first, and the cursor of the next page (`None` on the last).
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// Where the next page starts.
    pub next: Option<AuditCursor>,
}

/// The lines `auth` may see: an operator all of them (or one publisher's when `asked`), a
/// publisher key its own (another publisher answers 404 as an unknown one).
pub async fn page(
    sv: &Services,
    auth: &AdminAuth,
    asked: Option<PublisherId>,
    before: Option<AuditCursor>,
    limit: u32,
) -> Result<AuditPage, ApiError> {
    let publisher = match (auth.scope, asked) {
        (Scope::Operator, asked) => asked,
        (Scope::Publisher(own), None) => Some(own),
        (Scope::Publisher(_), Some(id)) => {
            auth.check_publisher(id)?;
            Some(id)
        }
    };
    let mut entries = sv.store.audit_page(publisher, before, limit + 1).await?;
    let more = entries.len() > limit as usize;
    entries.truncate(limit as usize);
    let next = more
        .then(|| entries.last().map(|e| AuditCursor(e.id)))
        .flatten();
    Ok(AuditPage { entries, next })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_dashboard_says_so_in_its_lines() {
        let mut auth = AdminAuth::cli();
        let line = auth.audit(None, "key.revoke", json!({"keyId": 3}));
        assert_eq!(
            (line.actor.as_str(), line.key_id, &line.detail),
            ("cli", None, &json!({"keyId": 3}))
        );
        auth.via = Via::Dashboard;
        let line = auth.audit(None, "consent.archive", json!({"name": "terms"}));
        assert_eq!(line.detail, json!({"name": "terms", "via": "dashboard"}));
        assert_eq!(line.action, "consent.archive");
    }
}
