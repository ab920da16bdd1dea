//! Where a customer is: country, currency and locale, each checked against the CLDR tables
//! ([`super::tables`]).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

use super::tables as geo;

macro_rules! code_type {
    ($(#[$doc:meta])* $name:ident, $check:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Parses the code, exactly as written (case matters).
            pub fn parse(s: &str) -> Result<Self, String> {
                if $check(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(format!("{s:?} is not {}", $what))
                }
            }

            /// A code read back from storage. It passed [`Self::parse`] when it was written,
            /// against the tables of that release; a later release whose tables dropped it
            /// (a withdrawn currency, as HRK was) must still read those customers, so only
            /// the shape of a code is checked here: 1 to 16 ASCII letters, digits, `_` or `-`.
            pub fn from_stored(s: &str) -> Result<Self, String> {
                let shaped = (1..=16).contains(&s.len())
                    && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
                if shaped {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(format!("{s:?} is not {}", $what))
                }
            }

            /// The code.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Self::parse(&String::deserialize(d)?).map_err(serde::de::Error::custom)
            }
        }
    };
}

code_type!(
    /// An assigned ISO 3166-1 alpha-2 country code (`GB`; `UK` is refused).
    Country,
    geo::is_country,
    "an ISO 3166-1 alpha-2 country code (e.g. GB)"
);
code_type!(
    /// An active ISO 4217 currency code (`EUR`).
    Currency,
    geo::is_currency,
    "an active ISO 4217 currency code (e.g. EUR)"
);
code_type!(
    /// A locale Enroll knows, `ll_CC` or `ll` (`nl_NL`).
    Locale,
    geo::is_known_locale,
    "a known locale such as en_US"
);

/// The country, currency and locale of one place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Place {
    /// Where.
    pub country: Country,
    /// Its currency.
    pub currency: Currency,
    /// Its likely locale.
    pub locale: Locale,
}

impl Place {
    /// The currency and likely locale of a country, from the CLDR tables.
    pub fn of(country: &Country) -> Option<Place> {
        let currency = Currency::parse(geo::currency_for(country.as_str())?).ok()?;
        let locale = Locale::parse(geo::locale_for(country.as_str())?).ok()?;
        Some(Place {
            country: country.clone(),
            currency,
            locale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uk_is_refused_and_gb_accepted() {
        assert!(Country::parse("UK").is_err());
        assert!(Country::parse("gb").is_err());
        let gb = Place::of(&Country::parse("GB").unwrap()).unwrap();
        assert_eq!((gb.currency.as_str(), gb.locale.as_str()), ("GBP", "en_GB"));
    }
}
