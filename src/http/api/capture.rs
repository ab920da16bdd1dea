//! Capture: `GET /customers/{customerId}/capture/status` and `PUT /customers/{customerId}/capture`
//! (the extra profile fields a publisher asks for; see `domain::capture`).

use axum::extract::{Path, State};
use serde::Serialize;
use serde_json::Value;

use crate::catalog::PublisherView;
use crate::domain::capture::CaptureInput;
use crate::domain::fields::Fields;
use crate::http::Data;
use crate::http::api::auth::CustomerAuth;
use crate::http::error::ApiError;
use crate::http::json::AppJson;
use crate::service::{profile, tenants};
use crate::state::AppState;
use crate::store::Customer;

/// The capture form as the publisher configured it, with the customer's answers.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CaptureStatus {
    /// The publisher asks for some field.
    pub is_capture_enabled: bool,
    /// The frontend should show the capture form.
    pub should_capture_be_displayed: bool,
    /// `[{key, enabled, required, answer}]`; custom questions add `question` and `value`.
    #[schema(value_type = Vec<Object>)]
    pub settings: Vec<Value>,
}

fn status(view: &PublisherView, customer: &Customer) -> CaptureStatus {
    let settings = &view.publisher.settings.capture;
    if !settings.enabled() {
        return CaptureStatus {
            is_capture_enabled: false,
            should_capture_be_displayed: false,
            settings: Vec::new(),
        };
    }
    let profile = profile::capture_profile(customer);
    CaptureStatus {
        is_capture_enabled: true,
        should_capture_be_displayed: profile.should_display(settings),
        settings: profile.status_settings(settings),
    }
}

/// Clients call this after every sign-up and login.
#[utoipa::path(get, path = "/customers/{customerId}/capture/status", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CaptureStatus), (status = 401, body = crate::http::error::ErrorBody)))]
pub async fn capture_status(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
) -> Result<Data<CaptureStatus>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let view = tenants::of_token(&state, auth.publisher).await?;
    Ok(Data(status(&view, &customer)))
}

/// Stores the capture form's answers: `firstName`, `lastName`, `birthDate`, `companyName`,
/// `phoneNumber`, `address`, `address2`, `city`, `state`, `postCode`, `country` (the address's)
/// and `customAnswers: [{questionId, value}]`. Fields of settings that are off are ignored;
/// an absent field keeps its answer, `""` clears it; every required field must be answered
/// afterwards. Returns the new capture status.
#[utoipa::path(put, path = "/customers/{customerId}/capture", tag = "customers",
    params(("customerId" = String, Path)), security(("jwt" = [])),
    responses((status = 200, body = CaptureStatus), (status = 400, body = crate::http::error::ErrorBody), (status = 403, body = crate::http::error::ErrorBody)))]
pub async fn put_capture(
    State(state): State<AppState>,
    auth: CustomerAuth,
    Path(path): Path<String>,
    AppJson(body): AppJson<Value>,
) -> Result<Data<CaptureStatus>, ApiError> {
    let customer = auth.load(&state, &path).await?;
    let view = tenants::of_token(&state, auth.publisher).await?;
    let settings = &view.publisher.settings.capture;
    let mut f = Fields::new(&body).map_err(|e| ApiError::invalid_body(vec![e]))?;
    let input = CaptureInput::parse(&mut f, settings, true, chrono::Utc::now().date_naive());
    if !f.errors.is_empty() {
        return Err(ApiError::invalid_body(f.errors));
    }
    let updated = profile::put_capture(&state, &customer, settings, input).await?;
    // The view of before the write: capture settings are not changed by it.
    Ok(Data(status(&view, &updated)))
}
