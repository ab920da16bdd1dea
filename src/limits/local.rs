//! In-process limits: governor's GCRA per key, semaphores for concurrency. Idle keys are
//! dropped every few seconds, so a flood of distinct addresses cannot grow memory for long.

use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

use dashmap::DashMap;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use tokio::sync::Semaphore;

use super::{Class, Key, Numbers, Permit};
use crate::domain::PublisherId;

const CLEANUP_EVERY: Duration = Duration::from_secs(10);

fn quota(rps: u32) -> Quota {
    let rps = NonZeroU32::new(rps.max(1)).unwrap_or(NonZeroU32::MIN);
    // A burst of one second's worth: at most rps × (1 + t) in the first t seconds.
    Quota::per_second(rps).allow_burst(rps)
}

struct ClassState {
    client_rate: DefaultKeyedRateLimiter<(Option<PublisherId>, std::net::IpAddr)>,
    publisher_rate: DefaultKeyedRateLimiter<PublisherId>,
    numbers: Numbers,
    factor: u32,
}

pub(super) struct Local {
    classes: Vec<ClassState>,
    clients: DashMap<Key, Arc<Semaphore>>,
    publishers: DashMap<(Class, PublisherId), Arc<Semaphore>>,
    clock: DefaultClock,
}

impl Local {
    pub(super) fn new(numbers: &[Numbers; 4], factor: u32) -> Local {
        let classes = numbers
            .iter()
            .map(|n| ClassState {
                client_rate: RateLimiter::dashmap(quota(n.rps)),
                publisher_rate: RateLimiter::dashmap(quota(n.rps.saturating_mul(factor))),
                numbers: *n,
                factor,
            })
            .collect();
        Local {
            classes,
            clients: DashMap::new(),
            publishers: DashMap::new(),
            clock: DefaultClock::default(),
        }
    }

    /// The client's rate, then the publisher's ceiling; Err is how long to wait.
    pub(super) fn check_rate(&self, key: Key) -> Result<(), Duration> {
        let class = &self.classes[key.class.index()];
        let now = self.clock.now();
        class
            .client_rate
            .check_key(&(key.publisher, key.ip))
            .map_err(|n| n.wait_time_from(now))?;
        if let Some(p) = key.publisher {
            class
                .publisher_rate
                .check_key(&p)
                .map_err(|n| n.wait_time_from(now))?;
        }
        Ok(())
    }

    /// A concurrency slot for the client and for its publisher, or None (no waiting).
    pub(super) fn acquire(&self, key: Key) -> Option<Permit> {
        let class = &self.classes[key.class.index()];
        let n = class.numbers;
        let client = self
            .clients
            .entry(key)
            .or_insert_with(|| Arc::new(Semaphore::new(n.concurrent as usize)))
            .clone();
        let client = client.try_acquire_owned().ok()?;
        let publisher = match key.publisher {
            Some(p) => {
                let max = n.concurrent.saturating_mul(class.factor) as usize;
                let sem = self
                    .publishers
                    .entry((key.class, p))
                    .or_insert_with(|| Arc::new(Semaphore::new(max)))
                    .clone();
                Some(sem.try_acquire_owned().ok()?)
            }
            None => None,
        };
        Some(Permit {
            _client: client,
            _publisher: publisher,
        })
    }

    /// Drops idle keys until the limiter is gone.
    pub(super) fn spawn_cleanup(self: &Arc<Self>) {
        let weak: Weak<Local> = Arc::downgrade(self);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(CLEANUP_EVERY).await;
                let Some(local) = weak.upgrade() else { break };
                local.cleanup();
            }
        });
    }

    fn cleanup(&self) {
        for class in &self.classes {
            class.client_rate.retain_recent();
            class.client_rate.shrink_to_fit();
            class.publisher_rate.retain_recent();
            class.publisher_rate.shrink_to_fit();
        }
        // Only the map holds an idle semaphore; one held by a request is kept.
        self.clients.retain(|_, sem| Arc::strong_count(sem) > 1);
        self.publishers.retain(|_, sem| Arc::strong_count(sem) > 1);
        self.clients.shrink_to_fit();
        self.publishers.shrink_to_fit();
    }

    #[cfg(test)]
    pub(super) fn tracked(&self) -> usize {
        self.classes
            .iter()
            .map(|c| c.client_rate.len())
            .sum::<usize>()
            + self.clients.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(ip: [u8; 4]) -> Key {
        Key {
            class: Class::Registration,
            publisher: None,
            ip: std::net::IpAddr::from(ip),
        }
    }

    fn local(rps: u32) -> Local {
        Local::new(&[Numbers { rps, concurrent: 2 }; 4], 10)
    }

    #[test]
    fn burst_then_refuse_with_a_wait() {
        let local = local(5);
        let k = key([10, 0, 0, 1]);
        assert!((0..5).all(|_| local.check_rate(k).is_ok()));
        let wait = local.check_rate(k).unwrap_err();
        assert!(
            wait > Duration::ZERO && wait <= Duration::from_millis(200),
            "{wait:?}"
        );
        assert!(
            local.check_rate(key([10, 0, 0, 2])).is_ok(),
            "another client is not affected"
        );
    }

    #[test]
    fn concurrency_slots_come_back() {
        let local = local(5);
        let k = key([10, 0, 0, 1]);
        let (a, b) = (local.acquire(k).unwrap(), local.acquire(k).unwrap());
        assert!(local.acquire(k).is_none());
        drop(a);
        assert!(local.acquire(k).is_some());
        drop(b);
    }

    #[tokio::test]
    async fn idle_keys_are_dropped() {
        let local = Local::new(
            &[Numbers {
                rps: 1000,
                concurrent: 2,
            }; 4],
            10,
        );
        for i in 0..1000u32 {
            let _ = local.check_rate(key(i.to_be_bytes()));
            drop(local.acquire(key(i.to_be_bytes())));
        }
        assert!(local.tracked() >= 1000);
        tokio::time::sleep(Duration::from_millis(1100)).await;
        local.cleanup();
        assert_eq!(local.tracked(), 0);
    }
}
