//! Password strength: a publisher's optional policy on top of the base rule of
//! [`super::password`]: a minimum [zxcvbn](https://docs.rs/zxcvbn) score and a
//! list of the most common passwords shipped with the project
//! (`data/common-passwords.txt`, see its `.LICENSE.md` for source and refresh).
//!
//! A password the policy refuses is reported as `Weak`, with the hint that
//! [`PasswordPolicy::check`] returns.

use std::collections::HashSet;
use std::sync::OnceLock;

use zxcvbn::feedback::{Feedback, Suggestion};
use zxcvbn::matching::Match;
use zxcvbn::matching::patterns::MatchPattern;

/// The shipped list: the most common passwords, lowercase, one per line.
const COMMON_PASSWORDS: &str = include_str!("../../data/common-passwords.txt");

/// zxcvbn's cost grows quickly with length: only this many characters are scored.
/// (The base rule allows at most 80, so in practice the whole password is scored.)
pub const MAX_SCORED_CHARS: usize = 100;

/// The highest zxcvbn score.
pub const MAX_SCORE: u8 = 4;

/// The hint for a password that is in the shipped list.
pub const COMMON_HINT: &str = "This is one of the most common passwords.";

/// The warning put before zxcvbn's suggestion when the password is built from
/// the customer's own email or names and zxcvbn has no warning of its own.
pub const USER_INPUT_HINT: &str = "Avoid your name and email address.";

/// A publisher's password policy beyond the base rule (stored in publisher settings JSON).
///
/// The default (`{}` in JSON) checks nothing beyond the base rule.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordPolicy {
    /// Minimum zxcvbn score 0..=4; None: no score check.
    pub min_score: Option<u8>,
    /// Refuse passwords in the shipped common-passwords list.
    pub reject_common: bool,
}

impl PasswordPolicy {
    /// Ok, or Err(hint): a short human hint, zxcvbn's warning and first
    /// suggestion (e.g. "This is similar to a commonly used password. Add
    /// another word or two. Uncommon words are better."), or [`COMMON_HINT`].
    ///
    /// The list is checked first (case-insensitive), then the score, with
    /// `user_inputs` (see [`user_inputs`]: email, its local part, first and last
    /// name) counted as words an attacker would try first. Only the first
    /// [`MAX_SCORED_CHARS`] characters are scored. A policy that checks nothing
    /// costs nothing.
    pub fn check(&self, password: &str, user_inputs: &[&str]) -> Result<(), String> {
        if self.reject_common && is_common(password) {
            return Err(COMMON_HINT.to_owned());
        }
        let Some(min_score) = self.min_score.filter(|&min| min > 0) else {
            return Ok(());
        };
        let scored = match password.char_indices().nth(MAX_SCORED_CHARS) {
            Some((end, _)) => password.get(..end).unwrap_or(password),
            None => password,
        };
        let inputs: Vec<&str> = user_inputs
            .iter()
            .map(|input| input.trim())
            .filter(|input| !input.is_empty())
            .collect();
        let entropy = zxcvbn::zxcvbn(scored, &inputs);
        if u8::from(entropy.score()) >= min_score {
            return Ok(());
        }
        Err(hint(entropy.feedback(), entropy.sequence(), &inputs))
    }

    /// Validates the policy itself (min_score <= 4); error text names the field.
    pub fn validate(&self) -> Result<(), String> {
        match self.min_score {
            Some(score) if score > MAX_SCORE => Err(format!(
                "password_policy.min_score must be between 0 and {MAX_SCORE}, got {score}"
            )),
            _ => Ok(()),
        }
    }

    /// Whether the policy checks anything beyond the base rule.
    pub fn is_active(&self) -> bool {
        self.reject_common || self.min_score.is_some_and(|min| min > 0)
    }
}

/// The user inputs for [`PasswordPolicy::check`], lowercased and without
/// repeats: the email, its local part, and when the local part has separators
/// its pieces and the pieces joined (`jane.doe+news` gives `jane`, `doe`,
/// `news`, `janedoenews`), then the given names (first and last). Blank ones are
/// left out. Pass them on as `&inputs.iter().map(String::as_str).collect::<Vec<_>>()`.
pub fn user_inputs(email: &str, names: &[&str]) -> Vec<String> {
    let mut inputs = vec![email.to_owned()];
    if let Some((local, _domain)) = email.rsplit_once('@') {
        inputs.push(local.to_owned());
        let pieces: Vec<&str> = local
            .split(|c: char| !c.is_alphanumeric())
            .filter(|piece| !piece.is_empty())
            .collect();
        if pieces.len() > 1 {
            inputs.extend(pieces.iter().map(|piece| (*piece).to_owned()));
            inputs.push(pieces.concat());
        }
    }
    inputs.extend(names.iter().map(|name| (*name).to_owned()));
    let mut seen = HashSet::new();
    inputs
        .into_iter()
        .map(|input| input.trim().to_lowercase())
        .filter(|input| !input.is_empty() && seen.insert(input.clone()))
        .collect()
}

