//! `GET /locales`: country, currency and locale of the client's (or a given) address.

use std::net::IpAddr;

use axum::Extension;
use axum::extract::State;
use axum::http::Uri;
use axum::response::Response;
use serde::Serialize;

use crate::geo;
use crate::http::edge::client_ip::ClientIp;
use crate::http::error::ApiError;
use crate::state::AppState;

/// Where a customer is, as `POST /customers` accepts it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Locales<'a> {
    /// ISO 3166-1 alpha-2.
    #[schema(example = "NL")]
    pub country: &'a str,
    /// ISO 4217.
    #[schema(example = "EUR")]
    pub currency: &'a str,
    /// `ll_CC`.
    #[schema(example = "nl_NL")]
    pub locale: &'a str,
    /// The address looked up.
    #[schema(example = "1.2.3.4")]
    pub ip_address: String,
}

/// The value of one query parameter; `""` means not given.
pub fn query_param(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .filter(|v| !v.is_empty())
}

/// Country from GeoIP of `customerIP` if given, else of the client address.
#[utoipa::path(
    get,
    path = "/locales",
    tag = "customers",
    params(("customerIP" = Option<String>, Query, description = "An IPv4 or IPv6 address to look up instead of the caller's")),
    responses(
        (status = 200, description = "Country, currency and locale", body = Locales),
        (status = 400, description = "REQ0002 Invalid query param customerIP", body = crate::http::error::ErrorBody),
    )
)]
pub async fn get_locales(
    State(state): State<AppState>,
    Extension(ClientIp(client)): Extension<ClientIp>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let ip = match query_param(uri.query(), "customerIP") {
        Some(text) => text
            .trim()
            .parse::<IpAddr>()
            .map_err(|_| ApiError::invalid_query("customerIP"))?
            .to_canonical(),
        None => client,
    };
    // The tables answer in &'static str: no allocation on this hot path.
    let place = state.geo.country(ip).and_then(|country| {
        Some((
            country,
            geo::currency_for(country)?,
            geo::locale_for(country)?,
        ))
    });
    let defaults = &state.settings.geoip;
    let (country, currency, locale) = place.unwrap_or((
        defaults.default_country.as_str(),
        defaults.default_currency.as_str(),
        defaults.default_locale.as_str(),
    ));
    // Every value is a code or an address (nothing to escape): written directly, this is the
    // busiest route of all.
    use std::fmt::Write;
    let mut body = String::with_capacity(128);
    let _ = write!(
        body,
        r#"{{"responseData":{{"country":"{country}","currency":"{currency}","locale":"{locale}","ipAddress":"{ip}"}},"errors":[]}}"#
    );
    Ok(crate::http::json_response(body.into()))
}
