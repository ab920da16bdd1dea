//! The consents page: the current versions, every version, publishing a new version and
//! archiving.

use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use serde::Deserialize;

use super::frame::{
    Shown, Tab, Which, bad_form, error_page, failure, not_found, publisher_of, when,
};
use super::session::{CsrfForm, Session};
use crate::domain::link::is_http_url;
use crate::domain::{ConsentDraft, ConsentName, ConsentOwner};
use crate::error::ApiError;
use crate::service::consents as service;
use crate::state::AppState;
use crate::store::{ConsentVersion, Published};

/// `?publisher=&done=` of the consents page (`done` says what the last form did).
#[derive(Debug, Default, Deserialize)]
pub struct ConsentsQuery {
    publisher: Option<String>,
    done: Option<String>,
}

/// `GET /admin/consents`.
pub async fn list(
    State(state): State<AppState>,
    session: Session,
    query: Result<Query<ConsentsQuery>, QueryRejection>,
) -> Result<Response, Response> {
    let Query(q) = query.unwrap_or_default();
    let shown = publisher_of(&state, &session, q.publisher.as_deref()).await?;
    let flash = q.done.as_deref().map(|d| match d {
        "published" => ("A new version was published.", true),
        "unchanged" => (
            "The current version already says this; nothing was published.",
            true,
        ),
        "archived" => ("The consent was archived.", true),
        _ => ("Done.", true),
    });
    let page = Page {
        state: &state,
        session: &session,
        shown: &shown,
    };
    let (current, versions) = page.loaded().await.map_err(error_page)?;
    Ok(page.render(&current, &versions, flash, StatusCode::OK))
}

/// The consents page of one publisher for one session.
struct Page<'a> {
    state: &'a AppState,
    session: &'a Session,
    shown: &'a Shown,
}

type Versions = Vec<ConsentVersion>;

impl Page<'_> {
    async fn loaded(&self) -> Result<(Versions, Versions), ApiError> {
        let id = self.shown.publisher.id;
        let current = service::current(self.state, id).await?;
        let versions = service::versions(self.state, id).await?;
        Ok((current, versions))
    }

    fn render(
        &self,
        current: &[ConsentVersion],
        versions: &[ConsentVersion],
        flash: Option<(&str, bool)>,
        status: StatusCode,
    ) -> Response {
        let id = self.shown.publisher.id.to_string();
        let content = consents(current, versions, &id, &self.session.csrf, flash);
        self.shown
            .page(self.session, status, Tab::Consents, "Consents", content)
    }

    /// The page again with what was wrong with the publish form.
    async fn refused(&self, text: &str) -> Response {
        let (current, versions) = self.loaded().await.unwrap_or_default();
        self.render(
            &current,
            &versions,
            Some((text, false)),
            StatusCode::BAD_REQUEST,
        )
    }
}

/// The publish form.
#[derive(Debug, Deserialize)]
pub struct PublishForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    label: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    required: Option<String>,
}

/// `POST /admin/consents`: publishes a new version.
pub async fn publish(
    State(state): State<AppState>,
    session: Session,
    Query(which): Query<Which>,
    form: Result<Form<PublishForm>, FormRejection>,
) -> Result<Response, Response> {
    let Form(form) = form.map_err(|_| bad_form())?;
    session.check_csrf(&form.csrf)?;
    let shown = publisher_of(&state, &session, which.publisher.as_deref()).await?;
    let page = Page {
        state: &state,
        session: &session,
        shown: &shown,
    };
    let name = match ConsentName::parse(form.name.trim()) {
        Ok(n) => n,
        Err(e) => return Err(page.refused(&format!("Name: {e}")).await),
    };
    let draft = ConsentDraft {
        name,
        label: form.label.trim().to_owned(),
        value: form.value.trim().to_owned(),
        required: form.required.is_some(),
        enabled_by_default: false,
        placeholder: String::new(),
        document_sha256: None,
    };
    if let Err(e) = draft.check() {
        return Err(page.refused(&e).await);
    }
    let publisher = shown.publisher.id;
    let owner = ConsentOwner::Publisher(publisher);
    let done = match service::publish(&state, &session.auth, owner, &draft).await {
        Ok(Published::New(_)) => "published",
        Ok(Published::Unchanged(_)) => "unchanged",
        Err(e) if e.status() == StatusCode::BAD_REQUEST => {
            return Err(page.refused(e.message()).await);
        }
        Err(e) => return Err(failure(e)),
    };
    Ok(Redirect::to(&format!(
        "/admin/consents?publisher={publisher}&done={done}"
    ))
    .into_response())
}