/// Whether the password is in the shipped list (the list is embedded with include_str! from
/// "../../data/common-passwords.txt" and loaded once into a HashSet via a OnceLock).
///
/// Case-insensitive: the list is lowercase and the password is lowercased.
pub fn is_common(password: &str) -> bool {
    common_passwords().contains(password.to_lowercase().as_str())
}

/// The shipped list as a set, built on first use.
fn common_passwords() -> &'static HashSet<&'static str> {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    SET.get_or_init(|| {
        COMMON_PASSWORDS
            .lines()
            .map(|line| line.trim_end_matches('\r'))
            .filter(|line| !line.is_empty())
            .collect()
    })
}

/// zxcvbn's warning (or [`USER_INPUT_HINT`] when the password leans on the
/// customer's own details) and its first suggestion, as one line.
fn hint(feedback: Option<&Feedback>, sequence: &[Match], user_inputs: &[&str]) -> String {
    // zxcvbn gives feedback only below score 3; above, its usual first suggestion.
    let fallback = Suggestion::AddAnotherWordOrTwo.to_string();
    let Some(feedback) = feedback else {
        return fallback;
    };
    let warning = match feedback.warning() {
        Some(warning) => Some(warning.to_string()),
        None if uses_user_input(sequence, user_inputs) => Some(USER_INPUT_HINT.to_owned()),
        None => None,
    };
    let suggestion = feedback.suggestions().first().map(ToString::to_string);
    match (warning, suggestion) {
        (Some(warning), Some(suggestion)) => format!("{warning} {suggestion}"),
        (Some(text), None) | (None, Some(text)) => text,
        (None, None) => fallback,
    }
}

