//! Dashboard sessions: sign-in with an admin key (a session kept in the database, so replicas
//! share it, behind an HttpOnly, SameSite=Strict cookie, `Secure` unless
//! `admin.cookie_secure = false`), the session of each request, sign-out, and the CSRF token
//! every form carries.

use axum::extract::rejection::FormRejection;
use axum::extract::{Form, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, Mac};
use maud::{Markup, html};
use serde::Deserialize;
use sha2::Sha256;
use subtle::ConstantTimeEq;

use super::frame::{document, failure, html as page_response, message_page};
use crate::auth::tokens::new_token;
use crate::service::admin_keys::{self as service, AdminAuth};
use crate::state::AppState;

/// The session cookie.
const COOKIE: &str = "enroll_admin";
/// The sign-in form's CSRF cookie (double submit: the form holds the same value).
const LOGIN_COOKIE: &str = "enroll_admin_login";
/// The purpose label of the CSRF key: no other use of the server secret derives this key.
const CSRF_KEY_LABEL: &[u8] = b"enroll dashboard csrf key v1";

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

fn set_cookie(state: &AppState, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if state.settings.admin.cookie_secure {
        "; Secure"
    } else {
        ""
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/admin; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
    ))
    .unwrap_or(HeaderValue::from_static(""))
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Option<Vec<u8>> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).ok()?;
    for part in parts {
        mac.update(part);
    }
    Some(mac.finalize().into_bytes().to_vec())
}

/// The CSRF token of a session: an HMAC of its token, so it need not be stored (only its hash
/// is, with the session). The key is CSRF's own, derived from the server secret under
/// [`CSRF_KEY_LABEL`] (HKDF-Expand's one-block form), so it is never the key of another use.
fn csrf_of(state: &AppState, session_token: &str) -> String {
    csrf_token(&state.idempotency_secret, session_token)
}

fn csrf_token(secret: &[u8], session_token: &str) -> String {
    let key = hmac(secret, &[CSRF_KEY_LABEL, &[1]]);
    key.and_then(|key| hmac(&key, &[session_token.as_bytes()]))
        .map(hex::encode)
        .unwrap_or_default()
}

fn same(a: &str, b: &str) -> bool {
    !a.is_empty() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A signed-in admin.
pub struct Session {
    /// What the key reaches, and who it is for the audit trail.
    pub auth: AdminAuth,
    /// The session token (to end it).
    token: String,
    /// The CSRF token every form must carry.
    pub csrf: String,
}

impl Session {
    /// 403 "Form expired" unless `given` is this session's CSRF token.
    pub fn check_csrf(&self, given: &str) -> Result<(), Response> {
        if same(given, &self.csrf) {
            Ok(())
        } else {
            Err(message_page(
                StatusCode::FORBIDDEN,
                "Form expired",
                "This form is no longer valid (signed out, or opened elsewhere). Go back, reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_login = || Redirect::to("/admin/login").into_response();
        let token = cookie(&parts.headers, COOKIE).ok_or_else(to_login)?;
        let auth = service::session(state, &token)
            .await
            .map_err(failure)?
            .ok_or_else(to_login)?;
        Ok(Session {
            auth,
            csrf: csrf_of(state, &token),
            token,
        })
    }
}

/// `/admin`: the customers when signed in, else the sign-in form.
pub async fn index(session: Result<Session, Response>) -> Redirect {
    match session {
        Ok(_) => Redirect::to("/admin/customers"),
        Err(_) => Redirect::to("/admin/login"),
    }
}

/// The sign-in form.
fn login(error: Option<&str>, login_csrf: &str) -> Markup {
    document(
        "Sign in",
        html! {
            main style="max-width:28em;margin:4em auto" {
                h1 { "Enroll · Customer Accounts" }
                @if let Some(e) = error { p.flash.error { (e) } }
                form.card method="post" action="/admin/login" {
                    input type="hidden" name="csrf" value=(login_csrf);
                    p { label { "Admin key" br; input type="password" name="key" id="key" autocomplete="off" required size="48"; } }
                    button type="submit" id="sign-in" { "Sign in" }
                    p.muted { "An operator key (config admin.operator_key or enroll key create --operator) or a publisher key." }
                }
            }
        },
    )
}

fn login_page(state: &AppState, status: StatusCode, error: Option<&str>) -> Response {
    let (token, _) = new_token();
    let mut response = page_response(status, login(error, &token));
    response.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(state, LOGIN_COOKIE, &token, 3600),
    );
    response
}

/// `GET /admin/login`.
pub async fn login_form(State(state): State<AppState>) -> Response {
    login_page(&state, StatusCode::OK, None)
}

/// The sign-in form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    key: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /admin/login`: a session for a valid key.
pub async fn sign_in(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Ok(Form(form)) = form else {
        return login_page(&state, StatusCode::BAD_REQUEST, Some("Enter an admin key."));
    };
    let expected = cookie(&headers, LOGIN_COOKIE).unwrap_or_default();
    if !same(&form.csrf, &expected) {
        return login_page(
            &state,
            StatusCode::FORBIDDEN,
            Some("The sign-in form expired; try again."),
        );
    }
    let signed_in = match service::sign_in(&state, form.key.trim(), |t| csrf_of(&state, t)).await {
        Ok(s) => s,
        Err(e) if e.status() == StatusCode::UNAUTHORIZED => {
            return login_page(
                &state,
                StatusCode::UNAUTHORIZED,
                Some("That key is not valid, or it was revoked."),
            );
        }
        Err(e) => return failure(e),
    };
    let ttl = state.settings.admin.session_ttl;
    let mut response = Redirect::to("/admin/customers").into_response();
    let headers = response.headers_mut();
    headers.append(
        header::SET_COOKIE,
        set_cookie(&state, COOKIE, &signed_in.token, ttl.as_secs()),
    );
    headers.append(header::SET_COOKIE, set_cookie(&state, LOGIN_COOKIE, "", 0));
    response
}

/// A form that carries only the CSRF token (sign out, archive, erase).
#[derive(Debug, Deserialize)]
pub struct CsrfForm {
    /// The session's CSRF token.
    #[serde(default)]
    pub csrf: String,
    /// `yes` when a confirmation box was ticked.
    #[serde(default)]
    pub confirm: String,
}

/// `POST /admin/logout`.
pub async fn sign_out(
    State(state): State<AppState>,
    session: Session,
    form: Result<Form<CsrfForm>, FormRejection>,
) -> Response {
    let given = form.map(|Form(f)| f.csrf).unwrap_or_default();
    if let Err(r) = session.check_csrf(&given) {
        return r;
    }
    if let Err(e) = service::sign_out(&state, &session.token).await {
        return failure(e);
    }
    let mut response = Redirect::to("/admin/login").into_response();
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie(&state, COOKIE, "", 0));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_tokens_come_from_a_key_of_their_own() {
        let secret = [7u8; 32];
        let a = csrf_token(&secret, "session-a");
        assert_eq!(a, csrf_token(&secret, "session-a"), "stable for a session");
        assert_eq!(a.len(), 64);
        assert_ne!(a, csrf_token(&secret, "session-b"));
        assert_ne!(a, csrf_token(&[8u8; 32], "session-a"));
        // Neither the secret itself nor the secret with another label makes it.
        let direct = hmac(&secret, &[b"session-a"]).map(hex::encode);
        let old = hmac(&secret, &[b"admin-csrf\0", b"session-a"]).map(hex::encode);
        assert_ne!(Some(a.clone()), direct);
        assert_ne!(Some(a), old);
    }
}
