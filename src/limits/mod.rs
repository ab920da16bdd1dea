//! Per-route-class limits (API.md, Rate limits): a GCRA rate and a concurrency cap per
//! (class, publisher, client IP), and a ceiling per (class, publisher). Rates live in process
//! (governor) or, with `limits.redis_url`, in Redis so every replica shares them; concurrency
//! is always per process. Over a limit: 429 at once, never a queue.

mod local;
mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;

use crate::config::{ClassLimit, LimitSettings};
use crate::domain::PublisherId;
use local::Local;
use shared::Shared;

/// A route class of API.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    /// Every other customer-facing route.
    Default,
    /// `POST /auths`.
    Login,
    /// `POST /customers`.
    Registration,
    /// `PUT`/`PATCH /customers/passwords`.
    PasswordReset,
}

impl Class {
    /// The class of a metrics route class name; `None` for routes outside the classes.
    pub fn of(name: &str) -> Option<Class> {
        match name {
            "default" => Some(Class::Default),
            "login" => Some(Class::Login),
            "registration" => Some(Class::Registration),
            "password_reset" => Some(Class::PasswordReset),
            _ => None,
        }
    }

    /// Its name in config, keys and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Class::Default => "default",
            Class::Login => "login",
            Class::Registration => "registration",
            Class::PasswordReset => "password_reset",
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    const ALL: [Class; 4] = [
        Class::Default,
        Class::Login,
        Class::Registration,
        Class::PasswordReset,
    ];
}

/// Requests per second and in flight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Numbers {
    /// Rate (and burst).
    pub rps: u32,
    /// In flight.
    pub concurrent: u32,
}

fn numbers(class: Class, given: ClassLimit) -> Numbers {
    let (rps, concurrent) = match class {
        Class::Default => (200, 50),
        Class::Login => (50, 20),
        Class::Registration => (20, 10),
        Class::PasswordReset => (10, 5),
    };
    Numbers {
        rps: given.rps.unwrap_or(rps).max(1),
        concurrent: given.concurrent.unwrap_or(concurrent).max(1),
    }
}

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    /// Its class.
    pub class: Class,
    /// The publisher, only from a validated id or a verified token.
    pub publisher: Option<PublisherId>,
    /// The client address.
    pub ip: IpAddr,
}

/// Held while a request runs; dropping it frees the concurrency slots.
#[derive(Debug)]
pub struct Permit {
    _client: OwnedSemaphorePermit,
    _publisher: Option<OwnedSemaphorePermit>,
}

/// The decision on one request.
#[derive(Debug)]
pub enum Verdict {
    /// Go ahead; keep the permit until the response is made.
    Allowed(Permit),
    /// 429 with `Retry-After` (whole seconds, at least 1).
    Rejected {
        /// Seconds until a retry can pass.
        retry_after: u64,
        /// `rate` or `concurrency`.
        reason: &'static str,
    },
}

/// Every limit of one process.
pub struct Limiter {
    numbers: [Numbers; 4],
    factor: u32,
    local: Arc<Local>,
    shared: Option<Shared>,
    /// `rate_limit_total{outcome="allowed"}` per class, made once (not looked up per request).
    allowed: [metrics::Counter; 4],
}

impl Limiter {
    /// Builds the limiter of the settings (`None` when `limits.enabled = false`).
    pub fn new(settings: &LimitSettings) -> Option<Limiter> {
        if !settings.enabled {
            return None;
        }
        let given = [
            settings.default,
            settings.login,
            settings.registration,
            settings.password_reset,
        ];
        let numbers = Class::ALL.map(|c| numbers(c, given[c.index()]));
        let local = Arc::new(Local::new(&numbers, settings.publisher_factor));
        local.spawn_cleanup();
        let shared = (!settings.redis_url.is_empty()).then(|| Shared::new(settings));
        // The recorder first, so the counters below are its own.
        crate::telemetry::metrics();
        let allowed = Class::ALL.map(|class| {
            metrics::counter!("rate_limit_total", "class" => class.name(), "outcome" => "allowed", "reason" => "")
        });
        Some(Limiter {
            numbers,
            factor: settings.publisher_factor,
            local,
            shared,
            allowed,
        })
    }

    /// The numbers of a class.
    pub fn numbers(&self, class: Class) -> Numbers {
        self.numbers[class.index()]
    }

    /// Decides at once: rates first (shared through Redis when configured and reachable),
    /// then a concurrency slot for the client and for the publisher.
    pub async fn check(&self, key: Key) -> Verdict {
        let n = self.numbers(key.class);
        let rate = match &self.shared {
            Some(shared) => match shared.check(key, n, self.factor).await {
                Some(result) => result,
                None => self.local.check_rate(key),
            },
            None => self.local.check_rate(key),
        };
        if let Err(wait) = rate {
            return rejected(key.class, "rate", wait);
        }
        match self.local.acquire(key) {
            Some(permit) => {
                self.allowed[key.class.index()].increment(1);
                Verdict::Allowed(permit)
            }
            None => rejected(key.class, "concurrency", Duration::from_secs(1)),
        }
    }
}

fn rejected(class: Class, reason: &'static str, wait: Duration) -> Verdict {
    metrics::counter!("rate_limit_total", "class" => class.name(), "outcome" => "rejected", "reason" => reason).increment(1);
    let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Verdict::Rejected {
        retry_after: retry_after.max(1),
        reason,
    }
}