/// Whether zxcvbn's cheapest guess used one of the user inputs as a word
/// (its dictionary type is not exported, so the matched word is compared).
fn uses_user_input(sequence: &[Match], user_inputs: &[&str]) -> bool {
    sequence.iter().any(|found| match &found.pattern {
        MatchPattern::Dictionary(word) => user_inputs
            .iter()
            .any(|input| input.to_lowercase() == word.matched_word),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(password: &str, inputs: &[&str]) -> u8 {
        u8::from(zxcvbn::zxcvbn(password, inputs).score())
    }

    #[test]
    fn the_list_is_shipped_whole() {
        let lines: Vec<&str> = COMMON_PASSWORDS.lines().collect();
        assert!(lines.len() >= 10_000, "{} passwords", lines.len());
        assert_eq!(
            common_passwords().len(),
            lines.len(),
            "duplicates or empty lines"
        );
        assert!(
            lines.iter().all(|p| *p == p.to_lowercase()),
            "not lowercase"
        );
        assert_eq!(lines.first(), Some(&"123456"), "most common first");
    }

    #[test]
    fn common_passwords_are_found_case_insensitively() {
        for common in [
            "password1",
            "Password1",
            "PASSWORD1",
            "qwerty123",
            "iloveyou",
        ] {
            assert!(is_common(common), "{common}");
        }
        for rare in ["", "password1 ", "Vivid-Otter-Kayak-79", "pässwört&1"] {
            assert!(!is_common(rare), "{rare:?}");
        }
    }

    #[test]
    fn reject_common_refuses_listed_passwords_first() {
        let policy = PasswordPolicy {
            min_score: Some(4),
            reject_common: true,
        };
        assert_eq!(policy.check("Password1", &[]), Err(COMMON_HINT.to_owned()));
        let off = PasswordPolicy::default();
        assert_eq!(off.check("password1", &[]), Ok(()));
        assert!(!off.is_active());
        assert!(policy.is_active());
    }

    #[test]
    fn a_long_random_passphrase_passes_score_3() {
        let policy = PasswordPolicy {
            min_score: Some(3),
            reject_common: true,
        };
        for good in [
            "quartz-lantern-mosaic-91-fjord",
            "Vivid otter kayaks 79 marbles",
        ] {
            assert_eq!(policy.check(good, &[]), Ok(()), "{good}");
        }
        let strictest = PasswordPolicy {
            min_score: Some(4),
            reject_common: true,
        };
        assert_eq!(
            strictest.check("quartz-lantern-mosaic-91-fjord", &[]),
            Ok(())
        );
    }

    #[test]
    fn a_weak_password_fails_with_zxcvbns_hint() {
        let policy = PasswordPolicy {
            min_score: Some(3),
            reject_common: false,
        };
        let hint = policy.check("secret123", &[]).unwrap_err();
        assert!(!hint.trim().is_empty());
        assert!(hint.ends_with('.'), "{hint}");
        // The list does not hold it with reject_common off, the score still refuses it.
        assert!(score("secret123", &[]) < 3);
    }

    #[test]
    fn a_score_just_short_of_4_still_gets_a_hint() {
        // zxcvbn gives no feedback from score 3 up: the fallback suggestion is used.
        let password = "TestMeNow!";
        assert_eq!(score(password, &[]), 3);
        let policy = PasswordPolicy {
            min_score: Some(4),
            reject_common: false,
        };
        assert_eq!(
            policy.check(password, &[]),
            Err(Suggestion::AddAnotherWordOrTwo.to_string())
        );
    }

    fn refs(inputs: &[String]) -> Vec<&str> {
        inputs.iter().map(String::as_str).collect()
    }

    #[test]
    fn user_inputs_lower_the_score() {
        let email = "brontewhistledown@example.com";
        let password = "brontewhistledown1987";
        let inputs = user_inputs(email, &["Bronte", "Whistledown"]);
        let inputs = refs(&inputs);
        assert!(inputs.contains(&"brontewhistledown"), "{inputs:?}");
        assert!(score(password, &[]) >= 3);
        assert!(score(password, &inputs) < score(password, &[]));

        let policy = PasswordPolicy {
            min_score: Some(3),
            reject_common: true,
        };
        assert_eq!(policy.check(password, &[]), Ok(()));
        let hint = policy.check(password, &inputs).unwrap_err();
        assert!(hint.starts_with(USER_INPUT_HINT), "{hint}");
    }

    #[test]
    fn the_joined_local_part_counts_too() {
        let inputs = user_inputs("quentin.brackley@example.com", &["Quentin", "Brackley"]);
        let password = "quentinbrackley2019";
        assert!(score(password, &refs(&inputs)) < score(password, &[]));
    }

    #[test]
    fn user_inputs_split_the_local_part() {
        assert_eq!(
            user_inputs("Jane.Doe+news@example.com", &["Jane", " ", "Doe"]),
            [
                "jane.doe+news@example.com",
                "jane.doe+news",
                "jane",
                "doe",
                "news",
                "janedoenews",
            ]
        );
        assert_eq!(user_inputs("", &[]), Vec::<String>::new());
        assert_eq!(user_inputs("x@y", &["Ann"]), ["x@y", "x", "ann"]);
    }

    #[test]
    fn empty_and_blank_user_inputs_are_ignored() {
        let policy = PasswordPolicy {
            min_score: Some(3),
            reject_common: false,
        };
        assert_eq!(
            policy.check("quartz-lantern-mosaic-91-fjord", &["", "  "]),
            Ok(())
        );
    }

    #[test]
    fn only_the_first_100_characters_are_scored() {
        let policy = PasswordPolicy {
            min_score: Some(2),
            reject_common: false,
        };
        // 100 repeated letters then a long random tail: scored as "aaa…" only.
        let password = format!("{}{}", "a".repeat(100), "Xq7#pL9!vR2@mK5$".repeat(10_000));
        let started = std::time::Instant::now();
        assert!(policy.check(&password, &[]).is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
        // Multi-byte characters are cut on a character boundary.
        assert!(policy.check(&"ü".repeat(500), &[]).is_err());
    }

    #[test]
    fn validate_refuses_a_score_above_4() {
        for ok in [None, Some(0), Some(3), Some(4)] {
            let policy = PasswordPolicy {
                min_score: ok,
                reject_common: false,
            };
            assert_eq!(policy.validate(), Ok(()), "{ok:?}");
        }
        let error = PasswordPolicy {
            min_score: Some(5),
            reject_common: false,
        }
        .validate()
        .unwrap_err();
        assert!(error.contains("min_score"), "{error}");
    }

    #[test]
    fn min_score_0_checks_nothing() {
        let policy = PasswordPolicy {
            min_score: Some(0),
            reject_common: false,
        };
        assert_eq!(policy.check("a", &[]), Ok(()));
        assert!(!policy.is_active());
    }

    #[test]
    fn the_policy_reads_from_settings_json() {
        let empty: PasswordPolicy = serde_json::from_str("{}").unwrap();
        assert_eq!(empty, PasswordPolicy::default());
        let full: PasswordPolicy =
            serde_json::from_str(r#"{"min_score": 3, "reject_common": true}"#).unwrap();
        assert_eq!(
            full,
            PasswordPolicy {
                min_score: Some(3),
                reject_common: true
            }
        );
        let null: PasswordPolicy = serde_json::from_str(r#"{"min_score": null}"#).unwrap();
        assert_eq!(null.min_score, None);
        assert!(serde_json::from_str::<PasswordPolicy>(r#"{"min_scor": 3}"#).is_err());
        assert!(serde_json::from_str::<PasswordPolicy>(r#"{"min_score": -1}"#).is_err());
        let back = serde_json::to_value(&full).unwrap();
        assert_eq!(
            back,
            serde_json::json!({"min_score": 3, "reject_common": true})
        );
    }
}
