//! Email verification: a code before registration (`POST /customers/verification`, then
//! `verificationCode` in `POST /customers`), and a confirmation link for customers who
//! registered without one (`POST /customers/{customerId}/email/confirmation`, used through
//! `POST` or `GET /customers/email/confirmation`).

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::domain::customer::{EMAIL_MESSAGE, tenant};
use crate::domain::fields::{Fields, Given};
use crate::domain::problem::Reason;
use crate::domain::{Email, Locale};
use crate::http::Data;
use crate::http::api::auth::CustomerAuth;
use crate::http::edge::limit::RequestTenant;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::mail::templates::Lang;
use crate::service::verification;
use crate::state::AppState;

/// Sends a verification code to an address before registration. Always `200 {}` once the
/// body is valid, whether or not a code was sent (an existing customer, an hourly cap, or a
/// publisher without verification send nothing), so the answer tells nothing about accounts.
#[utoipa::path(post, path = "/customers/verification", tag = "customers",
    responses((status = 200, description = "`{}`, whatever the address"), (status = 400, body = crate::http::error::ErrorBody), (status = 404, body = crate::http::error::ErrorBody)))]
pub async fn send_code(
    State(state): State<AppState>,
    found: RequestTenant,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let email = f.required("email", Some(EMAIL_MESSAGE), Email::parse);
    let tenant = tenant(&mut f);
    let locale = f
        .optional("locale", |s| {
            Locale::parse(s).map_err(|_| Reason::InvalidValue)
        })
        .value();
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let (Some(email), Some(tenant)) = (email, tenant) else {
        return Err(ApiError::invalid_body(f.errors));
    };
    let view = found.resolve(&state, &tenant).await?;
    if !verification::required(&view) {
        return Ok(Data(Map::new()));
    }
    let lang = locale.map_or(Lang::En, |l| Lang::of(&l.to_string()));
    crate::http::after_answer("verification code", async move {
        verification::send_code(&state, &view, &email, lang).await
    });
    Ok(Data(Map::new()))
}

/// Emails the signed-in customer a link that confirms their address (`emailVerified`).
/// `confirmUrl` (optional) is the frontend page the link opens, on an origin the publisher
/// allows for links; else the publisher's `confirm_url_default`. Already verified: nothing is
/// sent. At most `auth.confirmations_per_hour` links per hour.
#[utoipa::path(post, path = "/customers/{customerId}/email/confirmation", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, description = "`{}`"), (status = 400, description = "Invalid param confirmUrl", body = crate::http::error::ErrorBody), (status = 403, body = crate::http::error::ErrorBody)))]
pub async fn request_confirmation(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Map<String, Value>>, ApiError> {
    // Another customer's id is 403 before the body is looked at.
    auth.check_path(&path)?;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let given = f.text("confirmUrl");
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let given = match &given {
        Given::Value(v) => Some(v.as_str()),
        _ => None,
    };
    verification::request_confirmation(&state, &auth, given).await?;
    Ok(Data(Map::new()))
}

/// Confirms an address with the token from the link (for frontends that open the link
/// themselves): `{"customerId", "emailVerified": true}`.
#[utoipa::path(post, path = "/customers/email/confirmation", tag = "customers",
    responses((status = 200, description = "`{\"customerId\", \"emailVerified\": true}`"), (status = 400, description = "Invalid param token", body = crate::http::error::ErrorBody)))]
pub async fn confirm(
    State(state): State<AppState>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<Value>, ApiError> {
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let Some(token) = f.required_text("token") else {
        return Err(ApiError::invalid_body(f.errors));
    };
    match verification::confirm(&state, &token).await? {
        Some(customer) => Ok(Data(
            json!({"customerId": customer.to_string(), "emailVerified": true}),
        )),
        None => Err(ApiError::confirmation_link_invalid()),
    }
}

/// The link's query.
#[derive(Debug, Deserialize)]
pub struct ConfirmQuery {
    token: Option<String>,
}

fn page(status: StatusCode, title: &str, text: &str) -> Response {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
         <title>{title}</title></head>\n<body style=\"font-family:sans-serif;max-width:32em;margin:4em auto;line-height:1.5\">\
         <h1>{title}</h1><p>{text}</p></body></html>\n"
    );
    // A finished page: the envelope safety net leaves it alone.
    (
        status,
        axum::Extension(crate::http::error::Enveloped),
        Html(html),
    )
        .into_response()
}

/// The page the emailed link can open directly (when `confirm_url_default` points here).
#[utoipa::path(get, path = "/customers/email/confirmation", tag = "customers",
    params(("token" = String, Query)),
    responses((status = 200, description = "HTML: confirmed"), (status = 400, description = "HTML: the link is not valid")))]
pub async fn confirm_page(
    State(state): State<AppState>,
    Query(query): Query<ConfirmQuery>,
) -> Result<Response, ApiError> {
    let token = query.token.unwrap_or_default();
    if token.trim().is_empty() {
        return Ok(page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link has no token. Open the link from the email again.",
        ));
    }
    Ok(match verification::confirm(&state, &token).await? {
        Some(_) => page(
            StatusCode::OK,
            "Email address confirmed",
            "Thank you: your email address is confirmed. You can close this page.",
        ),
        None => page(
            StatusCode::BAD_REQUEST,
            "Link not valid",
            "This link was already used, has expired, or was sent to an address that has changed since. Ask for a new one in the app.",
        ),
    })
}
