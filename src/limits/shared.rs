//! Rates shared by every replica through Redis: GCRA for the client and the publisher in one
//! Lua script, one round trip, on Redis's clock. Unreachable or slow Redis (past
//! `limits.redis_timeout`): the caller decides in process at once, logged once, counted, and
//! Redis is tried again a second later.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use super::{Key, Numbers};
use crate::config::LimitSettings;

const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(1);

/// KEYS: client key[, publisher key]. ARGV: interval µs and burst for each. Returns the wait
/// in µs (0: allowed, and both keys advanced).
const GCRA: &str = r#"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tats = {}
for i = 1, #KEYS do
  local interval = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  if tat < now then tat = now end
  local wait = tat - now - interval * (burst - 1)
  if wait > 0 then return math.ceil(wait) end
  tats[i] = tat + interval
end
for i = 1, #KEYS do
  local ttl = math.ceil((tats[i] - now) / 1000) + 1
  redis.call('SET', KEYS[i], string.format('%.0f', tats[i]), 'PX', ttl)
end
return 0
"#;

pub(super) struct Shared {
    client: Option<redis::Client>,
    connection: tokio::sync::Mutex<Option<ConnectionManager>>,
    script: redis::Script,
    prefix: String,
    timeout: Duration,
    down: AtomicBool,
    retry_at: Mutex<Option<Instant>>,
}

fn interval_us(rps: u32) -> u64 {
    1_000_000 / u64::from(rps.max(1))
}

impl Shared {
    pub(super) fn new(settings: &LimitSettings) -> Shared {
        Shared {
            client: redis::Client::open(settings.redis_url.as_str()).ok(),
            connection: tokio::sync::Mutex::new(None),
            script: redis::Script::new(GCRA),
            prefix: settings.redis_prefix.clone(),
            timeout: settings.redis_timeout,
            down: AtomicBool::new(false),
            retry_at: Mutex::new(None),
        }
    }

    /// The shared decision, or None when Redis cannot answer now (decide in process).
    pub(super) async fn check(
        &self,
        key: Key,
        n: Numbers,
        factor: u32,
    ) -> Option<Result<(), Duration>> {
        if self
            .retry_at
            .lock()
            .ok()
            .and_then(|r| *r)
            .is_some_and(|at| Instant::now() < at)
        {
            metrics::counter!("rate_limit_redis_fallback_total").increment(1);
            return None;
        }
        match tokio::time::timeout(self.timeout, self.run(key, n, factor)).await {
            Ok(Ok(wait_us)) => {
                if self.down.swap(false, Ordering::Relaxed) {
                    tracing::info!("Redis answers again: rate limits are shared across replicas");
                }
                Some(if wait_us == 0 {
                    Ok(())
                } else {
                    Err(Duration::from_micros(wait_us))
                })
            }
            outcome => {
                let why = match outcome {
                    Ok(Err(e)) => e.to_string(),
                    _ => format!("no answer within {:?}", self.timeout),
                };
                if !self.down.swap(true, Ordering::Relaxed) {
                    tracing::warn!(error = %why, "Redis unreachable: rate limits are per process until it returns");
                }
                if let Ok(mut at) = self.retry_at.lock() {
                    *at = Some(Instant::now() + RETRY_AFTER_FAILURE);
                }
                metrics::counter!("rate_limit_redis_fallback_total").increment(1);
                None
            }
        }
    }

    async fn run(&self, key: Key, n: Numbers, factor: u32) -> redis::RedisResult<u64> {
        let mut connection = self.connection().await?;
        let publisher = key
            .publisher
            .map_or_else(|| "-".to_owned(), |p| p.to_string());
        let mut invocation = self.script.prepare_invoke();
        invocation
            .key(format!(
                "{}:rl:{}:{publisher}:{}",
                self.prefix,
                key.class.name(),
                key.ip
            ))
            .arg(interval_us(n.rps))
            .arg(n.rps);
        if key.publisher.is_some() {
            let ceiling = n.rps.saturating_mul(factor);
            invocation
                .key(format!(
                    "{}:rl:{}:{publisher}",
                    self.prefix,
                    key.class.name()
                ))
                .arg(interval_us(ceiling))
                .arg(ceiling);
        }
        invocation.invoke_async(&mut connection).await
    }

    async fn connection(&self) -> redis::RedisResult<ConnectionManager> {
        let mut slot = self.connection.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let client = self.client.clone().ok_or_else(|| {
            redis::RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "bad limits.redis_url",
            ))
        })?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        let manager = client.get_connection_manager_with_config(config).await?;
        *slot = Some(manager.clone());
        Ok(manager)
    }
}
