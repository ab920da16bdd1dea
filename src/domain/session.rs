//! A customer's session epoch: every session (refresh tokens, JWTs, registration replays)
//! belongs to one; ending them all moves the customer to the next.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize};

/// The epoch a session belongs to: 0 for a new customer, one more each time every session is
/// ended (a password reset, an email change, "sign out everywhere", an erasure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct SessionEpoch(i64);

impl SessionEpoch {
    /// A new customer's epoch.
    pub const FIRST: SessionEpoch = SessionEpoch(0);

    /// The epoch as the database stores it (never negative).
    pub fn from_i64(v: i64) -> Result<Self, String> {
        if v >= 0 {
            Ok(SessionEpoch(v))
        } else {
            Err(format!("session epoch {v} is negative"))
        }
    }

    /// The epoch after this one (ending every session moves a customer there).
    pub fn next(self) -> SessionEpoch {
        SessionEpoch(self.0.saturating_add(1))
    }

    /// The numeric form, as stored.
    pub fn get(self) -> i64 {
        self.0
    }
}

impl fmt::Display for SessionEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for SessionEpoch {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        SessionEpoch::from_i64(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_epoch_is_a_whole_number_from_zero() {
        assert_eq!(SessionEpoch::default().get(), 0);
        assert_eq!(SessionEpoch::from_i64(3).map(SessionEpoch::get), Ok(3));
        assert_eq!(SessionEpoch::FIRST.next().get(), 1);
        assert!(SessionEpoch::from_i64(-1).is_err());
        let e: SessionEpoch = serde_json::from_str("2").unwrap();
        assert_eq!(serde_json::to_string(&e).unwrap(), "2");
        assert!(serde_json::from_str::<SessionEpoch>("-2").is_err());
    }
}