/// `POST /admin/consents/{name}/archive`.
pub async fn archive(
    State(state): State<AppState>,
    session: Session,
    Path(name): Path<String>,
    Query(which): Query<Which>,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Result<Response, Response> {
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    session.check_csrf(&given)?;
    let publisher = publisher_of(&state, &session, which.publisher.as_deref())
        .await?
        .publisher
        .id;
    let name = ConsentName::parse(&name).map_err(|_| not_found())?;
    service::archive(
        &state,
        &session.auth,
        ConsentOwner::Publisher(publisher),
        &name,
    )
    .await
    .map_err(error_page)?;
    Ok(Redirect::to(&format!(
        "/admin/consents?publisher={publisher}&done=archived"
    ))
    .into_response())
}

/// The consents page: current versions, every version, and the publish form.
pub fn consents(
    current: &[ConsentVersion],
    versions: &[ConsentVersion],
    publisher: &str,
    csrf: &str,
    flash: Option<(&str, bool)>,
) -> Markup {
    html! {
        h1 { "Consents" }
        @if let Some((text, ok)) = flash { p.flash.error[!ok] id="flash" { (text) } }
        table id="current-consents" {
            thead { tr { th { "Name" } th { "Owner" } th { "Version" } th { "Label" } th { "Document" } th { "Required" } th {} } }
            tbody {
                @for c in current {
                    tr data-consent=(c.name) {
                        td { (c.name) }
                        td { (c.owner.to_string()) }
                        td.version { (c.version) }
                        td { (c.label) }
                        td { @if is_http_url(&c.value) { a href=(c.value) rel="noreferrer noopener" { (c.value) } } @else { (c.value) } }
                        td { @if c.required { "yes" } @else { "no" } }
                        td {
                            @if matches!(c.owner, ConsentOwner::Publisher(_)) {
                                form.inline method="post" action={ "/admin/consents/" (c.name) "/archive?publisher=" (publisher) } {
                                    input type="hidden" name="csrf" value=(csrf);
                                    button.secondary type="submit" { "Archive" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Publish a new version" }
        form.card method="post" action={ "/admin/consents?publisher=" (publisher) } id="publish" {
            input type="hidden" name="csrf" value=(csrf);
            p { label { "Name (an existing one gets its next version)" br; input type="text" name="name" id="consent-name" required pattern="[a-z0-9_]+" maxlength="100"; } }
            p { label { "Label (shown to customers; may hold a link)" br; textarea name="label" id="consent-label" rows="2" cols="80" required {} } }
            p { label { "Document URL" br; input type="url" name="value" id="consent-value" size="60"; } }
            p { label { input type="checkbox" name="required" value="true" id="consent-required"; " Required to register" } }
            button type="submit" id="publish-button" { "Publish" }
        }
        h2 { "Every version" }
        table id="consent-versions" {
            thead { tr { th { "Name" } th { "Version" } th { "Label" } th { "Required" } th { "Archived" } th { "Published" } } }
            tbody {
                @for v in versions {
                    tr { td { (v.name) } td { (v.version) } td { (v.label) } td { @if v.required { "yes" } @else { "no" } } td { @if v.archived { "yes" } } td { (when(&v.created_at)) } }
                }
            }
        }
    }
}
