//! A customer's consent answers: checked against the publisher's current consents, appended
//! to the history, and read back with whether each needs an update.

use std::net::IpAddr;

use super::Services;
use crate::catalog::PublisherView;
use crate::domain::consent::needs_update;
use crate::domain::proof::CollectionPoint;
use crate::domain::{ConsentAnswer, ConsentState, ConsentVersionNumber};
use crate::error::ApiError;
use crate::store::{ConsentRecord, ConsentVersion, Customer, NewConsentRecord};

/// An answer matched to the consent it answers, with its version checked.
#[derive(Debug, Clone)]
pub struct CheckedAnswer {
    /// The consent at its newest version.
    pub consent: ConsentVersion,
    /// The version answered (1 ..= newest).
    pub version: ConsentVersionNumber,
    /// The answer.
    pub state: ConsentState,
}

/// Checks answers against the publisher's current consents: unknown names are 404 CON0001,
/// versions that do not exist 400 CON0002. Any existing version is accepted.
pub async fn check_answers(
    services: &Services,
    view: &PublisherView,
    answers: &[ConsentAnswer],
) -> Result<Vec<CheckedAnswer>, ApiError> {
    check(services, view, answers, true)
        .await?
        .into_iter()
        .collect::<Result<_, _>>()
}

/// Each answer checked as [`check_answers`] does, one result per answer in order (an answer
/// another system collected: the ones this publisher has no such consent or version for are
/// errors of their own, not the whole list's). One database read at most, as there.
pub async fn known_answers(
    services: &Services,
    view: &PublisherView,
    answers: &[ConsentAnswer],
) -> Result<Vec<Result<CheckedAnswer, ApiError>>, ApiError> {
    check(services, view, answers, false).await
}

/// The checks of both; `first_error`: stop at the first refused answer.
async fn check(
    services: &Services,
    view: &PublisherView,
    answers: &[ConsentAnswer],
    first_error: bool,
) -> Result<Vec<Result<CheckedAnswer, ApiError>>, ApiError> {
    let mut fresh: Option<Vec<ConsentVersion>> = None;
    let mut checked = Vec::with_capacity(answers.len());
    for answer in answers {
        let version = answer
            .version
            .trim()
            .parse::<i32>()
            .ok()
            .and_then(|v| ConsentVersionNumber::new(v).ok());
        let cached = view
            .consents
            .iter()
            .find(|c| c.name.as_str() == answer.name);
        let mut current = cached.cloned();
        // A consent or version newer than this replica's cache may have been published a
        // moment ago: ask the database before refusing, and drop the stale cache entry.
        if current
            .as_ref()
            .is_none_or(|c| version.is_some_and(|v| v > c.version))
        {
            if fresh.is_none() {
                fresh = Some(services.store.current_consents(view.publisher.id).await?);
                services.catalog.invalidate(view.publisher.id);
            }
            current = fresh
                .iter()
                .flatten()
                .find(|c| c.name.as_str() == answer.name)
                .cloned();
        }
        let one = match (current, version) {
            (None, _) => Err(ApiError::unknown_consent(&answer.name, "consents")),
            (Some(current), Some(version)) if version <= current.version => Ok(CheckedAnswer {
                consent: current,
                version,
                state: answer.state,
            }),
            (Some(_), _) => Err(ApiError::unknown_consent_version(
                &answer.version,
                &answer.name,
            )),
        };
        if first_error && let Err(e) = one {
            return Err(e);
        }
        checked.push(one);
    }
    Ok(checked)
}

/// The history records of checked answers, given from `ip` by `user_agent` (kept to 500
/// characters).
pub fn records(
    checked: &[CheckedAnswer],
    ip: Option<IpAddr>,
    user_agent: Option<&str>,
) -> Vec<NewConsentRecord> {
    let user_agent = user_agent.map(|s| s.chars().take(500).collect::<String>());
    checked
        .iter()
        .map(|a| NewConsentRecord {
            owner: a.consent.owner,
            name: a.consent.name.clone(),
            version: a.version,
            state: a.state,
            ip,
            user_agent: user_agent.clone(),
            at: None,
        })
        .collect()
}

/// One current consent of the publisher with the customer's answer.
#[derive(Debug)]
pub struct Answered {
    /// The consent at its newest version.
    pub consent: ConsentVersion,
    /// The customer's current answer, if they ever answered.
    pub answer: Option<ConsentRecord>,
    /// The customer has not answered the newest version.
    pub needs_update: bool,
}

/// Every current consent of the customer's publisher with the customer's answer.
pub async fn read(services: &Services, customer: &Customer) -> Result<Vec<Answered>, ApiError> {
    let view = super::tenants::of_token(services, customer.publisher).await?;
    let mut answers = services
        .store
        .consent_answers(customer.publisher, customer.id)
        .await?;
    Ok(view
        .consents
        .iter()
        .map(|c| {
            let answer = answers
                .iter()
                .position(|a| a.owner == c.owner && a.name == c.name)
                .map(|i| answers.swap_remove(i));
            Answered {
                consent: c.clone(),
                needs_update: needs_update(answer.as_ref().map(|a| a.version), c.version),
                answer,
            }
        })
        .collect())
}

/// Records answers (appended to the hash-chained history with time, IP and user agent, with a
/// signed receipt) and reads them back.
pub async fn put(
    services: &Services,
    customer: &Customer,
    answers: &[ConsentAnswer],
    ip: IpAddr,
    user_agent: Option<&str>,
) -> Result<Vec<Answered>, ApiError> {
    let view = super::tenants::of_token(services, customer.publisher).await?;
    let checked = check_answers(services, &view, answers).await?;
    let request_id = super::proof::request_id();
    let how = super::proof::collection(
        services,
        CollectionPoint::ConsentsUpdate,
        "PUT /customers/{customerId}/consents",
        request_id.as_deref(),
    );
    services
        .store
        .append_consents(
            customer.publisher,
            customer.id,
            &records(&checked, Some(ip), user_agent),
            &how,
        )
        .await?;
    read(services, customer).await
}
